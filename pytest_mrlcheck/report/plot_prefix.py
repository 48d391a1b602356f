"""The first panel: score vs truncation size, with everything the checks measured at a size.

Prefix scores (and the finer sweep) with bootstrap intervals, random-subset bands, the other
splits, the full score, baseline or compare references with their Δ, the checks' minimums, the
best ``k`` informed dimensions, the funnel result and the size ``min_dims`` found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..views import prefix_label, random_label
from .payload import ReportSpec
from .plot_data import checks_of, evaluated_split, informed_point, interval, mapping, number, references, split_maps
from .plot_parts import (
    FULL,
    FUNNEL,
    INFORMED,
    LINE,
    SIZE_LABEL,
    check_bounds,
    label_axes,
    legend_below,
    log2_size_axis,
    outcome_colour,
    point,
    random_bands,
    reference_curve,
    series,
    split_colours,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Bar = tuple[int, tuple[float, float, float]]  # size, (low, high, confidence)


def prefix_panel(ax: Axes, spec: ReportSpec, legend_columns: int) -> int:
    """Draw the panel; returns the legend's rows."""
    scores: Mapping[str, Any] = spec["scores"]
    layout = mapping(spec.get("layout"))
    full_dim, full = int(spec["full_dim"]), float(spec["full_score"])
    prefixes = sorted(int(k) for k in layout.get("prefixes", []) if number(scores.get(prefix_label(int(k)))))
    curve = {int(k): float(v) for k, v in mapping(spec.get("sweep")).items() if number(v)}
    curve.update({k: float(scores[prefix_label(k)]) for k in prefixes})
    xs = sorted(curve)
    randoms = sorted(((int(k), stats) for k in layout.get("random", [])
                      if isinstance(stats := scores.get(random_label(int(k))), Mapping) and number(stats.get("mean"))),
                     key=lambda item: item[0])
    if randoms:
        random_bands(ax, randoms)
    _prefix_curves(ax, spec, curve, xs, prefixes)
    bars = _interval_bars(ax, spec, curve, prefixes)
    ax.axhline(full, color=FULL, linestyle="--", linewidth=1, label=f"full {full_dim} dims: {full:.4f}", zorder=2)
    extra_ticks: set[int] = set()
    for index, (label, found) in enumerate(references(spec)):
        extra_ticks.update(theirs for _, theirs, _, _, _ in found)
        reference_curve(ax, label, found, index, {k for k, _ in bars})
    check_bounds(ax, spec, curve)
    extra_ticks.update(_informed_star(ax, spec, curve))
    extra_ticks.update(_funnel_diamond(ax, spec))
    _min_dims_line(ax, spec)
    ticks = sorted({*prefixes, *(k for k, _ in randoms), *extra_ticks, *xs[:1], *xs[-1:]}) or xs
    log2_size_axis(ax, ticks, [*xs, *ticks])
    ax.margins(y=0.08)
    label_axes(ax, SIZE_LABEL, f"{spec.get('metric', 'score')}", "score vs truncation size")
    return legend_below(ax, legend_columns)


def _prefix_curves(ax: Axes, spec: ReportSpec, curve: Mapping[int, float], xs: list[int], prefixes: list[int]) -> None:
    """The evaluated split's curve (dots at the prefix sizes), then one thinner curve per other split."""
    evaluated = evaluated_split(spec)
    main_label = "prefix score" + (f" on {evaluated}" if evaluated is not None and split_maps(spec) else "")
    if xs:
        series(ax, [(k, curve[k]) for k in xs], color=LINE, linewidth=1.6, label=main_label, zorder=3)
    if prefixes:
        series(ax, [(k, curve[k]) for k in prefixes], linestyle="none", marker="o", markersize=4.5, color=LINE,
               zorder=4)
    colours = split_colours(spec)
    for split, values in split_maps(spec).items():
        if split == evaluated:
            continue  # the main curve
        points = sorted((k, float(v)) for k in prefixes if number(v := values.get(prefix_label(k))))
        if points:
            series(ax, points, color=colours[split], linewidth=1, alpha=0.85, marker=".", markersize=5,
                   label=f"prefix score on {split}", zorder=2.5)


def _interval_bars(ax: Axes, spec: ReportSpec, curve: Mapping[int, float], prefixes: list[int]) -> list[Bar]:
    """Bootstrap intervals of the prefix scores as error bars; returns the sizes that have one."""
    bars = [(k, found) for k in prefixes if (found := interval(spec, prefix_label(k))) is not None]
    if bars:
        spread = [[max(0.0, curve[k] - low) for k, (low, _, _) in bars],
                  [max(0.0, high - curve[k]) for k, (_, high, _) in bars]]
        ax.errorbar([k for k, _ in bars], [curve[k] for k, _ in bars], yerr=spread, fmt="none", ecolor=LINE,
                    elinewidth=1.1, capsize=3.5, alpha=0.7, label=f"{bars[0][1][2]:.0%} bootstrap interval",
                    zorder=3.5)
    return bars


def _informed_star(ax: Axes, spec: ReportSpec, curve: Mapping[int, float]) -> set[int]:
    """The best ``k`` informed dimensions as a star, joined to the prefix score at ``k``."""
    informed = informed_point(spec)
    if informed is None:
        return set()
    k, value, chosen_on = informed
    chosen = f" (chosen on {chosen_on})" if chosen_on else ""
    point(ax, k, value, marker="*", markersize=13, color=INFORMED, markeredgecolor="white", markeredgewidth=0.6,
          label=f"best {k} dims{chosen}: {value:.4f}", zorder=6)
    if k in curve:
        ax.vlines(k, min(value, curve[k]), max(value, curve[k]), colors=INFORMED, linestyles=":", linewidth=1)
    return {k}


def _funnel_diamond(ax: Axes, spec: ReportSpec) -> set[int]:
    """The funnel's score at its shortlist size."""
    funnel = mapping(spec.get("funnel"))
    if not (number(funnel.get("score")) and number(funnel.get("shortlist_dims"))):
        return set()
    k, value = int(funnel["shortlist_dims"]), float(funnel["score"])
    how = f"top {int(funnel['shortlist'])} by {k} dims" if number(funnel.get("shortlist")) else f"{k} dims"
    rerank = f", reranked by {int(funnel['rerank_dims'])}" if number(funnel.get("rerank_dims")) else ""
    point(ax, k, value, marker="D", markersize=6.5, markerfacecolor="white", markeredgewidth=1.6, color=FUNNEL,
          label=f"funnel: {how}{rerank}: {value:.4f}", zorder=6)
    return {k}


def _min_dims_line(ax: Axes, spec: ReportSpec) -> None:
    """The smallest size ``min_dims`` found keeping its ratio (and its limit)."""
    min_dims = next((c for c in checks_of(spec) if c.get("kind") == "min_dims"), None)
    if min_dims is None or not number(min_dims.get("value")):
        return
    reached = float(min_dims["value"])
    limit = f" (limit {float(min_dims['bound']):g})" if number(min_dims.get("bound")) else ""
    ax.axvline(reached, color=outcome_colour(str(min_dims.get("outcome", ""))), linestyle=":", linewidth=1.3,
               label=f"min_dims: {reached:g} dims suffice{limit}", zorder=1)
