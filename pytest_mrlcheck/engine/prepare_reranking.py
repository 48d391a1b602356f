"""The reranking adapter: queries with labelled candidates (query and document roles)."""

from __future__ import annotations

import numpy as np

from ..data import load_rerank
from ..providers import Encoder
from ..spec import Spec
from .context import RunContext
from .embedding import embed
from .loading import loading
from .prepared import Prepared, Transform, no_masks


def prepare_reranking(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """A reranking task loaded and embedded at full dimension, with its scorers."""
    from ..tasks import reranking

    with loading(spec):
        data = load_rerank(spec.task.data, run.data_access(spec))
    queries = embed(spec, run, encoder, data.queries, "query")
    candidates = embed(spec, run, encoder, data.candidates, "document")

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return reranking.score_views(queries, candidates, data.rows, data.labels, ranges, masks,
                                     metric=spec.task.metric, similarity=spec.task.similarity)

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from ..bootstrap import mean_replicates

        kept = [q for q, marks in enumerate(data.labels) if 0 < sum(marks) < len(marks)]
        width = max(len(data.rows[q]) for q in kept)
        relevant = np.zeros((len(kept), width), dtype=np.int8)
        for row, q in enumerate(kept):
            relevant[row, : len(data.labels[q])] = data.labels[q]
        scores = reranking.candidate_scores(queries[kept], candidates, [data.rows[q] for q in kept], ranges, masks,
                                            spec.task.similarity)
        per_query = reranking.per_query(scores, relevant[:, : scores.shape[2]], spec.task.metric)
        return mean_replicates(per_query, resamples=resamples, seed=seed)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        q, c = transform(queries), transform(candidates)
        return reranking.score_views(q, c, data.rows, data.labels, ranges, no_masks(q),
                                     metric=spec.task.metric, similarity="dot")

    def coded_replicates(transform: Transform, ranges: list[tuple[int, int]], resamples: int, seed: int) -> np.ndarray:
        from ..bootstrap import mean_replicates

        kept = [q for q, marks in enumerate(data.labels) if 0 < sum(marks) < len(marks)]
        width = max(len(data.rows[q]) for q in kept)
        relevant = np.zeros((len(kept), width), dtype=np.int8)
        for row, q in enumerate(kept):
            relevant[row, : len(data.labels[q])] = data.labels[q]
        q_rows, c_rows = transform(queries)[kept], transform(candidates)
        scores = reranking.candidate_scores(q_rows, c_rows, [data.rows[q] for q in kept], ranges, no_masks(q_rows),
                                            "dot")
        per_query = reranking.per_query(scores, relevant[:, : scores.shape[2]], spec.task.metric)
        return mean_replicates(per_query, resamples=resamples, seed=seed)

    return Prepared(queries.shape[1], len(data.queries), len(data.queries) + len(data.candidates),
                    data.fingerprint(), score, replicates, {"candidates": len(data.candidates)},
                    lambda: np.concatenate([queries, candidates]), coded=coded, roles=("query", "document"),
                    fit_sets={"corpus": lambda: candidates}, coded_replicates=coded_replicates)
