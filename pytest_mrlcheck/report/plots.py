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
module costs nothing and never touches a display.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from ..views import View, informed_label, prefix_label, random_label, window_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_PASS, _FAIL, _XFAIL = "#2e7d32", "#c62828", "#ef8f00"
_LINE, _RANDOM, _FULL = "#1f4e9c", "#7b8794", "#444444"
_REFERENCE, _INFORMED, _FUNNEL, _OUTLIER = "#8e44ad", "#d81b60", "#5d4037", "#ad1457"
_SPLIT_COLOURS = ("#138d90", "#b8860b", "#a0522d", "#6b7b8c", "#2f6f3e")
_GEOMETRY_COLOURS = {"isoscore": _LINE, "mean_abs_correlation": "#b8860b", "effective_rank": "#138d90"}
_GEOMETRY_BOUNDED = ("isoscore", "mean_abs_correlation", "effective_rank", "uniformity")
_HEIGHT, _LEGEND_ROWS, _LEGEND_ROW_INCHES = 5.6, 4, 0.16  # inches; legend rows that fit the height
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UNIT_NOUN = {"sts": "pairs", "retrieval": "judged queries", "ranking": "queries"}


def plot_name(spec_id: str) -> str:
    """A file name (without directory) safe on every file system, derived from a spec id."""
    slug = _UNSAFE.sub("_", spec_id).strip("._-")[:80] or "spec"
    return f"{slug}.png"


def _number(value: object) -> TypeGuard[float]:
    """A finite int or float (not a bool): what can be drawn."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _outcome_colour(outcome: str) -> str:
    return {"failed": _FAIL, "xfailed": _XFAIL, "xpassed": _XFAIL}.get(outcome, _PASS)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _checks(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in spec.get("checks") or [] if isinstance(c, Mapping)]


def _rows(check: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in check.get("rows") or [] if isinstance(r, Mapping)]


def _view(label: object) -> View | None:
    """The float32 view a row's label names (None for labels of other things, or other precisions)."""
    try:
        view = View.parse(str(label))
    except ValueError:
        return None
    return view if view.precision == "float32" else None


def _prefix_sizes(label: object) -> tuple[int, int] | None:
    """(candidate k, reference k) of a prefix row: ``prefix[k]``, or ``prefix[k] vs prefix[j]`` in compare rows."""
    sides = [_view(side) for side in str(label).split(" vs ")]
    if len(sides) > 2 or not all(side is not None and side.kind == "prefix" for side in sides):
        return None
    sizes = [side.end for side in sides if side is not None]
    return sizes[0], sizes[-1]


def _limits(check: Mapping[str, Any]) -> list[tuple[View, float, bool]]:
    """(view, bound value, met) of every row of a check that carries its bound as a number."""
    out = []
    for row in _rows(check):
        view, limit = _view(row.get("view")), row.get("limit")
        if view is not None and _number(limit):
            out.append((view, float(limit), row.get("ok") is not False))
    return out


def _evaluated_split(spec: Mapping[str, Any]) -> str | None:
    split = _mapping(spec.get("task")).get("split")
    return str(split) if split is not None else None


def _split_maps(spec: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(name): values for name, values in _mapping(spec.get("splits")).items() if isinstance(values, Mapping)}


def _split_colours(spec: Mapping[str, Any]) -> dict[str, str]:
    """The evaluated split keeps the main colour; the others get their own, the same in every panel."""
    evaluated = _evaluated_split(spec)
    others = [name for name in _split_maps(spec) if name != evaluated]
    colours = {name: _SPLIT_COLOURS[i % len(_SPLIT_COLOURS)] for i, name in enumerate(others)}
    if evaluated is not None:
        colours[evaluated] = _LINE
    return colours


def _interval(spec: Mapping[str, Any], view: str) -> tuple[float, float, float] | None:
    """(low, high, confidence) of a view's bootstrap interval, when the report has one."""
    found = _mapping(_mapping(spec.get("intervals")).get(view))
    low, high, confidence = found.get("low"), found.get("high"), found.get("confidence", 0.95)
    if not (_number(low) and _number(high)):
        return None
    return float(low), float(high), float(confidence) if _number(confidence) else 0.95


