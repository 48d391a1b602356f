"""ANN index views: every prefix searched through a FAISS index, measured against exact search.

One index per (``views.index`` entry, prefix size), built from the task's cached document vectors
(sliced, renormalised for cosine, inner product) and kept in the on-disk index cache
(:mod:`.index_cache`). For each view: the task metric from the index's top-k, ``recall_vs_exact``
(the index's top-k against exhaustive search over the same stored vectors: the float32 prefix,
the scalar-quantizer's decoded codes, or the sign bits; tie-aware, a returned document whose exact
score equals the k-th best counts), overlap with exact full-dimension search, build time, query
time per query and index memory.

Builds are reproducible: one OpenMP thread while building (HNSW insertion order and k-means then
do not depend on scheduling), FAISS' fixed k-means seed, vectors added in a fixed order. Searches
use every thread. Faiss is imported lazily: ``pip install 'pytest-mrlcheck[index]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EvaluationError
from .index_cache import IndexCache
from .spec import Spec
from .spec.index import MAX_CORPUS, IndexSpec
from .views import View, ViewPlan

KMEANS_SEED = 1234
_BATCH = 1024  # vectors added at a time: the build budget is checked between batches
_FORMAT = 1  # bump when the way an index is built changes: old cache entries are then not used


@dataclass(frozen=True)
class SearchTask:
    """What an index view searches and how its top-k is scored, from a task's prepared vectors.

    ``queries`` are the rows the metric counts (judged queries of a retrieval task), ``exclude[q]``
    the corpus rows never returned for query ``q``; ``metric`` maps ``Q × depth`` ranked corpus rows
    (``-1``: empty slot) to the task metric.
    """

    queries: np.ndarray
    documents: np.ndarray
    depth: int
    similarity: str
    exclude: Sequence[Collection[int]] | None
    metric: Callable[[np.ndarray], float]


@dataclass(frozen=True)
class IndexResult:
    """One index view's measurements."""

    view: View
    params: dict[str, int]
    metric: float  # the task metric through the index
    exact_metric: float  # the same metric from exhaustive search at the same size and precision
    recall_vs_exact: float
    overlap_full: float  # top-k overlap with exact float32 full-dimension search
    build_seconds: float | None  # None: unknown (a cached index written without its record)
    cached: bool
    query_seconds: float  # per query
    memory_bytes: int  # the serialized index
    code_bytes_per_vector: int
    vectors: int

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view.label, "kind": self.view.index, "dims": self.view.dims,
                "precision": self.view.precision, "params": dict(self.params), "metric": self.metric,
                "exact_metric": self.exact_metric, "recall_vs_exact": self.recall_vs_exact,
                "overlap_full": self.overlap_full, "build_seconds": self.build_seconds, "cached": self.cached,
                "query_seconds": self.query_seconds, "memory_bytes": self.memory_bytes,
                "code_bytes_per_vector": self.code_bytes_per_vector, "vectors": self.vectors}


def retrieval_search(queries: np.ndarray, documents: np.ndarray, relevance: Any, metric: str, similarity: str,
                     exclude: Sequence[Collection[int]] | None) -> SearchTask:
    """A retrieval task's search: the judged queries, scored with the task metric (pytrec_eval's)."""
    from .tasks import retrieval

    rows = np.flatnonzero(relevance.judged)
    kept = relevance.select(rows)
    _, depth = retrieval.parse_metric(metric)

    def score(indices: np.ndarray) -> float:
        return float(retrieval.metric_values(indices[None], kept, [metric])[metric][0].mean())

    return SearchTask(queries[rows], documents, depth, similarity,
                      None if exclude is None else [exclude[int(row)] for row in rows], score)


def agreement_search(queries: np.ndarray, corpus: np.ndarray, query_rows: np.ndarray, metric: str,
                     similarity: str) -> SearchTask:
    """An agreement task's search: ``overlap@k`` of the index's top-k with the exact full-vector top-k."""
    from .tasks import agreement

    _, depth = agreement.parse_metric(metric)
    exclude: list[Collection[int]] = [(int(row),) if row >= 0 else () for row in query_rows]
    task = SearchTask(queries, corpus, depth, similarity, exclude, lambda indices: 0.0)
    full: list[np.ndarray] = []

    def score(indices: np.ndarray) -> float:
        if not full:
            full.append(_exact_full(task))
        return _overlap(indices, full[0])

    return SearchTask(queries, corpus, depth, similarity, exclude, score)


# ------------------------------------------------------------------------------- evaluation


def index_sizes(spec: Spec, plan: ViewPlan, entry: IndexSpec) -> tuple[int, ...]:
    """The sizes an entry is built at: its ``sizes``, else every prefix the spec scores and its checks' sizes."""
    if entry.sizes is not None:
        return tuple(sorted(entry.sizes))
    checked = {b.dims for b in (spec.checks.index.bounds if spec.checks.index else ())
               if b.kind == entry.kind and b.precision == entry.precision}
    return tuple(sorted({*plan.prefixes, *checked}))


