"""Expectations → test items → verdicts: thresholds, relative, segments, random margin,
monotonic and min_dims, each judged from a spec's scores."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .engine.results import SpecResult
from .spec import Spec
from .views import View, dims_label, informed_label, prefix_label, random_label, window_label, window_ranges


@dataclass(frozen=True)
class CheckPlan:
    """One test item: its name (the last part of the node id) and what it checks."""

    name: str
    kind: str
    line: int
    xfail: str | None = None
    dims: int | None = None
    label: str | None = None
    precision: str = "float32"


@dataclass(frozen=True)
class Row:
    """One line of a verdict's table: a view, its score, the bound it met or missed."""

    view: str
    score: float | None
    bound: str
    gap: float | None
    ok: bool
    note: str = ""
    baseline: float | None = None
    limit: float | None = None  # the bound as a number on the score's scale, where it is one (plots draw it)


@dataclass(frozen=True)
class Verdict:
    name: str
    kind: str
    passed: bool
    value: float | None
    bound: float | None
    summary: str
    rows: tuple[Row, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = "passed" if self.passed else "failed"
        return data


def plan_checks(spec: Spec) -> list[CheckPlan]:
    """Every item a spec yields, in a stable order."""
    checks = spec.checks
    plans: list[CheckPlan] = []
    if checks.prefix:
        plans += [CheckPlan(View.prefix(t.dims, t.precision).item_id("prefix"), "prefix", t.line, dims=t.dims,
                            precision=t.precision) for t in checks.prefix.thresholds]
    if checks.relative:
        plans += [CheckPlan(View.prefix(t.dims, t.precision).item_id("relative"), "relative", t.line, dims=t.dims,
                            precision=t.precision) for t in checks.relative.thresholds]
    if checks.segments:
        plans.append(CheckPlan("segments", "segments", checks.segments.line, checks.segments.xfail))
    if checks.random:
        plans += [
            CheckPlan(random_label(k), "random", checks.random.line, checks.random.xfail, dims=k)
            for k in checks.random.dims
        ]
    if checks.monotonic:
        plans.append(CheckPlan("monotonic", "monotonic", checks.monotonic.line, checks.monotonic.xfail))
    if checks.min_dims:
        plans.append(CheckPlan("min_dims", "min_dims", checks.min_dims.line, checks.min_dims.xfail))
    if checks.cheapest:
        plans.append(CheckPlan("cheapest", "cheapest", checks.cheapest.line, checks.cheapest.xfail))
    if checks.dims:
        plans += [CheckPlan(dims_label(t.label), "dims", t.line, label=t.label) for t in checks.dims.thresholds]
    if checks.pca:
        plans += [CheckPlan(View.pca(g.dims).label, "pca", g.line, g.xfail, dims=g.dims) for g in checks.pca.gaps]
    if checks.index:
        plans += [CheckPlan(f"index[{b.key}]", "index", b.line, dims=b.dims, label=b.kind, precision=b.precision)
                  for b in checks.index.bounds]
    funnel = spec.task.options.get("funnel")
    if funnel and (funnel["min"] is not None or funnel["min_ratio"] is not None):
        plans.append(CheckPlan("funnel", "funnel", funnel["line"]))
    if checks.server_truncation:
        plans += [CheckPlan(f"server_truncation[{k}]", "server_truncation", checks.server_truncation.line,
                            checks.server_truncation.xfail, dims=k) for k in checks.server_truncation.dims]
        st = checks.server_truncation
        for name, on in (("reject", st.reject), ("order_invariance", st.order_invariance),
                         ("batch_invariance", st.batch_invariance)):
            if on:
                plans.append(CheckPlan(f"server_truncation[{name}]", "server_contract", st.line, st.xfail,
                                       label=name))
    if checks.geometry:
        plans += [CheckPlan(f"geometry[{metric}]", "geometry", checks.geometry.line, label=metric)
                  for metric in checks.geometry.bounds]
    informed = spec.task.informed
    if informed and informed.tolerance is not None:
        plans.append(CheckPlan(informed_label(informed.dims), "informed", informed.line, dims=informed.dims))
    if spec.model.canary is not None:
        plans.append(CheckPlan("canary", "canary", spec.model.canary.line or spec.model.line))
    if spec.baseline:
        plans.append(CheckPlan("baseline", "baseline", spec.baseline.line))
    if spec.compare:
        pairs = compare_pairs(spec)
        if pairs is None:
            plans.append(CheckPlan("compare", "compare", spec.compare.line, spec.compare.xfail))
        else:
            plans += [
                CheckPlan(f"compare[{mine}]" if mine == theirs else f"compare[{mine}:{theirs}]", "compare",
                          spec.compare.line, spec.compare.xfail, dims=mine, label=str(theirs))
                for mine, theirs in pairs
            ]
    return plans


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _ci_text(interval: tuple[float, float], confidence: float) -> str:
    return f"{confidence:.0%} CI [{_fmt(interval[0])}, {_fmt(interval[1])}]"


def _minimum(
    name: str, kind: str, view: str, result: SpecResult, score: float, minimum: float, confidence: float | None
) -> Verdict:
    interval = result.interval(view, confidence) if confidence else None
    if confidence and interval is not None:
        low = interval[0]
        ok = low >= minimum
        ci = _ci_text(interval, confidence)
        summary = (
            f"{view} scores {_fmt(score)}, {ci}: its lower bound is ≥ {_fmt(minimum)}"
            if ok
            else f"{view} scores {_fmt(score)}, {ci}: the lower bound {_fmt(low)} is below the minimum "
            f"{_fmt(minimum)} (gap {low - minimum:+.4f})"
        )
        row = Row(view, score, f"CI low ≥ {_fmt(minimum)}", low - minimum, ok, note=ci, limit=minimum)
        return Verdict(name, kind, ok, low, minimum, summary, (row,))
    ok = score >= minimum
    summary = (
        f"{view} scores {_fmt(score)} ≥ {_fmt(minimum)}"
        if ok
        else f"{view} scores {_fmt(score)}, below the minimum {_fmt(minimum)} (gap {score - minimum:+.4f})"
    )
    row = Row(view, score, f"≥ {_fmt(minimum)}", score - minimum, ok, limit=minimum)
    return Verdict(name, kind, ok, score, minimum, summary, (row,))


def _judge_prefix(plan: CheckPlan, result: SpecResult) -> Verdict:
    checks = result.spec.checks
    assert checks.prefix and plan.dims
    minimum = next(t.value for t in checks.prefix.thresholds
                   if t.dims == plan.dims and t.precision == plan.precision)
    return _minimum(plan.name, "prefix", prefix_label(plan.dims, plan.precision), result,
                    result.prefix(plan.dims, plan.precision), minimum, checks.prefix.confidence)


def _judge_dims(plan: CheckPlan, result: SpecResult) -> Verdict:
    checks = result.spec.checks
    assert checks.dims and plan.label
    minimum = next(t.value for t in checks.dims.thresholds if t.label == plan.label)
    view = dims_label(plan.label)
    return _minimum(plan.name, "dims", view, result, result.scores[view], minimum, checks.dims.confidence)


def _judge_relative(plan: CheckPlan, result: SpecResult) -> Verdict:
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
        from .bootstrap import intervals_from_replicates

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
        else f"{view} keeps {achieved:.1%} of the full score {_fmt(full)}; "
        f"at least {ratio:.1%} ({_fmt(target)}) is required (gap {score - target:+.4f})"
    )
    row = Row(view, score, f"≥ {ratio:.1%} of full ({_fmt(target)})", score - target, ok, limit=target)
    return Verdict(plan.name, "relative", ok, achieved, ratio, summary, (row,))