def _reference_name(spec: Mapping[str, Any], check: Mapping[str, Any]) -> str:
    """The compare check's summary reads "<candidate> vs <reference>: …"."""
    own = str(_mapping(spec.get("model")).get("name", ""))
    text = str(check.get("summary") or "")
    if own and text.startswith(f"{own} vs "):
        reference = text[len(own) + 4 :].split(": ", 1)[0].strip()
        if reference:
            return f"reference {reference}" + (" (other settings)" if reference == own else "")
    return "reference"


Reference = tuple[int, int, float, float, bool]  # candidate k, reference k, now, then, ok


def _references(spec: Mapping[str, Any]) -> list[tuple[str, list[Reference]]]:
    """Per baseline/compare kind: its legend label and the prefix rows that carry a reference score."""
    found: dict[str, tuple[str, dict[tuple[int, int], Reference]]] = {}
    for check in _checks(spec):
        kind = check.get("kind")
        if kind not in ("baseline", "compare"):
            continue
        label = "baseline (recorded)" if kind == "baseline" else _reference_name(spec, check)
        for row in _rows(check):
            now, then = row.get("score"), row.get("baseline")
            sizes = _prefix_sizes(row.get("view"))
            if not (sizes and _number(now) and _number(then)):
                continue
            mine, theirs = sizes
            points = found.setdefault(str(kind), (label, {}))[1]
            points[(mine, theirs)] = (mine, theirs, float(now), float(then), row.get("ok") is not False)
    return [(label, sorted(points.values())) for label, points in found.values() if points]


def _window_baseline(spec: Mapping[str, Any]) -> dict[tuple[int, int], float]:
    out: dict[tuple[int, int], float] = {}
    for check in _checks(spec):
        if check.get("kind") != "baseline":
            continue
        for row in _rows(check):
            view = _view(row.get("view"))
            if view is not None and view.kind == "window" and _number(row.get("baseline")):
                out[(view.start, view.end)] = float(row["baseline"])
    return out


def _informed(spec: Mapping[str, Any]) -> tuple[int, float, str | None] | None:
    """(k, score, split the dimensions were chosen on) of the best-k-dims search, if any."""
    informed = _mapping(spec.get("informed"))
    if _number(informed.get("dims")) and _number(informed.get("score")):
        split = informed.get("select_split")
        return int(informed["dims"]), float(informed["score"]), str(split) if split is not None else None
    scores = _mapping(spec.get("scores"))
    for k in _mapping(spec.get("layout")).get("informed") or []:
        if _number(k) and _number(value := scores.get(informed_label(int(k)))):
            return int(k), float(value), None
    return None


