"""Search through truncated vectors: ANN index views against exact search, and the shortlist-rerank funnel."""

from __future__ import annotations

from ..engine.results import SpecResult
from ..result_types import funnel_overlap
from .plan import CheckPlan
from .verdict import Row, Verdict, fmt


def judge_funnel(plan: CheckPlan, result: SpecResult) -> Verdict:
    settings = result.spec.task.funnel
    found = result.funnel
    assert settings is not None and found is not None
    score, full = found["score"], result.full_score
    rows = []
    if settings.min is not None:
        rows.append(Row("funnel", score, f"≥ {fmt(settings.min)}", score - settings.min, score >= settings.min))
    if settings.min_ratio is not None:
        target = settings.min_ratio * full
        rows.append(Row("funnel", score, f"≥ {settings.min_ratio:.1%} of full ({fmt(target)})", score - target,
                        score >= target))
    ok = all(r.ok for r in rows)
    overlap = funnel_overlap(found)
    at = {key: f" at {found[key]}" if found.get(key, "float32") != "float32" else ""
          for key in ("shortlist_precision", "rerank_precision")}
    summary = (
        f"shortlist {found['shortlist']} with {found['shortlist_dims']} dims{at['shortlist_precision']}, "
        f"rerank with {found['rerank_dims']}{at['rerank_precision']}: "
        f"{result.spec.task.metric} {fmt(score)} (full search {fmt(full)}), top-k overlap with full search "
        f"{overlap:.1%}, "
        + (f"{found['relative_bytes']:.1%} of the full float32 search's bytes" if "relative_bytes" in found
           else f"{found['relative_cost']:.1%} of the full search's arithmetic")
    )
    bound = settings.min if settings.min is not None else settings.min_ratio
    return Verdict(plan.name, "funnel", ok, score, bound, summary, tuple(rows))


def judge_index(plan: CheckPlan, result: SpecResult) -> Verdict:
    """``index[hnsw@128]``: recall of the index's top-k against exact search, and the task metric through it."""
    assert result.spec.checks.index and plan.label and plan.dims
    bound = next(b for b in result.spec.checks.index.bounds
                 if b.kind == plan.label and b.dims == plan.dims and b.precision == plan.precision)
    found = next(r for r in result.index if r.view.index == plan.label and r.view.dims == plan.dims
                 and r.view.precision == plan.precision)
    label, metric = found.view.label, result.spec.task.metric
    rows = []
    if bound.recall_vs_exact is not None:
        rows.append(Row(label, found.recall_vs_exact, f"recall vs exact ≥ {fmt(bound.recall_vs_exact)}",
                        found.recall_vs_exact - bound.recall_vs_exact, found.recall_vs_exact >= bound.recall_vs_exact,
                        note=f"recall@{_depth(metric)} of the index's top-k against exhaustive search"))
    if bound.metric is not None:
        rows.append(Row(label, found.metric, f"{metric} ≥ {fmt(bound.metric)}", found.metric - bound.metric,
                        found.metric >= bound.metric, note=f"exact search {fmt(found.exact_metric)}"))
    ok = all(r.ok for r in rows)
    parts = [f"recall vs exact {fmt(found.recall_vs_exact)}", f"{metric} {fmt(found.metric)} "
             f"(exact {fmt(found.exact_metric)})", f"overlap with full search {found.overlap_full:.1%}"]
    failing = "; ".join(f"{r.bound.split(' ≥ ')[0]} {fmt(r.score or 0.0)} is below {r.bound.split(' ≥ ')[1]}"
                        for r in rows if not r.ok)
    summary = f"{label}: " + ", ".join(parts) + ("" if ok else f" — {failing}")
    limit = bound.recall_vs_exact if bound.recall_vs_exact is not None else bound.metric
    return Verdict(plan.name, "index", ok, rows[0].score, limit, summary, tuple(rows))


def _depth(metric: str) -> str:
    return metric.partition("@")[2] or "k"
