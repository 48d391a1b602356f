"""Per-view bounds and statuses read from the checks' verdict rows (the one source for every table).

Terminal and Markdown tables show, next to each view's score, the bounds that checks held it to.
They read them from the ``rows`` each check carries in the report (view label, bound text, ok), never
from summary text or by re-deriving bounds from check values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .payload import CheckData

# Checks whose rows are not "this view against this bound": they get a row of their own.
OWN_ROW_KINDS = frozenset({"monotonic", "min_dims", "baseline", "geometry", "server_truncation", "server_contract",
                           "canary", "cheapest"})
_SEVERITY = ("FAIL", "XPASS", "xfail", "pass")


def status_of(outcome: str, ok: bool) -> str:
    """A view's status under one check: its own pass/fail, qualified by the check's outcome."""
    if outcome == "xfailed":
        return "pass" if ok else "xfail"
    if outcome == "xpassed":
        return "XPASS"
    return "pass" if ok else "FAIL"


@dataclass(frozen=True)
class ViewBounds:
    """view label → [(bound text, status)] from every check's rows, in check order."""

    entries: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def texts(self, view: str) -> list[str]:
        return [text for text, _ in self.entries.get(view, ())]

    def statuses(self, view: str) -> list[str]:
        return [status for _, status in self.entries.get(view, ())]

    def status(self, view: str) -> str:
        """The worst status of the view's bounds (``""`` when no check bounds it)."""
        statuses = self.statuses(view)
        return next((s for s in _SEVERITY if s in statuses), "")

    def text(self, view: str, *, name_failing: bool = False) -> str:
        """The view's bounds joined by ``; ``; with ``name_failing``, each followed by its status when
        they differ (so a reader sees which of two bounds failed)."""
        entries = self.entries.get(view, ())
        if name_failing and len({status for _, status in entries}) > 1:
            return "; ".join(f"{text} ({status})" for text, status in entries)
        return "; ".join(text for text, _ in entries)


def view_bounds(checks: Iterable[CheckData]) -> ViewBounds:
    """Collect the bounded rows of every check that holds views to bounds (see ``OWN_ROW_KINDS``)."""
    entries: dict[str, list[tuple[str, str]]] = {}
    for check in checks:
        if check.get("kind") in OWN_ROW_KINDS:
            continue
        outcome = str(check.get("outcome", ""))
        for row in check.get("rows") or []:
            if row.get("bound"):
                entries.setdefault(str(row["view"]), []).append(
                    (str(row["bound"]), status_of(outcome, bool(row.get("ok")))))
    return ViewBounds({view: tuple(found) for view, found in entries.items()})
