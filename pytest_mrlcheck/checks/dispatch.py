"""One judge per check kind, and what an item needs before it is judged."""

from __future__ import annotations

from collections.abc import Callable

from ..engine.results import SpecResult
from ..spec import Spec
from .canary import judge_canary
from .geometry import judge_geometry
from .plan import CheckPlan
from .reference import judge_baseline, judge_compare
from .scores import (
    judge_cheapest,
    judge_dims,
    judge_min_dims,
    judge_monotonic,
    judge_prefix,
    judge_random,
    judge_relative,
    judge_segments,
)
from .search import judge_funnel, judge_index
from .selection import judge_informed, judge_pca
from .server import judge_server_contract, judge_server_truncation
from .verdict import Verdict

_JUDGES: dict[str, Callable[[CheckPlan, SpecResult], Verdict]] = {
    "canary": judge_canary,
    "funnel": judge_funnel,
    "server_truncation": judge_server_truncation,
    "server_contract": judge_server_contract,
    "geometry": judge_geometry,
    "informed": judge_informed,
    "prefix": judge_prefix,
    "relative": judge_relative,
    "segments": judge_segments,
    "random": judge_random,
    "monotonic": judge_monotonic,
    "min_dims": judge_min_dims,
    "cheapest": judge_cheapest,
    "dims": judge_dims,
    "pca": judge_pca,
    "index": judge_index,
}


def judge(plan: CheckPlan, result: SpecResult) -> Verdict:
    """The verdict of an item judged from its spec's result alone (every kind but baseline and compare)."""
    return _JUDGES[plan.kind](plan, result)


def needs_reference(plan: CheckPlan) -> bool:
    """Whether the item is judged against the compare section's reference model (see ``reference_spec``)."""
    return plan.kind == "compare"


def judge_item(plan: CheckPlan, result: SpecResult, reference: SpecResult | None = None,
               update_baseline: bool = False) -> Verdict:
    """Any item's verdict: the baseline records (``update_baseline``) or compares, compare reads ``reference``."""
    if plan.kind == "baseline":
        return judge_baseline(result, update_baseline)
    if plan.kind == "compare":
        assert reference is not None
        return judge_compare(plan, result, reference)
    return judge(plan, result)


def skip_reason(plan: CheckPlan, result: SpecResult) -> str | None:
    """Why the item has nothing to judge in this run (it is skipped), or ``None``."""
    if plan.kind == "canary":
        from ..canary import SKIPPED

        canaries = result.canaries
        if canaries and all(c.status == SKIPPED for c in canaries):
            return f"canary not run: {canaries[0].note}; the cached vectors were used unchecked"
    elif plan.kind == "server_contract" and (result.server_contract or {}).get("skipped"):
        return str((result.server_contract or {})["skipped"])
    return None


def ensure_fresh(plan: CheckPlan, spec: Spec, result: SpecResult) -> None:
    """Raise the stale-vectors error if the canary found the spec's cached vectors stale; the canary item
    itself reports the finding instead."""
    if plan.kind != "canary" and result.stale:
        from ..canary import stale_error

        raise stale_error(spec.name, result.stale, spec.model.canary is not None)


def ensure_fresh_reference(spec: Spec, reference: SpecResult) -> None:
    """The same for the compare section's reference model."""
    if reference.stale:
        from ..canary import stale_error

        raise stale_error(f"{spec.name} (compare.model)", reference.stale,
                          spec.compare is not None and spec.compare.model.canary is not None)
