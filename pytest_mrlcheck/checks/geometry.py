"""The geometry check: each metric's bound at every prefix it names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from ..engine.results import SpecResult
from ..views import prefix_label
from .plan import CheckPlan
from .verdict import Row, Verdict


def judge_geometry(plan: CheckPlan, result: SpecResult) -> Verdict:
    from ..geometry import HIGHER_IS_BETTER

    geometry = result.spec.checks.geometry
    assert geometry and plan.label
    metric = plan.label
    higher = HIGHER_IS_BETTER[metric]
    rows = []
    for threshold in geometry.bounds[metric]:
        raw = cast("Mapping[str, Any]", result.geometry[threshold.dims])[metric]  # metric: a GeometryPayload key
        value = float(len(raw)) if isinstance(raw, list) else float(raw)
        view = prefix_label(threshold.dims)
        if value != value:  # NaN: undefined for this prefix
            rows.append(Row(view, None, "defined", None, False, note=f"{metric} is undefined here"))
            continue
        gap = value - threshold.value if higher else threshold.value - value
        bound = f"{'≥' if higher else '≤'} {threshold.value:g}"
        note = f"outlier dims {raw}" if isinstance(raw, list) and raw else ""
        rows.append(Row(view, value, bound, gap, gap >= 0, note=note, limit=threshold.value))
    failing = [r for r in rows if not r.ok]
    direction = "higher" if higher else "lower"
    summary = (
        f"{metric} ({direction} is better) meets its bound at all {len(rows)} sizes"
        if not failing
        else f"{metric} ({direction} is better) misses its bound at " + ", ".join(r.view for r in failing)
    )
    return Verdict(plan.name, "geometry", not failing, None, None, summary, tuple(rows))
