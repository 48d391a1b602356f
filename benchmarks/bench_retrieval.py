#!/usr/bin/env python
"""SciFact retrieval with the packaged MiniLM: every view from one cached encoding, against ST's evaluators.

Run from the repository root:  .venv/bin/python benchmarks/bench_retrieval.py [--quick] [--json PATH]

SciFact (BEIR layout, test qrels: 300 judged queries, 5183 documents), metric nDCG@10, views:
prefixes 32/64/128/192/256/384, windows of width 64 every 16 dims, 32 random subsets at
64/128/256 dims -- 122 views (the window 0-64 is prefix 64, scored once), all scored from ONE
full-dimension encoding of each text.
Everything runs in this process through the in-process API (``load_specs``, ``RunContext``,
``evaluate``) on one loaded model, so model load is excluded everywhere:

A  cold -- ``evaluate`` with an empty SQLite cache: encodes the 300 queries and 5183 documents
   once (batch 64, normalized), writes them to the cache and scores every view. Once (minutes).
B  warm -- ``evaluate`` again with a new ``RunContext`` on the cache A filled: every vector is a
   cache hit, all 122 views are scored. Median of 3 (``--repeat``). Target: <= 3 s.
   Memory: one more warm evaluation in a separate child process (so this process's model and
   encoding peaks do not mask it) reports its peak RSS (``resource.getrusage``), the peak before
   ``evaluate`` and the peak of traced (numpy) allocations during it, and confirms that torch is
   never imported there. The child is started first thing and waits for A to fill the cache:
   Linux carries ``ru_maxrss`` over ``exec`` from the forked copy of the parent, so a child
   forked after the model is loaded would report the parent's 1+ GB.
C  sentence-transformers' own way -- one ``InformationRetrievalEvaluator(truncate_dim=k)`` per
   prefix size (6), run in sequence on the same loaded model (batch 64, the same "title text"
   documents, the same judged queries): "cold" once, then the same 6 evaluators a second time.
   sentence-transformers has no embedding cache, so its "warm" run re-encodes everything again.
   Compared as C cold / (A + B) and C warm / B. Each evaluator encodes as much as A does, so C
   costs about 6 x A: when that estimate (from the measured A) is above 20 minutes, C runs on a
   documented subset -- the first 100 judged queries, every document judged for them plus the
   first 500 documents of corpus.jsonl -- and A and B are measured again on that same subset
   (A', B') so the ratios compare like with like (``--c-queries``, ``--c-docs``; ``--c-full``
   forces the whole data set).
D  sanity -- nDCG@10 at 384 dims, ours against the evaluator's:
   D1 (whole data set, no encoding): the evaluator's ranking and metric code fed our cached
      vectors (queries and documents), at all 6 prefix sizes. Same vectors, so only the
      ranking arithmetic can differ: target |diff| <= 1e-6.
   D2 the independently encoding evaluator of C (subset or whole) against our score on the same
      data: only the encoding batches differ (ours: 256 texts per ``encode`` call, sorted by
      length inside each call; the evaluator: the whole corpus in one call), which moves vectors
      by float rounding and can swap near-tied documents. Target |diff| <= 1e-3.
   Settings are aligned: documents are ``f"{title} {text}".strip()`` on both sides (our
   ``task.data.document`` default), no identical-id exclusion on either side (the evaluator has
   none; our ``ignore_identical_ids`` defaults to false; SciFact's query and document ids do not
   overlap anyway, the script counts them), binary relevance (all SciFact test grades are 1, so
   the evaluator's binary nDCG equals pytrec_eval's graded one), cosine, batch 64.
   The published MTEB nDCG@10 for all-MiniLM-L6-v2 on SciFact is about 0.645.

Timing: ``time.perf_counter`` around each measurement; torch keeps its default thread count. The
model is loaded and warmed up with one batch before anything is timed. Wall times suffer from
other work on the machine: the 1-minute load average is sampled before every measurement and
printed with the results (with the 1/5/15-minute averages at start and end).

The data is looked up at ``../shared/data/scifact`` from the repository root; when it, the model
package or sentence-transformers is missing the script prints "skipped: ..." and exits 0.
``--quick`` runs everything (A, B, C, D) on a small subset (the first 50 judged queries, their
judged documents + the first 200): a smoke run of several minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
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
    fmt_samples,
    load_triple,
    median,
    missing_module,
    peak_rss_mb,
    print_aligned,
    proc_status_mb,
    skipped,
    write_json,
    yes,
)

DATA = SHARED_DATA / "scifact"
SPLIT = "test"
BATCH_SIZE = 64
METRIC = "ndcg@10"
PREFIXES = (32, 64, 128, 192, 256, 384)
WINDOW_WIDTH, WINDOW_STEP = 64, 16
RANDOM_SIZES, RANDOM_SAMPLES = (64, 128, 256), 32
MTEB_PUBLISHED = 0.645

C_LIMIT_SECONDS = 20 * 60  # run C on a subset when 6 x A is above this
SUBSET_QUERIES, SUBSET_DOCS = 100, 500
QUICK_QUERIES, QUICK_DOCS = 50, 200

TARGET_WARM_SECONDS = 3.0
TARGET_SAME_VECTORS = 1e-6
TARGET_INDEPENDENT = 1e-3

CHILD_ENV = child_env()
LOADS = LoadLog()


# --------------------------------------------------------------------------- helpers

def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(path: Path) -> list[tuple[str, str, int]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    out = []
    for number, row in enumerate(rows):
        if not row or (number == 0 and not row[-1].strip().lstrip("-").isdigit()):
            continue
        out.append((row[0].strip(), row[1].strip(), int(float(row[2]))))
    return out


def make_subset(source: Path, target: Path, n_queries: int, n_docs: int) -> dict[str, int]:
    """A BEIR folder: the first ``n_queries`` judged queries, their judged documents + the first ``n_docs``."""
    queries = read_jsonl(source / "queries.jsonl")
    corpus = read_jsonl(source / "corpus.jsonl")
    qrels = read_qrels(source / "qrels" / f"{SPLIT}.tsv")
    judged = {q for q, _, _ in qrels}
    kept_queries = [row for row in queries if str(row["_id"]) in judged][:n_queries]
    kept_ids = {str(row["_id"]) for row in kept_queries}
    kept_qrels = [row for row in qrels if row[0] in kept_ids]
    wanted = {doc for _, doc, _ in kept_qrels} | {str(row["_id"]) for row in corpus[:n_docs]}
    kept_docs = [row for row in corpus if str(row["_id"]) in wanted]  # corpus.jsonl order
    (target / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (("queries.jsonl", kept_queries), ("corpus.jsonl", kept_docs)):
        with (target / name).open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    with (target / "qrels" / f"{SPLIT}.tsv").open("w", encoding="utf-8", newline="") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        handle.writelines(f"{q}\t{d}\t{g}\n" for q, d, g in kept_qrels)
    return {"queries": len(kept_queries), "documents": len(kept_docs),
            "judged_documents": len({doc for _, doc, _ in kept_qrels}), "first_documents": n_docs}


def write_spec(folder: Path, data: Path) -> Path:
    """The spec of the brief (views and check), pointing at ``data``."""
    text = textwrap.dedent(
        f"""\
        # Generated by benchmarks/bench_retrieval.py
        name: scifact
        allow_outside_root: true  # the data lives beside the project, in ../shared/data
        model: {{name: "pkg:{MODEL_PACKAGE}", batch_size: {BATCH_SIZE}}}
        task: {{kind: retrieval, data: {{path: {json.dumps(str(data))}, split: {SPLIT}}}, metric: {METRIC}}}
        views:
          prefix: {list(PREFIXES)}
          windows: {{width: {WINDOW_WIDTH}, step: {WINDOW_STEP}}}
          random: {{dims: {list(RANDOM_SIZES)}, samples: {RANDOM_SAMPLES}, seed: 0}}
        checks: {{prefix: {{384: 0.60}}}}
        """
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scifact.mrl.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def st_inputs(spec: Any) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]], Any]:
    """Queries, corpus and relevant docs for the evaluator, read with OUR loader (same texts, same order)."""
    from pytest_mrlcheck.data import load_beir

    data = load_beir(spec.task.data)
    queries = dict(zip(data.query_ids, data.queries, strict=True))
    corpus = dict(zip(data.doc_ids, data.documents, strict=True))
    relevant = {q: {d for d, grade in docs.items() if grade > 0} for q, docs in data.qrels.items()}
    return queries, corpus, relevant, data


def ndcg_key(metrics: dict[str, float]) -> float:
    (value,) = [v for key, v in metrics.items() if key.endswith(f"_{METRIC}")]
    return float(value)


# --------------------------------------------------------------------------- measurements


class Bench:
    """One loaded model and the in-process API, shared by every measurement."""

    def __init__(self, work: Path) -> None:
        os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
        from pytest_mrlcheck.evaluation import RunContext, evaluate
        from pytest_mrlcheck.spec import load_specs
        from pytest_mrlcheck.store import MemoryStore, SqliteStore

        self.RunContext, self.evaluate, self.load_specs = RunContext, evaluate, load_specs
        self.MemoryStore, self.SqliteStore = MemoryStore, SqliteStore
        self.work = work
        self.models: dict[Any, Any] = {}
        self.model: Any = None
        self.load_seconds = 0.0

    def spec(self, path: Path) -> Any:
        return self.load_specs(path)[0]

    def load_model(self, spec: Any) -> None:
        """Load the model through our provider (its ``loaded_models`` key) and warm it up, untimed."""
        started = time.perf_counter()
        _, corpus, _, _ = st_inputs(spec)
        warm_up = list(corpus.values())[:BATCH_SIZE]
        run = self.RunContext(store=self.MemoryStore(), rootdir=spec.directory, loaded_models=self.models)
        run.encoder_for(spec).encode(warm_up, "document")
        self.load_seconds = time.perf_counter() - started
        (self.model,) = self.models.values()

    def cold(self, spec: Any, cache: Path, label: str) -> tuple[float, Any]:
        store = self.SqliteStore(cache)
        run = self.RunContext(store=store, rootdir=spec.directory, loaded_models=self.models)
        LOADS.note(f"{label} start")
        started = time.perf_counter()
        result = self.evaluate(spec, run)
        store.close()
        seconds = time.perf_counter() - started
        LOADS.note(f"{label} end")
        assert result.encoding["cache_hits"] == 0, "A must be cold"
        return seconds, result

    def warm(self, spec: Any, cache: Path, repeat: int, what: str, label: str) -> tuple[list[float], Any]:
        samples, result = [], None
        for round_ in range(repeat):
            store = self.SqliteStore(cache)
            run = self.RunContext(store=store, rootdir=spec.directory, loaded_models=self.models)
            LOADS.note(label)
            started = time.perf_counter()
            result = self.evaluate(spec, run)
            store.close()
            samples.append(time.perf_counter() - started)
            assert result.encoding["encoded"] == 0, "B must be warm (every vector cached)"
            print(f"  round {round_ + 1}/{repeat}: {what} {samples[-1]:.2f} s", flush=True)
        return samples, result

    def cached_vectors(self, spec: Any, cache: Path) -> tuple[Any, Any]:
        """Our full-dimension query and document vectors, straight from the cache (no encoding)."""
        from pytest_mrlcheck.embed import embed_texts

        _, _, _, data = st_inputs(spec)
        store = self.SqliteStore(cache)
        run = self.RunContext(store=store, rootdir=spec.directory, loaded_models=self.models)
        encoder = run.encoder_for(spec)
        out = []
        for texts, role in ((data.queries, "query"), (data.documents, "document")):
            out.append(embed_texts(texts, role, spec.model.prompts.for_role(role), encoder, run.store, run.stats,
                                   spec.model.label, run.policy))
        store.close()
        assert run.stats.encoded == 0
        return out[0], out[1]

    def st_evaluators(self, spec: Any, label: str) -> tuple[float, dict[int, float]]:
        """C: one InformationRetrievalEvaluator per prefix size, in sequence (each encodes everything)."""
        evaluator_class = import_evaluator()
        queries, corpus, relevant, _ = st_inputs(spec)
        scores: dict[int, float] = {}
        LOADS.note(f"{label} start")
        started = time.perf_counter()
        for k in PREFIXES:
            evaluator = evaluator_class(queries, corpus, relevant, batch_size=BATCH_SIZE, name=f"scifact-{k}",
                                        write_csv=False, truncate_dim=k, ndcg_at_k=[10])
            scores[k] = ndcg_key(evaluator(self.model))
            print(f"    evaluator truncate_dim={k}: {time.perf_counter() - started:.1f} s so far", flush=True)
        seconds = time.perf_counter() - started
        LOADS.note(f"{label} end")
        return seconds, scores

    def st_same_vectors(self, spec: Any, cache: Path) -> dict[int, float]:
        """D1: the evaluator's ranking and metric code on OUR cached vectors (queries and corpus)."""
        import torch
        from sentence_transformers.util import cos_sim

        evaluator_class = import_evaluator()
        queries, corpus, relevant, _ = st_inputs(spec)
        query_vecs, doc_vecs = self.cached_vectors(spec, cache)

        class CachedQueries(evaluator_class):  # type: ignore[misc, valid-type]
            def embed_inputs(self, model: Any, sentences: Any, encode_fn_name: str | None = None, **_: Any) -> Any:
                assert encode_fn_name == "query" and len(sentences) == query_vecs.shape[0]
                return torch.from_numpy(query_vecs[:, : self.truncate_dim].copy())

        scores: dict[int, float] = {}
        for k in PREFIXES:
            evaluator = CachedQueries(queries, corpus, relevant, batch_size=BATCH_SIZE, write_csv=False,
                                      truncate_dim=k, ndcg_at_k=[10], score_functions={"cosine": cos_sim})
            documents = torch.from_numpy(doc_vecs[:, :k].copy())
            found = evaluator.compute_all_metrics(self.model, corpus_embeddings=documents)
            scores[k] = float(found["cosine"]["ndcg@k"][10])
        return scores


