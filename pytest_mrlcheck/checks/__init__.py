"""Expectations → test items → verdicts: which items a spec yields (``plan``) and every kind's judge, read
from the evaluated ``SpecResult``; nothing here knows pytest or the report layer."""

from __future__ import annotations

from .dispatch import ensure_fresh, ensure_fresh_reference, judge, judge_item, needs_reference, skip_reason
from .plan import CheckPlan, compare_pairs, plan_checks
from .reference import drop_p_value, judge_baseline, judge_compare, reference_spec
from .verdict import Row, Verdict, failure_table

__all__ = [
    "CheckPlan",
    "Row",
    "Verdict",
    "compare_pairs",
    "drop_p_value",
    "ensure_fresh",
    "ensure_fresh_reference",
    "failure_table",
    "judge",
    "judge_baseline",
    "judge_compare",
    "judge_item",
    "needs_reference",
    "plan_checks",
    "reference_spec",
    "skip_reason",
]
