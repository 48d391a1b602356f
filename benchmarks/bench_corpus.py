"""Warm and cold runs at corpus scale: a synthetic BEIR folder, today's tree against a reference commit.

The folder follows issue 11's recipe: 12 random words per document from a 5,000-word vocabulary,
6 per query, 3 judged documents per query, all seeded; the encoder is a ``provider: python``
function that draws a normal 384-dim vector seeded from a hash of each text (so encoding is not the
cost). The spec scores 5 prefixes and 11 windows (width 64, step 32) on nDCG@10 over 1000 queries.

Each tree runs pytest in its own process, cold (empty cache) then warm (same cache), and the table
shows, side by side: seconds, the warm ratio against the reference (target ≤ 0.3), cache bytes on
disk, peak RSS, the time spent ranking (``retrieval.score_views``) and timing cost per size
(``funnel.cost_by_size``), and whether both trees' metrics agree to 1e-6.

    python benchmarks/bench_corpus.py                 # 200,000 documents, reference 416e3e8 and this tree
    python benchmarks/bench_corpus.py --quick         # 20,000 documents, to try it
    python benchmarks/bench_corpus.py --docs 1000000  # this tree only, cold and warm, peak RSS (≤ 4 GB)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from harness import REPO, child_env, extract_package, load_triple, print_markdown, run_child

REFERENCE = "416e3e8"
VOCABULARY = 5000
DIM = 384

ENCODER = f'''
"""Deterministic fake encoder: a normal vector seeded from a hash of each text."""
import hashlib

import numpy as np


def encode(texts, role):
    out = np.empty((len(texts), {DIM}), dtype=np.float32)
    for i, text in enumerate(texts):
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        out[i] = np.random.default_rng(seed).standard_normal({DIM}, dtype=np.float32)
    return out
'''

SPEC = """
name: corpus-scale
model:
  provider: python
  callable: bench_encoder:encode
task:
  kind: retrieval
  data:
    path: beir
  metric: ndcg@10
checks:
  prefix: {384: 0.0}
views:
  prefix: [32, 64, 128, 256, 384]
  windows: {width: 64, step: 32}
"""

# run inside the child: time the ranking and the cost timing, then hand over to pytest
RUNNER = r"""
import json, sys, time
from pytest_mrlcheck.tasks import funnel, retrieval
spent = {"score_views": 0.0, "cost_by_size": 0.0}
def timed(module, name):
    original = getattr(module, name)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start
    setattr(module, name, wrapper)
timed(retrieval, "score_views")
timed(funnel, "cost_by_size")
import pytest
code = pytest.main(sys.argv[2:])
with open(sys.argv[1], "w") as handle:
    json.dump(spent, handle)
