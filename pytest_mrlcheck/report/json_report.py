"""``--mrlcheck-json PATH``: a stable, machine-readable record of every spec's scores and checks."""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from .. import __version__, atomic
from .payload import Counters, OutcomePayload, RecordCheck, Report, ReportCheck, ReportSpec, SpecRecord
from .summary import group_by_spec

SCHEMA = "pytest-mrlcheck/report/1"


def build_report(payloads: Sequence[OutcomePayload]) -> Report:
    """The report of a pytest run, from the item payloads of every worker."""
    return report_from_records(group_by_spec(payloads))


def _report_check(check: RecordCheck) -> ReportCheck:
    """Every key of a report check, in the schema's order; null when the item has no verdict."""
    return {"item": check.get("item"), "name": check.get("name"), "kind": check.get("kind"),
            "outcome": check.get("outcome"), "value": check.get("value"), "bound": check.get("bound"),
            "summary": check.get("summary"), "rows": check.get("rows")}


def report_from_records(records: Sequence[SpecRecord]) -> Report:
    """The report of per-spec records (:func:`group_by_spec`, or :func:`~.summary.spec_record` for
    results judged in this process, as ``mrlcheck scan`` has them)."""
    specs: list[ReportSpec] = []
    outcomes: Counter[str] = Counter()
    encoded: float = 0
    hits: float = 0
    for record in records:
        checks = [_report_check(check) for check in record["checks"]]
        outcomes.update(check["outcome"] for check in record["checks"])
        encoded += record["encoding"]["encoded"]
        hits += record["encoding"]["cache_hits"]
        head: dict[str, object] = {**record["summary"]} if record["summary"] is not None else {"id": record["id"]}
        spec = {**head, "encoding": record["encoding"], "checks": checks, "error": record["error"]}
        spec.pop("seconds", None)  # the summary's time spent, not part of the report
        specs.append(cast(ReportSpec, spec))
    totals: Counters = {"specs": len(specs), "checks": sum(outcomes.values()), **dict(sorted(outcomes.items())),
                        "encoded": encoded, "cache_hits": hits}
    return {
        "schema": SCHEMA,
        "plugin_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "specs": specs,
        "totals": totals,
    }


def write_json(path: Path, report: Report) -> None:
    """Write atomically: a reader never sees a half-written report."""
    atomic.write_text(path, json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n")