def _judge_segments(plan: CheckPlan, result: SpecResult) -> Verdict:
    seg = result.spec.checks.segments
    assert seg
    rows = []
    for start, end in window_ranges(result.full_dim, seg.width, seg.step):
        view = window_label(start, end)
        score = result.scores[view]
        interval = result.interval(view, seg.confidence) if seg.confidence else None
        if seg.confidence and interval is not None:
            rows.append(Row(view, score, f"CI low ≥ {_fmt(seg.min)}", interval[0] - seg.min, interval[0] >= seg.min,
                            note=_ci_text(interval, seg.confidence), limit=seg.min))
        else:
            rows.append(Row(view, score, f"≥ {_fmt(seg.min)}", score - seg.min, score >= seg.min, limit=seg.min))
    worst = min(rows, key=lambda r: r.score or 0.0)
    failing = [r for r in rows if not r.ok]
    ok = not failing
    summary = (
        f"all {len(rows)} windows of {seg.width} dims score ≥ {_fmt(seg.min)} "
        f"(lowest {worst.view} {_fmt(worst.score or 0)})"
        if ok
        else f"{len(failing)} of {len(rows)} windows of {seg.width} dims score below {_fmt(seg.min)} "
        f"(lowest {worst.view} {_fmt(worst.score or 0)})"
    )
    return Verdict(plan.name, "segments", ok, worst.score, seg.min, summary, tuple(rows))


