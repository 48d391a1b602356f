"""The shape of the report payload: item payloads, per-spec records and the ``--mrlcheck-json`` document.

Schema ``pytest-mrlcheck/report/1``, as TypedDicts. :func:`~.summary.summarize` builds a
:class:`SpecSummary`; test items send :class:`ItemPayload`; :func:`~.summary.group_by_spec` makes
:class:`SpecRecord`; :func:`~.json_report.report_from_records` writes a :class:`Report`. A class
named ``_…Required`` holds the keys always written; its public subclass adds the keys written only
sometimes (``total=False``). tests/test_report_payload.py holds a real report to these declarations.

The one free-form part keeps an open type: the live server contract's findings. Counters
(``encoding``) and maps keyed by view label or size are typed ``dict`` of their value type. One funnel key is
named after the task's depth (``overlap@10``): see :func:`~pytest_mrlcheck.result_types.funnel_overlap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict, cast

from ..result_types import (  # the result's extras, as the engine gives them
    CostPayload,
    FunnelPayload,
    GeometryPayload,
    InformedPayload,
    ServerTruncationPayload,
)

if TYPE_CHECKING:
    from ..checks import Verdict

#: Texts encoded, served from the cache, re-encoded by canaries, and API use (``api_requests``, …).
Counters = dict[str, float]


class ModelPayload(TypedDict):
    provider: str
    name: str
    revision: str | None
    normalize: bool


class _TaskRequired(TypedDict):
    kind: str
    data: str
    split: str | None
    units: int
    texts: int
    dataset_fingerprint: str


class TaskPayload(_TaskRequired, total=False):
    """The task; the keys below the required ones are the details of some task kinds."""

    queries: int
    documents: int
    unjudged_queries: int
    corpus: int
    train: int
    classes: int
    method: str
    clusters: int
    positives: int
    candidates: int


class RandomStatsPayload(TypedDict):
    """``scores["random[k]"]``: the scores of random k-dimension subsets, against ``prefix[k]``."""

    mean: float
    sd: float
    min: float
    max: float
    samples: int
    prefix: float
    prefix_percentile: float


#: Each view's score by label; ``random[k]`` holds the statistics of random k-dimension subsets.
Scores = dict[str, float | RandomStatsPayload]


class LayoutPayload(TypedDict):
    """Which views were scored, so tables list them in order."""

    prefixes: list[int]
    windows: list[list[int]]
    random: list[int]
    dims: dict[str, int]
    informed: list[int]


class IntervalPayload(TypedDict):
    low: float
    high: float
    confidence: float


class CanaryPayload(TypedDict):
    model: str
    role: str
    status: str
    texts: int
    threshold: float
    reason: str
    mean_cosine: float | None
    min_cosine: float | None
    note: str


class ConfigurationPayload(TypedDict):
    """One (size, precision): its bytes per vector and score."""

    view: str
    dims: int
    precision: str
    bytes_per_vector: int
    score: float
    share_of_full: float | None


class PrecisionPayload(TypedDict):
    """The precision grid (size → precision → score), every configuration, the frontier, the cheapest."""

    precisions: list[str]
    sizes: list[int]
    grid: dict[str, dict[str, float | None]]
    configurations: list[ConfigurationPayload]
    frontier: list[ConfigurationPayload]
    ratio: float
    cheapest: ConfigurationPayload | None
    calibration: str | None
    note: str | None


class PcaSizePayload(TypedDict):
    dims: int
    prefix: float
    pca: float
    gap: float
    explained_variance: float


class PcaPayload(TypedDict):
    fit: str
    source: str
    texts: int
    solver: str
    seconds: float
    note: str | None
    sizes: list[PcaSizePayload]


class IndexPayload(TypedDict):
    """One ANN index view: the task metric through it, recall against exact search, its costs."""

    view: str
    kind: str
    dims: int
    precision: str
    params: dict[str, int]
    metric: float
    exact_metric: float
    recall_vs_exact: float
    overlap_full: float
    build_seconds: float | None
    cached: bool
    query_seconds: float
    memory_bytes: int
    code_bytes_per_vector: int
    vectors: int


class _SpecSummaryRequired(TypedDict):
    id: str
    name: str
    file: str
    model: ModelPayload
    task: TaskPayload
    metric: str
    similarity: str
    full_dim: int
    full_score: float
    scores: Scores
    sweep: dict[str, float]
    layout: LayoutPayload
    intervals: dict[str, IntervalPayload]
    splits: dict[str, dict[str, float]]
    split_correlations: dict[str, float]
    informed: InformedPayload | None
    server_truncation: dict[str, ServerTruncationPayload]
    server_contract: dict[str, Any] | None
    funnel: FunnelPayload | None
    cost: dict[str, CostPayload]
    geometry: dict[str, GeometryPayload]
    encoding: Counters
    canary: list[CanaryPayload]
    seconds: dict[str, float]


class SpecSummary(_SpecSummaryRequired, total=False):
    """Everything the reports show of one evaluated spec; the parts below only when the spec has them."""

    precision: PrecisionPayload
    pca: PcaPayload
    index: list[IndexPayload]


class RowPayload(TypedDict):
    """One line of a verdict's table: a view, its score, the bound it met or missed."""

    view: str
    score: float | None
    bound: str
    gap: float | None
    ok: bool
    note: str
    baseline: float | None
    limit: float | None


