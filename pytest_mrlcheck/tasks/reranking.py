"""Reranking: rank each query's own candidates by similarity, under every view (MTEB style).

MTEB's ``RerankingEvaluator``: per query, AP is scikit-learn's ``average_precision_score`` over
the candidate list (``map`` is its mean over queries), and ``mrr@10`` is the reciprocal rank of
the first relevant candidate in the top 10 (0 if none). Queries without a positive or without a
negative candidate are dropped, as MTEB does. Similarities of all (query, candidate) pairs and
all views come from :func:`.sts.pair_similarities` (range sums and mask products); the metrics are
computed for all views at once on a ``V × Q × max candidates`` array padded with ``-inf``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .pair_classification import average_precision_columns
from .sts import pair_similarities

_PAIRS_PER_CHUNK = 16384


def parse_metric(name: str) -> tuple[str, int]:
    """``"map"`` → ``("map", 0)``; ``"mrr@10"`` → ``("mrr", 10)``."""
    if name == "map":
        return "map", 0
    kind, at, cut = name.partition("@")
    if kind != "mrr" or not at or not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"unknown reranking metric {name!r} (use 'map' or 'mrr@K', e.g. 'mrr@10')")
    return "mrr", int(cut)


def candidate_scores(
    query_vecs: np.ndarray,
    candidate_vecs: np.ndarray,
    candidates: Sequence[Sequence[int]],
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    similarity: str = "cosine",
) -> np.ndarray:
    """``V × Q × C`` similarities of query ``q`` to its candidates (``C`` = longest list, ``-inf`` pads)."""
    if len(candidates) != query_vecs.shape[0]:
        raise ValueError(f"{len(candidates)} candidate lists for {query_vecs.shape[0]} queries")
    lengths = np.array([len(row) for row in candidates], dtype=np.intp)
    width = int(lengths.max(initial=0))
    views = len(ranges) + masks.shape[1]
    out = np.full((views, len(candidates), width), -np.inf)
    if width == 0:
        return out
    query_rows = np.repeat(np.arange(len(candidates)), lengths)
    slots = np.arange(query_rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    docs = np.fromiter((doc for row in candidates for doc in row), dtype=np.intp, count=query_rows.size)
    if docs.size and (docs.min() < 0 or docs.max() >= candidate_vecs.shape[0]):
        raise ValueError(f"candidate indices must be in 0..{candidate_vecs.shape[0] - 1}")
    for begin in range(0, docs.size, _PAIRS_PER_CHUNK):
        part = slice(begin, begin + _PAIRS_PER_CHUNK)
        sims = pair_similarities(query_vecs[query_rows[part]], candidate_vecs[docs[part]], ranges, masks, similarity)
        out[:, query_rows[part], slots[part]] = sims.T
    return out


def per_query(scores: np.ndarray, relevant: np.ndarray, metric: str) -> np.ndarray:
    """``V × Q`` values of one metric from ``V × Q × C`` scores and ``Q × C`` 0/1 relevance.

    Candidates are ranked by descending score, ties in list order (for ``mrr``); ``map`` is
    tie-aware like scikit-learn's AP. Pads (score ``-inf``) must have relevance 0.
    """
    kind, cut = parse_metric(metric)
    views, queries, width = scores.shape
    if kind == "map":
        columns = scores.transpose(2, 0, 1).reshape(width, views * queries)
        hits = np.broadcast_to(relevant.T[:, None, :], (width, views, queries)).reshape(width, -1)
        return average_precision_columns(columns, hits).reshape(views, queries)
    order = np.argsort(-scores, axis=2, kind="stable")[:, :, :cut]
    hits = np.take_along_axis(np.broadcast_to(relevant > 0, scores.shape), order, axis=2)
    first = np.argmax(hits, axis=2)
    reciprocal: np.ndarray = np.where(hits.any(axis=2), 1.0 / (first + 1.0), 0.0)
    return reciprocal


def score_views(
    query_vecs: np.ndarray,
    candidate_vecs: np.ndarray,
    candidates: Sequence[Sequence[int]],
    labels: Sequence[Sequence[int]],
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    metric: str = "map",
    similarity: str = "cosine",
) -> np.ndarray:
    """One reranking score per view: contiguous ranges first, then mask columns.

    ``query_vecs`` is ``Q × d``, ``candidate_vecs`` ``C × d``; ``candidates[q]`` lists the rows of
    ``candidate_vecs`` to rank for query ``q`` and ``labels[q]`` (same length) their 0/1 relevance.
    ``metric`` is ``map`` or ``mrr@K``. The mean is over queries with at least one positive and
    one negative candidate; ``nan`` if there is none.
    """
    parse_metric(metric)
    if len(labels) != len(candidates):
        raise ValueError(f"{len(labels)} label lists for {len(candidates)} candidate lists")
    width = max((len(row) for row in candidates), default=0)
    relevant = np.zeros((len(candidates), width), dtype=np.int8)
    for q, (row, marks) in enumerate(zip(candidates, labels, strict=True)):
        if len(marks) != len(row):
            raise ValueError(f"query {q}: {len(row)} candidates but {len(marks)} labels")
        if not all(mark in (0, 1) for mark in marks):
            raise ValueError(f"query {q}: labels must be 0 or 1")
        relevant[q, : len(marks)] = marks
    lengths = np.array([len(row) for row in candidates], dtype=np.intp)
    positives = relevant.sum(axis=1)
    kept = np.flatnonzero((positives > 0) & (positives < lengths))
    views = len(ranges) + masks.shape[1]
    if kept.size == 0:
        return np.full(views, np.nan)
    scores = candidate_scores(np.asarray(query_vecs)[kept], candidate_vecs, [candidates[int(q)] for q in kept],
                              ranges, masks, similarity)
    means: np.ndarray = per_query(scores, relevant[kept][:, : scores.shape[2]], metric).mean(axis=1)
    return means
