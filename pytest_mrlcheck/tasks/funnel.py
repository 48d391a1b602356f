"""Adaptive (funnel) retrieval and the cost of each truncation size.

Funnel: shortlist the corpus with a small prefix, rerank the shortlist with a larger one (the
Matryoshka paper's adaptive retrieval). Cost: bytes per vector and index size per storage type,
and the measured time of a brute-force search relative to the full dimension.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from ..result_types import FUNNEL_OVERLAP_PREFIX, FunnelPayload
from . import retrieval


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    out: np.ndarray = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return out


def funnel(
    queries: np.ndarray,
    documents: np.ndarray,
    relevance: retrieval.Relevance,
    metric: str,
    shortlist_dims: int,
    shortlist: int,
    rerank_dims: int | None,
    exclude: Sequence[set[int]] | None = None,
    shortlist_precision: str = "float32",
    rerank_precision: str = "float32",
    calibration: np.ndarray | None = None,
    remember: Callable[[Callable[[], np.ndarray]], np.ndarray] | None = None,
) -> FunnelPayload:
    """Metric of the funnel, its top-k overlap with full-dimension search, and its arithmetic cost.

    A precision other than float32 scores that stage on the stored codes (binary: by Hamming
    distance), slices renormalised first; int8/uint8 ranges come from ``calibration``. The two
    searches give ``[metric, overlap]``; ``remember`` (e.g. the score memo) may serve that pair
    instead of searching again.
    """
    n_docs, full = documents.shape
    rerank = rerank_dims or full
    _, depth = retrieval.parse_metric(metric)
    width = min(max(shortlist, depth), n_docs)

    def searched() -> np.ndarray:
        return _search_quality(queries, documents, relevance, metric, shortlist_dims, width, rerank, exclude,
                               shortlist_precision, rerank_precision, calibration)

    score, overlap = (searched() if remember is None else remember(searched)).tolist()
    cost = (n_docs * shortlist_dims + width * rerank) / (n_docs * full)
    precisions: dict[str, Any] = {}
    if (shortlist_precision, rerank_precision) != ("float32", "float32"):
        from ..views import bytes_per_vector

        short_bytes = bytes_per_vector(shortlist_dims, shortlist_precision)
        rerank_bytes = bytes_per_vector(rerank, rerank_precision)
        precisions = {"shortlist_precision": shortlist_precision, "rerank_precision": rerank_precision,
                      "shortlist_bytes_per_vector": short_bytes, "rerank_bytes_per_vector": rerank_bytes,
                      # bytes read per query, relative to a float32 search of the full vectors
                      "relative_bytes": (n_docs * short_bytes + width * rerank_bytes)
                      / (n_docs * bytes_per_vector(full, "float32"))}
    found = {
        "shortlist_dims": shortlist_dims,
        "shortlist": width,
        "rerank_dims": rerank,
        "score": float(score),
        f"{FUNNEL_OVERLAP_PREFIX}{depth}": float(overlap),
        "relative_cost": float(cost),
        **precisions,
    }
    return cast(FunnelPayload, found)  # the overlap key is named after the depth, which TypedDict cannot say


def _search_quality(queries: np.ndarray, documents: np.ndarray, relevance: retrieval.Relevance, metric: str,
                    shortlist_dims: int, width: int, rerank: int, exclude: Sequence[set[int]] | None,
                    shortlist_precision: str, rerank_precision: str, calibration: np.ndarray | None) -> np.ndarray:
    """``[metric, top-k overlap with full search]`` of shortlisting ``width`` and reranking them."""
    _, depth = retrieval.parse_metric(metric)
    full = documents.shape[1]
    rows = np.flatnonzero(relevance.judged)
    kept_exclude = None if exclude is None else [exclude[int(r)] for r in rows]
    if shortlist_precision == "float32":
        first, _ = retrieval.top_k(queries[rows], documents, [(0, shortlist_dims)], width, exclude=kept_exclude)
    else:
        coded_q, coded_d = _stored(queries[rows], documents, shortlist_dims, shortlist_precision, calibration)
        first, _ = retrieval.top_k(coded_q, coded_d, [(0, shortlist_dims)], width, "dot", exclude=kept_exclude)
    candidates = first[0]  # J × width
    if rerank_precision == "float32":
        q = _unit(queries[rows][:, :rerank].astype(np.float64))
        d = _unit(documents[:, :rerank].astype(np.float64))
    else:
        q, d = _stored(queries[rows], documents, rerank, rerank_precision, calibration)
    scores = np.empty(candidates.shape)
    block = max(1, (32 * 2**20) // max(1, width * rerank * 8))  # bounded memory: ~32 MB of candidates
    for start in range(0, len(rows), block):
        picked = d[np.maximum(candidates[start : start + block], 0)]  # block × width × rerank
        scores[start : start + block] = np.einsum("jd,jwd->jw", q[start : start + block], picked)
    scores[candidates < 0] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
    ranked = np.take_along_axis(candidates, order, axis=1)
    value = retrieval.metric_values(ranked[None], relevance.select(rows), [metric])[metric]
    full_top, _ = retrieval.top_k(queries[rows], documents, [(0, full)], depth, exclude=kept_exclude)
    overlap = np.mean([len(set(a) & set(b)) / depth for a, b in zip(ranked.tolist(), full_top[0].tolist(),
                                                                    strict=True)])
    return np.array([float(np.mean(value)), float(overlap)])


def _stored(queries: np.ndarray, documents: np.ndarray, dims: int, precision: str,
            calibration: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Query and document prefixes of ``dims`` as stored at ``precision``, ready to dot (cosine)."""
    from ..quantize import calibration_ranges, needs_ranges, prepare_slice, represent

    ranges = None
    if needs_ranges(precision):
        source = documents if calibration is None else calibration
        ranges = calibration_ranges(prepare_slice(source, 0, dims, "cosine"))
    return (represent(queries[:, :dims], precision, "cosine", ranges),
            represent(documents[:, :dims], precision, "cosine", ranges))


