"""The pieces every plot panel is drawn from: colours, axes setup, markers, bound lines, the legend.

Drawing happens on a matplotlib ``Axes`` handed in; this module imports matplotlib only inside
the functions that need its locators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .payload import ReportSpec
from .plot_data import Reference, checks_of, evaluated_split, limits, number, split_maps

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PASS, FAIL, XFAIL = "#2e7d32", "#c62828", "#ef8f00"
LINE, RANDOM, FULL = "#1f4e9c", "#7b8794", "#444444"
REFERENCE, INFORMED, FUNNEL, OUTLIER = "#8e44ad", "#d81b60", "#5d4037", "#ad1457"
SPLIT_COLOURS = ("#138d90", "#b8860b", "#a0522d", "#6b7b8c", "#2f6f3e")
SIZE_LABEL = "embedding dimensions kept (prefix size, log₂ scale)"
NOTE_SIZE = 7.5  # annotations and legend text


def outcome_colour(outcome: str) -> str:
    return {"failed": FAIL, "xfailed": XFAIL, "xpassed": XFAIL}.get(outcome, PASS)


def split_colours(spec: ReportSpec) -> dict[str, str]:
    """The evaluated split keeps the main colour; the others get their own, the same in every panel."""
    evaluated = evaluated_split(spec)
    others = [name for name in split_maps(spec) if name != evaluated]
    colours = {name: SPLIT_COLOURS[i % len(SPLIT_COLOURS)] for i, name in enumerate(others)}
    if evaluated is not None:
        colours[evaluated] = LINE
    return colours


def point(ax: Axes, x: float, y: float, **style: Any) -> None:
    """One marker, no line (``style``: matplotlib line properties)."""
    ax.plot([x], [y], linestyle="none", **style)


def series(ax: Axes, points: Sequence[tuple[float, float]], **style: Any) -> None:
    """A line through ``(x, y)`` points."""
    ax.plot([x for x, _ in points], [y for _, y in points], **style)


def legend_entry(ax: Axes, label: str, **style: Any) -> None:
    """A legend entry for something drawn elsewhere (another axes) or drawn unlabelled."""
    ax.plot([], [], label=label, **style)


def bound_mark(ax: Axes, x: float, y: float, met: bool, **style: Any) -> None:
    """A bound as a short horizontal bar, green when met and red when missed."""
    point(ax, x, y, marker="_", markersize=16, markeredgewidth=2.6, color=PASS if met else FAIL, **style)


def log2_size_axis(ax: Axes, ticks: list[int], span: list[int]) -> None:
    """A log₂ x axis of sizes with a tick (and its number) at each of ``ticks``, covering ``span``."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log", base=2)
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.set_xticklabels([str(k) for k in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(min(span) / 1.15, max(span) * 1.15)


def label_axes(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    """Axis labels, the panel's title (small, left) and a light grid."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)


def legend_below(ax: Axes, columns: int = 3, title: str | None = None) -> int:
    """Below the axes, so it never hides data, whatever the scores look like. Returns its rows."""
    entries = len(ax.get_legend_handles_labels()[0])
    if not entries:
        return 0
    legend = ax.legend(fontsize=NOTE_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=columns,
                       frameon=False, title=title, title_fontsize=NOTE_SIZE)
    legend.set_zorder(10)
    return -(-entries // columns) + (title is not None)


def random_bands(ax: Axes, randoms: list[tuple[int, Mapping[str, Any]]]) -> None:
    """Random-subset scores per size: min–max and mean ± sd bands (error bars for a single size)."""
    ks = [k for k, _ in randoms]
    mean = [float(s["mean"]) for _, s in randoms]
    sd = [float(s["sd"]) if number(s.get("sd")) else 0.0 for _, s in randoms]
    low = [float(s["min"]) if number(s.get("min")) else m for (_, s), m in zip(randoms, mean, strict=True)]
    high = [float(s["max"]) if number(s.get("max")) else m for (_, s), m in zip(randoms, mean, strict=True)]
    if len(ks) > 1:
        ax.fill_between(ks, low, high, color=RANDOM, alpha=0.13, linewidth=0, label="random subsets: min–max")
        ax.fill_between(ks, [m - s for m, s in zip(mean, sd, strict=True)],
                        [m + s for m, s in zip(mean, sd, strict=True)], color=RANDOM, alpha=0.3, linewidth=0,
                        label="random subsets: mean ± sd")
        ax.plot(ks, mean, color=RANDOM, linewidth=1, linestyle=":", marker=".", label="random subsets: mean")
        return
    spread = [[max(0.0, m - lo) for m, lo in zip(mean, low, strict=True)],
              [max(0.0, hi - m) for m, hi in zip(mean, high, strict=True)]]
    ax.errorbar(ks, mean, yerr=spread, fmt="none", ecolor=RANDOM, alpha=0.5, capsize=4,
                label="random subsets: min–max")
    ax.errorbar(ks, mean, yerr=sd, fmt="o", color=RANDOM, markersize=4, capsize=0, elinewidth=4, alpha=0.8,
                label="random subsets: mean ± sd")


def reference_curve(ax: Axes, label: str, points: list[Reference], index: int, beside: set[int]) -> None:
    """The reference (compare) or recorded (baseline) scores, dashed, with each Δ as a bracket.

    ``beside``: sizes with an interval bar, where the bracket is drawn just right of the bar.
    """
    colour = REFERENCE if index == 0 else RANDOM
    by_theirs = sorted({theirs: then for _, theirs, _, then, _ in points}.items())
    worst = min(points, key=lambda p: p[2] - p[3])
    series(ax, by_theirs, color=colour, linestyle="--", linewidth=1.4, marker="s",
           markersize=4, markerfacecolor="white", label=f"{label} (worst Δ {worst[2] - worst[3]:+.4f})", zorder=3)
    last = max(max(mine, theirs) for mine, theirs, _, _, _ in points)
    for mine, theirs, now, then, ok in points:
        delta = now - then
        shown = not ok or abs(delta) >= 5e-4
        tone = FAIL if not ok else colour
        if mine == theirs:
            if shown:
                x = mine * 1.025 if mine in beside else mine
                ax.vlines(x, min(now, then), max(now, then), colors=tone, linewidth=2.2, alpha=0.55, zorder=2.6)
        else:
            ax.plot([theirs, mine], [then, now], color=tone, linestyle=":", linewidth=1, zorder=2.6)
        if shown:
            inside = mine == last and len(points) > 1  # the last one written inside the axes
            ax.annotate(f"Δ {delta:+.4f}", xy=(mine, (now + then) / 2), xytext=(-7, 0) if inside else (6, 0),
                        textcoords="offset points", ha="right" if inside else "left", va="center",
                        fontsize=NOTE_SIZE, color=tone, fontweight="bold" if not ok else "normal", zorder=7)


def check_bounds(ax: Axes, spec: ReportSpec, curve: Mapping[int, float]) -> None:
    """The minimum of each prefix and relative check at its size; a dotted gap when it was missed."""
    seen: set[str] = set()
    for check in checks_of(spec):
        kind = check.get("kind")
        found = [(view.end, limit) for view, limit, _ in limits(check) if view.kind == "prefix"]
        if kind not in ("prefix", "relative") or not found:
            continue
        ((k, y),) = found
        outcome = str(check.get("outcome", ""))
        failed = outcome in ("failed", "xfailed")
        key = f"{kind}-{'fail' if failed else 'pass'}"
        what = "minimum" if kind == "prefix" else "relative minimum"
        label = f"{what} ({'missed' if failed else 'met'})" if key not in seen else None
        seen.add(key)
        if kind == "prefix":
            point(ax, k, y, marker="_", markersize=18, markeredgewidth=2.8, color=outcome_colour(outcome),
                  label=label, zorder=5)
        else:
            point(ax, k, y, marker="^", markersize=7, markerfacecolor="white", markeredgewidth=1.6,
                  color=outcome_colour(outcome), label=label, zorder=5)
        if failed and k in curve:
            ax.vlines(k, min(y, curve[k]), max(y, curve[k]), colors=FAIL, linestyles=":", linewidth=1, zorder=2)
