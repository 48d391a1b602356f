"""Index views in the reports: one table of every (index, size), and rows for the cost and precision tables.

Everything reads the JSON ``index`` part of a spec (a list of :meth:`IndexResult.to_dict`), so a
report rendered from a saved JSON looks the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..views import View
from .payload import CheckData, ReportSpec, SpecData, SpecRecord, evaluated
from .units import human_bytes

COLUMNS = ("view", "metric", "exact", "recall vs exact", "overlap full", "build", "query/q", "memory")


def _seconds(value: float | None, cached: bool) -> str:
    if value is None:
        return "cached"
    text = f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"
    return f"{text} (cached)" if cached else text


def _per_query(value: float) -> str:
    return f"{value * 1e6:.0f} µs" if value < 1e-3 else f"{value * 1000:.2f} ms"



def _failing(checks: Sequence[CheckData]) -> set[str]:
    return {row["view"] for check in checks if check.get("kind") == "index" and check.get("outcome") == "failed"
            for row in check.get("rows") or [] if not row["ok"]}


def index_rows(summary: SpecData, checks: Sequence[CheckData] = ()) -> list[tuple[list[str], bool]]:
    """Cells of the index table (see :data:`COLUMNS`) and whether a check failed on the row."""
    failing = _failing(checks)
    rows = []
    for entry in summary.get("index") or []:
        rows.append(([entry["view"], f"{entry['metric']:.4f}", f"{entry['exact_metric']:.4f}",
                      f"{entry['recall_vs_exact']:.3f}", f"{entry['overlap_full']:.1%}",
                      _seconds(entry["build_seconds"], entry["cached"]), _per_query(entry["query_seconds"]),
                      human_bytes(entry["memory_bytes"])], entry["view"] in failing))
    return rows


def build_index_table(record: SpecRecord) -> Any:
    """Terminal: every index view with the task metric, recall against exact search, costs."""
    from rich.table import Table
    from rich.text import Text

    summary = evaluated(record)
    table = Table(title=Text(f"{summary['name']} · index views ({summary['metric']} through the index; exact: "
                             "exhaustive search at the same size and precision)", style="bold"),
                  title_justify="left", caption=Text(f"{_vectors(summary)} vectors per index; memory: the "
                                                     "serialized index; query time per query"),
                  caption_justify="left")
    for header in COLUMNS:
        table.add_column(header, justify="left" if header == "view" else "right", no_wrap=header == "view")
    for cells, bad in index_rows(summary, record["checks"]):
        style = "bold red" if bad else ""
        table.add_row(*[Text(cell + (" FAIL" if bad and i == 0 else ""), style=style) for i, cell in enumerate(cells)])
    return table


def _vectors(summary: SpecData) -> str:
    entries = summary.get("index") or []
    return f"{entries[0]['vectors']:,}" if entries else "0"


def index_markdown(spec: ReportSpec, code: Callable[..., str]) -> list[str]:
    """Markdown: the index table, failing rows with ❌."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    for cells, bad in index_rows(spec, spec.get("checks", [])):
        first = f"❌ **{code(cells[0], in_table=True)}**" if bad else code(cells[0], in_table=True)
        lines.append(f"| {first} | " + " | ".join(cells[1:]) + " |")
    return lines


def cost_rows(summary: SpecData) -> list[tuple[str, str, str]]:
    """For the cost table: each index view's memory (serialized) and query time per query."""
    return [(entry["view"], human_bytes(entry["memory_bytes"]), _per_query(entry["query_seconds"]))
            for entry in summary.get("index") or []]


def grid_rows(summary: SpecData, precisions: Sequence[str]) -> list[tuple[str, list[tuple[str, bool]]]]:
    """Rows for the precision grid: ``prefix[k]#kind`` with its metric in its precision's column."""
    full = summary.get("full_score") or 0.0
    rows: dict[str, list[tuple[str, bool]]] = {}
    for entry in summary.get("index") or []:
        name = View("prefix", 0, int(entry["dims"]), index=str(entry["kind"])).label  # its precision is the column
        cells = rows.setdefault(name, [("", False)] * len(precisions))
        column = "binary" if entry["kind"] == "binary_flat" else entry["precision"]
        if column in precisions:
            value = entry["metric"]
            cells[list(precisions).index(column)] = (f"{value:.4f} ({value / full:.1%})" if full else f"{value:.4f}",
                                                      False)
    return list(rows.items())


_MARKERS = {"hnsw": "^", "ivf_flat": "s", "ivf_pq": "D", "binary_flat": "v"}


def mark_index_points(ax: Any, summary: SpecData) -> bool:
    """On the score-vs-bytes plot: each index view at its memory per vector (graph and lists included)."""
    entries = [e for e in summary.get("index") or [] if e.get("vectors")]
    for kind, precision in dict.fromkeys((e["kind"], e["precision"]) for e in entries):
        points = sorted((e["memory_bytes"] / e["vectors"], e["metric"]) for e in entries
                        if (e["kind"], e["precision"]) == (kind, precision))
        at = "" if precision == "float32" else f"@{precision}"
        ax.plot([x for x, _ in points], [y for _, y in points], marker=_MARKERS.get(kind, "x"), markersize=6,
                linestyle="none", markerfacecolor="none" if not at else "#999999", color="#555555",
                label=f"{at}#{kind} (index memory)")
    return bool(entries)
