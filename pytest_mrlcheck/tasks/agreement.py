"""Label-free agreement: how closely each view's rankings follow the full vector's.

No judgements needed: the reference is the ranking of the corpus under the first ``full_dim``
dims. Queries may be corpus rows (see :func:`sample_queries`); a query's own row is then excluded
from every ranking. Metrics, each a mean over queries:

* ``overlap@k``: ``|top-k(view) ∩ top-k(full)| / k`` (``k`` capped at the documents a query can
  retrieve), from :func:`.retrieval.top_k` rankings.
* ``rank_correlation@n``: Spearman correlation (ties averaged) between the view's and the full
  similarities over the full top-``n`` documents. A query whose correlation is undefined (one
  document, or constant similarities on either side) counts 0: that view ranks nothing there.

Queries with no document to rank (a one-row corpus holding the query) are left out; ``nan`` if no
query is left.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from .ranking import rank_columns
from .retrieval import top_k, views_from_plan
from .sts import pair_similarities

METRICS = ("overlap", "rank_correlation")

_BLOCK_ELEMENTS = 4 * 2**20


def sample_queries(n_corpus: int, count: int, seed: int = 0) -> np.ndarray:
    """``min(count, n_corpus)`` distinct corpus rows, ascending, drawn with ``default_rng(seed)``."""
    if n_corpus < 0 or count < 0:
        raise ValueError(f"n_corpus and count must be non-negative, got {n_corpus}, {count}")
    rows = np.random.default_rng(seed).choice(n_corpus, size=min(count, n_corpus), replace=False)
    return np.sort(rows).astype(np.int64)


def parse_metric(name: str) -> tuple[str, int]:
    """``"overlap@10"`` → ``("overlap", 10)``; kinds are :data:`METRICS`."""
    kind, at, cut = name.partition("@")
    if kind not in METRICS or not at or not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"unknown agreement metric {name!r} (use 'overlap@K' or 'rank_correlation@N')")
    return kind, int(cut)


def score_views(
    query_vecs: np.ndarray,
    corpus_vecs: np.ndarray,
    ranges: Sequence[tuple[int, int]],
    masks: np.ndarray,
    full_dim: int,
    metric: str = "overlap@10",
    query_rows: Sequence[int] | np.ndarray | None = None,
    similarity: str = "cosine",
    chunk_docs: int = 8192,
) -> np.ndarray:
    """One agreement score per view (contiguous ranges first, then mask columns) with ``(0, full_dim)``.

    ``query_vecs`` is ``Q × d``, ``corpus_vecs`` ``N × d``; ``query_rows[q]`` is the corpus row of
    query ``q`` (excluded from its rankings) or ``-1``. ``similarity`` is ``cosine`` or ``dot``.
    """
    kind, cut = parse_metric(metric)
    query_vecs, corpus_vecs = np.asarray(query_vecs), np.asarray(corpus_vecs)
    if query_vecs.ndim != 2 or corpus_vecs.ndim != 2 or query_vecs.shape[1] != corpus_vecs.shape[1]:
        raise ValueError(f"need Q × d queries, N × d corpus; got {query_vecs.shape}, {corpus_vecs.shape}")
    if not 1 <= full_dim <= query_vecs.shape[1]:
        raise ValueError(f"full_dim {full_dim} does not fit {query_vecs.shape[1]} dimensions")
    exclude = _exclusions(query_rows, query_vecs.shape[0])
    if kind == "overlap":
        per_query, kept = _overlap(query_vecs, corpus_vecs, ranges, masks, full_dim, cut, similarity,
                                   chunk_docs, exclude)
    else:
        per_query, kept = _rank_correlation(query_vecs, corpus_vecs, ranges, masks, full_dim, cut, similarity,
                                            chunk_docs, exclude)
    if not kept.any():
        return np.full(per_query.shape[0], np.nan)
    means: np.ndarray = per_query[:, kept].mean(axis=1)
    return means


def _exclusions(query_rows: Sequence[int] | np.ndarray | None, n_queries: int) -> list[Collection[int]] | None:
    if query_rows is None:
        return None
    rows = np.asarray(query_rows, dtype=np.int64)
    if rows.shape != (n_queries,):
        raise ValueError(f"query_rows has shape {rows.shape}, expected ({n_queries},)")
    return [(int(row),) if row >= 0 else () for row in rows]


def _overlap(
    queries: np.ndarray, corpus: np.ndarray, ranges: Sequence[tuple[int, int]], masks: np.ndarray,
    full_dim: int, k: int, similarity: str, chunk_docs: int, exclude: list[Collection[int]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``V × Q`` overlaps and the ``Q`` queries that have a document to retrieve."""
    views = [*views_from_plan(ranges, masks), (0, full_dim)]
    indices, _ = top_k(queries, corpus, views, k, similarity, chunk_docs, exclude)
    n_queries, stride = queries.shape[0], corpus.shape[0] + 1
    row_keys = np.arange(n_queries, dtype=np.int64)[:, None] * stride
    full = indices[-1]
    full_keys = np.where(full >= 0, row_keys + full, -2).ravel()
    available = (full >= 0).sum(axis=1)
    out = np.zeros((len(views) - 1, n_queries))
    for v in range(len(views) - 1):
        keys = np.where(indices[v] >= 0, row_keys + indices[v], -1)
        common = np.isin(keys, full_keys).sum(axis=1)
        np.divide(common, available, out=out[v], where=available > 0)
    return out, available > 0


def _rank_correlation(
    queries: np.ndarray, corpus: np.ndarray, ranges: Sequence[tuple[int, int]], masks: np.ndarray,
    full_dim: int, n: int, similarity: str, chunk_docs: int, exclude: list[Collection[int]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``V × Q`` Spearman correlations over the full top-``n`` and the queries with a document."""
    top, _ = top_k(queries, corpus, [(0, full_dim)], n, similarity, chunk_docs, exclude)
    top = top[0]
    valid = top >= 0
    with_full = [*ranges, (0, full_dim)]
    n_views = len(ranges) + masks.shape[1]
    out = np.zeros((n_views, queries.shape[0]))
    step = max(1, _BLOCK_ELEMENTS // (n * (n_views + 1 + queries.shape[1])))
    for begin in range(0, queries.shape[0], step):
        block_valid = valid[begin : begin + step]
        rows, slots = np.nonzero(block_valid)
        sims = pair_similarities(queries[begin + rows], corpus[top[begin + rows, slots]], with_full, masks,
                                 similarity)
        sims = np.concatenate([np.delete(sims, len(ranges), axis=1), sims[:, len(ranges), None]], axis=1)
        block = np.full((n, block_valid.shape[0], n_views + 1), np.inf)  # pads rank after every document
        block[slots, rows] = sims
        ranks = rank_columns(block.reshape(n, -1)).reshape(block.shape)
        weight = block_valid.T[:, :, None].astype(np.float64)
        count = np.maximum(weight.sum(axis=0), 1.0)
        centred = (ranks - (ranks * weight).sum(axis=0) / count) * weight
        view_part, full_part = centred[:, :, :-1], centred[:, :, -1:]
        numerator = (view_part * full_part).sum(axis=0)
        denominator = np.sqrt((view_part**2).sum(axis=0) * (full_part**2).sum(axis=0))
        correlation = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
        out[:, begin : begin + step] = correlation.T
    return out, valid.any(axis=1)
