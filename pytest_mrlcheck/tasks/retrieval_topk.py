"""The top-k documents of every query under every view, one chunk of documents at a time.

Documents are ranked one chunk at a time into a running top-k per query and view, so memory stays
at a few blocks whatever the corpus size. Contiguous ``(start, end)`` views share their work
(:mod:`.retrieval_blocks`); index views get one product each.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import TypeAlias

import numpy as np

from .retrieval_blocks import BlockPlan, Chunk, blas_threads, query_stripes, rank_stripe, tiling
from .retrieval_merge import merge

View: TypeAlias = tuple[int, int] | np.ndarray | Sequence[int]
"""A ``(start, end)`` tuple is a half-open range of dims; an array or list holds dimension indices."""

_BLOCK_BYTES = 64 * 2**20
_PAD = np.iinfo(np.int64).max  # index of an empty top-k slot while merging; -1 in the result


def top_k(
    queries: np.ndarray,
    corpus: np.ndarray,
    views: Sequence[View],
    k: int,
    similarity: str = "cosine",
    chunk_docs: int = 8192,
    exclude: Sequence[Collection[int]] | None = None,
    shared: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best documents of every query under every view.

    ``queries`` is ``Q × d`` and ``corpus`` ``N × d`` (full-dimension vectors). Returns
    ``(indices, scores)``, both ``V × Q × k``: corpus row indices (int64) and float32 similarities,
    best first; equal scores are ordered by ascending document index. Slots left without a
    document (``k > N``, or everything excluded) hold index ``-1`` and score ``-inf``.

    ``similarity`` is ``"cosine"`` (each sliced vector renormalised; a zero slice has similarity 0
    with everything) or ``"dot"``. ``exclude[q]`` holds corpus rows never returned for query
    ``q`` (self-matches). Scores are float32, computed ``chunk_docs`` documents at a time.

    With ``shared`` (the default) all ``(start, end)`` views are scored from one set of partial
    products over the blocks between their boundaries (see :mod:`.retrieval_blocks`); index views,
    and every view when ``shared`` is false, get one product each.
    """
    if similarity not in ("cosine", "dot"):
        raise ValueError(f"unknown similarity {similarity!r} (use 'cosine' or 'dot')")
    if k < 1 or chunk_docs < 1:
        raise ValueError(f"k and chunk_docs must be positive, got k={k}, chunk_docs={chunk_docs}")
    if queries.ndim != 2 or corpus.ndim != 2 or queries.shape[1] != corpus.shape[1]:
        raise ValueError(f"need Q × d queries, N × d corpus; got {queries.shape}, {corpus.shape}")
    n_queries, dim = queries.shape
    n_docs = corpus.shape[0]
    selectors = [_selector(view, dim) for view in views]
    query_block = _finite_float32(queries, "queries")
    excluded_rows, excluded_docs = _exclusions(exclude, n_queries, n_docs)

    best_scores = np.full((len(selectors), n_queries, k), -np.inf, dtype=np.float32)
    best_docs = np.full((len(selectors), n_queries, k), _PAD, dtype=np.int64)
    contiguous = {v: selector for v, selector in enumerate(selectors) if shared and isinstance(selector, slice)}
    ranges = list(contiguous)
    plan = BlockPlan.build(list(contiguous.values()), query_block, similarity) if ranges else None
    others = sorted(set(range(len(selectors))) - (set(ranges) if plan is not None else set()))
    rows_per_block = max(1, _BLOCK_BYTES // (4 * max(1, min(chunk_docs, n_docs))))
    shared_best = [(best_scores[v], best_docs[v]) for v in ranges]
    workers, tile_bytes, tile_docs = tiling() if plan is not None else (1, 0, 0)
    stripes = query_stripes(n_queries, workers)
    with ThreadPoolExecutor(len(stripes)) as pool:
        for begin in range(0, n_docs, chunk_docs):
            docs_block = _finite_float32(corpus[begin : begin + chunk_docs], "corpus")
            end = begin + docs_block.shape[0]
            here = (excluded_docs >= begin) & (excluded_docs < end)
            chunk_rows, chunk_cols = excluded_rows[here], excluded_docs[here] - begin
            if plan is not None:
                chunk = Chunk.build(plan, docs_block, begin, chunk_rows, chunk_cols, tile_docs)
                with blas_threads(1) if workers > 1 else nullcontext():
                    futures = [pool.submit(rank_stripe, plan, chunk, stripe, shared_best, tile_bytes)
                               for stripe in stripes]
                    for future in futures:
                        future.result()
            for v in others:
                selector = selectors[v]
                docs = _prepare(docs_block[:, selector], similarity)
                for first in range(0, n_queries, rows_per_block):
                    last = min(n_queries, first + rows_per_block)
                    sims = _prepare(query_block[first:last, selector], similarity) @ docs.T
                    mine = (chunk_rows >= first) & (chunk_rows < last)
                    sims[chunk_rows[mine] - first, chunk_cols[mine]] = -np.inf
                    merge(sims, begin, best_scores[v, first:last], best_docs[v, first:last])
    best_docs[np.isneginf(best_scores)] = -1
    return best_docs, best_scores


def _selector(view: View, dim: int) -> slice | np.ndarray:
    """A column selector for one view, checked against the vector size ``dim``."""
    if isinstance(view, tuple):
        if len(view) != 2:
            raise ValueError(
                f"a tuple view is a (start, end) range, got {view!r}; "
                "pass dimension indices as an array"
            )
        start, end = int(view[0]), int(view[1])
        if not 0 <= start < end <= dim:
            raise ValueError(f"range view {view!r} does not fit {dim} dimensions")
        return slice(start, end)
    indices = np.asarray(view)
    if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"an index view must be a non-empty 1-D integer array, got {view!r}")
    if indices.min() < 0 or indices.max() >= dim:
        raise ValueError(f"index view uses dimensions outside 0..{dim - 1}")
    return indices.astype(np.intp)


def _finite_float32(values: np.ndarray, what: str) -> np.ndarray:
    out = np.ascontiguousarray(values, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return out


def _exclusions(
    exclude: Sequence[Collection[int]] | None, n_queries: int, n_docs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flat ``(query row, document row)`` pairs to exclude (documents outside the corpus dropped)."""
    if exclude is None:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    if len(exclude) != n_queries:
        raise ValueError(f"exclude has {len(exclude)} entries for {n_queries} queries")
    pairs = [(row, doc) for row, docs in enumerate(exclude) for doc in docs if 0 <= doc < n_docs]
    if not pairs:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    flat = np.array(pairs, dtype=np.intp)
    return flat[:, 0], flat[:, 1]


def _prepare(vectors: np.ndarray, similarity: str) -> np.ndarray:
    """Rows scaled to unit length for cosine (zero rows stay zero); unchanged for dot."""
    if similarity == "dot":
        return vectors
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    scale = np.zeros_like(norms)
    np.divide(1.0, norms, out=scale, where=norms > 0)
    scaled: np.ndarray = vectors * scale[:, None]
    return scaled
