"""Retrieval: the top-k documents of every query under every view, and IR metrics of the rankings.

Documents are ranked one chunk at a time into a running top-k per query and view, so memory stays
at a few blocks whatever the corpus size. Contiguous ``(start, end)`` views share their work: the
dims are cut at every view boundary, each block's product is computed once and views are summed
from blocks (cosine scales the sums by slice norms); index views get one product each.
Metrics follow pytrec_eval (what BEIR and MTEB use) and are computed for all views at once from the
``V × Q × k`` rankings.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from .retrieval_blocks import blas_threads
from .retrieval_metrics import (
    METRICS,
    Relevance,
    evaluate_run,
    identical_id_exclusions,
    metric_values,
    parse_metric,
    query_means,
)
from .retrieval_topk import View, top_k

__all__ = [
    "METRICS",
    "Relevance",
    "View",
    "ViewScores",
    "blas_threads",
    "evaluate_run",
    "identical_id_exclusions",
    "metric_values",
    "parse_metric",
    "score_views",
    "top_k",
    "views_from_plan",
]


@dataclass(frozen=True, eq=False)
class ViewScores:
    """Retrieval metrics of every view.

    ``means[metric]`` is ``V`` (mean over judged queries; ``nan`` if none), ``per_query[metric]``
    is ``V × J`` for bootstrapping; ``queries`` holds the ``J`` judged query rows, ``skipped`` the
    number of query rows without judgements (not scored).
    """

    means: dict[str, np.ndarray]
    per_query: dict[str, np.ndarray]
    queries: np.ndarray
    skipped: int


def score_views(
    query_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    views: Sequence[View],
    relevance: Relevance,
    metrics: Sequence[str],
    similarity: str = "cosine",
    chunk_docs: int = 8192,
    exclude: Sequence[Collection[int]] | None = None,
) -> ViewScores:
    """Rank the corpus under every view and score the rankings.

    ``query_vecs`` is ``Q × d``, ``doc_vecs`` ``N × d``; ``relevance`` is aligned with their rows
    (see :meth:`Relevance.from_qrels`), ``exclude`` (length ``Q``) as in :func:`top_k`. Only
    judged queries are ranked, to the deepest cut-off among ``metrics``.
    """
    if relevance.n_queries != query_vecs.shape[0] or relevance.n_docs != doc_vecs.shape[0]:
        raise ValueError(
            f"relevance is {relevance.n_queries} × {relevance.n_docs}, "
            f"vectors are {query_vecs.shape[0]} queries × {doc_vecs.shape[0]} documents"
        )
    depth = max((parse_metric(name)[1] for name in metrics), default=1)
    rows = np.flatnonzero(relevance.judged)
    kept_exclude = None if exclude is None else [exclude[int(row)] for row in rows]
    indices, _ = top_k(
        query_vecs[rows], doc_vecs, views, depth, similarity, chunk_docs, kept_exclude
    )
    per_query = metric_values(indices, relevance.select(rows), metrics)
    return ViewScores(query_means(per_query), per_query, rows, relevance.n_queries - rows.size)


def views_from_plan(ranges: Sequence[tuple[int, int]], masks: np.ndarray) -> list[View]:
    """Views in the order :mod:`.sts` scores them: contiguous ranges, then 0/1 mask columns."""
    columns: list[View] = [np.flatnonzero(masks[:, j]) for j in range(masks.shape[1])]
    return [*((int(start), int(end)) for start, end in ranges), *columns]
