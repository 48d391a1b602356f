"""Classification: train on one split, predict the other, under every view.

``knn`` is the Matryoshka paper's protocol (1-NN on cosine similarity, generalised to k): each
view slices the full-dimension vectors and renormalises every row, then one ``test chunk × train``
similarity block at a time gives the neighbours, so memory stays bounded. ``logreg`` is MTEB's
classifier (scikit-learn ``LogisticRegression``, lbfgs, ``max_iter=100``) fitted per view on the
renormalised slices. Metrics are computed for all views at once from the predicted labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .retrieval import View, views_from_plan

METHODS = ("knn", "logreg")
METRICS = ("accuracy", "f1")

_BLOCK_BYTES = 64 * 2**20


def view_rows(vectors: np.ndarray, view: View, normalize: bool = True) -> np.ndarray:
    """The float64 columns of ``view`` (a ``(start, end)`` range or dimension indices).

    With ``normalize`` every row is scaled to unit length; an all-zero row stays zero.
    """
    selector = slice(*view) if isinstance(view, tuple) else np.asarray(view, dtype=np.intp)
    rows = np.asarray(vectors, dtype=np.float64)[:, selector]
    if not normalize:
        return rows
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
    scale = np.zeros_like(norms)
    np.divide(1.0, norms, out=scale, where=norms > 0)
    scaled: np.ndarray = rows * scale[:, None]
    return scaled


def knn_predict(train: np.ndarray, train_codes: np.ndarray, test: np.ndarray, k: int,
                n_classes: int) -> np.ndarray:
    """Majority vote of the ``k`` most similar training rows (rows already unit length).

    Neighbours are ordered by descending similarity, then ascending training row. A vote tie goes
    to the tied label whose best neighbour ranks first (so 1-NN decides when the top labels tie).
    """
    n_train = train.shape[0]
    k = min(k, n_train)
    out = np.empty(test.shape[0], dtype=np.intp)
    rows = max(1, _BLOCK_BYTES // (8 * max(1, n_train)))
    for begin in range(0, test.shape[0], rows):
        sims = test[begin : begin + rows] @ train.T
        neighbours = _top_rows(sims, k)
        votes = train_codes[neighbours]
        if k == 1:
            out[begin : begin + rows] = votes[:, 0]
            continue
        hits = votes[:, :, None] == np.arange(n_classes)
        counts = hits.sum(axis=1)
        first = np.where(hits.any(axis=1), hits.argmax(axis=1), k)
        out[begin : begin + rows] = np.argmax(counts * (k + 1) - first, axis=1)
    return out


def _top_rows(sims: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest entries per row, by (-value, index)."""
    if k == 1:
        best: np.ndarray = np.argmax(sims, axis=1)
        return best[:, None]
    n = sims.shape[1]
    if k >= n:
        return np.argsort(-sims, axis=1, kind="stable")
    kth = np.partition(sims, n - k, axis=1)[:, n - k]
    above = sims >= kth[:, None]
    out = np.empty((sims.shape[0], k), dtype=np.intp)
    exact = above.sum(axis=1) == k
    if exact.any():
        picked = np.nonzero(above[exact])[1].reshape(-1, k)  # ascending column index
        values = np.take_along_axis(sims[exact], picked, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        out[exact] = np.take_along_axis(picked, order, axis=1)
    if not exact.all():  # ties at the k-th value: a full stable sort of those rows
        out[~exact] = np.argsort(-sims[~exact], axis=1, kind="stable")[:, :k]
    return out


def predict_views(
    train_vecs: np.ndarray,
    train_labels: Sequence[object] | np.ndarray,
    test_vecs: np.ndarray,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    method: str = "knn",
    k: int = 1,
    seed: int = 0,
    *,
    max_iter: int = 100,
) -> np.ndarray:
    """``V × n_test`` predicted labels (values of ``train_labels``): ranges first, then mask columns.

    ``logreg`` fits ``LogisticRegression(max_iter=max_iter, random_state=seed)`` (lbfgs, C=1) on
    all training rows of each view. Like MTEB, a fit that stops at ``max_iter`` is used as is: its
    ``ConvergenceWarning`` is silenced on purpose.
    """
    if method not in METHODS:
        raise ValueError(f"unknown classification method {method!r} (use {', '.join(METHODS)})")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    train_vecs, test_vecs = np.asarray(train_vecs), np.asarray(test_vecs)
    if train_vecs.ndim != 2 or test_vecs.ndim != 2 or train_vecs.shape[1] != test_vecs.shape[1]:
        raise ValueError(f"need n × d train and test vectors, got {train_vecs.shape}, {test_vecs.shape}")
    if train_vecs.shape[0] == 0:
        raise ValueError("no training vectors")
    classes, train_codes = np.unique(np.asarray(train_labels), return_inverse=True)
    train_codes = train_codes.reshape(-1).astype(np.intp)
    if train_codes.size != train_vecs.shape[0]:
        raise ValueError(f"{train_codes.size} train labels for {train_vecs.shape[0]} train vectors")
    views = views_from_plan(ranges, masks)
    out = np.empty((len(views), test_vecs.shape[0]), dtype=np.intp)
    if method == "knn" or classes.size == 1:  # one class: every method predicts it
        for v, view in enumerate(views):
            out[v] = knn_predict(view_rows(train_vecs, view), train_codes, view_rows(test_vecs, view), k,
                                 classes.size)
    else:
        _logreg_predict(train_vecs, train_codes, test_vecs, views, seed, max_iter, out)
    predicted: np.ndarray = classes[out]
    return predicted


def _logreg_predict(train_vecs: np.ndarray, codes: np.ndarray, test_vecs: np.ndarray, views: Sequence[View],
                    seed: int, max_iter: int, out: np.ndarray) -> None:
    """Fill ``out[v]`` with the predictions of a logistic regression fitted on view ``v``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    # Single-threaded BLAS: these fits are small, and threads cost more than they save (10x measured).
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for v, view in enumerate(views):
            model = LogisticRegression(max_iter=max_iter, random_state=seed)
            model.fit(view_rows(train_vecs, view), codes)
            out[v] = model.predict(view_rows(test_vecs, view))


def metric_values(predicted: np.ndarray, truth: Sequence[object] | np.ndarray, metric: str) -> np.ndarray:
    """``V`` scores of ``V × n`` predicted labels against ``n`` true labels.

    ``accuracy``: fraction correct. ``f1``: macro F1 over every label that occurs in the truth or in
    that view's predictions (scikit-learn's ``f1_score(average="macro")``); ``nan`` when ``n = 0``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown classification metric {metric!r} (use {', '.join(METRICS)})")
    predicted = np.asarray(predicted)
    views, n = predicted.shape
    if n == 0:
        return np.full(views, np.nan)
    classes, codes = np.unique(np.concatenate([np.asarray(truth), predicted.ravel()]), return_inverse=True)
    true_codes, pred_codes = codes[:n], codes[n:].reshape(views, n)
    correct = pred_codes == true_codes
    if metric == "accuracy":
        accuracy: np.ndarray = correct.mean(axis=1)
        return accuracy
    c = classes.size
    offsets = np.arange(views)[:, None] * c
    tp = np.bincount((offsets + pred_codes)[correct], minlength=views * c).reshape(views, c)
    predicted_count = np.bincount((offsets + pred_codes).ravel(), minlength=views * c).reshape(views, c)
    true_count = np.bincount(true_codes, minlength=c)
    support = predicted_count + true_count
    f1 = np.divide(2.0 * tp, support, out=np.zeros((views, c)), where=support > 0)
    macro: np.ndarray = f1.sum(axis=1) / (support > 0).sum(axis=1)
    return macro


def score_views(
    train_vecs: np.ndarray,
    train_labels: Sequence[object] | np.ndarray,
    test_vecs: np.ndarray,
    test_labels: Sequence[object] | np.ndarray,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    method: str = "knn",
    k: int = 1,
    metric: str = "accuracy",
    seed: int = 0,
    *,
    max_iter: int = 100,
) -> np.ndarray:
    """One classification score per view: contiguous ranges first, then mask columns.

    ``method`` is ``knn`` (cosine, ``k`` neighbours) or ``logreg``; ``metric`` is ``accuracy`` or
    ``f1`` (macro). See :func:`predict_views` and :func:`metric_values`.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown classification metric {metric!r} (use {', '.join(METRICS)})")
    if len(test_labels) != np.asarray(test_vecs).shape[0]:
        raise ValueError(f"{len(test_labels)} test labels for {np.asarray(test_vecs).shape[0]} test vectors")
    predicted = predict_views(train_vecs, train_labels, test_vecs, ranges, masks, method, k, seed,
                              max_iter=max_iter)
    return metric_values(predicted, test_labels, metric)
