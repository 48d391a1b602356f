"""Warm and cold runs at corpus scale: a synthetic BEIR folder, today's tree against a reference commit.

The folder follows issue 11's recipe: 12 random words per document from a 5,000-word vocabulary,
6 per query, 3 judged documents per query, all seeded; the encoder is a ``provider: python``
function that draws a normal 384-dim vector seeded from a hash of each text (so encoding is not the
cost). The spec scores 5 prefixes and 11 windows (width 64, step 32) on nDCG@10 over 1000 queries.

Each tree runs pytest in its own process, cold (empty cache) then warm (same cache). A tree whose
cache keeps a score memo then runs a third time with the memo emptied ("rescored"): every vector is
read from the cache and every view is ranked again, as after an upgrade of pytest-mrlcheck or
numpy. The table shows, side by side: seconds, the warm and rescored ratios against the reference's
warm run (target ≤ 0.3), cache bytes on disk, peak RSS, the time spent ranking
(``retrieval.score_views``) and timing cost per size (``funnel.cost_by_size``), and whether the
trees' metrics agree to 1e-6 (the rescored run's included). Every run loads this plugin by name with
plugin autoloading off, so other plugins installed in the environment add nothing to either tree.

    python benchmarks/bench_corpus.py                 # 200,000 documents, reference 416e3e8 and this tree
    python benchmarks/bench_corpus.py --quick         # 20,000 documents, to try it
    python benchmarks/bench_corpus.py --docs 1000000  # this tree only, cold and warm, peak RSS (≤ 4 GB)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sqlite3
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
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


@dataclass(frozen=True)
class Runs:
    """One tree's runs: cold, warm, and warm with the score memo emptied (None without a memo)."""

    cold: Run
    warm: Run
    rescored: Run | None


def run_pytest(tree: Path, folder: Path, cache: Path, label: str) -> Run:
    """One pytest run of the spec with ``tree`` first on the path; its time, peak RSS and report."""
    report, timings = folder / f"{label}.json", folder / f"{label}.timings.json"
    # other plugins of the environment (hypothesis, xdist, ...) stay out: their start-up is not the
    # tree's; bytecode is written as Python does by default (the cold run compiles, the others reuse it)
    env = child_env({"PYTHONPATH": str(tree), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
                    drop=("CI", "PYTHONDONTWRITEBYTECODE"))
    command = [sys.executable, "-c", RUNNER, str(timings), str(folder), "-q", "-p", "pytest_mrlcheck.plugin",
               "-p", "no:cacheprovider", f"--mrlcheck-cache-dir={cache}",
               f"--mrlcheck-json={report}", "--mrlcheck-tables=none"]
    child = run_child(command, folder, env, merge_output=True)
    if child.returncode != 0:
        sys.exit(f"{label}: pytest exited with {child.returncode}:\n{child.stdout[-4000:]}")
    spent = json.loads(timings.read_text())
    cache_bytes = sum(path.stat().st_size for path in cache.rglob("*") if path.is_file())
    return Run(child.seconds, child.peak_rss, spent["score_views"], spent["cost_by_size"], cache_bytes,
               json.loads(report.read_text()))


def empty_score_memo(cache: Path) -> bool:
    """Delete every score memo entry of the cache in ``cache``; False if it keeps no memo."""
    # plain SQL, not SqliteStore: opening the reference's cache with this tree's store could convert it
    from pytest_mrlcheck import memo_table
    from pytest_mrlcheck.cache_schema import DB_NAME, has_table

    db = cache / DB_NAME
    if not db.exists():
        return False
    conn = sqlite3.connect(db)
    try:
        if not has_table(conn, memo_table.TABLE):
            return False
        with conn:
            conn.execute(f"DELETE FROM {memo_table.TABLE}")
        return True
    finally:
        conn.close()


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
        runs: dict[str, Runs] = {}
        for label, tree in trees.items():
            cache = scratch / f"cache-{len(runs)}"
            cold = run_pytest(tree, folder, cache, f"{len(runs)}-cold")
            print(f"  {label}: cold {cold.seconds:.1f} s", flush=True)
            warm = run_pytest(tree, folder, cache, f"{len(runs)}-warm")
            print(f"  {label}: warm {warm.seconds:.1f} s", flush=True)
            rescored = None
            if empty_score_memo(cache):
                rescored = run_pytest(tree, folder, cache, f"{len(runs)}-rescored")
                print(f"  {label}: rescored {rescored.seconds:.1f} s", flush=True)
            runs[label] = Runs(cold, warm, rescored)
        print_table(runs, docs)
        print(f"load average after: {load_triple()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def print_table(runs: dict[str, Runs], docs: int) -> None:
    labels = list(runs)
    reference_warm = runs[labels[0]].warm.seconds
    raw = (docs + 1000) * DIM * 4

    def each(cell: Callable[[Run], str], pick: Callable[[Runs], Run | None]) -> list[str]:
        return [cell(run) if (run := pick(both)) is not None else "–" for both in runs.values()]

    def ratio(run: Run) -> str:
        return f"{run.seconds / reference_warm:.2f}" if len(labels) > 1 else "–"

    rows = [("cold run, s", each(lambda run: f"{run.seconds:.2f}", lambda r: r.cold))]
    for name, pick in (("warm", lambda r: r.warm), ("rescored", lambda r: r.rescored)):
        rows += [
            (f"{name} run, s", each(lambda run: f"{run.seconds:.2f}", pick)),
            (f"{name} / reference warm (target ≤ 0.30)", each(ratio, pick)),
            (f"{name}: ranking (score_views), s", each(lambda run: f"{run.score_views:.2f}", pick)),
            (f"{name}: cost per size timing, s", each(lambda run: f"{run.cost_by_size:.2f}", pick)),
            (f"{name}: the rest (start, load, cache read), s",
             each(lambda run: f"{run.seconds - run.score_views - run.cost_by_size:.2f}", pick)),
        ]
    rows += [
        (f"cache bytes (raw float32 ≈ {raw:,})", each(lambda run: f"{run.cache_bytes:,}", lambda r: r.cold)),
        ("peak RSS cold / warm / rescored, MB",
         [" / ".join(f"{run.peak_rss / 2**20:.0f}" if run else "–" for run in (r.cold, r.warm, r.rescored))
          for r in runs.values()]),
    ]
    if len(labels) > 1:
        reference, tree = runs[labels[0]], runs[labels[1]]
        delta = max(metric_difference(reference.warm.report, run.report)
                    for run in (tree.warm, tree.rescored) if run is not None)
        verdict = "yes" if delta <= 1e-6 else "NO"
        rows.append(("max |Δ metric| vs reference (≤ 1e-6)", ["–", f"{delta:.1e} ({verdict})"]))
    print()
    print_markdown(("measurement", *labels), [(name, *values) for name, values in rows], pad_first=True)


if __name__ == "__main__":
    main()
