"""A judged check: its verdict, the rows of its table, and the formatting every judge shares."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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


def fmt(value: float) -> str:
    return f"{value:.4f}"


NO_INTERVAL = "no finite bootstrap interval for this view: judged on the point score"
"""The note of a row whose check asked for ``confidence`` but whose view has no usable replicates."""


def ci_text(interval: tuple[float, float], confidence: float) -> str:
    return f"{confidence:.0%} CI [{fmt(interval[0])}, {fmt(interval[1])}]"


def failure_table(verdict: Verdict, limit: int = 12) -> str:
    """The failure message: a headline and a small plain-text table of the failing views."""
    rows = [r for r in verdict.rows if not r.ok] or list(verdict.rows)
    shown = rows[:limit]
    header: tuple[str, ...]
    if any(r.baseline is not None for r in shown):
        header = ("view", "reference" if verdict.kind == "compare" else "baseline", "now", "Δ")
        body = [(r.view, fmt(r.baseline or 0.0), fmt(r.score or 0.0), r.note.removeprefix("Δ ")) for r in shown]
    else:
        header = ("view", "score", "bound", "gap")
        body = [
            (r.view, "" if r.score is None else fmt(r.score), r.bound, "" if r.gap is None else f"{r.gap:+.4f}")
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