class PlannedCheck(TypedDict):
    """A check as its item names it before (or without) a verdict."""

    name: str
    kind: str


class VerdictPayload(PlannedCheck):
    passed: bool
    value: float | None
    bound: float | None
    summary: str
    rows: Sequence[RowPayload]
    outcome: str


class ItemPayload(TypedDict):
    """What one test item sends the controller (plain data, so it survives xdist)."""

    spec: str
    item: str
    worker: str
    check: VerdictPayload | PlannedCheck
    error: str | None
    summary: SpecSummary | None


class OutcomePayload(ItemPayload):
    """An item payload with the item's outcome (passed, failed, xfailed…), as the controller keeps it."""

    outcome: str


class _RecordCheckRequired(PlannedCheck):
    item: str
    outcome: str


class RecordCheck(_RecordCheckRequired, total=False):
    """A check in a spec record: the verdict's keys when it was judged."""

    passed: bool
    value: float | None
    bound: float | None
    summary: str
    rows: Sequence[RowPayload]


class SpecRecord(TypedDict):
    """One spec of the run: its summary (None when not evaluated), checks, first error, encoding."""

    id: str
    summary: SpecSummary | None
    checks: list[RecordCheck]
    error: str | None
    encoding: Counters


class ReportCheck(TypedDict):
    """A check in the JSON report: every key written, null when the item has no verdict."""

    item: str | None
    name: str | None
    kind: str | None
    outcome: str | None
    value: float | None
    bound: float | None
    summary: str | None
    rows: Sequence[RowPayload] | None


class _ReportSpecRequired(TypedDict):
    id: str
    encoding: Counters
    checks: list[ReportCheck]
    error: str | None


class ReportSpec(_ReportSpecRequired, total=False):
    """A spec in the JSON report: its summary's keys (without ``seconds``) when it was evaluated."""

    name: str
    file: str
    model: ModelPayload
    task: TaskPayload
    metric: str
    similarity: str
    full_dim: int
    full_score: float
    scores: Scores
    sweep: dict[str, float]
    layout: LayoutPayload
    intervals: dict[str, IntervalPayload]
    splits: dict[str, dict[str, float]]
    split_correlations: dict[str, float]
    informed: InformedPayload | None
    server_truncation: dict[str, ServerTruncationPayload]
    server_contract: dict[str, Any] | None
    funnel: FunnelPayload | None
    cost: dict[str, CostPayload]
    geometry: dict[str, GeometryPayload]
    canary: list[CanaryPayload]
    precision: PrecisionPayload
    pca: PcaPayload
    index: list[IndexPayload]


class Report(TypedDict):
    """The ``--mrlcheck-json`` document."""

    schema: str
    plugin_version: str
    created: str
    specs: list[ReportSpec]
    totals: Counters


def verdict_payload(verdict: Verdict) -> VerdictPayload:
    """A verdict as plain data (its ``to_dict``, typed)."""
    return cast(VerdictPayload, verdict.to_dict())


def evaluated(record: SpecRecord) -> SpecSummary:
    """The summary of a record whose spec was evaluated (tables are drawn for those only)."""
    summary = record["summary"]
    if summary is None:
        raise ValueError(f"spec {record['id']!r} was not evaluated: it has no summary to tabulate")
    return summary


#: What table rows read a spec's parts from: a summary of this run, or a spec of a saved report.
SpecData = SpecSummary | ReportSpec
#: A check as a record holds it (this run) or as the report writes it (a saved report).
CheckData = RecordCheck | ReportCheck