def evaluate_indexes(spec: Spec, plan: ViewPlan, task: SearchTask | None, cache_folder: Path | None) -> tuple[
        IndexResult, ...]:
    """Build (or load) and measure every index view of the spec."""
    line = spec.views.index[0].line if spec.views.index else spec.line
    if task is None:  # pragma: no cover - the parser refuses other task kinds
        raise EvaluationError(f"{spec.path}:{line}: views.index: task kind {spec.task.kind} has no corpus to search")
    faiss = load_faiss(spec, line)
    n_docs = task.documents.shape[0]
    if n_docs > MAX_CORPUS:
        raise EvaluationError(
            f"{spec.path}:{line}: views.index: the corpus has {n_docs:,} vectors, more than the {MAX_CORPUS:,} an "
            "index view is built over (the budget of index views)",
            hint="point the spec at a sample of the corpus, or measure index recall outside CI")
    cache = IndexCache(cache_folder)
    digest = _digest(task.documents)
    full = _exact_full(task)
    out: list[IndexResult] = []
    for position, entry in enumerate(spec.views.index):
        where = f"{spec.path}:{entry.line}: views.index[{position}]"
        for size in index_sizes(spec, plan, entry):
            if size > plan.full_dim:
                raise EvaluationError(f"{where}: size {size} is more than the model's {plan.full_dim} dimensions",
                                      hint=f"index sizes up to {plan.full_dim}")
            out.append(_measure(faiss, entry, size, task, full, cache, digest, where))
    return tuple(out)


def load_faiss(spec: Spec, line: int) -> Any:
    """The faiss module, or a clear error naming the extra that installs it."""
    try:
        import faiss
    except ImportError:
        raise EvaluationError(f"{spec.path}:{line}: views.index: index views need faiss, which is not installed",
                              hint="pip install 'pytest-mrlcheck[index]' (installs faiss-cpu)") from None
    return faiss


def resolved_build(entry: IndexSpec, n_docs: int) -> dict[str, int]:
    """Build parameters with the corpus-dependent defaults filled (``nlist``: round(4·√N), at most N)."""
    out = {name: value for name, value in entry.build.items() if value is not None}
    if "nlist" in entry.build and entry.build["nlist"] is None:
        out["nlist"] = max(1, min(n_docs, round(4 * math.sqrt(n_docs))))
    return out


def _measure(faiss: Any, entry: IndexSpec, size: int, task: SearchTask, full: np.ndarray, cache: IndexCache,
             digest: str, where: str) -> IndexResult:
    view = View("prefix", 0, size, precision=entry.precision, index=entry.kind)
    n_docs = task.documents.shape[0]
    build = resolved_build(entry, n_docs)
    _refuse_bad_sizes(entry, build, size, n_docs, where)
    queries, documents = _prepared(task, size)
    binary = entry.kind == "binary_flat"
    key = _cache_key(digest, entry, build, size, task.similarity)
    found = cache.load(key, binary, lambda index: _fits(index, binary, size, n_docs))
    if found is None:
        index, seconds = _build(faiss, entry, build, documents, view, where)
        cache.save(key, index, binary, seconds)
        cached = False
    else:
        index, seconds = found
        cached = True
    _set_search(faiss, index, entry)
    reference_q, reference_d = _reference(faiss, entry, queries, documents)
    extra = 1 if task.exclude and any(task.exclude) else 0
    probe_q = np.packbits(queries > 0, axis=1) if binary else queries
    started = time.perf_counter()
    _, found_rows = index.search(probe_q, min(n_docs, task.depth + extra))
    elapsed = time.perf_counter() - started
    ranked = _drop_excluded(np.asarray(found_rows, dtype=np.int64), task.exclude, task.depth)
    exact = _exact_top(reference_q, reference_d, task)
    serialized = (faiss.serialize_index_binary(index) if binary else faiss.serialize_index(index))
    params = {**build, **entry.search}
    return IndexResult(
        view=view, params=params, metric=task.metric(ranked), exact_metric=task.metric(exact[0]),
        recall_vs_exact=_recall(ranked, exact, reference_q, reference_d, binary),
        overlap_full=_overlap(ranked, full), build_seconds=seconds, cached=cached,
        query_seconds=elapsed / max(1, queries.shape[0]), memory_bytes=len(serialized),
        code_bytes_per_vector=_code_size(faiss, index, binary), vectors=n_docs)


