"""A spec's result as plain data (JSON-ready), and the grouping of item payloads by spec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from ..engine.results import SpecResult
from ..result_types import GeometryPayload
from ..views import random_label
from .payload import (
    CanaryPayload,
    Counters,
    IndexPayload,
    IntervalPayload,
    OutcomePayload,
    PcaPayload,
    RandomStatsPayload,
    RecordCheck,
    Scores,
    SpecRecord,
    SpecSummary,
    TaskPayload,
    verdict_payload,
)

if TYPE_CHECKING:
    from ..checks import Verdict

# The result objects' own ``to_dict`` write these parts; the payload types say their shape (and
# tests/test_report_payload.py holds a real report to it).


def summarize(spec_id: str, result: SpecResult) -> SpecSummary:
    """Everything the reports show of one evaluated spec, in the JSON report's shape."""
    spec = result.spec
    scores: Scores = dict(result.scores)
    for k, stats in result.random.items():
        scores[random_label(k)] = cast(RandomStatsPayload, stats.to_dict())
    summary: SpecSummary = {
        "id": spec_id,
        "name": spec.name,
        "file": str(spec.path),
        "model": {
            "provider": spec.model.provider,
            "name": spec.model.label,
            "revision": spec.model.revision,
            "normalize": spec.model.normalize,
        },
        "task": _task(result),
        "metric": spec.task.metric,
        "similarity": spec.task.similarity,
        "full_dim": result.full_dim,
        "full_score": result.full_score,
        "scores": scores,
        "sweep": {str(k): v for k, v in result.sweep.items()},
        "layout": {
            "prefixes": list(result.plan.prefixes),
            "windows": [list(w) for w in result.plan.windows],
            "random": [family.k for family in result.plan.random],
            "dims": {name: len(dims) for name, dims in result.plan.dims.items()},
            "informed": [result.informed["dims"]] if result.informed else [],
        },
        "intervals": _intervals(result),
        "splits": result.splits,
        "split_correlations": result.split_correlations,
        "informed": result.informed,
        "server_truncation": {str(k): v for k, v in result.server_truncation.items()},
        "server_contract": result.server_contract,
        "funnel": result.funnel,
        "cost": {str(k): v for k, v in result.cost.items()},
        "geometry": {str(k): _plain(values) for k, values in result.geometry.items()},
        "encoding": dict(result.encoding),
        "canary": [cast(CanaryPayload, canary.to_dict()) for canary in result.canaries],
        "seconds": dict(result.seconds),
    }
    if result.plan.quantized:
        from .precision import precision_summary

        summary["precision"] = precision_summary(result)
    if result.pca is not None:
        summary["pca"] = cast(PcaPayload, result.pca.to_dict())
    if result.index:
        summary["index"] = [cast(IndexPayload, found.to_dict()) for found in result.index]
    return summary


def _task(result: SpecResult) -> TaskPayload:
    """The task, with the details its kind records (queries, documents, classes…) after the common keys."""
    data = result.spec.task.data
    return cast(TaskPayload, {
        "kind": result.spec.task.kind,
        "data": data.source,
        "split": data.split,
        "units": result.units,
        "texts": result.texts,
        "dataset_fingerprint": result.dataset_fingerprint,
        **result.details,
    })


def _plain(values: Mapping[str, object]) -> GeometryPayload:
    """NaN (an undefined metric) becomes null so the JSON stays valid."""
    return cast(GeometryPayload, {key: None if isinstance(value, float) and value != value else value
                                  for key, value in values.items()})


def _intervals(result: SpecResult) -> dict[str, IntervalPayload]:
    """Bootstrap intervals of every view that has replicates (at the spec's confidence)."""
    boot = result.spec.bootstrap
    confidence = boot.confidence if boot else 0.95
    out: dict[str, IntervalPayload] = {}
    for label in result.replicates:
        interval = result.interval(label, confidence)
        if interval is not None:
            out[label] = {"low": interval[0], "high": interval[1], "confidence": confidence}
    return out


def _empty_encoding() -> Counters:
    return {"encoded": 0, "cache_hits": 0}


def _add_encoding(total: Counters, encoding: Mapping[str, float]) -> None:
    for key, value in encoding.items():
        total[key] = total.get(key, 0) + value


def group_by_spec(payloads: Sequence[OutcomePayload]) -> list[SpecRecord]:
    """Item payloads (from any worker) → one record per spec: summary, checks, error, encoding."""
    specs: dict[str, SpecRecord] = {}
    encoding_seen: set[tuple[str, str]] = set()
    for payload in payloads:
        record = specs.setdefault(
            payload["spec"],
            {"id": payload["spec"], "summary": None, "checks": [], "error": None, "encoding": _empty_encoding()},
        )
        summary = payload.get("summary")
        if summary is not None:
            if record["summary"] is None:
                record["summary"] = summary
            if (payload["spec"], payload["worker"]) not in encoding_seen:
                encoding_seen.add((payload["spec"], payload["worker"]))
                _add_encoding(record["encoding"], summary["encoding"])
        error = payload.get("error")
        if error and record["error"] is None:
            record["error"] = error
        check = cast(RecordCheck, {**payload["check"], "item": payload["item"], "outcome": payload["outcome"]})
        record["checks"].append(check)
    return list(specs.values())


@dataclass(frozen=True)
class JudgedCheck:
    """A verdict as one test item reports it: the item id and its outcome (passed, failed, xfailed…)."""

    item: str
    verdict: Verdict
    outcome: str


def spec_record(spec_id: str, summary: SpecSummary | None, checks: Sequence[JudgedCheck] = (),
                error: str | None = None) -> SpecRecord:
    """One spec's record, in :func:`group_by_spec`'s shape, from results judged in this process (the
    ``mrlcheck`` command's way in: its summary from :func:`summarize`, its verdicts, no item payloads)."""
    encoding = _empty_encoding()
    if summary is not None:
        _add_encoding(encoding, summary["encoding"])
    judged = [cast(RecordCheck, {**verdict_payload(check.verdict), "item": check.item, "outcome": check.outcome})
              for check in checks]
    return {"id": spec_id, "summary": None if summary is None else summary.copy(), "error": error,
            "encoding": encoding, "checks": judged}
