"""STS: correlation between gold scores and the similarity of each pair, for every view at once.

With ``P = A*B``, ``A²`` and ``B²`` per pair and dimension, the similarity under a contiguous view
needs only range sums: one cumulative sum along the dimension axis gives every prefix and window.
Arbitrary subsets are a product with a 0/1 mask matrix. Rows are processed in chunks so memory
stays bounded for large datasets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .ranking import pearson_columns, spearman_columns

_CHUNK_BYTES = 64 * 2**20


def pair_similarities(
    left: np.ndarray,
    right: np.ndarray,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    similarity: str = "cosine",
) -> np.ndarray:
    """``n × (len(ranges) + masks.shape[1])`` similarities of row pairs under every view."""
    n, d = left.shape
    starts = np.array([start for start, _ in ranges], dtype=np.intp)
    ends = np.array([end for _, end in ranges], dtype=np.intp)
    views = len(ranges) + masks.shape[1]
    out = np.empty((n, views), dtype=np.float64)
    rows = max(1, _CHUNK_BYTES // (24 * (d + 1)))
    for begin in range(0, n, rows):
        a = np.asarray(left[begin : begin + rows], dtype=np.float64)
        b = np.asarray(right[begin : begin + rows], dtype=np.float64)
        parts = [a * b]
        if similarity == "cosine":
            parts += [a * a, b * b]
        sums = []
        for part in parts:
            range_sums = np.empty((part.shape[0], len(ranges)))
            if len(ranges):
                cumulative = np.zeros((part.shape[0], d + 1))
                np.cumsum(part, axis=1, out=cumulative[:, 1:])
                range_sums = cumulative[:, ends] - cumulative[:, starts]
            mask_sums = part @ masks if masks.shape[1] else np.empty((part.shape[0], 0))
            sums.append(np.concatenate([range_sums, mask_sums], axis=1))
        if similarity == "cosine":
            dot, norm_a, norm_b = sums
            denominator = np.sqrt(norm_a * norm_b)
            with np.errstate(invalid="ignore", divide="ignore"):
                chunk = np.where(denominator > 0, dot / denominator, 0.0)
        else:
            chunk = sums[0]
        out[begin : begin + rows] = chunk
    return out


def correlate(similarities: np.ndarray, gold: np.ndarray, metric: str) -> np.ndarray:
    """Spearman or Pearson of every similarity column against the gold scores."""
    if metric == "spearman":
        return spearman_columns(similarities, gold)
    if metric == "pearson":
        return pearson_columns(similarities, gold)
    raise ValueError(f"unknown STS metric {metric!r}")


def score_views(
    left: np.ndarray,
    right: np.ndarray,
    gold: np.ndarray,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    metric: str = "spearman",
    similarity: str = "cosine",
) -> np.ndarray:
    """One STS score per view: contiguous ranges first, then mask columns."""
    return correlate(pair_similarities(left, right, ranges, masks, similarity), gold, metric)
