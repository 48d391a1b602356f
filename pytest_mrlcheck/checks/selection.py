"""The prefix against other choices of k dimensions: a fitted PCA projection and the informed dims."""

from __future__ import annotations

from ..engine.results import SpecResult
from ..views import View, informed_label, prefix_label
from .plan import CheckPlan
from .verdict import Row, Verdict, fmt


def judge_pca(plan: CheckPlan, result: SpecResult) -> Verdict:
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
    behind = (f"trails {pca_view} {fmt(pca)} by {gap:.4f}" if gap > 0
              else f"is {-gap:.4f} ahead of {pca_view} {fmt(pca)}")
    summary = (
        f"{prefix_label(k)} {fmt(prefix)} {behind} (allowed gap {allowed:g})"
        if ok
        else f"{prefix_label(k)} scores {fmt(prefix)} and {behind}, more than the allowed {allowed:g}: a learned "
        f"{k}-dim projection beats the first {k} dimensions"
    )
    return Verdict(plan.name, "pca", ok, gap, allowed, summary, rows)


def judge_informed(plan: CheckPlan, result: SpecResult) -> Verdict:
    informed, spec_informed = result.informed, result.spec.task.informed
    assert informed and spec_informed and spec_informed.tolerance is not None and plan.dims
    prefix, best = informed["prefix"], informed["score"]
    tolerance = spec_informed.tolerance
    ok = prefix >= best - tolerance
    where = f"chosen on {informed['select_split']}, scored on {informed['eval_split']}"
    summary = (
        f"the first {plan.dims} dims score {fmt(prefix)}; the best {plan.dims} dims ({where}) score "
        f"{fmt(best)}: the prefix is {best - prefix:+.4f} behind"
        + ("" if ok else f", more than the tolerated {tolerance:g}")
    )
    rows = (
        Row(informed_label(plan.dims), best, "", None, ok, note=where),
        Row(prefix_label(plan.dims), prefix, f"≥ informed − {tolerance:g}", prefix - best + tolerance, ok),
    )
    return Verdict(plan.name, "informed", ok, prefix - best, -tolerance, summary, rows)
