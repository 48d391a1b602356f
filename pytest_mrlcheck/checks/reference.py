"""Checks against a reference: the recorded baseline file and the compare section's reference model."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..engine.results import SpecResult
from ..spec import BootstrapSpec, Checks, Spec, ViewsSpec
from ..views import View, prefix_label
from .plan import CheckPlan, compare_pairs
from .verdict import Row, Verdict


def reference_spec(spec: Spec) -> Spec:
    """The spec as the compare section's reference model sees it: same data, the needed prefixes."""
    assert spec.compare
    pairs = compare_pairs(spec)
    views = ViewsSpec(prefix=tuple(sorted({theirs for _, theirs in pairs})) if pairs else None,
                      precision=spec.views.precision, calibration=spec.views.calibration)  # same precision views
    bootstrap = spec.bootstrap or (BootstrapSpec() if spec.compare.significance else None)
    return dataclasses.replace(spec, name=f"{spec.name}/reference", model=spec.compare.model, checks=Checks(),
                               views=views, baseline=None, compare=None, bootstrap=bootstrap)


def judge_baseline(result: SpecResult, update: bool) -> Verdict:
    """Record (``update``) or compare against the spec's baseline file."""
    from .. import baseline as baselines

    spec = result.spec
    assert spec.baseline
    path, tolerance = spec.baseline.path, spec.baseline.tolerance
    current = baselines.record(result)
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
    from ..bootstrap import delta_from_replicates

    delta = delta_from_replicates(np.array([point - floor]), (replicates - floor)[:, None], alternative="less")
    return float(delta.p_value[0])


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
