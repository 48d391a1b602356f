"""Column-wise ranks and correlations in numpy (the STS hot path; cross-checked against scipy)."""

from __future__ import annotations

import numpy as np


def rank_columns(values: np.ndarray) -> np.ndarray:
    """Ranks (1-based, ties averaged) of every column of a 2-D array, like ``scipy.stats.rankdata``."""
    n = values.shape[0]
    order = np.argsort(values, axis=0, kind="mergesort")
    ordered = np.take_along_axis(values, order, axis=0)
    starts = np.ones(values.shape, dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    ends = np.ones(values.shape, dtype=bool)
    ends[:-1] = starts[1:]
    positions = np.broadcast_to(np.arange(n)[:, None], values.shape)
    first = np.maximum.accumulate(np.where(starts, positions, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends, positions, n - 1)[::-1], axis=0)[::-1]
    average = (first + last) / 2.0 + 1.0
    ranks = np.empty(values.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, average, axis=0)
    return ranks


def pearson_columns(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of ``values`` (n × m) with ``target`` (n)."""
    x = values - values.mean(axis=0, keepdims=True)
    y = target - target.mean()
    denominator = np.sqrt((x * x).sum(axis=0) * (y * y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (x * y[:, None]).sum(axis=0) / denominator
    return np.where(denominator > 0, result, np.nan)


def spearman_columns(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Spearman correlation of every column of ``values`` with ``target`` (ties averaged)."""
    return pearson_columns(rank_columns(values), rank_columns(target[:, None])[:, 0])
