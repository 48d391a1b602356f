"""One PNG per evaluated spec, drawn from the JSON report: score vs truncation size, and the
sliding-window map when the spec has windows.

matplotlib is imported inside :func:`write_plots` only (Agg canvas, no pyplot): importing this
module costs nothing and never touches a display.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_PASS, _FAIL, _XFAIL = "#2e7d32", "#c62828", "#ef8f00"
_LINE, _RANDOM, _FULL = "#1f4e9c", "#7b8794", "#444444"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WIDTH_IN_SUMMARY = re.compile(r"windows of (\d+) dims")
_UNIT_NOUN = {"sts": "pairs", "ranking": "queries"}


def plot_name(spec_id: str) -> str:
    """A file name (without directory) safe on every file system, derived from a spec id."""
    slug = _UNSAFE.sub("_", spec_id).strip("._-")[:80] or "spec"
    return f"{slug}.png"


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _outcome_colour(outcome: str) -> str:
    return {"failed": _FAIL, "xfailed": _XFAIL, "xpassed": _XFAIL}.get(outcome, _PASS)


def _prefix_panel(ax: Axes, spec: Mapping[str, Any]) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    scores: Mapping[str, Any] = spec["scores"]
    layout: Mapping[str, Any] = spec.get("layout") or {}
    full_dim, full = int(spec["full_dim"]), float(spec["full_score"])
    prefixes = sorted(int(k) for k in layout.get("prefixes", []) if _number(scores.get(f"prefix[{k}]")))
    curve = {int(k): float(v) for k, v in (spec.get("sweep") or {}).items() if _number(v)}
    curve.update({k: float(scores[f"prefix[{k}]"]) for k in prefixes})
    xs = sorted(curve)

    randoms = [
        (int(k), stats)
        for k in layout.get("random", [])
        if isinstance(stats := scores.get(f"random[{k}]"), Mapping) and _number(stats.get("mean"))
    ]
    randoms.sort(key=lambda item: item[0])
    if randoms:
        ks = [k for k, _ in randoms]
        mean = [float(s["mean"]) for _, s in randoms]
        sd = [float(s.get("sd") or 0.0) for _, s in randoms]
        low = [float(s.get("min", m)) for (_, s), m in zip(randoms, mean, strict=True)]
        high = [float(s.get("max", m)) for (_, s), m in zip(randoms, mean, strict=True)]
        if len(ks) > 1:
            ax.fill_between(
                ks,
                low,
                high,
                color=_RANDOM,
                alpha=0.13,
                linewidth=0,
                label="random subsets: min–max",
            )
            ax.fill_between(
                ks,
                [m - s for m, s in zip(mean, sd, strict=True)],
                [m + s for m, s in zip(mean, sd, strict=True)],
                color=_RANDOM,
                alpha=0.3,
                linewidth=0,
                label="random subsets: mean ± sd",
            )
            ax.plot(
                ks,
                mean,
                color=_RANDOM,
                linewidth=1,
                linestyle=":",
                marker=".",
                label="random subsets: mean",
            )
        else:
            ax.errorbar(
                ks,
                mean,
                yerr=[
                    [m - lo for m, lo in zip(mean, low, strict=True)],
                    [hi - m for m, hi in zip(mean, high, strict=True)],
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

    if xs:
        ax.plot(xs, [curve[k] for k in xs], color=_LINE, linewidth=1.6, label="prefix score", zorder=3)
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
    ax.axhline(
        full,
        color=_FULL,
        linestyle="--",
        linewidth=1,
        label=f"full {full_dim} dims: {full:.4f}",
        zorder=2,
    )

    seen: set[str] = set()
    for check in spec.get("checks", []):
        kind, bound = check.get("kind"), check.get("bound")
        if kind not in ("prefix", "relative") or not _number(bound):
            continue
        match = re.search(r"\[(\d+)\]", str(check.get("name", "")))
        if not match:
            continue
        k = int(match.group(1))
        y = float(bound) if kind == "prefix" else float(bound) * full
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

    min_dims = next((c for c in spec.get("checks", []) if c.get("kind") == "min_dims"), None)
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
    ticks = sorted({*prefixes, *(k for k, _ in randoms), *xs[:1], *xs[-1:]}) or xs
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.set_xticklabels([str(k) for k in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        lo, hi = min([*xs, *ticks]), max([*xs, *ticks])
        ax.set_xlim(lo / 1.15, hi * 1.15)
    ax.set_xlabel("embedding dimensions kept (prefix size, log₂ scale)")
    ax.set_ylabel(f"{spec.get('metric', 'score')}")
    ax.set_title("score vs truncation size", fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)
    _legend_below(ax)


def _legend_below(ax: Axes) -> None:
    """Below the axes, so it never hides data, whatever the scores look like."""
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)


def _window_panel(ax: Axes, spec: Mapping[str, Any]) -> None:
    scores: Mapping[str, Any] = spec["scores"]
    full = float(spec["full_score"])
    by_width: dict[int, list[tuple[int, int, float]]] = {}
    for s, e in (spec.get("layout") or {}).get("windows", []):
        value = scores.get(f"window[{s}:{e}]")
        if _number(value):
            by_width.setdefault(int(e) - int(s), []).append((int(s), int(e), float(value)))

    segments = next((c for c in spec.get("checks", []) if c.get("kind") == "segments"), None)
    seg_min = float(segments["bound"]) if segments and _number(segments.get("bound")) else None
    seg_width = None
    if segments:
        match = _WIDTH_IN_SUMMARY.search(str(segments.get("summary") or ""))
        seg_width = int(match.group(1)) if match else None

    for width, windows in sorted(by_width.items()):
        windows.sort()
        centres = [(s + e) / 2 for s, e, _ in windows]
        values = [v for _, _, v in windows]
        ax.plot(
            centres,
            values,
            color=_LINE if len(by_width) == 1 else None,
            marker="o",
            markersize=3.5,
            linewidth=1.4,
            label=f"windows of {width} dims (at their centre)",
            zorder=3,
        )
        judged = seg_min is not None and (seg_width is None or seg_width == width)
        if judged and seg_min is not None:
            bad = [(c, v) for c, v in zip(centres, values, strict=True) if v < seg_min]
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
        worst = min(windows, key=lambda w: w[2])
        ax.annotate(
            f"lowest [{worst[0]}:{worst[1]}] {worst[2]:.4f}",
            xy=((worst[0] + worst[1]) / 2, worst[2]),
            xytext=(0, -14),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=7.5,
            color=_FULL,
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
    ax.set_title("sliding windows", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    _legend_below(ax)


def _title(spec: Mapping[str, Any]) -> str:
    model: Mapping[str, Any] = spec.get("model") or {}
    task: Mapping[str, Any] = spec.get("task") or {}
    failed = sum(1 for c in spec.get("checks", []) if c.get("outcome") == "failed")
    total = len(spec.get("checks", []))
    if failed:
        status = f"{failed} of {total} checks failed"
    else:
        status = "the check passed" if total == 1 else f"all {total} checks passed"
    metric = spec.get("metric", "score")
    noun = _UNIT_NOUN.get(str(task.get("kind")), "units")
    return (
        f"{spec.get('name', spec.get('id'))} · {model.get('name', '?')}\n"
        f"{task.get('kind', '?')} · {metric} on {task.get('units', '?')} {noun} · {status}"
    )


def _plot_spec(spec: Mapping[str, Any], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    has_windows = any(
        _number((spec.get("scores") or {}).get(f"window[{s}:{e}]"))
        for s, e in (spec.get("layout") or {}).get("windows", [])
    )
    figure = Figure(figsize=(13 if has_windows else 7.5, 5.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2 if has_windows else 1, squeeze=False)[0]
    _prefix_panel(axes[0], spec)
    if has_windows:
        _window_panel(axes[1], spec)
    figure.suptitle(_title(spec), fontsize=11)
    figure.savefig(path, format="png", metadata={"Software": None})


def write_plots(report: Mapping[str, Any], directory: Path) -> list[Path]:
    """One PNG per evaluated spec in ``directory`` (created); specs that errored get none.

    Returns the paths written, in the report's spec order.
    """
    directory = Path(directory)
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
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        _plot_spec(spec, path)
        written.append(path)
    return written
