"""The canary check: cached vectors against the provider's answer for the same texts."""

from __future__ import annotations

from ..engine.results import SpecResult
from ..views import item_name
from .plan import CheckPlan
from .verdict import Row, Verdict


def judge_canary(plan: CheckPlan, result: SpecResult) -> Verdict:
    from ..canary import verdict_text

    config = result.spec.model.canary
    threshold = config.min_cosine if config else 0.0
    ran = [c for c in result.canaries if c.mean_cosine is not None]
    rows = tuple(
        Row(item_name("canary", c.role), c.mean_cosine, f"min ≥ {c.threshold:g}",
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
