"""Pair classification: average precision of pair similarities against 0/1 labels, per view.

MTEB's ``cosine_ap``: scikit-learn's ``average_precision_score(labels, cosine similarities)``.
Similarities of every view come from :func:`.sts.pair_similarities` (range sums and mask
products, one pass over the pairs); AP is then computed for all views at once, with
scikit-learn's handling of tied scores (a group of equal scores is one threshold).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .sts import pair_similarities

METRICS = ("ap",)


def average_precision_columns(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average precision of every column of ``scores`` (``n × m``) against 0/1 ``labels``.

    ``labels`` is ``n`` (shared) or ``n × m``. Equals ``sklearn.metrics.average_precision_score``
    per column: ``Σ_t (R_t − R_{t−1}) P_t`` over the distinct score thresholds, best first, so the
    positives of a tied group all get the precision at the group's end. ``nan`` for a column
    without positives. Rows scored ``-inf`` with label 0 act as padding: they never contribute.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    labels = np.broadcast_to(labels[:, None] if labels.ndim == 1 else labels, scores.shape)
    n = scores.shape[0]
    if n == 0:
        return np.full(scores.shape[1], np.nan)
    order = np.argsort(-scores, axis=0, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=0)
    hits = np.take_along_axis(labels, order, axis=0) > 0
    true_positives = np.cumsum(hits, axis=0)
    ends = np.ones(scores.shape, dtype=bool)  # last row of each group of equal scores
    ends[:-1] = ordered[1:] != ordered[:-1]
    positions = np.broadcast_to(np.arange(n)[:, None], scores.shape)
    group_end = np.minimum.accumulate(np.where(ends, positions, n - 1)[::-1], axis=0)[::-1]
    precision_at_end = np.take_along_axis(true_positives, group_end, axis=0) / (group_end + 1.0)
    positives = true_positives[-1]
    total = np.where(hits, precision_at_end, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap: np.ndarray = np.where(positives > 0, total / positives, np.nan)
    return ap


def score_views(
    left: np.ndarray,
    right: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    metric: str = "ap",
    similarity: str = "cosine",
) -> np.ndarray:
    """One AP per view (contiguous ranges first, then mask columns) of ``left[i]·right[i]`` scores.

    ``similarity`` is ``cosine`` (slices renormalised; a zero slice scores 0) or ``dot``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown pair classification metric {metric!r} (use {', '.join(METRICS)})")
    gold = np.asarray(labels)
    if gold.ndim != 1 or gold.size != np.asarray(left).shape[0]:
        raise ValueError(f"{gold.size} labels for {np.asarray(left).shape[0]} pairs")
    if not np.isin(gold, (0, 1)).all():
        raise ValueError("pair labels must be 0 or 1")
    return average_precision_columns(pair_similarities(left, right, ranges, masks, similarity), gold)
