"""The JSON report as GitHub-flavoured Markdown, e.g. for ``$GITHUB_STEP_SUMMARY``.

Input is the dict built by :func:`pytest_mrlcheck.report.json_report.build_report` (or read back
from ``--mrlcheck-json``). Only plain data is used, so a report from another machine renders too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..views import dims_label, prefix_label, random_label, window_label
from .bounds import ViewBounds, view_bounds
from .payload import Counters, LayoutPayload, Report, ReportSpec, Scores

_STATUS = {"pass": "✅ pass", "FAIL": "❌ FAIL", "xfail": "⚠️ xfail", "XPASS": "⚠️ XPASS"}
_CHECK_ICON = {"passed": "✅", "failed": "❌", "xfailed": "⚠️", "xpassed": "⚠️"}
_CHECK_NOTE = {"xfailed": " *(expected failure)*", "xpassed": " *(unexpectedly passed)*"}
_UNIT_NOUN = {"sts": "pairs", "retrieval": "judged queries"}
_NO_LAYOUT: LayoutPayload = {"prefixes": [], "windows": [], "random": [], "dims": {}, "informed": []}
# Every ASCII punctuation character CommonMark/GFM could read as markup inside a line of text.
_SPECIAL = re.compile(r"([\\`*_~\[\]<>|&#!])")


def escape(text: object) -> str:
    """Plain text → inline Markdown that shows exactly ``text`` (also safe inside table cells)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: object, *, in_table: bool = False) -> str:
    """An inline code span showing ``text`` exactly.

    Code spans take no backslash escapes, except that in a GFM table cell ``\\|`` is the way to
    keep a pipe from ending the cell; so pipes are escaped only ``in_table``.
    """
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def _code_block(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else ""


def _share(value: object, full: object) -> str:
    if isinstance(value, (int, float)) and isinstance(full, (int, float)) and full:
        return f"{value / full:.1%}"
    return ""


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _condensed_windows(
    labels: list[str], scores: Scores, bounds: ViewBounds, limit: int, keep: int
) -> list[str | tuple[int, float, float]]:
    """Window labels in start order; when more than ``limit``, only the ``keep`` lowest and highest
    and every failing one, with ``(count, low, high)`` gaps in between."""
    values = {label: float(value) for label in labels if isinstance(value := scores.get(label), (int, float))}
    scored = list(values)
    if len(scored) <= limit:
        return list(scored)
    ordered = sorted(scored, key=lambda label: values[label])
    kept = set(ordered[:keep] + ordered[-keep:])
    kept.update(label for label in scored if bounds.status(label) in ("FAIL", "XPASS", "xfail"))
    for i, label in enumerate(scored):  # a gap of a single window hides nothing: show it
        if label not in kept and (i == 0 or scored[i - 1] in kept) and (i == len(scored) - 1 or scored[i + 1] in kept):
            kept.add(label)
    out: list[str | tuple[int, float, float]] = []
    gap: list[float] = []
    for label in scored:
        if label in kept:
            if gap:
                out.append((len(gap), min(gap), max(gap)))
                gap = []
            out.append(label)
        else:
            gap.append(values[label])
    if gap:
        out.append((len(gap), min(gap), max(gap)))
    return out


def _views_table(spec: ReportSpec, max_windows: int) -> list[str]:
    scores: Scores = spec.get("scores") or {}
    layout = spec.get("layout") or _NO_LAYOUT
    full = spec.get("full_score")
    bounds = view_bounds(spec.get("checks", []))
    lines = [_row("view", "score", "of full", "bound", "status"), "|---|---:|---:|---|---|"]

    def add(label: str, score_text: str, share: str) -> None:
        status = bounds.status(label)
        lines.append(
            _row(code(label, in_table=True), score_text, share, escape(bounds.text(label, name_failing=True)),
                 _STATUS.get(status, ""))
        )

    for k in layout.get("prefixes", []):
        label = prefix_label(k)
        if label in scores:
            add(label, _fmt(scores[label]), _share(scores[label], full))
    for k in layout.get("random", []):
        label = random_label(k)
        stats = scores.get(label)
        if not isinstance(stats, Mapping):
            continue
        text = f"{_fmt(stats.get('mean'))} ± {_fmt(stats.get('sd'))}"
        if isinstance(stats.get("prefix_percentile"), (int, float)):
            text += f" (prefix beats {stats['prefix_percentile']:.0f}%)"
        add(label, escape(text), _share(stats.get("mean"), full))
    windows = [window_label(int(s), int(e)) for s, e in layout.get("windows", [])]
    keep = max(1, min(3, max_windows // 4))
    for entry in _condensed_windows(windows, scores, bounds, max_windows, keep):
        if isinstance(entry, str):
            add(entry, _fmt(scores[entry]), _share(scores[entry], full))
        else:
            count, low, high = entry
            noun = "window" if count == 1 else "windows"
            lines.append(_row(f"*⋯ {count} more {noun}*", f"{low:.4f}–{high:.4f}", "", "", ""))
    for name in layout.get("dims", {}):
        label = dims_label(name)
        if label in scores:
            add(label, _fmt(scores[label]), _share(scores[label], full))
    return lines


def _has_failure(spec: ReportSpec) -> bool:
    return bool(spec.get("error")) or any(c.get("outcome") == "failed" for c in spec.get("checks", []))


def _description(spec: ReportSpec) -> str:
    model: Mapping[str, object] = spec.get("model") or {}
    task: Mapping[str, object] = spec.get("task") or {}
    model_text = f"**{escape(model.get('name', '?'))}**"
    if model.get("provider"):
        model_text += f" ({escape(model['provider'])})"
    if model.get("revision"):
        model_text += f" @ {code(model['revision'])}"
    task_text = escape(task.get("kind", "?"))
    if task.get("data"):
        task_text += f" on {code(Path(str(task['data'])).name)}"
        if task.get("split"):
            task_text += f" ({escape(task['split'])})"
    metric = escape(spec.get("metric", "?"))
    if spec.get("similarity"):
        metric += f" of {escape(spec['similarity'])} similarity"
    noun = _UNIT_NOUN.get(str(task.get("kind")), "units")
    size = f"{task.get('units', '?')} {noun}"
    if task.get("texts") is not None:
        size += f", {task['texts']} texts"
    return (
        f"{model_text} · {task_text} · {metric} · {size} · "
        f"{spec.get('full_dim', '?')} dims · full score **{_fmt(spec.get('full_score'))}**"
    )


def _checks_list(spec: ReportSpec) -> list[str]:
    lines = []
    for check in spec.get("checks", []):
        outcome = str(check.get("outcome", ""))
        icon = _CHECK_ICON.get(outcome, "❔")
        summary = check.get("summary")
        if not summary:
            summary = "not evaluated" if spec.get("error") else outcome
        name = code(check.get("name") or "?")
        lines.append(f"- {icon} {name}{_CHECK_NOTE.get(outcome, '')}: {escape(summary)}")
    return lines


def _spec_section(spec: ReportSpec, max_windows: int) -> list[str]:
    checks = spec.get("checks", [])
    failed = sum(1 for c in checks if c.get("outcome") == "failed")
    icon = "❌" if _has_failure(spec) else "✅"
    title = spec.get("name") or spec.get("id", "?")
    lines = [f"### {icon} {escape(title)}", ""]
    counted = f"{len(checks) - failed}/{len(checks)} checks ok"
    if "full_score" not in spec:  # not evaluated: only id, checks and error are known
        lines += [f"{code(spec.get('id', '?'))} · **not evaluated** · {counted}", ""]
    else:
        encoding: Counters = spec.get("encoding") or {}
        lines += [
            _description(spec),
            "",
            f"{code(spec.get('id', '?'))} · {counted} · {encoding.get('encoded', 0)} texts "
            f"encoded, {encoding.get('cache_hits', 0)} from cache",
            "",
        ]
    if spec.get("error"):
        lines += ["**Error:**", "", _code_block(str(spec["error"])), ""]
    if "full_score" in spec:
        lines += [*_views_table(spec, max_windows), ""]
    if spec.get("precision"):
        from .precision import grid_markdown

        lines += [*grid_markdown(spec, escape, code), ""]
    if spec.get("pca"):
        from .pca import pca_markdown

        lines += [*pca_markdown(spec, escape), ""]
    if spec.get("index"):
        from .index import index_markdown

        lines += ["Index views:", "", *index_markdown(spec, code), ""]
    if checks:
        lines += [*_checks_list(spec), ""]
    return lines


def render_markdown(report: Report, *, max_windows: int = 12) -> str:
    """The whole report: a heading with the totals, then one section per spec (failing ones first).

    ``max_windows``: above this many sliding windows a spec's table keeps only the lowest and
    highest few and every failing one.
    """
    specs = list(report.get("specs", []))
    totals: Counters = report.get("totals") or {}
    outcomes = [(key, totals.get(key, 0)) for key in ("failed", "passed", "xfailed", "xpassed")]
    counts = ", ".join(f"{n} {key}" for key, n in outcomes if n)
    errors = sum(1 for spec in specs if spec.get("error"))
    failing = any(_has_failure(spec) for spec in specs)
    plural = "spec" if totals.get("specs", len(specs)) == 1 else "specs"
    heading = f"## {'❌' if failing else '✅'} mrlcheck: {counts or 'no checks'}"
    lines = [heading, ""]
    meta = [
        f"{totals.get('specs', len(specs))} {plural}",
        f"{totals.get('checks', 0)} checks",
    ]
    if errors:
        meta.append(f"**{errors} not evaluated**")
    meta.append(f"{totals.get('encoded', 0)} texts encoded, {totals.get('cache_hits', 0)} from cache")
    stamp = " · ".join(
        str(part)
        for part in (
            f"pytest-mrlcheck {report['plugin_version']}" if report.get("plugin_version") else "",
            report.get("created") or "",
        )
        if part
    )
    if stamp:
        meta.append(escape(stamp))
    lines += [" · ".join(meta), ""]
    ordered = sorted(specs, key=lambda spec: not _has_failure(spec))  # stable: failures first
    for spec in ordered:
        lines += _spec_section(spec, max_windows)
    return "\n".join(lines).rstrip("\n") + "\n"


def append_step_summary(markdown: str, env: Mapping[str, str] = os.environ) -> Path | None:
    """Append ``markdown`` to the file named by ``$GITHUB_STEP_SUMMARY`` (whole or not at all).

    Returns that file's path, or None when the variable is unset or empty (nothing written).
    Raises :class:`~pytest_mrlcheck.errors.FileWriteError` when it cannot be appended to.
    """
    from .. import atomic

    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        separator = "\n" if path.stat().st_size else ""
    except OSError:
        separator = ""
    atomic.append_text(path, separator + (markdown if markdown.endswith("\n") else markdown + "\n"))
    return path
