"""Clustering: V-measure of k-means clusters against the gold labels, under every view.

MTEB's protocol: scikit-learn ``MiniBatchKMeans(n_clusters=<distinct labels>, batch_size=500,
n_init="auto")`` on the embeddings, scored with ``v_measure_score``. Here each view's slice is
renormalised first (k-means on unit vectors follows cosine geometry, and a truncated view is
not unit length) and the k-means seed is fixed, so a view's score is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .classification import view_rows
from .retrieval import views_from_plan

METRICS = ("v_measure",)
BATCH_SIZE = 500
"""MTEB's ``clustering_batch_size`` (its ``batch_size=32`` is the encoding batch, not k-means')."""


def cluster_views(
    vecs: np.ndarray,
    n_clusters: int,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
) -> np.ndarray:
    """``V × n`` k-means cluster ids of the renormalised rows of every view (ranges, then masks)."""
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    vecs = np.asarray(vecs)
    if vecs.ndim != 2:
        raise ValueError(f"need n × d vectors, got {vecs.shape}")
    if not 1 <= n_clusters <= vecs.shape[0]:
        raise ValueError(f"cannot make {n_clusters} clusters of {vecs.shape[0]} rows")
    views = views_from_plan(ranges, masks)
    out = np.zeros((len(views), vecs.shape[0]), dtype=np.intp)
    if n_clusters == 1:
        return out
    with threadpool_limits(limits=1):  # small fits: thread start-up and contention dominate
        for v, view in enumerate(views):
            model = MiniBatchKMeans(n_clusters=n_clusters, batch_size=batch_size, n_init="auto", random_state=seed)
            out[v] = model.fit(view_rows(vecs, view)).labels_
    return out


def score_views(
    vecs: np.ndarray,
    labels: Sequence[object] | np.ndarray,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    metric: str = "v_measure",
    seed: int = 0,
    *,
    batch_size: int = BATCH_SIZE,
) -> np.ndarray:
    """One V-measure per view (contiguous ranges first, then mask columns), k = distinct labels."""
    from sklearn.metrics import v_measure_score

    if metric not in METRICS:
        raise ValueError(f"unknown clustering metric {metric!r} (use {', '.join(METRICS)})")
    gold = np.asarray(labels)
    if gold.ndim != 1 or gold.size != np.asarray(vecs).shape[0]:
        raise ValueError(f"{gold.size} labels for {np.asarray(vecs).shape[0]} vectors")
    clusters = cluster_views(vecs, np.unique(gold).size, ranges, masks, seed, batch_size)
    return np.array([float(v_measure_score(gold, assignment)) for assignment in clusters])
