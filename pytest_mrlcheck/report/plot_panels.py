"""The panels after the first: sliding windows, embedding geometry, and score vs bytes per vector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..views import window_label
from .payload import ReportSpec
from .plot_data import (
    Window,
    checks_of,
    evaluated_split,
    geometry_bounds,
    geometry_by_size,
    interval,
    layout_windows,
    limits,
    mapping,
    number,
    split_maps,
    window_baseline,
    windows_of,
)
from .plot_parts import (
    FAIL,
    FULL,
    LINE,
    NOTE_SIZE,
    OUTLIER,
    PASS,
    REFERENCE,
    SIZE_LABEL,
    bound_mark,
    label_axes,
    legend_below,
    legend_entry,
    log2_size_axis,
    outcome_colour,
    point,
    series,
    split_colours,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_GEOMETRY_COLOURS = {"isoscore": LINE, "mean_abs_correlation": "#b8860b", "effective_rank": "#138d90"}
_GEOMETRY_BOUNDED = ("isoscore", "mean_abs_correlation", "effective_rank", "uniformity")
# metric, legend label, divided by k, line style: the metrics on the left (0–1) axis
_GEOMETRY_LEFT = (
    ("isoscore", "IsoScore (higher = more isotropic)", False, "-"),
    ("mean_abs_correlation", "mean |corr| between dims (lower = less redundant)", False, "-"),
    ("effective_rank", "effective rank / k (higher = dims used)", True, "--"),
)
_UNIFORMITY_STYLE: dict[str, str | float] = {"color": REFERENCE, "linestyle": "-.", "marker": "s", "markersize": 4,
                                     "linewidth": 1.4}
_PRECISION_COLOURS = {"float32": LINE, "float16": "#138d90", "int8": "#b8860b", "uint8": "#a0522d",
                      "binary": "#8e44ad", "ubinary": "#6b7b8c"}


def _centre(s: int, e: int) -> float:
    return (s + e) / 2


def window_panel(ax: Axes, spec: ReportSpec, legend_columns: int) -> int:
    """Window scores at their centres (one curve per width), the other splits, the segments minimum."""
    full = float(spec["full_score"])
    windows = layout_windows(spec)
    by_width = windows_of(spec["scores"], windows)
    splits = {name: values for name, values in split_maps(spec).items() if windows_of(values, windows)}
    evaluated = evaluated_split(spec)
    several_widths = len(by_width) > 1
    segments = next((c for c in checks_of(spec) if c.get("kind") == "segments"), None)
    judged = {(view.start, view.end): limit for view, limit, _ in limits(segments or {}) if view.kind == "window"}
    baseline = window_baseline(spec)
    for width, found in sorted(by_width.items()):
        if splits:
            label = f"{evaluated} (evaluated)" if evaluated is not None else "evaluated split"
            label += f" · windows of {width} dims" if several_widths else ""
        else:
            label = f"windows of {width} dims (at their centre)"
        series(ax, [(_centre(s, e), v) for s, e, v in found], color=LINE if len(by_width) == 1 or splits else None,
               marker="o", markersize=3.5, linewidth=1.6, label=label, zorder=3)
        _window_extras(ax, spec, found, baseline, judged)
    colours = split_colours(spec)
    for split, split_scores in splits.items():  # below the evaluated map (zorder), after it in the legend
        if split == evaluated:
            continue
        for width, found in sorted(windows_of(split_scores, windows).items()):
            series(ax, [(_centre(s, e), v) for s, e, v in found], color=colours[split], marker="o", markersize=2.8,
                   linewidth=1.2, alpha=0.9, label=f"{split}" + (f" · windows of {width} dims" if several_widths
                                                                 else ""), zorder=2.5)
    if judged and segments is not None:
        seg_min = min(judged.values())
        ax.axhline(seg_min, color=outcome_colour(str(segments.get("outcome", ""))), linestyle="-.", linewidth=1.3,
                   label=f"segments minimum {seg_min:.4f}", zorder=2)
    ax.axhline(full, color=FULL, linestyle="--", linewidth=1, label=f"full score {full:.4f}", zorder=2)
    ax.set_xlim(0, float(spec["full_dim"]))
    ax.margins(y=0.15)
    label_axes(ax, "window centre (dimension index)", f"{spec.get('metric', 'score')}",
               "sliding windows" + (" per data split" if splits else ""))
    correlations = [f"{pair} r = {float(r):.2f}" for pair, r in mapping(spec.get("split_correlations")).items()
                    if number(r)]
    title = "correlation of the window maps: " + ", ".join(correlations) if correlations and splits else None
    return legend_below(ax, legend_columns, title)


def _window_extras(ax: Axes, spec: ReportSpec, found: list[Window], baseline: Mapping[tuple[int, int], float],
                   judged: Mapping[tuple[int, int], float]) -> None:
    """Around one width's curve: its interval band, the recorded baseline, windows below the minimum, the lowest."""
    band = [(_centre(s, e), iv) for s, e, _ in found if (iv := interval(spec, window_label(s, e)))]
    if len(band) > 1:
        ax.fill_between([c for c, _ in band], [low for _, (low, _, _) in band], [high for _, (_, high, _) in band],
                        color=LINE, alpha=0.12, linewidth=0, label=f"{band[0][1][2]:.0%} bootstrap interval", zorder=1)
    recorded = [(_centre(s, e), baseline[(s, e)]) for s, e, _ in found if (s, e) in baseline]
    if len(recorded) > 1:
        series(ax, recorded, color=REFERENCE, linestyle="--", linewidth=1.2, label="baseline (recorded)", zorder=2.8)
    if judged:
        bad = [(_centre(s, e), v) for s, e, v in found if (s, e) in judged and v < judged[(s, e)]]
        if bad:
            series(ax, bad, linestyle="none", marker="o", markersize=7, markerfacecolor="none", markeredgecolor=FAIL,
                   markeredgewidth=1.5, label=f"{len(bad)} below the minimum", zorder=4)
    worst = min(found, key=lambda w: w[2])
    where = _centre(worst[0], worst[1]) / float(spec["full_dim"])  # keep the text inside the axes
    ax.annotate(f"lowest [{worst[0]}:{worst[1]}] {worst[2]:.4f}", xy=(_centre(worst[0], worst[1]), worst[2]),
                xytext=(0, -14), textcoords="offset points",
                ha="right" if where > 0.8 else "left" if where < 0.2 else "center", va="top", fontsize=NOTE_SIZE,
                color=FULL)


