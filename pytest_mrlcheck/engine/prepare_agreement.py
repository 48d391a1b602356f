"""The agreement adapter: how far each view's neighbours agree with the full vectors' (query and document roles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data import load_beir, load_texts
from ..datapaths import DataAccess
from ..errors import EvaluationError
from ..providers import Encoder
from ..spec import DataSpec, Spec
from .context import RunContext
from .embedding import embed
from .loading import loading
from .prepared import Prepared, Transform, no_masks, no_replicates

_QUERY_FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _agreement_queries(spec: Spec, access: DataAccess) -> tuple[str, ...]:
    """The texts of ``task.queries.path`` (a csv, tsv or jsonl file with a header)."""

    options = spec.task.options
    path = Path(options["queries_path"])
    fmt = _QUERY_FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EvaluationError(f"{spec.path}:{spec.task.line}: task.queries.path: cannot tell the format of "
                              f"{path.name!r} from its suffix", hint="use a .csv, .tsv or .jsonl file")
    return load_texts(DataSpec(path=path, format=fmt, columns={"text": options["queries_column"]}, header=True),
                      access)


def prepare_agreement(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """An agreement task loaded and embedded at full dimension, with its scorers."""
    import hashlib

    from ..tasks import agreement

    access = run.data_access(spec)
    options = spec.task.options
    details: dict[str, Any]
    if spec.task.data.format == "beir":
        # the judged queries and the templated documents, exactly as a retrieval spec embeds them
        with loading(spec):
            beir = load_beir(spec.task.data, access)
        corpus_texts, query_texts = beir.documents, beir.queries
        corpus = embed(spec, run, encoder, corpus_texts, "document")
        query_rows = np.full(len(query_texts), -1, dtype=np.intp)
        fingerprint = beir.fingerprint()
        details = {"corpus": len(corpus_texts), "queries": len(query_texts), "unjudged_queries": beir.unjudged_queries}
    else:
        with loading(spec):
            corpus_texts = load_texts(spec.task.data, access)
        corpus = embed(spec, run, encoder, corpus_texts, "document")
        if "queries_path" in options:
            with loading(spec):
                query_texts = _agreement_queries(spec, access)
            position = {text: row for row, text in enumerate(corpus_texts)}
            query_rows = np.array([position.get(text, -1) for text in query_texts], dtype=np.intp)
        else:
            query_rows = agreement.sample_queries(len(corpus_texts), options["queries_count"],
                                                  options["queries_seed"])
            query_texts = tuple(corpus_texts[row] for row in query_rows)
        fingerprint = hashlib.sha256("\n".join([*corpus_texts, "\x00", *query_texts]).encode()).hexdigest()
        details = {"corpus": len(corpus_texts), "queries": len(query_texts)}
    queries = embed(spec, run, encoder, query_texts, "query")
    full_dim = corpus.shape[1]

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return agreement.score_views(queries, corpus, ranges, masks, full_dim, metric=spec.task.metric,
                                     query_rows=query_rows, similarity=spec.task.similarity)

    def cost(sizes: list[int]) -> dict[int, Any]:
        from ..tasks.funnel import cost_by_size

        return cost_by_size(queries, corpus, sizes)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        from ..quantize import represent

        # the reference is the full float32 ranking: it leads the matrix, the quantized views follow it
        def with_reference(rows: np.ndarray) -> np.ndarray:
            return np.hstack([represent(rows, "float32", spec.task.similarity), transform(rows)])

        q, c = with_reference(queries), with_reference(corpus)
        shifted = [(start + full_dim, end + full_dim) for start, end in ranges]
        return agreement.score_views(q, c, shifted, no_masks(q), full_dim, metric=spec.task.metric,
                                     query_rows=query_rows, similarity="dot")

    search = None
    if spec.views.index:
        from ..index_views import agreement_search

        search = agreement_search(queries, corpus, query_rows, spec.task.metric, spec.task.similarity)
    return Prepared(full_dim, len(query_texts), len(corpus_texts), fingerprint, score, no_replicates("agreement"),
                    details, corpus, None, cost, coded, ("query", "document"), {"corpus": lambda: corpus},
                    search=search)
