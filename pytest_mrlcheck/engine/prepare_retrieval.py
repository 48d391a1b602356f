"""The retrieval adapter: BEIR queries and a corpus (query and document roles), ranked by similarity."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import load_beir
from ..errors import EvaluationError
from ..providers import Encoder
from ..result_types import FunnelPayload
from ..spec import Spec
from .context import RunContext
from .embedding import embed
from .loading import load
from .prepared import Prepared, Remember, Transform, no_masks


def prepare_retrieval(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """A retrieval task loaded and embedded at full dimension, with its scorers."""
    from ..tasks import retrieval

    data = load(spec, run, lambda access: load_beir(spec.task.data, access))
    _, depth = retrieval.parse_metric(spec.task.metric)
    if depth > len(data.doc_ids):
        raise EvaluationError(
            f"{spec.path}:{spec.task.line}: task.metric: {spec.task.metric} looks at {depth} documents "
            f"but the corpus has {len(data.doc_ids)}",
            hint=f"use a cut-off of at most {len(data.doc_ids)}",
        )
    queries = embed(spec, run, encoder, data.queries, "query")
    documents = embed(spec, run, encoder, data.documents, "document")
    if queries.shape[1] != documents.shape[1]:
        raise EvaluationError(f"query vectors have {queries.shape[1]} dims, document vectors {documents.shape[1]}")
    relevance = retrieval.Relevance.from_qrels(data.qrels, data.query_ids, data.doc_ids)
    exclude = (retrieval.identical_id_exclusions(data.query_ids, data.doc_ids)
               if spec.task.ignore_identical_ids else None)

    ranked = _LastRanking()

    def scored(ranges: list[tuple[int, int]], masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = ranked.read(ranges, masks)
        if found is None:
            views = retrieval.views_from_plan(ranges, masks)
            scores = retrieval.score_views(queries, documents, views, relevance, [spec.task.metric],
                                           spec.task.similarity, exclude=exclude)
            found = ranked.keep(ranges, masks, scores.means[spec.task.metric], scores.per_query[spec.task.metric])
        return found

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return np.asarray(scored(ranges, masks)[0], dtype=np.float64)

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from ..bootstrap import mean_replicates

        return mean_replicates(scored(ranges, masks)[1], resamples=resamples, seed=seed)

    def run_funnel(options: dict[str, Any], remember: Remember | None = None) -> FunnelPayload:
        from ..tasks.funnel import funnel

        for key in ("shortlist_dims", "rerank_dims"):
            if options[key] is not None and options[key] > queries.shape[1]:
                raise EvaluationError(f"{spec.path}:{options['line']}: task.funnel.{key}: {options[key]} is more "
                                      f"than the model's {queries.shape[1]} dimensions")
        return funnel(queries, documents, relevance, spec.task.metric, options["shortlist_dims"],
                      options["shortlist"], options["rerank_dims"], exclude,
                      options.get("shortlist_precision", "float32"), options.get("rerank_precision", "float32"),
                      options.get("calibration"), remember)

    def cost(sizes: list[int]) -> dict[int, Any]:
        from ..tasks.funnel import cost_by_size

        return cost_by_size(queries, documents, sizes)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        q, d = transform(queries), transform(documents)
        views = retrieval.views_from_plan(ranges, no_masks(q))
        found = retrieval.score_views(q, d, views, relevance, [spec.task.metric], "dot", exclude=exclude)
        return np.asarray(found.means[spec.task.metric], dtype=np.float64)

    def coded_replicates(transform: Transform, ranges: list[tuple[int, int]], resamples: int, seed: int) -> np.ndarray:
        from ..bootstrap import mean_replicates

        q, d = transform(queries), transform(documents)
        views = retrieval.views_from_plan(ranges, no_masks(q))
        found = retrieval.score_views(q, d, views, relevance, [spec.task.metric], "dot", exclude=exclude)
        return mean_replicates(found.per_query[spec.task.metric], resamples=resamples, seed=seed)

    details = {"queries": len(data.query_ids), "documents": len(data.doc_ids),
               "unjudged_queries": data.unjudged_queries}
    search = None
    if spec.views.index:
        from ..index_views import retrieval_search

        search = retrieval_search(queries, documents, relevance, spec.task.metric, spec.task.similarity, exclude)
    return Prepared(queries.shape[1], len(data.query_ids), len(data.queries) + len(data.documents),
                    data.fingerprint(), score, replicates, details, lambda: np.concatenate([queries, documents]),
                    run_funnel, cost, coded, ("query", "document"), {"corpus": lambda: documents},
                    coded_replicates=coded_replicates, search=search)


class _LastRanking:
    """The metric values of the last views ranked, so the bootstrap of the same views (or of some of
    them: the ``dims`` columns without the random ones) reads them instead of ranking the corpus again."""

    def __init__(self) -> None:
        self._ranges: dict[tuple[int, int], int] = {}
        self._masks: dict[bytes, int] = {}
        self._values: tuple[np.ndarray, np.ndarray] | None = None  # means (V), per query (V × J)

    def read(self, ranges: list[tuple[int, int]], masks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The values of exactly these views, in this order, when all of them were ranked last time."""
        if self._values is None:
            return None
        columns = [self._ranges.get((int(start), int(end))) for start, end in ranges]
        columns += [self._masks.get(_column_key(masks, j)) for j in range(masks.shape[1])]
        if any(column is None for column in columns):
            return None
        rows = np.asarray(columns, dtype=np.intp)
        means, per_query = self._values
        return means[rows], per_query[rows]

    def keep(self, ranges: list[tuple[int, int]], masks: np.ndarray, means: np.ndarray,
             per_query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._ranges = {(int(start), int(end)): i for i, (start, end) in enumerate(ranges)}
        self._masks = {_column_key(masks, j): len(ranges) + j for j in range(masks.shape[1])}
        self._values = (means, per_query)
        return means, per_query


def _column_key(masks: np.ndarray, column: int) -> bytes:
    """One view's 0/1 mask as bytes (with its dtype, so equal masks of different types stay apart)."""
    column_bytes: bytes = np.ascontiguousarray(masks[:, column]).tobytes()
    return str(masks.dtype.str).encode() + column_bytes