def _prefix_panel(ax: Axes, spec: Mapping[str, Any], legend_columns: int) -> int:
    from matplotlib.ticker import FixedLocator, NullLocator

    scores: Mapping[str, Any] = spec["scores"]
    layout = _mapping(spec.get("layout"))
    full_dim, full = int(spec["full_dim"]), float(spec["full_score"])
    prefixes = sorted(int(k) for k in layout.get("prefixes", []) if _number(scores.get(prefix_label(int(k)))))
    curve = {int(k): float(v) for k, v in _mapping(spec.get("sweep")).items() if _number(v)}
    curve.update({k: float(scores[prefix_label(k)]) for k in prefixes})
    xs = sorted(curve)
    extra_ticks: set[int] = set()

    randoms = [
        (int(k), stats)
        for k in layout.get("random", [])
        if isinstance(stats := scores.get(random_label(int(k))), Mapping) and _number(stats.get("mean"))
    ]
    randoms.sort(key=lambda item: item[0])
    if randoms:
        _random_bands(ax, randoms)

    evaluated = _evaluated_split(spec)
    main_label = "prefix score" + (f" on {evaluated}" if evaluated is not None and _split_maps(spec) else "")
    if xs:
        ax.plot(xs, [curve[k] for k in xs], color=_LINE, linewidth=1.6, label=main_label, zorder=3)
    if prefixes:
        ax.plot(
            prefixes,
            [curve[k] for k in prefixes],
            linestyle="none",
            marker="o",
            markersize=4.5,
            color=_LINE,
            zorder=4,
        )
    colours = _split_colours(spec)
    for split, values in _split_maps(spec).items():
        if split == evaluated:
            continue  # the main curve
        points = sorted((k, float(v)) for k in prefixes if _number(v := values.get(prefix_label(k))))
        if points:
            ax.plot(
                [k for k, _ in points],
                [v for _, v in points],
                color=colours[split],
                linewidth=1,
                alpha=0.85,
                marker=".",
                markersize=5,
                label=f"prefix score on {split}",
                zorder=2.5,
            )
    bars = [(k, found) for k in prefixes if (found := _interval(spec, prefix_label(k))) is not None]
    if bars:
        ax.errorbar(
            [k for k, _ in bars],
            [curve[k] for k, _ in bars],
            yerr=[
                [max(0.0, curve[k] - low) for k, (low, _, _) in bars],
                [max(0.0, high - curve[k]) for k, (_, high, _) in bars],
            ],
            fmt="none",
            ecolor=_LINE,
            elinewidth=1.1,
            capsize=3.5,
            alpha=0.7,
            label=f"{bars[0][1][2]:.0%} bootstrap interval",
            zorder=3.5,
        )
    ax.axhline(
        full,
        color=_FULL,
        linestyle="--",
        linewidth=1,
        label=f"full {full_dim} dims: {full:.4f}",
        zorder=2,
    )

    for index, (label, references) in enumerate(_references(spec)):
        extra_ticks.update(theirs for _, theirs, _, _, _ in references)
        _reference_curve(ax, label, references, index, {k for k, _ in bars})

    _check_bounds(ax, spec, curve)

    informed = _informed(spec)
    if informed is not None:
        k, value, chosen_on = informed
        extra_ticks.add(k)
        chosen = f" (chosen on {chosen_on})" if chosen_on else ""
        ax.plot(
            [k],
            [value],
            linestyle="none",
            marker="*",
            markersize=13,
            color=_INFORMED,
            markeredgecolor="white",
            markeredgewidth=0.6,
            label=f"best {k} dims{chosen}: {value:.4f}",
            zorder=6,
        )
        if k in curve:
            ax.vlines(k, min(value, curve[k]), max(value, curve[k]), colors=_INFORMED, linestyles=":", linewidth=1)

    funnel = _mapping(spec.get("funnel"))
    if _number(funnel.get("score")) and _number(funnel.get("shortlist_dims")):
        k, value = int(funnel["shortlist_dims"]), float(funnel["score"])
        extra_ticks.add(k)
        how = f"top {int(funnel['shortlist'])} by {k} dims" if _number(funnel.get("shortlist")) else f"{k} dims"
        rerank = f", reranked by {int(funnel['rerank_dims'])}" if _number(funnel.get("rerank_dims")) else ""
        ax.plot(
            [k],
            [value],
            linestyle="none",
            marker="D",
            markersize=6.5,
            markerfacecolor="white",
            markeredgewidth=1.6,
            color=_FUNNEL,
            label=f"funnel: {how}{rerank}: {value:.4f}",
            zorder=6,
        )

    min_dims = next((c for c in _checks(spec) if c.get("kind") == "min_dims"), None)
    if min_dims is not None and _number(min_dims.get("value")):
        reached = float(min_dims["value"])
        ax.axvline(
            reached,
            color=_outcome_colour(str(min_dims.get("outcome", ""))),
            linestyle=":",
            linewidth=1.3,
            label=f"min_dims: {reached:g} dims suffice"
            + (f" (limit {float(min_dims['bound']):g})" if _number(min_dims.get("bound")) else ""),
            zorder=1,
        )

    ax.set_xscale("log", base=2)
    ticks = sorted({*prefixes, *(k for k, _ in randoms), *extra_ticks, *xs[:1], *xs[-1:]}) or xs
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.set_xticklabels([str(k) for k in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        lo, hi = min([*xs, *ticks]), max([*xs, *ticks])
        ax.set_xlim(lo / 1.15, hi * 1.15)
    ax.margins(y=0.08)
    ax.set_xlabel("embedding dimensions kept (prefix size, log₂ scale)")
    ax.set_ylabel(f"{spec.get('metric', 'score')}")
    ax.set_title("score vs truncation size", fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)
    return _legend_below(ax, legend_columns)


def _random_bands(ax: Axes, randoms: list[tuple[int, Mapping[str, Any]]]) -> None:
    ks = [k for k, _ in randoms]
    mean = [float(s["mean"]) for _, s in randoms]
    sd = [float(s["sd"]) if _number(s.get("sd")) else 0.0 for _, s in randoms]
    low = [float(s["min"]) if _number(s.get("min")) else m for (_, s), m in zip(randoms, mean, strict=True)]
    high = [float(s["max"]) if _number(s.get("max")) else m for (_, s), m in zip(randoms, mean, strict=True)]
    if len(ks) > 1:
        ax.fill_between(ks, low, high, color=_RANDOM, alpha=0.13, linewidth=0, label="random subsets: min–max")
        ax.fill_between(
            ks,
            [m - s for m, s in zip(mean, sd, strict=True)],
            [m + s for m, s in zip(mean, sd, strict=True)],
            color=_RANDOM,
            alpha=0.3,
            linewidth=0,
            label="random subsets: mean ± sd",
        )
        ax.plot(ks, mean, color=_RANDOM, linewidth=1, linestyle=":", marker=".", label="random subsets: mean")
    else:
        ax.errorbar(
            ks,
            mean,
            yerr=[
                [max(0.0, m - lo) for m, lo in zip(mean, low, strict=True)],
                [max(0.0, hi - m) for m, hi in zip(mean, high, strict=True)],
            ],
            fmt="none",
            ecolor=_RANDOM,
            alpha=0.5,
            capsize=4,
            label="random subsets: min–max",
        )
        ax.errorbar(
            ks,
            mean,
            yerr=sd,
            fmt="o",
            color=_RANDOM,
            markersize=4,
            capsize=0,
            elinewidth=4,
            alpha=0.8,
            label="random subsets: mean ± sd",
        )


def _reference_curve(ax: Axes, label: str, points: list[Reference], index: int, beside: set[int]) -> None:
    """The reference (compare) or recorded (baseline) scores, dashed, with each Δ as a bracket.

    ``beside``: sizes with an interval bar, where the bracket is drawn just right of the bar.
    """
    colour = _REFERENCE if index == 0 else _RANDOM
    by_theirs = sorted({theirs: then for _, theirs, _, then, _ in points}.items())
    worst = min(points, key=lambda p: p[2] - p[3])
    ax.plot(
        [k for k, _ in by_theirs],
        [v for _, v in by_theirs],
        color=colour,
        linestyle="--",
        linewidth=1.4,
        marker="s",
        markersize=4,
        markerfacecolor="white",
        label=f"{label} (worst Δ {worst[2] - worst[3]:+.4f})",
        zorder=3,
    )
    last = max(max(mine, theirs) for mine, theirs, _, _, _ in points)
    for mine, theirs, now, then, ok in points:
        delta = now - then
        shown = not ok or abs(delta) >= 5e-4
        tone = _FAIL if not ok else colour
        if mine == theirs:
            if shown:
                x = mine * 1.025 if mine in beside else mine
                ax.vlines(x, min(now, then), max(now, then), colors=tone, linewidth=2.2, alpha=0.55, zorder=2.6)
        else:
            ax.plot([theirs, mine], [then, now], color=tone, linestyle=":", linewidth=1, zorder=2.6)
        if shown:
            ax.annotate(
                f"Δ {delta:+.4f}",
                xy=(mine, (now + then) / 2),
                xytext=(-7, 0) if mine == last and len(points) > 1 else (6, 0),  # the last one inside the axes
                textcoords="offset points",
                ha="right" if mine == last and len(points) > 1 else "left",
                va="center",
                fontsize=7.5,
                color=tone,
                fontweight="bold" if not ok else "normal",
                zorder=7,
            )


def _check_bounds(ax: Axes, spec: Mapping[str, Any], curve: Mapping[int, float]) -> None:
    seen: set[str] = set()
    for check in _checks(spec):
        kind = check.get("kind")
        limits = [(view.end, limit) for view, limit, _ in _limits(check) if view.kind == "prefix"]
        if kind not in ("prefix", "relative") or not limits:
            continue
        ((k, y),) = limits
        outcome = str(check.get("outcome", ""))
        failed = outcome in ("failed", "xfailed")
        key = f"{kind}-{'fail' if failed else 'pass'}"
        what = "minimum" if kind == "prefix" else "relative minimum"
        label = f"{what} ({'missed' if failed else 'met'})" if key not in seen else None
        seen.add(key)
        if kind == "prefix":
            ax.plot(
                [k],
                [y],
                linestyle="none",
                marker="_",
                markersize=18,
                markeredgewidth=2.8,
                color=_outcome_colour(outcome),
                label=label,
                zorder=5,
            )
        else:
            ax.plot(
                [k],
                [y],
                linestyle="none",
                marker="^",
                markersize=7,
                markerfacecolor="white",
                markeredgewidth=1.6,
                color=_outcome_colour(outcome),
                label=label,
                zorder=5,
            )
        if failed and k in curve:
            ax.vlines(
                k,
                min(y, curve[k]),
                max(y, curve[k]),
                colors=_FAIL,
                linestyles=":",
                linewidth=1,
                zorder=2,
            )


def _legend_below(ax: Axes, columns: int = 3, title: str | None = None) -> int:
    """Below the axes, so it never hides data, whatever the scores look like. Returns its rows."""
    entries = len(ax.get_legend_handles_labels()[0])
    if not entries:
        return 0
    legend = ax.legend(
        fontsize=7.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=columns,
        frameon=False,
        title=title,
        title_fontsize=7.5,
    )
    legend.set_zorder(10)
    return -(-entries // columns) + (title is not None)


def _windows_of(values: Mapping[str, Any], windows: list[tuple[int, int]]) -> dict[int, list[tuple[int, int, float]]]:
    by_width: dict[int, list[tuple[int, int, float]]] = {}
    for s, e in windows:
        value = values.get(window_label(s, e))
        if _number(value):
            by_width.setdefault(e - s, []).append((s, e, float(value)))
    for found in by_width.values():
        found.sort()
    return by_width


def _layout_windows(spec: Mapping[str, Any]) -> list[tuple[int, int]]:
    out = []
    for window in _mapping(spec.get("layout")).get("windows") or []:
        if isinstance(window, (list, tuple)) and len(window) == 2 and all(_number(x) for x in window):
            out.append((int(window[0]), int(window[1])))
    return out


def _window_panel(ax: Axes, spec: Mapping[str, Any], legend_columns: int) -> int:
    scores: Mapping[str, Any] = spec["scores"]
    full = float(spec["full_score"])
    windows = _layout_windows(spec)
    by_width = _windows_of(scores, windows)
    splits = {name: values for name, values in _split_maps(spec).items() if _windows_of(values, windows)}
    evaluated = _evaluated_split(spec)
    colours = _split_colours(spec)
    several_widths = len(by_width) > 1

    segments = next((c for c in _checks(spec) if c.get("kind") == "segments"), None)
    judged_windows = {(view.start, view.end): limit for view, limit, _ in _limits(segments or {})
                      if view.kind == "window"}
    seg_min = min(judged_windows.values()) if judged_windows else None

    baseline = _window_baseline(spec)
    for width, found in sorted(by_width.items()):
        centres = [(s + e) / 2 for s, e, _ in found]
        values = [v for _, _, v in found]
        if splits:
            label = f"{evaluated} (evaluated)" if evaluated is not None else "evaluated split"
            label += f" · windows of {width} dims" if several_widths else ""
        else:
            label = f"windows of {width} dims (at their centre)"
        ax.plot(
            centres,
            values,
            color=_LINE if len(by_width) == 1 or splits else None,
            marker="o",
            markersize=3.5,
            linewidth=1.6,
            label=label,
            zorder=3,
        )
        band = [
            (c, iv) for (s, e, _), c in zip(found, centres, strict=True) if (iv := _interval(spec, window_label(s, e)))
        ]
        if len(band) > 1:
            ax.fill_between(
                [c for c, _ in band],
                [low for _, (low, _, _) in band],
                [high for _, (_, high, _) in band],
                color=_LINE,
                alpha=0.12,
                linewidth=0,
                label=f"{band[0][1][2]:.0%} bootstrap interval",
                zorder=1,
            )
        recorded = [((s + e) / 2, baseline[(s, e)]) for s, e, _ in found if (s, e) in baseline]
        if len(recorded) > 1:
            ax.plot(
                [c for c, _ in recorded],
                [v for _, v in recorded],
                color=_REFERENCE,
                linestyle="--",
                linewidth=1.2,
                label="baseline (recorded)",
                zorder=2.8,
            )
        if judged_windows:
            bad = [((s + e) / 2, v) for s, e, v in found if (s, e) in judged_windows and v < judged_windows[(s, e)]]
            if bad:
                ax.plot(
                    [c for c, _ in bad],
                    [v for _, v in bad],
                    linestyle="none",
                    marker="o",
                    markersize=7,
                    markerfacecolor="none",
                    markeredgecolor=_FAIL,
                    markeredgewidth=1.5,
                    label=f"{len(bad)} below the minimum",
                    zorder=4,
                )
        worst = min(found, key=lambda w: w[2])
        where = (worst[0] + worst[1]) / 2 / float(spec["full_dim"])  # keep the text inside the axes
        ax.annotate(
            f"lowest [{worst[0]}:{worst[1]}] {worst[2]:.4f}",
            xy=((worst[0] + worst[1]) / 2, worst[2]),
            xytext=(0, -14),
            textcoords="offset points",
            ha="right" if where > 0.8 else "left" if where < 0.2 else "center",
            va="top",
            fontsize=7.5,
            color=_FULL,
        )
    for split, split_scores in splits.items():  # below the evaluated map (zorder), after it in the legend
        if split == evaluated:
            continue
        for width, found in sorted(_windows_of(split_scores, windows).items()):
            ax.plot(
                [(s + e) / 2 for s, e, _ in found],
                [v for _, _, v in found],
                color=colours[split],
                marker="o",
                markersize=2.8,
                linewidth=1.2,
                alpha=0.9,
                label=f"{split}" + (f" · windows of {width} dims" if several_widths else ""),
                zorder=2.5,
            )
    if seg_min is not None and segments is not None:
        ax.axhline(
            seg_min,
            color=_outcome_colour(str(segments.get("outcome", ""))),
            linestyle="-.",
            linewidth=1.3,
            label=f"segments minimum {seg_min:.4f}",
            zorder=2,
        )
    ax.axhline(full, color=_FULL, linestyle="--", linewidth=1, label=f"full score {full:.4f}", zorder=2)
    ax.set_xlim(0, float(spec["full_dim"]))
    ax.margins(y=0.15)
    ax.set_xlabel("window centre (dimension index)")
    ax.set_ylabel(f"{spec.get('metric', 'score')}")
    ax.set_title("sliding windows" + (" per data split" if splits else ""), fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    correlations = [
        f"{pair} r = {float(r):.2f}" for pair, r in _mapping(spec.get("split_correlations")).items() if _number(r)
    ]
    title = "correlation of the window maps: " + ", ".join(correlations) if correlations and splits else None
    return _legend_below(ax, legend_columns, title)


def _has_windows(spec: Mapping[str, Any]) -> bool:
    return bool(_windows_of(_mapping(spec.get("scores")), _layout_windows(spec)))


def _geometry(spec: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    out = {}
    for key, values in _mapping(spec.get("geometry")).items():
        if str(key).isdigit() and int(key) > 0 and isinstance(values, Mapping):
            out[int(key)] = values
    return dict(sorted(out.items()))


def _geometry_bounds(spec: Mapping[str, Any]) -> dict[str, list[tuple[int, float, bool]]]:
    """Per geometry metric: (k, bound, met) of its check rows."""
    out: dict[str, list[tuple[int, float, bool]]] = {}
    for check in _checks(spec):
        match = re.fullmatch(r"geometry\[(\w+)\]", str(check.get("name", "")))
        if check.get("kind") != "geometry" or not match:
            continue
        for view, limit, met in _limits(check):
            if view.kind == "prefix":
                out.setdefault(match.group(1), []).append((view.end, limit, met))
    return out


def _geometry_panel(ax: Axes, spec: Mapping[str, Any], legend_columns: int) -> int:
    from matplotlib.ticker import FixedLocator, NullLocator

    geometry = _geometry(spec)
    sizes = list(geometry)
    bounds = _geometry_bounds(spec)
    drawn = 0

    def series(metric: str, scale: bool = False) -> list[tuple[int, float]]:
        found = [(k, values.get(metric)) for k, values in geometry.items()]
        return [(k, float(v) / k if scale else float(v)) for k, v in found if _number(v)]

    left_metrics = (
        ("isoscore", "IsoScore (higher = more isotropic)", False, "-"),
        ("mean_abs_correlation", "mean |corr| between dims (lower = less redundant)", False, "-"),
        ("effective_rank", "effective rank / k (higher = dims used)", True, "--"),
    )
    for metric, label, scale, style in left_metrics:
        points = series(metric, scale)
        if not points:
            continue
        drawn += 1
        colour = _GEOMETRY_COLOURS[metric]
        ax.plot(
            [k for k, _ in points],
            [v for _, v in points],
            color=colour,
            linestyle=style,
            marker="o",
            markersize=4,
            linewidth=1.5,
            label=label,
            zorder=3,
        )
        for k, bound, met in bounds.get(metric, []):
            ax.plot(
                [k],
                [bound / k if scale else bound],
                linestyle="none",
                marker="_",
                markersize=16,
                markeredgewidth=2.6,
                color=_PASS if met else _FAIL,
                zorder=5,
            )
    uniformity = series("uniformity")
    if uniformity:
        drawn += 1
        right = ax.twinx()
        right.plot(
            [k for k, _ in uniformity],
            [v for _, v in uniformity],
            color=_REFERENCE,
            linestyle="-.",
            marker="s",
            markersize=4,
            linewidth=1.4,
            zorder=3,
        )
        ax.plot(  # its legend entry, in the left axes' legend
            [],
            [],
            color=_REFERENCE,
            linestyle="-.",
            marker="s",
            markersize=4,
            linewidth=1.4,
            label="uniformity loss, right axis (lower = more uniform)",
        )
        for k, bound, met in bounds.get("uniformity", []):
            right.plot(
                [k],
                [bound],
                linestyle="none",
                marker="_",
                markersize=16,
                markeredgewidth=2.6,
                color=_PASS if met else _FAIL,
                zorder=5,
            )
        right.margins(y=0.25)
        right.set_ylabel("uniformity loss: log mean exp(−2‖x−y‖²)", color=_REFERENCE)
        right.tick_params(axis="y", colors=_REFERENCE)
        ax.set_zorder(right.get_zorder() + 1)  # the left axes' lines and bound marks on top …
        ax.patch.set_visible(False)  # … without hiding the right axes behind its background
    plotted_bounds = [met for m in _GEOMETRY_BOUNDED for _, _, met in bounds.get(m, [])]
    for met in (True, False):
        if met in plotted_bounds:
            ax.plot(
                [],
                [],
                linestyle="none",
                marker="_",
                markersize=12,
                markeredgewidth=2.6,
                color=_PASS if met else _FAIL,
                label=f"bound ({'met' if met else 'missed'})",
            )

    failing_outliers = {k for k, _, met in bounds.get("outliers", []) if not met}
    previous: list[int] = []
    labelled: set[bool] = set()
    for k, values in geometry.items():
        dims = [int(d) for d in values.get("outliers") or [] if _number(d)]
        if not dims:
            previous = []
            continue
        failing = k in failing_outliers
        colour = _FAIL if failing else _OUTLIER
        label = "outlier dims over the check's limit" if failing else "outlier dims (magnitude > 3σ)"
        ax.plot(
            [k],
            [0.97],
            transform=ax.get_xaxis_transform(),
            linestyle="none",
            marker="v",
            markersize=7,
            color=colour,
            label=None if failing in labelled else label,
            clip_on=False,
            zorder=6,
        )
        labelled.add(failing)
        if dims != previous:
            shown = ", ".join(str(d) for d in dims[:3]) + (f" +{len(dims) - 3}" if len(dims) > 3 else "")
            ax.annotate(
                f"{'dim' if len(dims) == 1 else 'dims'} {shown}",
                xy=(k, 0.97),
                xycoords=ax.get_xaxis_transform(),
                xytext=(0, -9),
                textcoords="offset points",
                ha="right" if k == sizes[-1] and len(sizes) > 1 else "left" if k == sizes[0] else "center",
                va="top",
                fontsize=7.5,
                color=colour,
                zorder=6,
            )
        previous = dims
    if not drawn:
        ax.text(
            0.5,
            0.5,
            "no geometry metric is defined at these sizes",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color=_FULL,
        )

    ax.set_ylim(0, 1.18)
    if sizes:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.set_xticklabels([str(k) for k in sizes])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(sizes[0] / 1.15, sizes[-1] * 1.15)
    ax.set_xlabel("embedding dimensions kept (prefix size, log₂ scale)")
    ax.set_ylabel("IsoScore · mean |corr| · effective rank / k  (0–1)")
    ax.set_title("embedding geometry by prefix size", fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)
    return _legend_below(ax, min(legend_columns, 2))


def _title(spec: Mapping[str, Any], max_chars: int) -> str:
    model = _mapping(spec.get("model"))
    task = _mapping(spec.get("task"))
    checks = _checks(spec)
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
            _reference_name(spec, c).removeprefix("reference").strip()
            for c in checks
            if c.get("kind") == "compare" and _reference_name(spec, c) != "reference"
        ),
        "",
    )
    split = f" ({task['split']})" if task.get("split") is not None else ""
    first = f"{spec.get('name', spec.get('id'))} · {model.get('name', '?')}"
    if versus:
        against = f" vs reference {versus}"
        first += against if len(first) + len(against) <= max_chars else f"\n{against.strip()}"
    return f"{first}\n{task.get('kind', '?')} · {metric} on {task.get('units', '?')} {noun}{split} · {status}"


_PRECISION_COLOURS = {"float32": _LINE, "float16": "#138d90", "int8": "#b8860b", "uint8": "#a0522d",
                      "binary": "#8e44ad", "ubinary": "#6b7b8c"}


def _precision_panel(ax: Axes, spec: Mapping[str, Any], legend_columns: int) -> int:
    """Score vs bytes per vector (log scale), one curve per precision, the Pareto frontier and the cheapest."""
    precision = _mapping(spec.get("precision"))
    configurations = [c for c in precision.get("configurations", []) if _mapping(c) and _number(c.get("score"))]
    full = float(spec["full_score"])
    for name in precision.get("precisions", []):
        points = sorted((int(c["bytes_per_vector"]), float(c["score"])) for c in configurations
                        if c.get("precision") == name)
        if points:
            ax.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=3.5, linewidth=1.4,
                    color=_PRECISION_COLOURS.get(str(name), _FULL), label=str(name))
    frontier = sorted((int(c["bytes_per_vector"]), float(c["score"])) for c in precision.get("frontier", [])
                      if _mapping(c) and _number(c.get("score")))
    if frontier:
        ax.step([x for x, _ in frontier], [y for _, y in frontier], where="post", color=_FULL, linewidth=1.0,
                linestyle=":", label="Pareto frontier")
    ratio = precision.get("ratio")
    if _number(ratio) and configurations:
        ax.axhline(float(ratio) * full, color=_FAIL, linewidth=0.9, linestyle="--",
                   label=f"{float(ratio):.0%} of full float32")
    cheapest = _mapping(precision.get("cheapest"))
    if cheapest and _number(cheapest.get("score")):
        ax.plot([int(cheapest["bytes_per_vector"])], [float(cheapest["score"])], marker="*", markersize=13,
                color=_PASS, linestyle="none", label=f"cheapest: {cheapest.get('view')}", zorder=5)
    from .index import mark_index_points

    if mark_index_points(ax, spec) or configurations:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per vector (log scale)")
    ax.set_ylabel(str(spec.get("metric", "score")))
    ax.set_title("score vs storage, per precision", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    return _legend_below(ax, legend_columns)


def spec_figure(spec: Mapping[str, Any]) -> Figure:
    """The figure :func:`write_plots` saves for one evaluated spec (an Agg canvas, no pyplot).

    One row of panels: score vs truncation size, then the sliding windows (when the spec has
    windows), then the geometry (when the spec has it), then score vs bytes per precision (when
    it has precision views); 7.5, 13, 18.5 or 24 inches wide.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [_prefix_panel]
    if _has_windows(spec):
        panels.append(_window_panel)
    if _geometry(spec):
        panels.append(_geometry_panel)
    if _mapping(spec.get("precision")).get("configurations") or spec.get("index"):
        panels.append(_precision_panel)
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


def write_plots(report: Mapping[str, Any], directory: Path) -> list[Path]:
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
        if spec.get("error") or not _number(spec.get("full_score")) or not isinstance(spec.get("scores"), Mapping):
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