sys.exit(code)
"""


def write_folder(folder: Path, docs: int, queries: int, seed: int = 0) -> None:
    """The BEIR folder, the encoder module and the spec."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(VOCABULARY)])
    beir = folder / "beir"
    (beir / "qrels").mkdir(parents=True)
    doc_words = rng.integers(0, VOCABULARY, size=(docs, 12))
    with (beir / "corpus.jsonl").open("w") as handle:
        for i, row in enumerate(doc_words):
            handle.write(json.dumps({"_id": f"d{i}", "title": "", "text": " ".join(words[row])}) + "\n")
    query_words = rng.integers(0, VOCABULARY, size=(queries, 6))
    judged = rng.integers(0, docs, size=(queries, 3))
    with (beir / "queries.jsonl").open("w") as handle:
        for i, row in enumerate(query_words):
            handle.write(json.dumps({"_id": f"q{i}", "text": " ".join(words[row])}) + "\n")
    with (beir / "qrels" / "test.tsv").open("w") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for i, row in enumerate(judged):
            for doc in dict.fromkeys(row.tolist()):
                handle.write(f"q{i}\td{doc}\t1\n")
    (folder / "bench_encoder.py").write_text(ENCODER, encoding="utf-8")
    (folder / "corpus.mrl.yaml").write_text(textwrap.dedent(SPEC).lstrip(), encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss: int  # bytes
    score_views: float
    cost_by_size: float
    cache_bytes: int
    report: dict[str, object]


def run_pytest(tree: Path, folder: Path, cache: Path, label: str) -> Run:
    """One pytest run of the spec with ``tree`` first on the path; its time, peak RSS and report."""
    report, timings = folder / f"{label}.json", folder / f"{label}.timings.json"
    env = child_env({"PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}, drop=("CI",))
    command = [sys.executable, "-c", RUNNER, str(timings), str(folder), "-q", "-p", "no:cacheprovider",
               "-p", "no:xdist", "-p", "no:randomly", f"--mrlcheck-cache-dir={cache}",
               f"--mrlcheck-json={report}", "--mrlcheck-tables=none"]
    child = run_child(command, folder, env, merge_output=True)
    if child.returncode != 0:
        sys.exit(f"{label}: pytest exited with {child.returncode}:\n{child.stdout[-4000:]}")
    spent = json.loads(timings.read_text())
    cache_bytes = sum(path.stat().st_size for path in cache.rglob("*") if path.is_file())
    return Run(child.seconds, child.peak_rss, spent["score_views"], spent["cost_by_size"], cache_bytes,
               json.loads(report.read_text()))


def metric_difference(a: dict[str, object], b: dict[str, object]) -> float:
    """Largest absolute difference between the two reports' view scores (inf if views differ)."""
    worst = 0.0
    specs_a, specs_b = a["specs"], b["specs"]
    assert isinstance(specs_a, list) and isinstance(specs_b, list)
    for left, right in zip(specs_a, specs_b, strict=True):
        scores_a, scores_b = left["scores"], right["scores"]
        if set(scores_a) != set(scores_b):
            return math.inf
        for view, value in scores_a.items():
            worst = max(worst, abs(float(value) - float(scores_b[view])))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=None, help="documents (default 200,000; 20,000 with --quick)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="20,000 documents")
    parser.add_argument("--keep", type=Path, default=None, help="build the folder here and keep it")
    args = parser.parse_args()
    docs = args.docs or (20_000 if args.quick else 200_000)
    with_reference = docs < 1_000_000
    scratch = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    folder = args.keep or scratch / "project"
    try:
        started = time.perf_counter()
        write_folder(folder, docs, args.queries)
        print(f"{docs:,} documents, {args.queries} queries, 5 prefixes + 11 windows, nDCG@10 "
              f"(folder written in {time.perf_counter() - started:.1f} s); load average before: "
              f"{load_triple()}", flush=True)
        trees = {"this tree": REPO}
        if with_reference:
            trees = {f"reference {REFERENCE}": extract_package(REFERENCE, scratch / "reference"), **trees}
        runs: dict[str, tuple[Run, Run]] = {}
        for label, tree in trees.items():
            cache = scratch / f"cache-{len(runs)}"
            cold = run_pytest(tree, folder, cache, f"{len(runs)}-cold")
            print(f"  {label}: cold {cold.seconds:.1f} s", flush=True)
            warm = run_pytest(tree, folder, cache, f"{len(runs)}-warm")
            print(f"  {label}: warm {warm.seconds:.1f} s", flush=True)
            runs[label] = (cold, warm)
        print_table(runs, docs)
        print(f"load average after: {load_triple()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def print_table(runs: dict[str, tuple[Run, Run]], docs: int) -> None:
    labels = list(runs)
    reference_warm = runs[labels[0]][1].seconds
    raw = (docs + 1000) * DIM * 4
    rows = [
        ("cold run, s", [f"{cold.seconds:.2f}" for cold, _ in runs.values()]),
        ("warm run, s", [f"{warm.seconds:.2f}" for _, warm in runs.values()]),
        ("warm / reference warm (target ≤ 0.30)",
         [f"{warm.seconds / reference_warm:.2f}" if len(labels) > 1 else "–" for _, warm in runs.values()]),
        ("warm: ranking (score_views), s", [f"{warm.score_views:.2f}" for _, warm in runs.values()]),
        ("warm: cost per size timing, s", [f"{warm.cost_by_size:.2f}" for _, warm in runs.values()]),
        ("warm: the rest (start, load, cache read), s",
         [f"{warm.seconds - warm.score_views - warm.cost_by_size:.2f}" for _, warm in runs.values()]),
        (f"cache bytes (raw float32 ≈ {raw:,})", [f"{cold.cache_bytes:,}" for cold, _ in runs.values()]),
        ("peak RSS cold / warm, MB",
         [f"{cold.peak_rss / 2**20:.0f} / {warm.peak_rss / 2**20:.0f}" for cold, warm in runs.values()]),
    ]
    if len(labels) > 1:
        delta = metric_difference(runs[labels[0]][1].report, runs[labels[1]][1].report)
        verdict = "yes" if delta <= 1e-6 else "NO"
        rows.append(("max |Δ metric| vs reference (≤ 1e-6)", ["–", f"{delta:.1e} ({verdict})"]))
    print()
    print_markdown(("measurement", *labels), [(name, *values) for name, values in rows], pad_first=True)


if __name__ == "__main__":
    main()
