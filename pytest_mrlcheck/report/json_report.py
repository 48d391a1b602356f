"""``--mrlcheck-json PATH``: a stable, machine-readable record of every spec's scores and checks."""

from __future__ import annotations

import datetime
import json
from collections import Counter
from pathlib import Path
from typing import Any

from .. import __version__, atomic
from .summary import group_by_spec

SCHEMA = "pytest-mrlcheck/report/1"


def build_report(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """The report of a pytest run, from the item payloads of every worker."""
    return report_from_records(group_by_spec(payloads))


def report_from_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The report of per-spec records (:func:`group_by_spec`, or :func:`~.summary.spec_record` for
    results judged in this process, as ``mrlcheck scan`` has them)."""
    specs = []
    outcomes: Counter[str] = Counter()
    encoded = hits = 0
    for record in records:
        summary = record["summary"] or {"id": record["id"]}
        checks = [
            {key: check.get(key) for key in ("item", "name", "kind", "outcome", "value", "bound", "summary", "rows")}
            for check in record["checks"]
        ]
        outcomes.update(check["outcome"] for check in checks)
        encoded += record["encoding"]["encoded"]
        hits += record["encoding"]["cache_hits"]
        spec = {**summary, "encoding": record["encoding"], "checks": checks, "error": record["error"]}
        spec.pop("seconds", None)
        specs.append(spec)
    return {
        "schema": SCHEMA,
        "plugin_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "specs": specs,
        "totals": {"specs": len(specs), "checks": sum(outcomes.values()), **dict(sorted(outcomes.items())),
                   "encoded": encoded, "cache_hits": hits},
    }


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write atomically: a reader never sees a half-written report."""
    atomic.write_text(path, json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n")
