"""One PNG per evaluated spec, drawn from the JSON report, with one to three panels side by side:

- score vs truncation size (always): prefix scores with their bootstrap intervals, random-subset
  bands, bounds of the checks, the baseline or compare reference with its Δ, the best ``k``
  informed dimensions and the funnel result;
- the sliding-window map (when the spec has windows), one curve per data split when it has
  ``task.splits``;
- embedding geometry by prefix size (when the spec computed it);
- score vs bytes per vector, one curve per precision, the Pareto frontier and the cheapest
  configuration (when the spec scores precision views).

matplotlib is imported inside :func:`write_plots` only (Agg canvas, no pyplot): importing this
module costs nothing and never touches a display. The panels are drawn by :mod:`.plot_prefix` and
:mod:`.plot_panels` from the pieces in :mod:`.plot_parts`, reading the spec through :mod:`.plot_data`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .payload import Report, ReportSpec
from .plot_data import checks_of, geometry_by_size, has_windows, mapping, number, reference_name
from .plot_panels import geometry_panel, precision_panel, window_panel
from .plot_prefix import prefix_panel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_HEIGHT, _LEGEND_ROWS, _LEGEND_ROW_INCHES = 5.6, 4, 0.16  # inches; legend rows that fit the height
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UNIT_NOUN = {"sts": "pairs", "retrieval": "judged queries", "ranking": "queries"}

Panel = Callable[["Axes", ReportSpec, int], int]  # draws on the axes, returns its legend's rows


def plot_name(spec_id: str) -> str:
    """A file name (without directory) safe on every file system, derived from a spec id."""
    slug = _UNSAFE.sub("_", spec_id).strip("._-")[:80] or "spec"
    return f"{slug}.png"


def _title(spec: ReportSpec, max_chars: int) -> str:
    model = mapping(spec.get("model"))
    task = mapping(spec.get("task"))
    checks = checks_of(spec)
    failed = sum(1 for c in checks if c.get("outcome") == "failed")
    total = len(checks)
    if failed:
        status = f"{failed} of {total} checks failed"
    else:
        status = "the check passed" if total == 1 else f"all {total} checks passed"
    metric = spec.get("metric", "score")
    noun = _UNIT_NOUN.get(str(task.get("kind")), "units")
    versus = next(
        (
            reference_name(spec, c).removeprefix("reference").strip()
            for c in checks
            if c.get("kind") == "compare" and reference_name(spec, c) != "reference"
        ),
        "",
    )
    split = f" ({task['split']})" if task.get("split") is not None else ""
    first = f"{spec.get('name', spec.get('id'))} · {model.get('name', '?')}"
    if versus:
        against = f" vs reference {versus}"
        first += against if len(first) + len(against) <= max_chars else f"\n{against.strip()}"
    return f"{first}\n{task.get('kind', '?')} · {metric} on {task.get('units', '?')} {noun}{split} · {status}"


def spec_figure(spec: ReportSpec) -> Figure:
    """The figure :func:`write_plots` saves for one evaluated spec (an Agg canvas, no pyplot).

    One row of panels: score vs truncation size, then the sliding windows (when the spec has
    windows), then the geometry (when the spec has it), then score vs bytes per precision (when
    it has precision views); 7.5, 13, 18.5 or 24 inches wide.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels: list[Panel] = [prefix_panel]
    if has_windows(spec):
        panels.append(window_panel)
    if geometry_by_size(spec):
        panels.append(geometry_panel)
    if mapping(spec.get("precision")).get("configurations") or spec.get("index"):
        panels.append(precision_panel)
    width = {1: 7.5, 2: 13.0, 3: 18.5}.get(len(panels), 24.0)
    figure = Figure(figsize=(width, _HEIGHT), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    columns = 3 if len(panels) < 3 else 2
    rows = max(draw(ax, spec, columns) for ax, draw in zip(axes, panels, strict=True))
    figure.suptitle(_title(spec, int(width * 11)), fontsize=11)  # about 11 characters an inch
    if rows > _LEGEND_ROWS:  # a taller figure rather than squeezed axes
        figure.set_size_inches(width, _HEIGHT + _LEGEND_ROW_INCHES * (rows - _LEGEND_ROWS))
    return figure


def write_plots(report: Report, directory: Path) -> list[Path]:
    """One PNG per evaluated spec in ``directory`` (created); specs that errored get none.

    Returns the paths written, in the report's spec order. Each PNG is written atomically; a
    folder that cannot hold them raises :class:`~pytest_mrlcheck.errors.FileWriteError`.
    """
    import io

    from .. import atomic
    from ..errors import FileWriteError

    directory = Path(directory)
    problem = atomic.check_target(directory, folder=True)
    if problem is not None:
        raise FileWriteError(directory, problem)
    written: list[Path] = []
    used: set[str] = set()
    for spec in report.get("specs", []):
        if spec.get("error") or not number(spec.get("full_score")) or not isinstance(spec.get("scores"), Mapping):
            continue
        spec_id = str(spec.get("id", "spec"))
        name = plot_name(spec_id)
        if name.lower() in used:  # two ids with the same slug: keep both, told apart by a hash
            name = f"{name[:-4]}-{hashlib.sha1(spec_id.encode()).hexdigest()[:8]}.png"
        used.add(name.lower())
        path = directory / name
        png = io.BytesIO()
        spec_figure(spec).savefig(png, format="png", metadata={"Software": None})
        atomic.write_bytes(path, png.getvalue())
        written.append(path)
    return written
