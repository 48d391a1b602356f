"""Which test items a spec yields: one :class:`CheckPlan` per expectation, in a stable order."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Spec
from ..views import View, dims_label, informed_label, item_name, random_label


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
        plans += [CheckPlan(item_name("index", b.key), "index", b.line, dims=b.dims, label=b.kind,
                            precision=b.precision) for b in checks.index.bounds]
    funnel = spec.task.funnel
    if funnel and (funnel.min is not None or funnel.min_ratio is not None):
        plans.append(CheckPlan("funnel", "funnel", funnel.line))
    if checks.server_truncation:
        plans += [CheckPlan(item_name("server_truncation", str(k)), "server_truncation", checks.server_truncation.line,
                            checks.server_truncation.xfail, dims=k) for k in checks.server_truncation.dims]
        st = checks.server_truncation
        for name, on in (("reject", st.reject), ("order_invariance", st.order_invariance),
                         ("batch_invariance", st.batch_invariance)):
            if on:
                plans.append(CheckPlan(item_name("server_truncation", name), "server_contract", st.line, st.xfail,
                                       label=name))
    if checks.geometry:
        plans += [CheckPlan(item_name("geometry", metric), "geometry", checks.geometry.line, label=metric)
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
                CheckPlan(item_name("compare", str(mine) if mine == theirs else f"{mine}:{theirs}"), "compare",
                          spec.compare.line, spec.compare.xfail, dims=mine, label=str(theirs))
                for mine, theirs in pairs
            ]
    return plans


def compare_pairs(spec: Spec) -> list[tuple[int, int]] | None:
    """(candidate dims, reference dims) items of a compare section; ``None``: one item over common prefixes."""
    assert spec.compare
    if spec.compare.pairs:
        return list(spec.compare.pairs)
    if spec.views.prefix:
        return [(k, k) for k in spec.views.prefix]
    return None