def _refuse_bad_sizes(entry: IndexSpec, build: dict[str, int], size: int, n_docs: int, where: str) -> None:
    nlist = build.get("nlist")
    if nlist is not None and nlist > n_docs:
        raise EvaluationError(f"{where}.nlist: {nlist} lists for a corpus of {n_docs} vectors",
                              hint=f"nlist must be at most the corpus size; about 4·√N = "
                                   f"{round(4 * math.sqrt(n_docs))} is usual (leave nlist out for that)")
    m = build.get("m")
    if m is not None and size % m:
        raise EvaluationError(f"{where}.m: PQ m = {m} does not divide the size {size}",
                              hint="choose m dividing every size of the index, or list the sizes with sizes: [...]")
    nbits = build.get("nbits")
    if nbits is not None and n_docs < 2**nbits:
        raise EvaluationError(f"{where}.nbits: {nbits}-bit PQ codes need at least {2**nbits} vectors to train on; "
                              f"the corpus has {n_docs}", hint="lower nbits, or use a larger corpus")
    search_nprobe = entry.search.get("nprobe")
    if search_nprobe is not None and nlist is not None and search_nprobe > nlist:
        raise EvaluationError(f"{where}.nprobe: nprobe {search_nprobe} is more than the {nlist} lists",
                              hint="nprobe is how many lists a query visits: at most nlist")


