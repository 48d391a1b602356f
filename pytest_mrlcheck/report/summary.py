"""A spec's result as plain data (JSON-ready), and the grouping of item payloads by spec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.results import SpecResult
from ..views import random_label

if TYPE_CHECKING:
    from ..checks import Verdict


def summarize(spec_id: str, result: SpecResult) -> dict[str, Any]:
    """Everything the reports show of one evaluated spec, in the JSON report's shape."""
    spec = result.spec
    scores: dict[str, Any] = dict(result.scores)
    for k, stats in result.random.items():
        scores[random_label(k)] = stats.to_dict()
    extra: dict[str, Any] = {}
    if result.plan.quantized:
        from .precision import precision_summary

        extra["precision"] = precision_summary(result)
    if result.pca is not None:
        extra["pca"] = result.pca.to_dict()
    if result.index:
        extra["index"] = [found.to_dict() for found in result.index]
    return {
        "id": spec_id,
        "name": spec.name,
        "file": str(spec.path),
        "model": {
            "provider": spec.model.provider,
            "name": spec.model.label,
            "revision": spec.model.revision,
            "normalize": spec.model.normalize,
        },
        "task": {
            "kind": spec.task.kind,
            "data": spec.task.data.source,
            "split": spec.task.data.split,
            "units": result.units,
            "texts": result.texts,
            "dataset_fingerprint": result.dataset_fingerprint,
            **result.details,
        },
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
        "canary": [canary.to_dict() for canary in result.canaries],
        "seconds": dict(result.seconds),
        **extra,
    }


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """NaN (an undefined metric) becomes null so the JSON stays valid."""
    return {key: None if isinstance(value, float) and value != value else value for key, value in values.items()}


def _intervals(result: SpecResult) -> dict[str, dict[str, float]]:
    """Bootstrap intervals of every view that has replicates (at the spec's confidence)."""
    boot = result.spec.bootstrap
    confidence = boot.confidence if boot else 0.95
    out = {}
    for label in result.replicates:
        interval = result.interval(label, confidence)
        if interval is not None:
            out[label] = {"low": interval[0], "high": interval[1], "confidence": confidence}
    return out


def group_by_spec(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Item payloads (from any worker) → one record per spec: summary, checks, error, encoding."""
    specs: dict[str, dict[str, Any]] = {}
    encoding_seen: set[tuple[str, str]] = set()
    for payload in payloads:
        record = specs.setdefault(
            payload["spec"],
            {"id": payload["spec"], "summary": None, "checks": [], "error": None,
             "encoding": {"encoded": 0, "cache_hits": 0}},
        )
        summary = payload.get("summary")
        if summary is not None:
            if record["summary"] is None:
                record["summary"] = summary
            if (payload["spec"], payload["worker"]) not in encoding_seen:
                encoding_seen.add((payload["spec"], payload["worker"]))
                for key, value in summary["encoding"].items():
                    record["encoding"][key] = record["encoding"].get(key, 0) + value
        if payload.get("error") and record["error"] is None:
            record["error"] = payload["error"]
        record["checks"].append({**payload["check"], "item": payload["item"], "outcome": payload["outcome"]})
    return list(specs.values())


@dataclass(frozen=True)
class JudgedCheck:
    """A verdict as one test item reports it: the item id and its outcome (passed, failed, xfailed…)."""

    item: str
    verdict: Verdict
    outcome: str


def spec_record(spec_id: str, summary: Mapping[str, Any] | None, checks: Sequence[JudgedCheck] = (),
                error: str | None = None) -> dict[str, Any]:
    """One spec's record, in :func:`group_by_spec`'s shape, from results judged in this process (the
    ``mrlcheck`` command's way in: its summary from :func:`summarize`, its verdicts, no item payloads)."""
    encoding: dict[str, int] = {"encoded": 0, "cache_hits": 0}
    if summary is not None:
        for key, value in summary["encoding"].items():
            encoding[key] = encoding.get(key, 0) + value
    return {"id": spec_id, "summary": None if summary is None else dict(summary), "error": error,
            "encoding": encoding,
            "checks": [{**check.verdict.to_dict(), "item": check.item, "outcome": check.outcome} for check in checks]}