def _judge_random(plan: CheckPlan, result: SpecResult) -> Verdict:
    rnd = result.spec.checks.random
    assert rnd and plan.dims
    stats = result.random[plan.dims]
    advantage = stats.prefix - stats.mean
    ok = advantage >= rnd.margin
    note = (
        f"prefix {_fmt(stats.prefix)}; random mean {_fmt(stats.mean)} ± {_fmt(stats.sd)} "
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


def _judge_monotonic(plan: CheckPlan, result: SpecResult) -> Verdict:
    mono = result.spec.checks.monotonic
    assert mono
    ladder = list(result.plan.prefixes)
    rows = [Row(prefix_label(ladder[0]), result.prefix(ladder[0]), "", None, True)]
    worst = 0.0
    for before, after in itertools.pairwise(ladder):
        previous, current = result.prefix(before), result.prefix(after)
        floor = previous - mono.tolerance
        worst = max(worst, previous - current)
        rows.append(Row(prefix_label(after), current, f"≥ prefix[{before}] − {mono.tolerance:g} = {_fmt(floor)}",
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


def _judge_min_dims(plan: CheckPlan, result: SpecResult) -> Verdict:
    md = result.spec.checks.min_dims
    assert md
    full = result.full_score
    target = md.ratio * full
    limit = result.full_dim if md.max is None else md.max
    at = "" if md.precision == "float32" else f" at {md.precision}"
    candidates = sorted({*result.sweep, *result.plan.prefixes})
    reached = next((k for k in candidates if result.prefix(k, md.precision) >= target), None)
    if reached is None:
        summary = f"no prefix{at} reaches {md.ratio:.1%} of the full float32 score {_fmt(full)}"
        best = result.prefix(result.full_dim, md.precision)
        row = Row(prefix_label(result.full_dim, md.precision), best, f"≥ {_fmt(target)}", best - target, False)
        return Verdict(plan.name, "min_dims", False, None, float(limit), summary, (row,))
    ok = reached <= limit
    score = result.prefix(reached, md.precision)
    bound = f"{md.ratio:.1%} of full = {_fmt(target)}" + ("" if md.max is None else f"; k ≤ {md.max}")
    row = Row(prefix_label(reached, md.precision), score, bound, float(limit - reached), ok,
              note=f"searched every {md.step} dims")
    summary = (
        f"{reached} dims{at} keep {md.ratio:.1%} of the full score"
        + ("" if md.max is None else f" (limit {md.max})")
        if ok
        else f"the smallest prefix{at} keeping {md.ratio:.1%} of the full score {_fmt(full)} has {reached} dims, "
        f"more than the allowed {md.max}"
    )
    return Verdict(plan.name, "min_dims", ok, float(reached), float(limit), summary, (row,))


def _judge_cheapest(plan: CheckPlan, result: SpecResult) -> Verdict:
    from .precision_eval import cheapest_keeping, cost_points

    cheap = result.spec.checks.cheapest
    assert cheap
    full = result.full_score
    target = cheap.ratio * full
    points = cost_points(result.scores, result.plan.prefixes, result.plan.precisions)
    found = cheapest_keeping(points, target)
    limit = "" if cheap.max_bytes is None else f"; ≤ {cheap.max_bytes} bytes"
    if found is None:
        summary = (f"no configuration ({len(points)} sizes × precisions) keeps {cheap.ratio:.1%} of the full "
                   f"float32 score {_fmt(full)}")
        return Verdict(plan.name, "cheapest", False, None, None if cheap.max_bytes is None else float(cheap.max_bytes),
                       summary,
                       (Row(prefix_label(result.full_dim), full, f"≥ {_fmt(target)}", None, False),))
    view, size, score = found
    ok = cheap.max_bytes is None or size <= cheap.max_bytes
    row = Row(view.label, score, f"≥ {cheap.ratio:.1%} of full ({_fmt(target)}){limit}",
              None if cheap.max_bytes is None else float(cheap.max_bytes - size), ok,
              note=f"{size} bytes per vector ({score / full:.1%} of full)" if full else f"{size} bytes per vector")
    summary = (
        f"the cheapest configuration keeping {cheap.ratio:.1%} of the full score is {view.label}: "
        f"{size} bytes per vector, score {_fmt(score)}"
    )
    if not ok:
        summary += f", more than the allowed {cheap.max_bytes} bytes"
    return Verdict(plan.name, "cheapest", ok, float(size), None if cheap.max_bytes is None else float(cheap.max_bytes),
                   summary, (row,))


def _judge_pca(plan: CheckPlan, result: SpecResult) -> Verdict:
    """The prefix may trail the k-dim PCA projection by at most ``max_gap`` (gap = PCA − prefix)."""
    check, found = result.spec.checks.pca, result.pca
    assert check and found and plan.dims
    k = plan.dims
    allowed = next(g.max_gap for g in check.gaps if g.dims == k)
    prefix, pca = found.prefix[k], found.score(k)
    gap = pca - prefix
    pca_view = View.pca(k).label
    ok = gap <= allowed
    rows = (
        Row(prefix_label(k), prefix, f"{pca_view} − prefix ≤ {allowed:g}", allowed - gap, ok),
        Row(pca_view, pca, "", None, ok,
            note=f"fitted on {found.source}; keeps {found.explained[k]:.1%} of its variance"),
    )
    behind = (f"trails {pca_view} {_fmt(pca)} by {gap:.4f}" if gap > 0
              else f"is {-gap:.4f} ahead of {pca_view} {_fmt(pca)}")
    summary = (
        f"{prefix_label(k)} {_fmt(prefix)} {behind} (allowed gap {allowed:g})"
        if ok
        else f"{prefix_label(k)} scores {_fmt(prefix)} and {behind}, more than the allowed {allowed:g}: a learned "
        f"{k}-dim projection beats the first {k} dimensions"
    )
    return Verdict(plan.name, "pca", ok, gap, allowed, summary, rows)


def _judge_informed(plan: CheckPlan, result: SpecResult) -> Verdict:
    informed, spec_informed = result.informed, result.spec.task.informed
    assert informed and spec_informed and spec_informed.tolerance is not None and plan.dims
    prefix, best = informed["prefix"], informed["score"]
    tolerance = spec_informed.tolerance
    ok = prefix >= best - tolerance
    where = f"chosen on {informed['select_split']}, scored on {informed['eval_split']}"
    summary = (
        f"the first {plan.dims} dims score {_fmt(prefix)}; the best {plan.dims} dims ({where}) score "
        f"{_fmt(best)}: the prefix is {best - prefix:+.4f} behind"
        + ("" if ok else f", more than the tolerated {tolerance:g}")
    )
    rows = (
        Row(informed_label(plan.dims), best, "", None, ok, note=where),
        Row(prefix_label(plan.dims), prefix, f"≥ informed − {tolerance:g}", prefix - best + tolerance, ok),
    )
    return Verdict(plan.name, "informed", ok, prefix - best, -tolerance, summary, rows)


def _judge_geometry(plan: CheckPlan, result: SpecResult) -> Verdict:
    from .geometry import HIGHER_IS_BETTER

    geometry = result.spec.checks.geometry
    assert geometry and plan.label
    metric = plan.label
    higher = HIGHER_IS_BETTER[metric]
    rows = []
    for threshold in geometry.bounds[metric]:
        raw = result.geometry[threshold.dims][metric]
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


def _judge_server_truncation(plan: CheckPlan, result: SpecResult) -> Verdict:
    check = result.spec.checks.server_truncation
    assert check and plan.dims
    found = result.server_truncation[plan.dims]
    gap = found["server_score"] - found["client_score"]
    cosine_ok = found["mean_cosine"] >= check.min_cosine
    gap_ok = abs(gap) <= check.max_score_gap
    rows: tuple[Row, ...] = (
        Row(f"server[{plan.dims}]", found["server_score"], "", None, gap_ok,
            note=f"vectors requested with dimensions={plan.dims}"),
        Row(prefix_label(plan.dims), found["client_score"], f"|server − prefix| ≤ {check.max_score_gap:g}",
            check.max_score_gap - abs(gap), gap_ok, note="client-side prefix, renormalised"),
        Row(f"cosine[{plan.dims}]", found["mean_cosine"], f"mean ≥ {check.min_cosine:g}",
            found["mean_cosine"] - check.min_cosine, cosine_ok, note=f"min {found['min_cosine']:.4f}"),
    )
    contract = result.server_contract or {}
    norm = contract.get("norms", {}).get(str(plan.dims))
    norm_ok = True
    if norm is not None and check.max_norm_error is not None:
        norm_ok = norm["max_error"] <= check.max_norm_error
        rows += (Row(f"norm[{plan.dims}]", norm["max_error"], f"|norm − 1| ≤ {check.max_norm_error:g}",
                     check.max_norm_error - norm["max_error"], norm_ok,
                     note=f"norms {norm['min']:.4f}…{norm['max']:.4f} over {contract['texts']} texts "
                     "(live request)"),)
    ok = cosine_ok and gap_ok and norm_ok
    if not norm_ok:
        assert norm is not None and check.max_norm_error is not None
        summary = (f"at {plan.dims} dims the server returned vectors that are not unit length: norms "
                   f"{norm['min']:.4f}…{norm['max']:.4f} (|norm − 1| up to {norm['max_error']:.4f}, allowed "
                   f"{check.max_norm_error:g}); it truncates without renormalising")
        return Verdict(plan.name, "server_truncation", False, norm["max_error"], check.max_norm_error, summary, rows)
    summary = (
        f"at {plan.dims} dims the provider's vectors match the renormalised prefix: mean cosine "
        f"{found['mean_cosine']:.4f} (min {found['min_cosine']:.4f}), score {_fmt(found['server_score'])} vs "
        f"{_fmt(found['client_score'])} (Δ {gap:+.4f})"
    )
    if not ok:
        summary = "server-side truncation differs from the client-side prefix: " + summary.split(": ", 1)[1]
    return Verdict(plan.name, "server_truncation", ok, found["mean_cosine"], check.min_cosine, summary, rows)


def _judge_server_contract(plan: CheckPlan, result: SpecResult) -> Verdict:
    check = result.spec.checks.server_truncation
    found = result.server_contract
    assert check is not None and found is not None and plan.label
    requests = f"{found['requests']} live requests for the contract"
    rows: list[Row] = []
    if plan.label == "reject":
        for size, answer in found["reject"].items():
            if answer["refused"]:
                rows.append(Row(f"dimensions={size}", None, "refused (4xx)", None, True,
                                note=f"HTTP {answer['status']}"))
            else:
                rows.append(Row(f"dimensions={size}", None, "refused (4xx)", None, False,
                                note=f"accepted: {answer['returned_dims']}-dim vectors, norm {answer['norm']:.4f}"))
        accepted = [r for r in rows if not r.ok]
        summary = (f"the server refuses every impossible size ({', '.join(found['reject'])}); {requests}"
                   if not accepted else
                   "the server accepted sizes it must refuse: " + "; ".join(
                       f"{r.view} → {r.note.removeprefix('accepted: ')}" for r in accepted)
                   + f" (a 4xx was expected; {requests})")
        return Verdict(plan.name, "server_contract", not accepted, None, None, summary, tuple(rows))
    if plan.label == "order_invariance":
        pairs = [("shuffled", found["order"])]
    else:
        pairs = [(f"batch {size}", agreement) for size, agreement in found["batch"].items()]
    for view, agreement in pairs:
        rows.append(Row(view, agreement["min_cosine"], f"min ≥ {check.min_cosine:g}",
                        agreement["min_cosine"] - check.min_cosine, agreement["min_cosine"] >= check.min_cosine,
                        note=f"mean {agreement['mean_cosine']:.6f} over {agreement['texts']} texts"))
    bad = [r for r in rows if not r.ok]
    what = "shuffled" if plan.label == "order_invariance" else "sent in other batch sizes"
    summary = (f"the same texts {what} give the same vectors (min cosine "
               f"{min(r.score or 0.0 for r in rows):.6f} ≥ {check.min_cosine:g}); {requests}"
               if not bad else
               f"the same texts {what} give different vectors: " + "; ".join(
                   f"{r.view}: min cosine {r.score:.6f} < {check.min_cosine:g}" for r in bad) + f" ({requests})")
    worst = min(r.score or 0.0 for r in rows)
    return Verdict(plan.name, "server_contract", not bad, worst, check.min_cosine, summary, tuple(rows))


def _judge_funnel(plan: CheckPlan, result: SpecResult) -> Verdict:
    settings = result.spec.task.options["funnel"]
    found = result.funnel
    assert found is not None
    score, full = found["score"], result.full_score
    rows = []
    if settings["min"] is not None:
        rows.append(Row("funnel", score, f"≥ {_fmt(settings['min'])}", score - settings["min"],
                        score >= settings["min"]))
    if settings["min_ratio"] is not None:
        target = settings["min_ratio"] * full
        rows.append(Row("funnel", score, f"≥ {settings['min_ratio']:.1%} of full ({_fmt(target)})", score - target,
                        score >= target))
    ok = all(r.ok for r in rows)
    overlap = next(value for key, value in found.items() if key.startswith("overlap@"))
    at = {key: f" at {found[key]}" if found.get(key, "float32") != "float32" else ""
          for key in ("shortlist_precision", "rerank_precision")}
    summary = (
        f"shortlist {found['shortlist']} with {found['shortlist_dims']} dims{at['shortlist_precision']}, "
        f"rerank with {found['rerank_dims']}{at['rerank_precision']}: "
        f"{result.spec.task.metric} {_fmt(score)} (full search {_fmt(full)}), top-k overlap with full search "
        f"{overlap:.1%}, "
        + (f"{found['relative_bytes']:.1%} of the full float32 search's bytes" if "relative_bytes" in found
           else f"{found['relative_cost']:.1%} of the full search's arithmetic")
    )
    bound = settings["min"] if settings["min"] is not None else settings["min_ratio"]
    return Verdict(plan.name, "funnel", ok, score, bound, summary, tuple(rows))


def _judge_canary(plan: CheckPlan, result: SpecResult) -> Verdict:
    from .canary import verdict_text

    config = result.spec.model.canary
    threshold = config.min_cosine if config else 0.0
    ran = [c for c in result.canaries if c.mean_cosine is not None]
    rows = tuple(
        Row(f"canary[{c.role}]", c.mean_cosine, f"min ≥ {c.threshold:g}",
            None if c.min_cosine is None else c.min_cosine - c.threshold, not c.failed,
            note=f"{c.texts} texts, min {c.min_cosine:.6f}" + ("" if c.reason == "canary" else f"; {c.reason}"))
        for c in ran
    )
    failed = [c for c in ran if c.failed]
    if failed:
        summary = " | ".join(verdict_text(c) for c in failed)
    elif ran:
        summary = "cached vectors match the provider: " + "; ".join(verdict_text(c) for c in ran)
    else:
        summary = ("no cached vectors from an earlier run were read, so there was nothing to compare "
                   "(every vector was encoded in this run)")
    worst = min((c.min_cosine for c in ran if c.min_cosine is not None), default=None)
    return Verdict(plan.name, "canary", not failed, worst, threshold, summary, rows)


def _judge_index(plan: CheckPlan, result: SpecResult) -> Verdict:
    """``index[hnsw@128]``: recall of the index's top-k against exact search, and the task metric through it."""
    assert result.spec.checks.index and plan.label and plan.dims
    bound = next(b for b in result.spec.checks.index.bounds
                 if b.kind == plan.label and b.dims == plan.dims and b.precision == plan.precision)
    found = next(r for r in result.index if r.view.index == plan.label and r.view.dims == plan.dims
                 and r.view.precision == plan.precision)
    label, metric = found.view.label, result.spec.task.metric
    rows = []
    if bound.recall_vs_exact is not None:
        rows.append(Row(label, found.recall_vs_exact, f"recall vs exact ≥ {_fmt(bound.recall_vs_exact)}",
                        found.recall_vs_exact - bound.recall_vs_exact, found.recall_vs_exact >= bound.recall_vs_exact,
                        note=f"recall@{_depth(metric)} of the index's top-k against exhaustive search"))
    if bound.metric is not None:
        rows.append(Row(label, found.metric, f"{metric} ≥ {_fmt(bound.metric)}", found.metric - bound.metric,
                        found.metric >= bound.metric, note=f"exact search {_fmt(found.exact_metric)}"))
    ok = all(r.ok for r in rows)
    parts = [f"recall vs exact {_fmt(found.recall_vs_exact)}", f"{metric} {_fmt(found.metric)} "
             f"(exact {_fmt(found.exact_metric)})", f"overlap with full search {found.overlap_full:.1%}"]
    failing = "; ".join(f"{r.bound.split(' ≥ ')[0]} {_fmt(r.score or 0.0)} is below {r.bound.split(' ≥ ')[1]}"
                        for r in rows if not r.ok)
    summary = f"{label}: " + ", ".join(parts) + ("" if ok else f" — {failing}")
    limit = bound.recall_vs_exact if bound.recall_vs_exact is not None else bound.metric
    return Verdict(plan.name, "index", ok, rows[0].score, limit, summary, tuple(rows))


def _depth(metric: str) -> str:
    return metric.partition("@")[2] or "k"


_JUDGES: dict[str, Callable[[CheckPlan, SpecResult], Verdict]] = {
    "canary": _judge_canary,
    "funnel": _judge_funnel,
    "server_truncation": _judge_server_truncation,
    "server_contract": _judge_server_contract,
    "geometry": _judge_geometry,
    "informed": _judge_informed,
    "prefix": _judge_prefix,
    "relative": _judge_relative,
    "segments": _judge_segments,
    "random": _judge_random,
    "monotonic": _judge_monotonic,
    "min_dims": _judge_min_dims,
    "cheapest": _judge_cheapest,
    "dims": _judge_dims,
    "pca": _judge_pca,
    "index": _judge_index,
}


def judge(plan: CheckPlan, result: SpecResult) -> Verdict:
    return _JUDGES[plan.kind](plan, result)


def failure_table(verdict: Verdict, limit: int = 12) -> str:
    """The failure message: a headline and a small plain-text table of the failing views."""
    rows = [r for r in verdict.rows if not r.ok] or list(verdict.rows)
    shown = rows[:limit]
    header: tuple[str, ...]
    if any(r.baseline is not None for r in shown):
        header = ("view", "reference" if verdict.kind == "compare" else "baseline", "now", "Δ")
        body = [(r.view, _fmt(r.baseline or 0.0), _fmt(r.score or 0.0), r.note.removeprefix("Δ ")) for r in shown]
    else:
        header = ("view", "score", "bound", "gap")
        body = [
            (r.view, "" if r.score is None else _fmt(r.score), r.bound, "" if r.gap is None else f"{r.gap:+.4f}")
            for r in shown
        ]
    if not body:
        return verdict.summary
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [verdict.summary, ""]
    for line in [header, *body]:
        lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
    if len(rows) > limit:
        lines.append(f"  … and {len(rows) - limit} more")
    return "\n".join(lines)


def judge_baseline(result: SpecResult, summary: dict[str, Any], update: bool) -> Verdict:
    """Record (``update``) or compare against the spec's baseline file."""
    from . import baseline as baselines

    spec = result.spec
    assert spec.baseline
    path, tolerance = spec.baseline.path, spec.baseline.tolerance
    current = baselines.record(summary, result.model_identity)
    if update:
        written = baselines.update(path, spec.name, current)
        action = "recorded" if written else "unchanged"
        summary_text = f"baseline {action}: {len(current['scores'])} views of {spec.name!r} in {path}"
        return Verdict("baseline", "baseline", True, None, tolerance, summary_text, ())
    content = baselines.read(path)
    recorded = None if content is None else baselines.entry(content, path, spec.name)
    if recorded is None:
        where = "no baseline file" if content is None else f"no entry for {spec.name!r}"
        summary_text = (
            f"{where} at {path}; record one with: pytest {spec.path} --mrlcheck-update-baseline"
        )
        return Verdict("baseline", "baseline", False, None, tolerance, summary_text, ())
    comparison = baselines.compare(recorded, current, tolerance)
    significance = spec.baseline.significance
    rows_list = []
    for view, then, now, delta, ok in comparison.rows:
        note = f"Δ {delta:+.4f}"
        reps = result.replicates.get(view)
        if significance and reps is not None and not ok:
            p_value = drop_p_value(now, reps, then - tolerance)
            ok = p_value >= significance
            note += f", p = {p_value:.3f}" + (" (not significant)" if ok else "")
        rows_list.append(Row(view, now, f"≥ {then:.4f} − {tolerance:g}", delta + tolerance, ok, note=note,
                             baseline=then))
    rows = tuple(rows_list)
    notes = "; ".join(comparison.notes)
    if comparison.mismatches:
        summary_text = (
            f"the baseline in {path} was recorded under different conditions, so it cannot be compared: "
            + "; ".join(comparison.mismatches)
            + f". If the change is intended, re-record: pytest {spec.path} --mrlcheck-update-baseline"
        )
        return Verdict("baseline", "baseline", False, None, tolerance, summary_text, ())
    failing = [r for r in rows if not r.ok]
    worst = min((r.gap - tolerance for r in rows if r.gap is not None), default=0.0)
    if failing:
        summary_text = (
            f"{len(failing)} of {len(rows)} views dropped by more than {tolerance:g} "
            + (f"(significant at {significance:g}) " if significance else "")
            + "against the baseline "
            f"(worst {worst:+.4f}: {min(failing, key=lambda r: r.gap or 0).view})"
        )
    else:
        summary_text = f"no view dropped by more than {tolerance:g} against the baseline (worst Δ {worst:+.4f})"
    if comparison.missing_views:
        summary_text += f"; {len(comparison.missing_views)} recorded views not evaluated now"
    if notes:
        summary_text += f"; {notes}"
    return Verdict("baseline", "baseline", not failing, worst, -tolerance, summary_text, rows)


def drop_p_value(point: float, replicates: np.ndarray, floor: float) -> float:
    """One-sided bootstrap p-value of a drop below ``floor`` (H0: the true value is at least ``floor``;
    H1: it is below): small when the replicates lie clearly below ``floor``, so a check fails only
    when the drop is significant."""
    from .bootstrap import delta_from_replicates

    delta = delta_from_replicates(np.array([point - floor]), (replicates - floor)[:, None], alternative="less")
    return float(delta.p_value[0])


def compare_pairs(spec: Spec) -> list[tuple[int, int]] | None:
    """(candidate dims, reference dims) items of a compare section; ``None``: one item over common prefixes."""
    assert spec.compare
    if spec.compare.pairs:
        return list(spec.compare.pairs)
    if spec.views.prefix:
        return [(k, k) for k in spec.views.prefix]
    return None


def judge_compare(plan: CheckPlan, result: SpecResult, reference: SpecResult) -> Verdict:
    """The candidate's prefixes against the reference model's on the same data."""
    spec = result.spec
    cmp = spec.compare
    assert cmp
    if reference.dataset_fingerprint != result.dataset_fingerprint:  # pragma: no cover - same spec data
        return Verdict(plan.name, "compare", False, None, None, "the reference saw different data", ())
    if plan.dims is not None and plan.label is not None:
        pairs = [(plan.dims, int(plan.label))]
    else:
        common = sorted(set(result.plan.prefixes) & set(reference.plan.prefixes))
        pairs = [(k, k) for k in common]
    def row(view: str, now: float, then: float, mine_reps: np.ndarray | None, their_reps: np.ndarray | None) -> Row:
        """The candidate's score against the reference's; a drop fails only if significant (when asked)."""
        delta = now - then
        ok = delta >= -cmp.max_drop - 1e-12
        note = f"Δ {delta:+.4f}"
        if cmp.significance and not ok and mine_reps is not None and their_reps is not None:
            p_value = drop_p_value(delta, mine_reps - their_reps, -cmp.max_drop)
            ok = p_value >= cmp.significance
            note += f", p = {p_value:.3f}" + (" (not significant)" if ok else "")
        return Row(view, now, f"≥ reference {then:.4f} − {cmp.max_drop:g}", delta + cmp.max_drop, ok, note=note,
                   baseline=then)

    rows = []
    for mine, theirs in pairs:
        if theirs not in reference.plan.prefixes or mine not in result.plan.prefixes:
            missing = theirs if theirs not in reference.plan.prefixes else mine
            return Verdict(plan.name, "compare", False, None, None,
                           f"{prefix_label(missing)} is beyond one of the models' dimensions "
                           f"(candidate {result.full_dim}, reference {reference.full_dim})", ())
        view = prefix_label(mine) if mine == theirs else f"{prefix_label(mine)} vs {prefix_label(theirs)}"
        rows.append(row(view, result.prefix(mine), reference.prefix(theirs),
                        result.replicates.get(prefix_label(mine)), reference.replicates.get(prefix_label(theirs))))
    for quantized in _common_precision_views(result, reference, pairs):
        label = quantized.label
        rows.append(row(label, result.scores[label], reference.scores[label], result.replicates.get(label),
                        reference.replicates.get(label)))
    failing = [r for r in rows if not r.ok]
    worst = min((r.gap - cmp.max_drop for r in rows if r.gap is not None), default=0.0)
    who = f"{spec.model.label} vs {cmp.model.label}"
    summary = (
        f"{who}: no view is worse by more than {cmp.max_drop:g} (worst Δ {worst:+.4f})"
        if not failing
        else f"{who}: {len(failing)} of {len(rows)} views are worse by more than {cmp.max_drop:g} "
        f"(worst Δ {worst:+.4f} at {min(failing, key=lambda r: r.gap or 0).view})"
    )
    return Verdict(plan.name, "compare", not failing, worst, -cmp.max_drop, summary, tuple(rows))


def _common_precision_views(result: SpecResult, reference: SpecResult, pairs: list[tuple[int, int]]) -> list[View]:
    """Precision views of the compared sizes that both models scored (candidate and reference share a spec)."""
    sizes = {mine for mine, theirs in pairs if mine == theirs}
    views = []
    for view in result.plan.quantized:
        if view.kind == "prefix" and view.end in sizes and view.label in result.scores \
                and view.label in reference.scores:
            views.append(view)
    return views
