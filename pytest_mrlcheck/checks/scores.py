"""Judges of a spec's scores: prefix and named-dims minimums, relative share, segments, random margin,
monotonic ladder, min_dims and the cheapest configuration."""

from __future__ import annotations

import itertools

import numpy as np

from ..engine.results import SpecResult
from ..views import dims_label, prefix_label, random_label, window_label, window_ranges
from .plan import CheckPlan
from .verdict import NO_INTERVAL, Row, Verdict, ci_text, fmt


def _minimum(
    name: str, kind: str, view: str, result: SpecResult, score: float, minimum: float, confidence: float | None
) -> Verdict:
    interval = result.interval(view, confidence) if confidence else None
    if confidence and interval is not None:
        low = interval[0]
        ok = low >= minimum
        ci = ci_text(interval, confidence)
        summary = (
            f"{view} scores {fmt(score)}, {ci}: its lower bound is ≥ {fmt(minimum)}"
            if ok
            else f"{view} scores {fmt(score)}, {ci}: the lower bound {fmt(low)} is below the minimum "
            f"{fmt(minimum)} (gap {low - minimum:+.4f})"
        )
        row = Row(view, score, f"CI low ≥ {fmt(minimum)}", low - minimum, ok, note=ci, limit=minimum)
        return Verdict(name, kind, ok, low, minimum, summary, (row,))
    ok = score >= minimum
    summary = (
        f"{view} scores {fmt(score)} ≥ {fmt(minimum)}"
        if ok
        else f"{view} scores {fmt(score)}, below the minimum {fmt(minimum)} (gap {score - minimum:+.4f})"
    )
    note = NO_INTERVAL if confidence else ""
    row = Row(view, score, f"≥ {fmt(minimum)}", score - minimum, ok, note=note, limit=minimum)
    return Verdict(name, kind, ok, score, minimum, summary + (f" ({note})" if note else ""), (row,))


def judge_prefix(plan: CheckPlan, result: SpecResult) -> Verdict:
    checks = result.spec.checks
    assert checks.prefix and plan.dims
    minimum = next(t.value for t in checks.prefix.thresholds
                   if t.dims == plan.dims and t.precision == plan.precision)
    return _minimum(plan.name, "prefix", prefix_label(plan.dims, plan.precision), result,
                    result.prefix(plan.dims, plan.precision), minimum, checks.prefix.confidence)


def judge_dims(plan: CheckPlan, result: SpecResult) -> Verdict:
    checks = result.spec.checks
    assert checks.dims and plan.label
    minimum = next(t.value for t in checks.dims.thresholds if t.label == plan.label)
    view = dims_label(plan.label)
    return _minimum(plan.name, "dims", view, result, result.scores[view], minimum, checks.dims.confidence)


def judge_relative(plan: CheckPlan, result: SpecResult) -> Verdict:
    checks = result.spec.checks
    assert checks.relative and plan.dims
    ratio = next(t.value for t in checks.relative.thresholds
                 if t.dims == plan.dims and t.precision == plan.precision)
    score, full = result.prefix(plan.dims, plan.precision), result.full_score
    target = ratio * full
    achieved = score / full if full else float("nan")
    ok = score >= target
    view = prefix_label(plan.dims, plan.precision)
    confidence = checks.relative.confidence
    reps, full_reps = result.replicates.get(view), result.replicates.get(prefix_label(result.full_dim))
    if confidence and reps is not None and full_reps is not None:
        from ..bootstrap import intervals_from_replicates

        with np.errstate(invalid="ignore", divide="ignore"):
            shares = intervals_from_replicates(np.array([achieved]), (reps / full_reps)[:, None], confidence)
        low, high = float(shares.low[0]), float(shares.high[0])
        ok = bool(low >= ratio)
        ci = f"{confidence:.0%} CI of the share [{low:.1%}, {high:.1%}]"
        summary = (
            f"{view} keeps {achieved:.1%} of the full score; {ci}"
            + ("" if ok else f": the lower bound is below the required {ratio:.1%}")
        )
        row = Row(view, score, f"CI low ≥ {ratio:.1%} of full", float(low - ratio), ok, note=ci, limit=target)
        return Verdict(plan.name, "relative", ok, float(low), ratio, summary, (row,))
    summary = (
        f"{view} keeps {achieved:.1%} of the full score"
        if ok
        else f"{view} keeps {achieved:.1%} of the full score {fmt(full)}; "
        f"at least {ratio:.1%} ({fmt(target)}) is required (gap {score - target:+.4f})"
    )
    note = NO_INTERVAL if confidence else ""
    row = Row(view, score, f"≥ {ratio:.1%} of full ({fmt(target)})", score - target, ok, note=note, limit=target)
    return Verdict(plan.name, "relative", ok, achieved, ratio, summary + (f" ({note})" if note else ""), (row,))