def geometry_panel(ax: Axes, spec: ReportSpec, legend_columns: int) -> int:
    """Geometry metrics by prefix size, their bounds, the uniformity loss on a right axis, outlier dims."""
    geometry = geometry_by_size(spec)
    sizes = list(geometry)
    bounds = geometry_bounds(spec)
    drawn = 0
    for metric, label, scale, style in _GEOMETRY_LEFT:
        points = _metric(geometry, metric, scale)
        if not points:
            continue
        drawn += 1
        series(ax, points, color=_GEOMETRY_COLOURS[metric], linestyle=style, marker="o", markersize=4, linewidth=1.5,
               label=label, zorder=3)
        for k, bound, met in bounds.get(metric, []):
            bound_mark(ax, k, bound / k if scale else bound, met, zorder=5)
    uniformity = _metric(geometry, "uniformity")
    if uniformity:
        drawn += 1
        _uniformity_axis(ax, uniformity, bounds.get("uniformity", []))
    plotted_bounds = [met for m in _GEOMETRY_BOUNDED for _, _, met in bounds.get(m, [])]
    for met in (True, False):
        if met in plotted_bounds:
            legend_entry(ax, f"bound ({'met' if met else 'missed'})", linestyle="none", marker="_", markersize=12,
                         markeredgewidth=2.6, color=PASS if met else FAIL)
    _outlier_marks(ax, geometry, {k for k, _, met in bounds.get("outliers", []) if not met})
    if not drawn:
        ax.text(0.5, 0.5, "no geometry metric is defined at these sizes", transform=ax.transAxes, ha="center",
                va="center", fontsize=9, color=FULL)
    ax.set_ylim(0, 1.18)
    if sizes:
        log2_size_axis(ax, sizes, sizes)
    label_axes(ax, SIZE_LABEL, "IsoScore · mean |corr| · effective rank / k  (0–1)",
               "embedding geometry by prefix size")
    return legend_below(ax, min(legend_columns, 2))


def _metric(geometry: Mapping[int, Mapping[str, Any]], metric: str, scale: bool = False) -> list[tuple[int, float]]:
    """(k, value) of one metric at every size where it is defined; divided by k when ``scale``."""
    found = [(k, values.get(metric)) for k, values in geometry.items()]
    return [(k, float(v) / k if scale else float(v)) for k, v in found if number(v)]


