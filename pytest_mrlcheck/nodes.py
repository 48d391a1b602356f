"""Collection nodes: a spec file, one collector per spec, one item per expectation; the pytest side of
``checks`` (what to collect, what to judge and how a failure reads)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from _pytest._code.code import ExceptionInfo, TerminalRepr

from .checks import (
    CheckPlan,
    Verdict,
    ensure_fresh,
    ensure_fresh_reference,
    failure_table,
    judge_item,
    needs_reference,
    plan_checks,
    reference_spec,
    skip_reason,
)
from .errors import MrlcheckError
from .guard import LIBRARY_HINT, Step, describe, headline, redact, step
from .options import get_option
from .report.payload import ItemPayload, SpecSummary, verdict_payload
from .spec import Spec, load_specs
from .state import STATE_KEY, worker_id


class CheckFailed(Exception):
    """An expectation was not met; carries the verdict for the failure table."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.summary)
        self.verdict = verdict


class SpecFile(pytest.File):
    """A ``*.mrl.yaml`` file: one or more specs separated by ``---``."""

    def collect(self) -> list[SpecNode]:
        try:
            with step(Step.READ_SPEC, str(self.path)):
                specs = load_specs(self.path)
        except MrlcheckError as exc:
            raise self.CollectError(redact(str(exc))) from None
        return [SpecNode.from_parent(self, name=spec.name, spec=spec) for spec in specs]


class SpecNode(pytest.Collector):
    """One spec: evaluated once, however many of its items run."""

    def __init__(self, *, spec: Spec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def collect(self) -> list[CheckItem]:
        items = []
        missing = [name for name in self.spec.requires_env if not os.environ.get(name)]
        try:
            with step(Step.PLAN_CHECKS, f"of spec {self.spec.name!r} in {self.path}"):
                plans = plan_checks(self.spec)
        except MrlcheckError as exc:
            raise self.CollectError(redact(str(exc))) from None
        for plan in plans:
            item = CheckItem.from_parent(self, name=plan.name, spec=self.spec, plan=plan)
            item.add_marker(pytest.mark.mrlcheck)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"needs environment variable {', '.join(missing)}"))
            if plan.xfail:
                item.add_marker(pytest.mark.xfail(reason=plan.xfail, raises=CheckFailed))
            items.append(item)
        return items


class CheckItem(pytest.Item):
    """One expectation of one spec, e.g. ``prefix[64]`` or ``segments``."""

    def __init__(self, *, spec: Spec, plan: CheckPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.plan = plan
        self.verdict: Verdict | None = None
        self.error: MrlcheckError | None = None
        self.shown_at: str | None = None  # the item that shows self.error in full
        self.summary: SpecSummary | None = None

    @property
    def spec_id(self) -> str:
        assert self.parent is not None
        return self.parent.nodeid

    def runtest(self) -> None:
        state = self.config.stash[STATE_KEY]
        key = self.spec_id
        try:
            result = state.result_for(key, self.spec)
            self.summary = state.summary_for(self.spec_id, result)
            reason = skip_reason(self.plan, result)
            if reason is not None:
                pytest.skip(reason)
            ensure_fresh(self.plan, self.spec, result)
            reference = None
            if needs_reference(self.plan):
                key = f"{self.spec_id}::reference"
                reference = state.result_for(key, reference_spec(self.spec))
                ensure_fresh_reference(self.spec, reference)
            with step(Step.JUDGE, self.plan.name):
                update = self.plan.kind == "baseline" and bool(get_option(self.config, "update_baseline"))
                self.verdict = judge_item(self.plan, result, reference, update)
                self._record_properties(self.verdict)
        except MrlcheckError as exc:
            self.error = exc
            self.shown_at = state.first_failure(key, self.nodeid)
            raise
        if not self.verdict.passed:
            raise CheckFailed(self.verdict)

    def _record_properties(self, verdict: Verdict) -> None:
        """Score, bound and view as JUnit XML properties (for CI dashboards that read JUnit)."""
        row = next((r for r in verdict.rows if not r.ok), verdict.rows[0] if verdict.rows else None)
        properties: list[tuple[str, object]] = [("mrlcheck_check", verdict.kind)]
        if row is not None:
            properties.append(("mrlcheck_view", row.view))
            if row.score is not None:
                properties.append(("mrlcheck_score", round(row.score, 6)))
            if row.bound:
                properties.append(("mrlcheck_bound", row.bound))
        if verdict.value is not None:
            properties.append(("mrlcheck_value", round(verdict.value, 6)))
        if verdict.bound is not None:
            properties.append(("mrlcheck_limit", round(verdict.bound, 6)))
        self.user_properties.extend(properties)

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        error = excinfo.value
        if isinstance(error, CheckFailed):
            return failure_table(error.verdict)
        if isinstance(error, MrlcheckError):
            if self.shown_at is not None and self.shown_at != self.nodeid:
                return (f"spec {self.spec.name!r} could not be evaluated: {redact(headline(error))}\n"
                        f"  (the full message is at the first failure of this spec: {self.shown_at})")
            return redact(f"spec {self.spec.name!r} could not be evaluated:\n{error}")
        # Not ours and not caught by a guard (it should not happen): still a message, never a traceback.
        kind, text = describe(error)
        return f"spec {self.spec.name!r}: {self.plan.name} failed: {kind}: {text}\n  hint: {LIBRARY_HINT}"

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, self.plan.line - 1, f"{self.spec.name}::{self.plan.name}"

    def report_payload(self) -> ItemPayload:
        """What the controller needs for tables and JSON; plain data, so it survives xdist."""
        return {
            "spec": self.spec_id,
            "item": self.nodeid,
            "worker": worker_id(),
            "check": verdict_payload(self.verdict) if self.verdict else {"name": self.plan.name,
                                                                         "kind": self.plan.kind},
            "error": redact(str(self.error)) if self.error else None,
            "summary": self.summary,
        }