def judge_segments(plan: CheckPlan, result: SpecResult) -> Verdict:
    seg = result.spec.checks.segments
    assert seg
    rows = []
    for start, end in window_ranges(result.full_dim, seg.width, seg.step):
        view = window_label(start, end)
        score = result.scores[view]
        interval = result.interval(view, seg.confidence) if seg.confidence else None
        if seg.confidence and interval is not None:
            rows.append(Row(view, score, f"CI low ≥ {fmt(seg.min)}", interval[0] - seg.min, interval[0] >= seg.min,
                            note=ci_text(interval, seg.confidence), limit=seg.min))
        else:
            rows.append(Row(view, score, f"≥ {fmt(seg.min)}", score - seg.min, score >= seg.min,
                            note=NO_INTERVAL if seg.confidence else "", limit=seg.min))
    worst = min(rows, key=lambda r: r.score or 0.0)
    failing = [r for r in rows if not r.ok]
    ok = not failing
    summary = (
        f"all {len(rows)} windows of {seg.width} dims score ≥ {fmt(seg.min)} "
        f"(lowest {worst.view} {fmt(worst.score or 0)})"
        if ok
        else f"{len(failing)} of {len(rows)} windows of {seg.width} dims score below {fmt(seg.min)} "
        f"(lowest {worst.view} {fmt(worst.score or 0)})"
    )
    return Verdict(plan.name, "segments", ok, worst.score, seg.min, summary, tuple(rows))


def judge_random(plan: CheckPlan, result: SpecResult) -> Verdict:
    rnd = result.spec.checks.random
    assert rnd and plan.dims
    stats = result.random[plan.dims]
    advantage = stats.prefix - stats.mean
    ok = advantage >= rnd.margin
    note = (
        f"prefix {fmt(stats.prefix)}; random mean {fmt(stats.mean)} ± {fmt(stats.sd)} "
        f"over {len(stats.scores)} subsets; prefix beats {stats.percentile:.0f}% of them"
    )
    rows = (
        Row(prefix_label(plan.dims), stats.prefix, "", None, ok),
        Row(random_label(plan.dims), stats.mean, f"prefix − mean ≥ {rnd.margin:+.4f}", advantage - rnd.margin, ok,
            note),
    )
    summary = (
        f"{prefix_label(plan.dims)} beats random subsets by {advantage:+.4f} (margin {rnd.margin:+.4f}); {note}"
        if ok
        else f"{prefix_label(plan.dims)} − mean({random_label(plan.dims)}) = {advantage:+.4f}, "
        f"below the margin {rnd.margin:+.4f}; {note}"
    )
    return Verdict(plan.name, "random", ok, advantage, rnd.margin, summary, rows)


