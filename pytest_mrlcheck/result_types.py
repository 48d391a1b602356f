"""The typed extras of an evaluated spec (``SpecResult``) besides its view scores, in the shape the JSON
report writes them: the informed search, server truncation, the funnel, cost per size, geometry.

A leaf module (typing only): the scorers that produce these parts (``tasks/``, ``geometry.py``, the
engine) and the report that writes them (``report/payload.py`` re-exports them) share one
declaration.
"""

from __future__ import annotations

from typing import TypedDict, cast

#: The funnel's top-k overlap with full search is written as ``overlap@<depth>``.
FUNNEL_OVERLAP_PREFIX = "overlap@"


class InformedPayload(TypedDict):
    """The best ``dims`` dimensions chosen on ``select_split``, scored on ``eval_split``."""

    dims: int
    select_split: str
    eval_split: str | None
    method: str
    block: int
    chosen: list[int]
    score: float
    select_score: float
    prefix: float


class ServerTruncationPayload(TypedDict):
    server_score: float
    client_score: float
    mean_cosine: float
    min_cosine: float


class _FunnelRequired(TypedDict):
    shortlist_dims: int
    shortlist: int
    rerank_dims: int
    score: float
    relative_cost: float


class FunnelPayload(_FunnelRequired, total=False):
    """A shortlist-then-rerank search; the precision keys when a stage is not float32 (and
    ``overlap@<depth>``, see :data:`FUNNEL_OVERLAP_PREFIX`)."""

    shortlist_precision: str
    rerank_precision: str
    shortlist_bytes_per_vector: int
    rerank_bytes_per_vector: int
    relative_bytes: float


class PrecisionBytes(TypedDict):
    float32: int
    float16: int
    int8: int
    binary: int


class TimedOn(TypedDict):
    queries: int
    documents: int


class CostPayload(TypedDict):
    """``cost["k"]``: storage and search time of one prefix size."""

    bytes_per_vector: PrecisionBytes
    index_bytes: PrecisionBytes
    search_seconds: float
    relative_search_time: float
    timed_on: TimedOn


class GeometryPayload(TypedDict, total=False):
    """``geometry["k"]``: the metrics the spec asked for; null where undefined at that size."""

    isoscore: float | None
    uniformity: float | None
    mean_abs_correlation: float | None
    effective_rank: float | None
    participation_ratio: float | None
    outliers: list[int]


def funnel_overlap(funnel: FunnelPayload) -> float:
    """The funnel's top-k overlap with full search (the ``overlap@<depth>`` key)."""
    return next(float(cast(float, value)) for key, value in funnel.items() if key.startswith(FUNNEL_OVERLAP_PREFIX))
