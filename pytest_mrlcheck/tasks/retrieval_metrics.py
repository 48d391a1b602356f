"""IR metrics of rankings, as pytrec_eval computes them (what BEIR and MTEB use).

:class:`Relevance` holds graded judgements aligned with the query and corpus rows; the metrics of all
views are computed at once from ``V × Q × k`` rankings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

METRICS = ("ndcg", "recall", "mrr", "map", "precision", "hit")


@dataclass(frozen=True, eq=False)
class Relevance:
    """Graded judgements aligned with the rows of the query and corpus arrays.

    ``judged[q]``: query row ``q`` has at least one judgement (any grade, 0 included) and is
    evaluated; pytrec_eval skips the others. ``keys``/``grades``: sorted ``q * n_docs + doc`` of
    every pair with grade > 0 whose document is in the corpus. ``ideal_ptr``/``ideal_grades``:
    per query (CSR) the positive grades of all its judged documents, best first, including
    documents missing from the corpus, as pytrec_eval counts them for recall, MAP and ideal DCG.
    Grades ≤ 0 are non-relevant and gain nothing.
    """

    n_docs: int
    judged: np.ndarray
    keys: np.ndarray
    grades: np.ndarray
    ideal_ptr: np.ndarray
    ideal_grades: np.ndarray

    @property
    def n_queries(self) -> int:
        return int(self.judged.shape[0])

    @property
    def relevant(self) -> np.ndarray:
        """``Q`` counts of relevant (grade > 0) judged documents."""
        return np.diff(self.ideal_ptr)

    @classmethod
    def from_qrels(
        cls,
        qrels: Mapping[str, Mapping[str, int]],
        query_ids: Sequence[str],
        doc_ids: Sequence[str],
    ) -> Relevance:
        """From ``{query id: {doc id: grade}}``; rows follow ``query_ids`` and ``doc_ids``."""
        doc_row = {doc: j for j, doc in enumerate(doc_ids)}
        if len(doc_row) != len(doc_ids):
            raise ValueError("doc_ids contain duplicates")
        n_docs = len(doc_ids)
        judged = np.zeros(len(query_ids), dtype=bool)
        keys: list[int] = []
        grades: list[float] = []
        ideal: list[list[float]] = []
        for q, query in enumerate(query_ids):
            judgements = qrels.get(query) or {}
            judged[q] = bool(judgements)
            positive = {doc: float(grade) for doc, grade in judgements.items() if grade > 0}
            ideal.append(sorted(positive.values(), reverse=True))
            for doc, grade in positive.items():
                if doc in doc_row:
                    keys.append(q * n_docs + doc_row[doc])
                    grades.append(grade)
        return cls._build(n_docs, judged, np.array(keys, dtype=np.int64), np.array(grades), ideal)

    @classmethod
    def from_matrix(cls, grades: np.ndarray, judged: np.ndarray | None = None) -> Relevance:
        """From a dense ``Q × N`` grade matrix; ``judged`` defaults to rows with a non-zero grade."""
        grades = np.asarray(grades, dtype=np.float64)
        n_docs = grades.shape[1]
        judged = (grades != 0).any(axis=1) if judged is None else np.asarray(judged, dtype=bool)
        rows, cols = np.nonzero(grades > 0)
        ideal = [sorted(row[row > 0].tolist(), reverse=True) for row in grades]
        keys = rows.astype(np.int64) * n_docs + cols
        return cls._build(n_docs, judged, keys, grades[rows, cols], ideal)

    @classmethod
    def _build(
        cls,
        n_docs: int,
        judged: np.ndarray,
        keys: np.ndarray,
        grades: np.ndarray,
        ideal: list[list[float]],
    ) -> Relevance:
        order = np.argsort(keys, kind="stable")
        ptr = np.zeros(len(ideal) + 1, dtype=np.int64)
        np.cumsum([len(row) for row in ideal], out=ptr[1:])
        flat = np.array([grade for row in ideal for grade in row], dtype=np.float64)
        return cls(n_docs, judged, keys[order], grades[order].astype(np.float64), ptr, flat)

    def select(self, rows: np.ndarray) -> Relevance:
        """The judgements of query ``rows`` only, renumbered ``0..len(rows)-1`` in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        new_row = np.full(self.n_queries, -1, dtype=np.int64)
        new_row[rows] = np.arange(rows.size)
        old_q, docs = np.divmod(self.keys, max(1, self.n_docs))
        kept = new_row[old_q] >= 0
        keys = new_row[old_q[kept]] * self.n_docs + docs[kept]
        ptr = self.ideal_ptr
        ideal = [self.ideal_grades[ptr[r] : ptr[r + 1]].tolist() for r in rows]
        return Relevance._build(self.n_docs, self.judged[rows], keys, self.grades[kept], ideal)

    def gains(self, indices: np.ndarray) -> np.ndarray:
        """Grades (0 if not relevant or empty slot) of ``... × Q × k`` retrieved document rows."""
        if self.keys.size == 0:
            return np.zeros(indices.shape)
        rows = np.arange(self.n_queries).reshape(-1, 1)
        wanted = rows * self.n_docs + np.maximum(indices, 0)
        found = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        hit = (self.keys[found] == wanted) & (indices >= 0)
        return np.where(hit, self.grades[found], 0.0)

    def ideal(self, depth: int) -> np.ndarray:
        """``Q × depth`` positive grades per query, best first, zero-padded."""
        out = np.zeros((self.n_queries, depth))
        counts = np.minimum(np.diff(self.ideal_ptr), depth)
        rows = np.repeat(np.arange(self.n_queries), counts)
        ranks = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        out[rows, ranks] = self.ideal_grades[self.ideal_ptr[rows] + ranks]
        return out


