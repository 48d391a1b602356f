"""Prefix vs PCA per size, as terminal and Markdown tables, read from the ``pca`` part of a summary.

The tables read only plain data (the JSON ``pca`` part and the checks' outcomes), so a report from
another machine renders the same. ``gap`` is PCA − prefix: how far the prefix trails the projection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..views import View
from .payload import CheckData, PcaPayload, ReportSpec, SpecData, SpecRecord, evaluated


def pca_rows(summary: SpecData, checks: Sequence[CheckData]) -> list[tuple[str, str, str, str, bool]]:
    """``(size, prefix, pca, gap, failed)`` per size; ``failed`` when its ``pca[k]`` item failed."""
    failed = {check.get("name") for check in checks if check.get("kind") == "pca" and check.get("outcome") == "failed"}
    return [(str(row["dims"]), f"{row['prefix']:.4f}", f"{row['pca']:.4f}", f"{row['gap']:+.4f}",
             View.pca(int(row["dims"])).label in failed) for row in summary["pca"]["sizes"]]


def _caption(pca: PcaPayload) -> list[str]:
    """The fit source (and the optimistic note, when the fit saw the evaluation units), one line each."""
    note = pca.get("note")
    return [f"gap = PCA − prefix; PCA fitted on {pca['source']}, {pca['solver']} solver", *([note] if note else [])]


def build_pca_table(record: SpecRecord) -> Any:
    """Terminal: one row per size with the prefix score, the PCA score and the gap; failures in red."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    summary = evaluated(record)
    table = Table(title=Text(f"{summary['name']} · prefix vs PCA", style="bold"), title_justify="left")
    for header in ("size", "prefix", "PCA", "gap"):
        table.add_column(header, justify="left" if header == "size" else "right")
    for size, prefix, pca, gap, bad in pca_rows(summary, record["checks"]):
        table.add_row(size, prefix, pca, Text(gap + (" FAIL" if bad else ""), style="bold red" if bad else ""))
    return Group(table, *(Text(line) for line in _caption(summary["pca"])))


def pca_markdown(spec: ReportSpec, escape: Callable[[str], str]) -> list[str]:
    """Markdown: the same table, failures in bold with ❌, the fit source and note below."""
    lines = ["| size | prefix | PCA | gap |", "|---|---:|---:|---:|"]
    for size, prefix, pca, gap, bad in pca_rows(spec, spec.get("checks", [])):
        lines.append(f"| {size} | {prefix} | {pca} | {f'❌ **{gap}**' if bad else gap} |")
    return [*lines, "", *(f"*{escape(line)}*  " for line in _caption(spec["pca"]))]