COST_SAMPLE_QUERIES = 128
COST_SAMPLE_DOCUMENTS = 8192


def cost_by_size(queries: np.ndarray, documents: np.ndarray, sizes: Sequence[int], repeats: int = 3,
                 sample_queries: int = COST_SAMPLE_QUERIES,
                 sample_documents: int = COST_SAMPLE_DOCUMENTS) -> dict[int, Any]:
    """Storage per vector and for the corpus, and brute-force search time relative to full size.

    The search (the query-document product) is timed on one BLAS thread, best of ``repeats``, on
    the first ``sample_queries`` queries against the first ``sample_documents`` documents, so it
    costs a bounded ~0.1 s whatever the corpus size; ``search_seconds`` scales that to all queries
    and documents (the product is linear in both).
    """
    n_docs, full = documents.shape
    n_q, n_d = min(len(queries), sample_queries), min(n_docs, sample_documents)
    q = np.ascontiguousarray(queries[:n_q], dtype=np.float32)
    d = np.ascontiguousarray(documents[:n_d], dtype=np.float32)
    scale = (len(queries) / n_q if n_q else 0.0) * (n_docs / n_d if n_d else 0.0)
    times: dict[int, float] = {}
    with retrieval.blas_threads(1):  # one core: steadier on a shared machine, the ratio is what counts
        for k in sorted({*sizes, full}):
            dk = np.ascontiguousarray(d[:, :k])
            qk = np.ascontiguousarray(q[:, :k])
            best = math.inf
            for _ in range(repeats):
                start = time.perf_counter()
                np.dot(qk, dk.T)
                best = min(best, time.perf_counter() - start)
            times[k] = best
    out: dict[int, Any] = {}
    for k in sorted(set(sizes)):
        per_vector = {"float32": 4 * k, "float16": 2 * k, "int8": k, "binary": math.ceil(k / 8)}
        out[k] = {
            "bytes_per_vector": per_vector,
            "index_bytes": {kind: size * n_docs for kind, size in per_vector.items()},
            "search_seconds": times[k] * scale,
            "relative_search_time": times[k] / times[full] if times[full] > 0 else float("nan"),
            "timed_on": {"queries": n_q, "documents": n_d},
        }
    return out