def import_evaluator() -> Any:
    try:  # sentence-transformers >= 6 moved the evaluators; the old path still works but warns
        from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    except ImportError:
        from sentence_transformers.evaluation import InformationRetrievalEvaluator  # type: ignore[no-redef]
    return InformationRetrievalEvaluator


def rss_child() -> None:
    """Child process: waits for "SPEC CACHE" on stdin, then one warm evaluate; prints its memory as JSON.

    It is started before this benchmark imports torch or loads the model, because Linux carries a
    process's ``ru_maxrss`` over ``exec`` from the forked copy of its parent: started later, the
    child would report the parent's 1+ GB as its own peak.
    """
    import tracemalloc

    from pytest_mrlcheck.evaluation import RunContext, evaluate
    from pytest_mrlcheck.spec import load_specs
    from pytest_mrlcheck.store import SqliteStore

    spec_path, cache = (Path(part) for part in sys.stdin.readline().rstrip("\n").split("\t"))
    spec = load_specs(spec_path)[0]
    before_mb = peak_rss_mb()
    store = SqliteStore(cache)
    started = time.perf_counter()
    result = evaluate(spec, RunContext(store=store, rootdir=spec.directory))
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    hwm = proc_status_mb("VmHWM")
    store.close()
    tracemalloc.start()  # a second warm run, traced (slower; not timed)
    store = SqliteStore(cache)
    evaluate(spec, RunContext(store=store, rootdir=spec.directory))
    store.close()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({
        "before_mb": before_mb, "peak_mb": peak_mb, "vmhwm_mb": hwm,
        "traced_peak_mb": traced_peak / 2**20, "seconds": seconds, "encoded": result.encoding["encoded"],
        "cache_hits": result.encoding["cache_hits"], "torch_imported": "torch" in sys.modules,
        "queries": result.details["queries"], "documents": result.details["documents"],
    }))