def judge_monotonic(plan: CheckPlan, result: SpecResult) -> Verdict:
    mono = result.spec.checks.monotonic
    assert mono
    ladder = list(result.plan.prefixes)
    rows = [Row(prefix_label(ladder[0]), result.prefix(ladder[0]), "", None, True)]
    worst = 0.0
    for before, after in itertools.pairwise(ladder):
        previous, current = result.prefix(before), result.prefix(after)
        floor = previous - mono.tolerance
        worst = max(worst, previous - current)
        rows.append(Row(prefix_label(after), current, f"≥ {prefix_label(before)} − {mono.tolerance:g} = {fmt(floor)}",
                        current - floor, current >= floor))
    failing = [r for r in rows if not r.ok]
    ok = not failing
    summary = (
        f"the score never drops by more than {mono.tolerance:g} as dimensions grow (largest drop {worst:.4f})"
        if ok
        else f"the score drops by up to {worst:.4f} (> {mono.tolerance:g}) at "
        + ", ".join(r.view for r in failing)
    )
    return Verdict(plan.name, "monotonic", ok, worst, mono.tolerance, summary, tuple(rows))


def judge_min_dims(plan: CheckPlan, result: SpecResult) -> Verdict:
    md = result.spec.checks.min_dims
    assert md
    full = result.full_score
    target = md.ratio * full
    limit = result.full_dim if md.max is None else md.max
    at = "" if md.precision == "float32" else f" at {md.precision}"
    candidates = sorted({*result.sweep, *result.plan.prefixes})
    reached = next((k for k in candidates if result.prefix(k, md.precision) >= target), None)
    if reached is None:
        summary = f"no prefix{at} reaches {md.ratio:.1%} of the full float32 score {fmt(full)}"
        best = result.prefix(result.full_dim, md.precision)
        row = Row(prefix_label(result.full_dim, md.precision), best, f"≥ {fmt(target)}", best - target, False)
        return Verdict(plan.name, "min_dims", False, None, float(limit), summary, (row,))
    ok = reached <= limit
    score = result.prefix(reached, md.precision)
    bound = f"{md.ratio:.1%} of full = {fmt(target)}" + ("" if md.max is None else f"; k ≤ {md.max}")
    row = Row(prefix_label(reached, md.precision), score, bound, float(limit - reached), ok,
              note=f"searched every {md.step} dims")
    summary = (
        f"{reached} dims{at} keep {md.ratio:.1%} of the full score"
        + ("" if md.max is None else f" (limit {md.max})")
        if ok
        else f"the smallest prefix{at} keeping {md.ratio:.1%} of the full score {fmt(full)} has {reached} dims, "
        f"more than the allowed {md.max}"
    )
    return Verdict(plan.name, "min_dims", ok, float(reached), float(limit), summary, (row,))


def judge_cheapest(plan: CheckPlan, result: SpecResult) -> Verdict:
    from ..precision_eval import cheapest_keeping, cost_points

    cheap = result.spec.checks.cheapest
    assert cheap
    full = result.full_score
    target = cheap.ratio * full
    points = cost_points(result.scores, result.plan.prefixes, result.plan.precisions)
    found = cheapest_keeping(points, target)
    limit = "" if cheap.max_bytes is None else f"; ≤ {cheap.max_bytes} bytes"
    if found is None:
        summary = (f"no configuration ({len(points)} sizes × precisions) keeps {cheap.ratio:.1%} of the full "
                   f"float32 score {fmt(full)}")
        return Verdict(plan.name, "cheapest", False, None, None if cheap.max_bytes is None else float(cheap.max_bytes),
                       summary,
                       (Row(prefix_label(result.full_dim), full, f"≥ {fmt(target)}", None, False),))
    view, size, score = found
    ok = cheap.max_bytes is None or size <= cheap.max_bytes
    row = Row(view.label, score, f"≥ {cheap.ratio:.1%} of full ({fmt(target)}){limit}",
              None if cheap.max_bytes is None else float(cheap.max_bytes - size), ok,
              note=f"{size} bytes per vector ({score / full:.1%} of full)" if full else f"{size} bytes per vector")
    summary = (
        f"the cheapest configuration keeping {cheap.ratio:.1%} of the full score is {view.label}: "
        f"{size} bytes per vector, score {fmt(score)}"
    )
    if not ok:
        summary += f", more than the allowed {cheap.max_bytes} bytes"
    return Verdict(plan.name, "cheapest", ok, float(size), None if cheap.max_bytes is None else float(cheap.max_bytes),
                   summary, (row,))
