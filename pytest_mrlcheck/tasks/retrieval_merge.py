"""Folding blocks of scores into a running top-k per query row (ties go to the earlier document)."""

from __future__ import annotations

import numpy as np


def merge(
    sims: np.ndarray,
    offset: int,
    best_scores: np.ndarray,
    best_docs: np.ndarray,
    row_scale: np.ndarray | None = None,
) -> None:
    """Fold a ``rows × cols`` block of scores (documents ``offset..``) into the running top-k.

    The scores are ``sims`` times ``row_scale`` per row when given (float32, as if multiplied in
    place). Documents arrive in ascending order, so a score equal to a row's current k-th loses
    to it. Once every row holds k scores, a row-wise maximum finds the few rows with a better
    one (a rounded product is monotonic, so ``max(x) * s`` is ``max(x * s)``) and only those rows
    are compared. Before that, candidates are every score at least a lower bound of the row's
    k-th largest: the k-th largest of G group maxima (k groups reach it, so ≥ k scores do).
    One lexsort by (row, -score, document) keeps the first k of each row.
    """
    rows, cols = sims.shape
    k = best_scores.shape[1]
    kth = best_scores[:, -1]
    if np.isfinite(kth).all():
        found = candidates(sims, offset, kth, row_scale)
        if found is not None:
            fold(*found, best_scores, best_docs)
        return
    if row_scale is not None:
        sims = sims * row_scale[:, None]
    groups = max(256, 4 * k)
    if cols >= 2 * groups:
        width = cols // groups
        maxima = sims[:, : groups * width].reshape(rows, width, groups).max(axis=1)
        bound = np.partition(maxima, groups - k, axis=1)[:, groups - k]
    elif cols > k:
        bound = np.partition(sims, cols - k, axis=1)[:, cols - k]
    else:
        bound = np.full(rows, -np.inf, dtype=sims.dtype)
    bound = np.maximum(bound, kth)
    cand_rows, cand_cols = np.divmod(np.flatnonzero(sims >= bound[:, None]), cols)
    fold(np.arange(rows), cand_rows, sims[cand_rows, cand_cols], cand_cols + offset, best_scores, best_docs)


def candidates(
    sims: np.ndarray, offset: int, kth: np.ndarray, row_scale: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """``(rows, local rows, scores, documents)`` of the scores above each row's ``kth``, or ``None``.

    ``rows`` are the rows with any; ``local rows`` index into ``rows``. A row-wise maximum finds
    them (a rounded product is monotonic, so ``max(x) * s`` is ``max(x * s)``).
    """
    peak = sims.max(axis=1)
    if row_scale is not None:
        peak *= row_scale
    hit = np.flatnonzero(peak > kth)
    if hit.size == 0:
        return None
    block = sims[hit] if row_scale is None else sims[hit] * row_scale[hit, None]
    local_rows, cols = np.divmod(np.flatnonzero(block > kth[hit, None]), sims.shape[1])
    return hit, local_rows, block[local_rows, cols], cols + offset


def fold_pending(
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    best_scores: np.ndarray,
    best_docs: np.ndarray,
) -> None:
    """One :func:`fold` of the candidates several tiles of the same rows have found."""
    rows = np.concatenate([hit[local] for hit, local, _, _ in pending])
    hit = np.unique(rows)
    scores = np.concatenate([found[2] for found in pending])
    docs = np.concatenate([found[3] for found in pending])
    fold(hit, np.searchsorted(hit, rows), scores, docs, best_scores, best_docs)


def fold(
    rows: np.ndarray,
    cand_rows: np.ndarray,
    cand_scores: np.ndarray,
    cand_docs: np.ndarray,
    best_scores: np.ndarray,
    best_docs: np.ndarray,
) -> None:
    """Keep the best k of ``best_*[rows]`` and the candidates (``cand_rows`` index into ``rows``)."""
    n, k = rows.size, best_scores.shape[1]
    all_rows = np.concatenate([np.repeat(np.arange(n), k), cand_rows])
    all_scores = np.concatenate([best_scores[rows].ravel(), cand_scores])
    all_docs = np.concatenate([best_docs[rows].ravel(), cand_docs])
    order = np.lexsort((all_docs, -all_scores, all_rows))
    counts = np.bincount(all_rows, minlength=n)
    starts = np.cumsum(counts) - counts
    take = order[starts[:, None] + np.arange(k)]
    best_scores[rows] = all_scores[take]
    best_docs[rows] = all_docs[take]
