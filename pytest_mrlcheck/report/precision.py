"""The precision grid (sizes × precisions) and the bytes-vs-quality frontier, as data and as tables.

The JSON part (:func:`precision_summary`) is built from a result; the tables read only that plain
data and the checks' rows, so a report from another machine renders the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..engine.results import SpecResult
from ..precision_eval import DEFAULT_CALIBRATION, cheapest_keeping, cost_points, pareto_frontier
from ..views import View
from .payload import CheckData, ConfigurationPayload, PrecisionPayload, ReportSpec, SpecRecord, evaluated

DEFAULT_RATIO = 0.97
OPTIMISTIC_NOTE = ("int8/uint8 ranges were calibrated on the evaluation texts themselves (optimistic); "
                   "set views.calibration for honest numbers")


def precision_summary(result: SpecResult) -> PrecisionPayload:
    """``precision`` in the JSON: the grid, the frontier, the cheapest configuration keeping the ratio."""
    plan, full = result.plan, result.full_score
    cheap = result.spec.checks.cheapest
    ratio = cheap.ratio if cheap else DEFAULT_RATIO
    points = cost_points(result.scores, plan.prefixes, plan.precisions)

    def entry(point: tuple[View, int, float]) -> ConfigurationPayload:
        view, size, score = point
        return {"view": view.label, "dims": view.dims, "precision": view.precision, "bytes_per_vector": size,
                "score": score, "share_of_full": score / full if full else None}

    found = cheapest_keeping(points, ratio * full)
    return {
        "precisions": list(plan.precisions),
        "sizes": list(plan.prefixes),
        "grid": {str(k): {p: result.scores.get(View.prefix(k, p).label) for p in plan.precisions}
                 for k in plan.prefixes},
        "configurations": [entry(p) for p in sorted(points, key=lambda p: (p[1], -p[2]))],
        "frontier": [entry(p) for p in pareto_frontier(points)],
        "ratio": ratio,
        "cheapest": None if found is None else entry(found),
        "calibration": result.calibration or None,
        "note": OPTIMISTIC_NOTE if result.calibration == DEFAULT_CALIBRATION else None,
    }


def failing_views(checks: Sequence[CheckData]) -> set[str]:
    """Views a failed check's rows mark as missing their bound."""
    return {row["view"] for check in checks if check.get("outcome") == "failed"
            for row in check.get("rows") or [] if not row["ok"]}


def grid_cells(precision: PrecisionPayload, full: float,
               failing: set[str]) -> list[tuple[str, list[tuple[str, bool]]]]:
    """Rows of the grid: ``(view of the size, [(cell text, failed)] per precision)``."""
    rows = []
    for size, cells in precision["grid"].items():
        out = []
        for name in precision["precisions"]:
            value = cells.get(name)
            label = View.prefix(int(size), name).label
            text = "" if value is None else f"{value:.4f} ({value / full:.1%})" if full else f"{value:.4f}"
            out.append((text, label in failing))
        rows.append((View.prefix(int(size)).label, out))
    return rows


def build_grid_table(record: SpecRecord) -> Any:
    """Terminal: sizes as rows, precisions as columns, score and share of full; failures in red."""
    from rich.table import Table
    from rich.text import Text

    summary = evaluated(record)
    precision = summary["precision"]
    table = Table(title=Text(f"{summary['name']} · score by size and precision (share of full float32)",
                             style="bold"), title_justify="left", caption=precision.get("note") or None,
                  caption_justify="left")
    table.add_column("size")
    for name in precision["precisions"]:
        table.add_column(name, justify="right")
    from .index import grid_rows

    for view, cells in [*grid_cells(precision, summary["full_score"], failing_views(record["checks"])),
                        *grid_rows(summary, precision["precisions"])]:
        table.add_row(view, *[Text(text + (" FAIL" if bad else ""), style="bold red" if bad else "")
                              for text, bad in cells])
    return table


def build_frontier_table(record: SpecRecord) -> Any:
    """Terminal: every configuration by bytes per vector, with its score; frontier and cheapest marked."""
    from rich.table import Table
    from rich.text import Text

    summary = evaluated(record)
    precision = summary["precision"]
    frontier = {entry["view"] for entry in precision["frontier"]}
    cheapest = _cheapest_view(precision)
    table = Table(title=Text(f"{summary['name']} · bytes per vector vs score (cheapest keeping "
                             f"{precision['ratio']:.0%} of full marked)", style="bold"), title_justify="left")
    for header in ("configuration", "bytes/vector", "score", "of full", "frontier"):
        table.add_column(header, justify="left" if header == "configuration" else "right")
    for entry in frontier_rows(precision):
        mark = "cheapest ★" if entry["view"] == cheapest else "✓" if entry["view"] in frontier else ""
        share = entry["share_of_full"]
        table.add_row(Text(entry["view"], style="bold green" if entry["view"] == cheapest else ""),
                      str(entry["bytes_per_vector"]), f"{entry['score']:.4f}",
                      "" if share is None else f"{share:.1%}", mark)
    return table


def _cheapest_view(precision: PrecisionPayload) -> str | None:
    cheapest = precision.get("cheapest")
    return cheapest["view"] if cheapest else None


def frontier_rows(precision: PrecisionPayload) -> list[ConfigurationPayload]:
    """The frontier configurations (and the cheapest) in bytes order: what the cost table lists."""
    rows = {entry["view"]: entry for entry in precision["frontier"]}
    cheapest = precision.get("cheapest")
    if cheapest:
        rows.setdefault(cheapest["view"], cheapest)
    return sorted(rows.values(), key=lambda e: (e["bytes_per_vector"], -e["score"]))


def grid_markdown(spec: ReportSpec, escape: Callable[[str], str], code: Callable[..., str]) -> list[str]:
    """Markdown: the grid and the frontier, failures in bold with ❌."""
    precision = spec["precision"]
    full = spec["full_score"]
    failing = failing_views(spec.get("checks", []))
    lines = ["| size | " + " | ".join(precision["precisions"]) + " |",
             "|---|" + "---:|" * len(precision["precisions"])]
    from .index import grid_rows

    for view, cells in [*grid_cells(precision, full, failing), *grid_rows(spec, precision["precisions"])]:
        shown = [f"❌ **{text}**" if bad else text for text, bad in cells]
        lines.append(f"| {code(view, in_table=True)} | " + " | ".join(shown) + " |")
    cheapest = _cheapest_view(precision)
    lines += ["", f"Bytes per vector vs score (★: the cheapest keeping {precision['ratio']:.0%} of full):", "",
              "| configuration | bytes/vector | score | of full |", "|---|---:|---:|---:|"]
    for entry in frontier_rows(precision):
        share = entry["share_of_full"]
        star = " ★" if entry["view"] == cheapest else ""
        lines.append(f"| {code(entry['view'], in_table=True)}{star} | {entry['bytes_per_vector']} | "
                     f"{entry['score']:.4f} | {'' if share is None else f'{share:.1%}'} |")
    note = precision.get("note")
    if note:
        lines += ["", f"*{escape(note)}*"]
    return lines