def _uniformity_axis(ax: Axes, points: list[tuple[int, float]], bounds: list[tuple[int, float, bool]]) -> None:
    """The uniformity loss on its own right axis, its legend entry in the left axes' legend."""
    right = ax.twinx()
    series(right, points, zorder=3, **_UNIFORMITY_STYLE)
    legend_entry(ax, "uniformity loss, right axis (lower = more uniform)", **_UNIFORMITY_STYLE)
    for k, bound, met in bounds:
        bound_mark(right, k, bound, met, zorder=5)
    right.margins(y=0.25)
    right.set_ylabel("uniformity loss: log mean exp(−2‖x−y‖²)", color=REFERENCE)
    right.tick_params(axis="y", colors=REFERENCE)
    ax.set_zorder(right.get_zorder() + 1)  # the left axes' lines and bound marks on top …
    ax.patch.set_visible(False)  # … without hiding the right axes behind its background


def _outlier_marks(ax: Axes, geometry: Mapping[int, Mapping[str, Any]], failing_sizes: set[int]) -> None:
    """A triangle at the top of each size with outlier dimensions, the dims written where they change."""
    sizes = list(geometry)
    previous: list[int] = []
    labelled: set[bool] = set()
    for k, values in geometry.items():
        dims = [int(d) for d in values.get("outliers") or [] if number(d)]
        if not dims:
            previous = []
            continue
        failing = k in failing_sizes
        colour = FAIL if failing else OUTLIER
        label = "outlier dims over the check's limit" if failing else "outlier dims (magnitude > 3σ)"
        point(ax, k, 0.97, transform=ax.get_xaxis_transform(), marker="v", markersize=7, color=colour,
              label=None if failing in labelled else label, clip_on=False, zorder=6)
        labelled.add(failing)
        if dims != previous:
            shown = ", ".join(str(d) for d in dims[:3]) + (f" +{len(dims) - 3}" if len(dims) > 3 else "")
            ha = "right" if k == sizes[-1] and len(sizes) > 1 else "left" if k == sizes[0] else "center"
            ax.annotate(f"{'dim' if len(dims) == 1 else 'dims'} {shown}", xy=(k, 0.97),
                        xycoords=ax.get_xaxis_transform(), xytext=(0, -9), textcoords="offset points", ha=ha,
                        va="top", fontsize=NOTE_SIZE, color=colour, zorder=6)
        previous = dims


def precision_panel(ax: Axes, spec: ReportSpec, legend_columns: int) -> int:
    """Score vs bytes per vector (log scale), one curve per precision, the Pareto frontier and the cheapest."""
    precision = mapping(spec.get("precision"))
    configurations = [c for c in precision.get("configurations", []) if mapping(c) and number(c.get("score"))]
    full = float(spec["full_score"])
    for name in precision.get("precisions", []):
        points = sorted((int(c["bytes_per_vector"]), float(c["score"])) for c in configurations
                        if c.get("precision") == name)
        if points:
            series(ax, points, marker="o", markersize=3.5, linewidth=1.4, color=_PRECISION_COLOURS.get(str(name), FULL),
                   label=str(name))
    frontier = sorted((int(c["bytes_per_vector"]), float(c["score"])) for c in precision.get("frontier", [])
                      if mapping(c) and number(c.get("score")))
    if frontier:
        ax.step([x for x, _ in frontier], [y for _, y in frontier], where="post", color=FULL, linewidth=1.0,
                linestyle=":", label="Pareto frontier")
    ratio = precision.get("ratio")
    if number(ratio) and configurations:
        ax.axhline(float(ratio) * full, color=FAIL, linewidth=0.9, linestyle="--",
                   label=f"{float(ratio):.0%} of full float32")
    cheapest = mapping(precision.get("cheapest"))
    if cheapest and number(cheapest.get("score")):
        point(ax, int(cheapest["bytes_per_vector"]), float(cheapest["score"]), marker="*", markersize=13, color=PASS,
              label=f"cheapest: {cheapest.get('view')}", zorder=5)
    from .index import mark_index_points

    if mark_index_points(ax, spec) or configurations:
        ax.set_xscale("log", base=2)
    label_axes(ax, "bytes per vector (log scale)", str(spec.get("metric", "score")), "score vs storage, per precision")
    return legend_below(ax, legend_columns)