def start_rss_child() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--rss-child"], cwd=REPO, env=CHILD_ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def measure_rss(child: subprocess.Popen[str], spec_path: Path, cache: Path) -> dict[str, Any]:
    LOADS.note("memory child")
    out, err = child.communicate(f"{spec_path}\t{cache}\n")
    if child.returncode != 0:
        sys.stderr.write(f"memory child failed (exit {child.returncode}):\n{out[-4000:]}\n{err[-4000:]}\n")
        raise SystemExit(1)
    payload: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if payload["encoded"] or payload["torch_imported"]:
        sys.stderr.write(f"memory child was not warm: {payload}\n")
        raise SystemExit(1)
    return payload


# --------------------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help=f"everything on a subset ({QUICK_QUERIES} queries, judged + first {QUICK_DOCS} docs)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every number to this JSON file")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the warm evaluation (default 3)")
    parser.add_argument("--c-full", action="store_true", help="run C on the whole data set whatever it costs")
    parser.add_argument("--c-queries", type=int, default=SUBSET_QUERIES,
                        help=f"queries in C's subset (default {SUBSET_QUERIES})")
    parser.add_argument("--c-docs", type=int, default=SUBSET_DOCS,
                        help=f"first corpus documents in C's subset, besides the judged ones (default {SUBSET_DOCS})")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.rss_child:
        rss_child()
        return 0
    if not (DATA / "corpus.jsonl").is_file() or not (DATA / "qrels" / f"{SPLIT}.tsv").is_file():
        return skipped(f"SciFact (BEIR layout) not found at {DATA} "
                       "(expected ../shared/data/scifact/ from the repo root)")
    if missing_module(MODEL_PACKAGE.replace("-", "_")):
        return skipped(f"model package {MODEL_PACKAGE} not found (pip install {MODEL_PACKAGE})")
    if missing_module("sentence_transformers"):
        return skipped("sentence-transformers is not installed")

    repeat = max(1, args.repeat)
    start_load, started_all = load_triple(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        work = Path(tmp)
        if args.quick:
            data = work / "data-quick"
            main_subset: dict[str, int] | None = make_subset(DATA, data, QUICK_QUERIES, QUICK_DOCS)
        else:
            data, main_subset = DATA, None
        spec_path = write_spec(work / "spec-main", data)
        memory_child = start_rss_child()  # before anything heavy is imported here (see rss_child)
        bench = Bench(work)
        spec = bench.spec(spec_path)
        print(f"SciFact {SPLIT}{' (quick subset)' if args.quick else ''}, model pkg:{MODEL_PACKAGE}, "
              f"{os.cpu_count()} CPU(s), Python {platform.python_version()}; load average {start_load}", flush=True)
        print("loading the model and warming it up with one batch (untimed)", flush=True)
        bench.load_model(spec)

        print("A: cold evaluate, empty cache (encodes queries + corpus once, scores every view)", flush=True)
        cache = work / "cache-main"
        a, result_a = bench.cold(spec, cache, "A")
        print(f"  once: A {a:.2f} s (embed {result_a.seconds['load_and_embed']:.2f} s, "
              f"score {result_a.seconds['score']:.2f} s)", flush=True)
        print(f"B: warm evaluate x{repeat}", flush=True)
        b_samples, result_b = bench.warm(spec, cache, repeat, "B (warm)", "B")
        b = median(b_samples)
        print("memory: one warm evaluate in a fresh child process", flush=True)
        memory = measure_rss(memory_child, spec_path, cache)
        print(f"D1: the evaluator's metric code on our cached vectors ({len(PREFIXES)} sizes, no encoding)", flush=True)
        same = bench.st_same_vectors(spec, cache)

        estimate = len(PREFIXES) * a
        c_on_subset = not args.c_full and not args.quick and estimate > C_LIMIT_SECONDS
        if c_on_subset:
            c_data = work / "data-c"
            made = make_subset(DATA, c_data, args.c_queries, args.c_docs)
            c_subset: dict[str, int] | None = made
            c_spec = bench.spec(write_spec(work / "spec-c", c_data))
            print(f"C would take about {len(PREFIXES)} x A = {estimate / 60:.0f} min (> {C_LIMIT_SECONDS // 60} min): "
                  f"C runs on a subset ({made['queries']} queries, {made['documents']} documents); "
                  "A' and B' measure ours on the same subset", flush=True)
            c_cache = work / "cache-c"
            a_c, result_ac = bench.cold(c_spec, c_cache, "A'")
            print(f"  once: A' {a_c:.2f} s", flush=True)
            b_c_samples, _ = bench.warm(c_spec, c_cache, repeat, "B' (warm)", "B'")
            b_c = median(b_c_samples)
        else:
            c_subset, c_spec, a_c, b_c, b_c_samples, result_ac = main_subset, spec, a, b, b_samples, result_a
        print(f"C cold: {len(PREFIXES)} evaluators in sequence", flush=True)
        c_cold, st_scores = bench.st_evaluators(c_spec, "C-cold")
        print(f"  once: C cold {c_cold:.2f} s", flush=True)
        print(f"C warm: the same {len(PREFIXES)} evaluators again (no cache: re-encodes everything)", flush=True)
        c_warm, st_scores_again = bench.st_evaluators(c_spec, "C-warm")
        print(f"  once: C warm {c_warm:.2f} s", flush=True)
    end_load, total = load_triple(), time.perf_counter() - started_all

    import torch  # already imported by the model; only for the report

    from pytest_mrlcheck.views import prefix_label

    ours = {k: float(result_b.scores[prefix_label(k)]) for k in PREFIXES}
    ours_c = {k: float(result_ac.scores[prefix_label(k)]) for k in PREFIXES}
    full = PREFIXES[-1]
    d1_diff = abs(same[full] - ours[full])
    d1_max = max(abs(same[k] - ours[k]) for k in PREFIXES)
    d2_diff = abs(st_scores[full] - ours_c[full])
    d2_max = max(abs(st_scores[k] - ours_c[k]) for k in PREFIXES)
    views = len(result_b.plan.ranges()) + sum(f.samples for f in result_b.plan.random)
    n_q, n_d = result_b.details["queries"], result_b.details["documents"]
    c_q, c_d = result_ac.details["queries"], result_ac.details["documents"]
    where = f"subset {c_q} q x {c_d} docs" if c_on_subset else "same data"
    prime = "'" if c_on_subset else ""
    qn_mb = n_q * n_d * 4 / 2**20

    rows = [
        (f"A  ours cold: encode {n_q} q + {n_d} docs once + score {views} views (once)", f"{a:.2f}",
         "1.00x", "-", "-"),
        (f"B  ours warm: all cached, {views} views scored (median of {repeat})", f"{b:.3f}",
         f"{b / a:.4f}x A", f"<= {TARGET_WARM_SECONDS:.0f} s", yes(b <= TARGET_WARM_SECONDS)),
    ]
    if c_on_subset:
        rows += [
            (f"A' ours cold on the {where} (once)", f"{a_c:.2f}", "-", "-", "-"),
            (f"B' ours warm on the {where} (median of {repeat})", f"{b_c:.3f}", "-", "-", "-"),
        ]
    rows += [
        (f"C  ST cold: {len(PREFIXES)} IR evaluators, truncate_dim=k, {where} (once)", f"{c_cold:.2f}",
         f"{c_cold / (a_c + b_c):.2f}x (A{prime}+B{prime})", "-", "-"),
        (f"C  ST 'warm': same {len(PREFIXES)} again, re-encodes (no cache) (once)", f"{c_warm:.2f}",
         f"{c_warm / b_c:.0f}x B{prime}", "-", "-"),
        (f"D1 nDCG@10@384 same vectors, {'quick subset' if args.quick else 'full data'}: "
         f"ST {same[full]:.6f} vs ours {ours[full]:.6f}", "-",
         f"|diff| {d1_diff:.1e}", f"<= {TARGET_SAME_VECTORS:.0e}", yes(d1_max <= TARGET_SAME_VECTORS)),
        (f"D2 nDCG@10@384 own encoding, {where}: ST {st_scores[full]:.6f} vs ours {ours_c[full]:.6f}", "-",
         f"|diff| {d2_diff:.1e}", f"<= {TARGET_INDEPENDENT:.0e}", yes(d2_max <= TARGET_INDEPENDENT)),
        (f"M  warm evaluate, fresh process: peak RSS {memory['peak_mb']:.0f} MB (before it "
         f"{memory['before_mb']:.0f} MB)", f"{memory['seconds']:.3f}", "-", "-", "-"),
    ]
    print()
    print(f"SciFact {SPLIT}: {n_q} judged queries x {n_d} documents, metric {METRIC}, {views} views "
          f"(prefix {'/'.join(map(str, PREFIXES))}, windows {WINDOW_WIDTH}/{WINDOW_STEP}, "
          f"{RANDOM_SAMPLES} random x {'/'.join(map(str, RANDOM_SIZES))}); torch threads {torch.get_num_threads()}"
          f"{'; QUICK subset' if args.quick else ''}")
    print_aligned(rows)
    print()
    print(f"A: in process, model load + warm-up excluded ({bench.load_seconds:.2f} s); of A, embedding "
          f"{result_a.seconds['load_and_embed']:.2f} s and scoring all views {result_a.seconds['score']:.2f} s.")
    n_windows = len(result_b.plan.windows)
    shared = len(PREFIXES) + n_windows - len(result_b.plan.ranges())
    print(f"B: a new RunContext on A's SQLite cache each round; samples {fmt_samples(b_samples)} s. {views} views = "
          f"{len(PREFIXES)} prefixes + {n_windows} windows ({shared} equal to a prefix, scored once) + "
          f"{sum(f.samples for f in result_b.plan.random)} random subsets.")
    if c_on_subset and c_subset is not None:
        print(f"C: 6 x A = {estimate / 60:.0f} min estimated on the full data (> {C_LIMIT_SECONDS // 60} min), "
              "so C ran "
              f"on a subset: the first {c_subset['queries']} judged queries, the {c_subset['judged_documents']} "
              f"documents judged for them + the first {c_subset['first_documents']} of corpus.jsonl = "
              f"{c_subset['documents']} documents; A' and B' are ours on that subset (B' samples "
              f"{fmt_samples(b_c_samples)} s).")
    print(f"C: each evaluator encodes {c_q} queries + {c_d} documents, so {len(PREFIXES)} evaluators encode "
          f"{len(PREFIXES)}x what A{prime} encodes; C cold / A{prime} = {c_cold / a_c:.2f}x. sentence-transformers "
          "has no embedding cache, so its 'warm' run re-encodes everything again.")
    print("D: nDCG@10 by prefix size (ours | ST same vectors | ours on C's data | ST own encoding):")
    for k in PREFIXES:
        print(f"     {k:>3}: {ours[k]:.6f} | {same[k]:.6f} | {ours_c[k]:.6f} | {st_scores[k]:.6f}")
    print(f"   max |diff| over the sizes: D1 {d1_max:.1e}, D2 {d2_max:.1e}; ST cold vs 'warm' runs identical: "
          f"{all(st_scores[k] == st_scores_again[k] for k in PREFIXES)}.")
    print(f"   ours at 384 on the full data {ours[full]:.4f} vs published MTEB about {MTEB_PUBLISHED}"
          f"{' (quick subset: not comparable)' if args.quick else ''}. Aligned: documents '{{title}} {{text}}'.strip() "
          "on both sides, no identical-id exclusion on either side, binary grades, cosine, batch 64.")
    hwm = f"{memory['vmhwm_mb']:.0f} MB" if memory["vmhwm_mb"] is not None else "n/a"
    print(f"M: child process, torch imported: {memory['torch_imported']}, texts encoded: {memory['encoded']}; "
          f"warm evaluate there {memory['seconds']:.2f} s; /proc VmHWM {hwm}; peak traced (numpy) allocations "
          f"during evaluate {memory['traced_peak_mb']:.0f} MB. The scorer ranks one view x one block (<= 8192 docs, "
          f"<= 64 MB of float32 scores) at a time with a running top-10: here one block is one view's "
          f"{n_q} x {n_d} scores ({qn_mb:.1f} MB); the {views} x {n_q} x {n_d} matrix of all views "
          f"({views * qn_mb:.0f} MB) is never built.")
    busy = LOADS.busy()
    steps = ["A", "B", *(["A'", "B'"] if c_on_subset else []), "C-cold", "C-warm", "memory"]
    per_step = ", ".join(f"{step} {LOADS.of(step)}" for step in steps)
    print(f"Load average (1/5/15 min) at start {start_load}, at end {end_load} on {os.cpu_count()} CPU(s); 1-min "
          f"at start -> end of each measurement (B: each round): {per_step}"
          f"{'; other work was running, so wall times are inflated' if busy else ''}. Total run {total / 60:.1f} min.")

    if args.json:
        payload = {
            "dataset": str(DATA), "quick": args.quick, "queries": n_q, "documents": n_d, "views": views,
            "repeat": repeat, "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "c_on_subset": c_on_subset, "c_subset": c_subset, "c_queries": c_q, "c_documents": c_d,
            "seconds": {"A_cold": a, "B_warm": b, "A_prime_cold": a_c, "B_prime_warm": b_c, "C_cold": c_cold,
                        "C_warm": c_warm, "model_load": bench.load_seconds, "total": total,
                        "A_embed": result_a.seconds["load_and_embed"], "A_score": result_a.seconds["score"]},
            "samples": {"B_warm": b_samples, "B_prime_warm": b_c_samples},
            "ratios": {"C_cold_over_A_plus_B": c_cold / (a_c + b_c), "C_cold_over_A": c_cold / a_c,
                       "C_warm_over_B": c_warm / b_c, "B_over_A": b / a},
            "ndcg10": {"ours": ours, "st_same_vectors": same, "ours_c_data": ours_c, "st_own_encoding": st_scores,
                       "st_own_encoding_second_run": st_scores_again, "d1_max_diff": d1_max, "d2_max_diff": d2_max,
                       "mteb_published": MTEB_PUBLISHED},
            "memory": memory,
            "targets_met": {"B_warm": b <= TARGET_WARM_SECONDS, "D1": d1_max <= TARGET_SAME_VECTORS,
                            "D2": d2_max <= TARGET_INDEPENDENT},
            "load_average_1min": [{"at": what, "load": value} for what, value in LOADS.samples],
            "load_average_start": start_load, "load_average_end": end_load,
        }
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
