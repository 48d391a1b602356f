"""What the plots draw, read from one spec of the JSON report (no matplotlib here).

The readers are lenient: a report read back from disk may come from another version or be
edited by hand, so a part that is missing or not of the expected type reads as absent (values
are checked with :func:`number` before they are drawn) instead of failing the whole figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from ..views import View, informed_label, item_subject, window_label
from .payload import ReportSpec

Reference = tuple[int, int, float, float, bool]  # candidate k, reference k, now, then, ok
Window = tuple[int, int, float]  # start, end, score


def number(value: object) -> TypeGuard[float]:
    """A finite int or float (not a bool): what can be drawn."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (a part a report lacks or mangled)."""
    return value if isinstance(value, Mapping) else {}


def checks_of(spec: ReportSpec) -> list[Mapping[str, Any]]:
    return [c for c in spec.get("checks") or [] if isinstance(c, Mapping)]


def rows_of(check: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in check.get("rows") or [] if isinstance(r, Mapping)]


def float32_view(label: object) -> View | None:
    """The float32 view a row's label names (None for labels of other things, or other precisions)."""
    try:
        view = View.parse(str(label))
    except ValueError:
        return None
    return view if view.precision == "float32" else None


def prefix_sizes(label: object) -> tuple[int, int] | None:
    """(candidate k, reference k) of a prefix row: ``prefix[k]``, or ``prefix[k] vs prefix[j]`` in compare rows."""
    sides = [float32_view(side) for side in str(label).split(" vs ")]
    if len(sides) > 2 or not all(side is not None and side.kind == "prefix" for side in sides):
        return None
    sizes = [side.end for side in sides if side is not None]
    return sizes[0], sizes[-1]


def limits(check: Mapping[str, Any]) -> list[tuple[View, float, bool]]:
    """(view, bound value, met) of every row of a check that carries its bound as a number."""
    out = []
    for row in rows_of(check):
        view, limit = float32_view(row.get("view")), row.get("limit")
        if view is not None and number(limit):
            out.append((view, float(limit), row.get("ok") is not False))
    return out


def evaluated_split(spec: ReportSpec) -> str | None:
    split = mapping(spec.get("task")).get("split")
    return str(split) if split is not None else None


def split_maps(spec: ReportSpec) -> dict[str, Mapping[str, Any]]:
    return {str(name): values for name, values in mapping(spec.get("splits")).items() if isinstance(values, Mapping)}


def interval(spec: ReportSpec, view: str) -> tuple[float, float, float] | None:
    """(low, high, confidence) of a view's bootstrap interval, when the report has one."""
    found = mapping(mapping(spec.get("intervals")).get(view))
    low, high, confidence = found.get("low"), found.get("high"), found.get("confidence", 0.95)
    if not (number(low) and number(high)):
        return None
    return float(low), float(high), float(confidence) if number(confidence) else 0.95


def reference_name(spec: ReportSpec, check: Mapping[str, Any]) -> str:
    """The compare check's summary reads "<candidate> vs <reference>: …"."""
    own = str(mapping(spec.get("model")).get("name", ""))
    text = str(check.get("summary") or "")
    if own and text.startswith(f"{own} vs "):
        reference = text[len(own) + 4 :].split(": ", 1)[0].strip()
        if reference:
            return f"reference {reference}" + (" (other settings)" if reference == own else "")
    return "reference"


def references(spec: ReportSpec) -> list[tuple[str, list[Reference]]]:
    """Per baseline/compare kind: its legend label and the prefix rows that carry a reference score."""
    found: dict[str, tuple[str, dict[tuple[int, int], Reference]]] = {}
    for check in checks_of(spec):
        kind = check.get("kind")
        if kind not in ("baseline", "compare"):
            continue
        label = "baseline (recorded)" if kind == "baseline" else reference_name(spec, check)
        for row in rows_of(check):
            now, then = row.get("score"), row.get("baseline")
            sizes = prefix_sizes(row.get("view"))
            if not (sizes and number(now) and number(then)):
                continue
            mine, theirs = sizes
            points = found.setdefault(str(kind), (label, {}))[1]
            points[(mine, theirs)] = (mine, theirs, float(now), float(then), row.get("ok") is not False)
    return [(label, sorted(points.values())) for label, points in found.values() if points]


def window_baseline(spec: ReportSpec) -> dict[tuple[int, int], float]:
    out: dict[tuple[int, int], float] = {}
    for check in checks_of(spec):
        if check.get("kind") != "baseline":
            continue
        for row in rows_of(check):
            view = float32_view(row.get("view"))
            if view is not None and view.kind == "window" and number(row.get("baseline")):
                out[(view.start, view.end)] = float(row["baseline"])
    return out


def informed_point(spec: ReportSpec) -> tuple[int, float, str | None] | None:
    """(k, score, split the dimensions were chosen on) of the best-k-dims search, if any."""
    informed = mapping(spec.get("informed"))
    if number(informed.get("dims")) and number(informed.get("score")):
        split = informed.get("select_split")
        return int(informed["dims"]), float(informed["score"]), str(split) if split is not None else None
    scores = mapping(spec.get("scores"))
    for k in mapping(spec.get("layout")).get("informed") or []:
        if number(k) and number(value := scores.get(informed_label(int(k)))):
            return int(k), float(value), None
    return None


def windows_of(values: Mapping[str, Any], windows: list[tuple[int, int]]) -> dict[int, list[Window]]:
    """The scored windows by width, in start order."""
    by_width: dict[int, list[Window]] = {}
    for s, e in windows:
        value = values.get(window_label(s, e))
        if number(value):
            by_width.setdefault(e - s, []).append((s, e, float(value)))
    for found in by_width.values():
        found.sort()
    return by_width


def layout_windows(spec: ReportSpec) -> list[tuple[int, int]]:
    out = []
    for window in mapping(spec.get("layout")).get("windows") or []:
        if isinstance(window, (list, tuple)) and len(window) == 2 and all(number(x) for x in window):
            out.append((int(window[0]), int(window[1])))
    return out


def has_windows(spec: ReportSpec) -> bool:
    return bool(windows_of(mapping(spec.get("scores")), layout_windows(spec)))


def geometry_by_size(spec: ReportSpec) -> dict[int, Mapping[str, Any]]:
    out = {}
    for key, values in mapping(spec.get("geometry")).items():
        if str(key).isdigit() and int(key) > 0 and isinstance(values, Mapping):
            out[int(key)] = values
    return dict(sorted(out.items()))


def geometry_bounds(spec: ReportSpec) -> dict[str, list[tuple[int, float, bool]]]:
    """Per geometry metric: (k, bound, met) of its check rows."""
    out: dict[str, list[tuple[int, float, bool]]] = {}
    for check in checks_of(spec):
        metric = item_subject(str(check.get("name", "")), "geometry")
        if check.get("kind") != "geometry" or not metric:
            continue
        for view, limit, met in limits(check):
            if view.kind == "prefix":
                out.setdefault(metric, []).append((view.end, limit, met))
    return out