def _prepared(task: SearchTask, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Query and document prefixes as float32, unit length for cosine (a zero row stays zero)."""
    from .quantize import unit

    q = np.ascontiguousarray(task.queries[:, :size], dtype=np.float32)
    d = np.ascontiguousarray(task.documents[:, :size], dtype=np.float32)
    if task.similarity == "cosine":
        q, d = unit(q), unit(d)
    return np.ascontiguousarray(q), np.ascontiguousarray(d)


def _digest(documents: np.ndarray) -> str:
    rows = np.ascontiguousarray(documents, dtype=np.float32)
    digest = hashlib.sha256(str(rows.shape).encode())
    digest.update(rows.tobytes())
    return digest.hexdigest()


def _cache_key(digest: str, entry: IndexSpec, build: dict[str, int], size: int, similarity: str) -> str:
    import faiss

    factory = "binary_flat" if entry.kind == "binary_flat" else factory_string(entry, build)
    text = json.dumps({"format": _FORMAT, "faiss": faiss.__version__, "vectors": digest, "kind": entry.kind,
                       "build": build, "precision": entry.precision, "size": size, "similarity": similarity,
                       "factory": factory}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _fits(index: Any, binary: bool, size: int, n_docs: int) -> bool:
    """A loaded index holds the vectors it should: the count and the dimension (bits for binary)."""
    want = 8 * math.ceil(size / 8) if binary else size
    return int(index.ntotal) == n_docs and int(index.d) == want


@contextlib.contextmanager
def _one_thread(faiss: Any) -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


_SQ = {"float16": "SQfp16", "int8": "SQ8"}


def factory_string(entry: IndexSpec, build: dict[str, int]) -> str:
    """The ``index_factory`` description of an entry (binary_flat is not built by the factory)."""
    storage = _SQ.get(entry.precision, "Flat")
    if entry.kind == "hnsw":
        return f"HNSW{build['M']}" + ("" if storage == "Flat" else f",{storage}")
    if entry.kind == "ivf_flat":
        return f"IVF{build['nlist']},{storage}"
    if entry.kind == "ivf_pq":
        return f"IVF{build['nlist']},PQ{build['m']}x{build['nbits']}np"  # np: no polysemous training (slow)
    raise ValueError(f"no factory string for {entry.kind}")  # pragma: no cover


def _build(faiss: Any, entry: IndexSpec, build: dict[str, int], documents: np.ndarray, view: View,
           where: str) -> tuple[Any, float]:
    """A new index over ``documents``; stops with a clear error once the build budget is spent."""
    started = time.perf_counter()
    budget = entry.max_build_seconds
    n_docs, size = documents.shape

    def over(done: int) -> None:
        spent = time.perf_counter() - started
        if spent > budget:
            raise EvaluationError(
                f"{where}.max_build_seconds: building {view.label} took over the budget of {budget:g} s "
                f"({spent:.1f} s, {done:,} of {n_docs:,} vectors added)",
                hint="raise max_build_seconds, use cheaper build parameters (M, ef_construction, nlist), "
                     "or fewer sizes")

    with _one_thread(faiss):
        if entry.kind == "binary_flat":
            index = faiss.IndexBinaryFlat(8 * math.ceil(size / 8))
            data = np.packbits(documents > 0, axis=1)
        else:
            index = faiss.index_factory(size, factory_string(entry, build), faiss.METRIC_INNER_PRODUCT)
            data = documents
            if entry.kind == "hnsw":
                index.hnsw.efConstruction = build["ef_construction"]
            else:
                ivf = faiss.extract_index_ivf(index)
                ivf.cp.seed = KMEANS_SEED
                if entry.precision != "float32":
                    ivf.by_residual = False  # codes of the vectors themselves, as exact search at the precision
            if not index.is_trained:
                index.train(data)
                over(0)
        for begin in range(0, n_docs, _BATCH):
            index.add(data[begin : begin + _BATCH])
            over(min(n_docs, begin + _BATCH))
    return index, time.perf_counter() - started


def _set_search(faiss: Any, index: Any, entry: IndexSpec) -> None:
    if entry.kind == "hnsw":
        index.hnsw.efSearch = entry.search["ef_search"]
    elif entry.kind in ("ivf_flat", "ivf_pq"):
        faiss.extract_index_ivf(index).nprobe = entry.search["nprobe"]


def _reference(faiss: Any, entry: IndexSpec, queries: np.ndarray, documents: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """Query and document matrices whose dot products are exact similarities at the view's precision.

    float32: the prefixes; float16/int8: the documents as the scalar quantizer decodes its codes
    (trained on the same documents, as the index's own quantizer is); binary: ±1 sign codes.
    """
    if entry.kind == "binary_flat":
        return np.where(queries > 0, 1.0, -1.0).astype(np.float32), np.where(documents > 0, 1.0, -1.0).astype(
            np.float32)
    if entry.precision == "float32":
        return queries, documents
    qtype = {"float16": faiss.ScalarQuantizer.QT_fp16, "int8": faiss.ScalarQuantizer.QT_8bit}[entry.precision]
    quantizer = faiss.IndexScalarQuantizer(documents.shape[1], qtype, faiss.METRIC_INNER_PRODUCT)
    quantizer.train(documents)
    decoded = quantizer.sa_decode(quantizer.sa_encode(documents))
    return queries, np.ascontiguousarray(decoded, dtype=np.float32)


def _exact_top(queries: np.ndarray, documents: np.ndarray, task: SearchTask) -> tuple[np.ndarray, np.ndarray]:
    from .tasks.retrieval import top_k

    indices, scores = top_k(queries, documents, [(0, queries.shape[1])], task.depth, "dot", exclude=task.exclude)
    return indices[0], scores[0]


def _exact_full(task: SearchTask) -> np.ndarray:
    from .tasks.retrieval import top_k

    dim = task.queries.shape[1]
    indices, _ = top_k(task.queries, task.documents, [(0, dim)], task.depth, task.similarity, exclude=task.exclude)
    rows: np.ndarray = indices[0]
    return rows


def _drop_excluded(rows: np.ndarray, exclude: Sequence[Collection[int]] | None, depth: int) -> np.ndarray:
    """The first ``depth`` rows of each query that are not excluded (``-1`` pads)."""
    out = np.full((rows.shape[0], depth), -1, dtype=np.int64)
    for q in range(rows.shape[0]):
        banned = exclude[q] if exclude else ()
        kept = [int(r) for r in rows[q] if r >= 0 and int(r) not in banned][:depth]
        out[q, : len(kept)] = kept
    return out


def _recall(ranked: np.ndarray, exact: tuple[np.ndarray, np.ndarray], queries: np.ndarray, documents: np.ndarray,
            binary: bool) -> float:
    """Mean share of the exact top-k the index returned; ties at the k-th exact score count as found."""
    exact_rows, exact_scores = exact
    shares = []
    for q in range(ranked.shape[0]):
        available = int((exact_rows[q] >= 0).sum())
        if available == 0:
            continue
        kth = float(exact_scores[q, available - 1])
        # equal scores, up to the float32 rounding of two ways of computing them (±1 codes give integers)
        tolerance = 0.5 if binary else 4 * float(np.finfo(np.float32).eps) * max(1.0, abs(kth))
        returned = ranked[q][ranked[q] >= 0]
        sims = documents[returned] @ queries[q] if returned.size else np.empty(0)
        shares.append(min(available, int((sims >= kth - tolerance).sum())) / available)
    return float(np.mean(shares)) if shares else float("nan")


def _overlap(ranked: np.ndarray, full: np.ndarray) -> float:
    """Mean ``|top-k ∩ full top-k| / |full top-k|`` over queries with something to retrieve."""
    shares = []
    for q in range(ranked.shape[0]):
        reference = {int(r) for r in full[q] if r >= 0}
        if reference:
            shares.append(len(reference.intersection(int(r) for r in ranked[q] if r >= 0)) / len(reference))
    return float(np.mean(shares)) if shares else float("nan")


def _code_size(faiss: Any, index: Any, binary: bool) -> int:
    """Bytes of one stored vector's code (HNSW: its storage's; the graph links are extra)."""
    if binary:
        return int(index.code_size)
    inner = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
    return int(inner.sa_code_size())