def identical_id_exclusions(query_ids: Sequence[str], doc_ids: Sequence[str]) -> list[set[int]]:
    """For ``top_k(exclude=...)``: each query's corpus rows with the same id (MTEB ignores them)."""
    doc_row = {doc: j for j, doc in enumerate(doc_ids)}
    return [{doc_row[query]} if query in doc_row else set() for query in query_ids]


# --------------------------------------------------------------------------------------- metrics


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; kinds are :data:`METRICS`."""
    kind, at, cut = name.partition("@")
    if not at or kind not in METRICS or not cut.isdigit() or int(cut) < 1:
        raise ValueError(
            f"unknown retrieval metric {name!r} (use e.g. 'ndcg@10'; kinds: {', '.join(METRICS)})"
        )
    return kind, int(cut)


def metric_values(
    indices: np.ndarray, relevance: Relevance, metrics: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per-query values ``V × J`` of each metric, for the ``J`` judged queries in row order.

    ``indices`` is ``V × Q × K`` ranked corpus rows (``-1`` = empty slot) with ``Q`` the rows of
    ``relevance``; a ranking shorter than a metric's cut-off counts as padded with non-relevant
    documents. Definitions are pytrec_eval's: ``ndcg@k`` = ndcg_cut (gain = grade, discount
    log2(rank + 1), ideal from all judged grades), ``recall@k``, ``precision@k`` = P (divides by
    k), ``map@k`` = map_cut (divides by all relevant), ``mrr@k`` = recip_rank of the run cut at k,
    ``hit@k`` = 1 if any relevant document is in the top k.
    """
    parsed = [parse_metric(name) for name in metrics]
    if indices.ndim != 3 or indices.shape[1] != relevance.n_queries:
        raise ValueError(f"need V × {relevance.n_queries} × K indices, got {indices.shape}")
    depth = max((cut for _, cut in parsed), default=1)
    if indices.shape[2] < depth:
        pad = np.full((*indices.shape[:2], depth - indices.shape[2]), -1, dtype=indices.dtype)
        indices = np.concatenate([indices, pad], axis=2)
    rows = np.flatnonzero(relevance.judged)
    gains = relevance.gains(indices[:, :, :depth])[:, rows]
    hits = gains > 0
    found = np.cumsum(hits, axis=2)
    ranks = np.arange(1, depth + 1)
    discount = 1.0 / np.log2(ranks + 1.0)
    relevant = relevance.relevant[rows]
    ideal = relevance.ideal(depth)[rows]

    out: dict[str, np.ndarray] = {}
    for name, (kind, cut) in zip(metrics, parsed, strict=True):
        if kind == "ndcg":
            value = _ratio(gains[:, :, :cut] @ discount[:cut], ideal[:, :cut] @ discount[:cut])
        elif kind == "recall":
            value = _ratio(found[:, :, cut - 1], relevant)
        elif kind == "precision":
            value = found[:, :, cut - 1] / cut
        elif kind == "hit":
            value = (found[:, :, cut - 1] > 0).astype(np.float64)
        elif kind == "mrr":
            first = np.argmax(hits[:, :, :cut], axis=2)
            value = np.where(found[:, :, cut - 1] > 0, 1.0 / (first + 1.0), 0.0)
        else:  # map
            precision_at_hits = np.where(hits[:, :, :cut], found[:, :, :cut] / ranks[:cut], 0.0)
            value = _ratio(precision_at_hits.sum(axis=2), relevant)
        out[name] = value
    return out


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` broadcast over views; 0 where the denominator is 0."""
    denominator = np.broadcast_to(denominator, numerator.shape)
    out = np.zeros(numerator.shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def query_means(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per metric, the ``V`` means over judged queries of ``V × J`` values (``nan`` when ``J`` is 0)."""
    return {
        name: per_query.mean(axis=1) if per_query.shape[1] else np.full(per_query.shape[0], np.nan)
        for name, per_query in values.items()
    }


def evaluate_run(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Sequence[str]],
    metrics: Sequence[str],
) -> dict[str, float]:
    """Mean of each metric over the queries of ``run`` that have judgements, like pytrec_eval.

    ``run`` maps a query id to its ranked document ids, best first (repeats after the first
    occurrence are dropped). Queries without qrels, and judged queries absent from the run, are
    skipped; ``nan`` when no query is left.
    """
    depth = max((parse_metric(name)[1] for name in metrics), default=1)
    queries = [query for query in run if qrels.get(query)]
    rankings = [list(dict.fromkeys(run[query]))[:depth] for query in queries]
    doc_ids = list(dict.fromkeys(doc for ranking in rankings for doc in ranking))
    doc_row = {doc: j for j, doc in enumerate(doc_ids)}
    indices = np.full((1, len(queries), depth), -1, dtype=np.int64)
    for q, ranking in enumerate(rankings):
        indices[0, q, : len(ranking)] = [doc_row[doc] for doc in ranking]
    relevance = Relevance.from_qrels(qrels, queries, doc_ids)
    means = query_means(metric_values(indices, relevance, metrics))
    return {name: float(mean[0]) for name, mean in means.items()}
