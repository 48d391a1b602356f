"""After the run: one rich table per spec (views as rows: score, share of full, bound, status)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

import pytest

from ..options import get_option
from ..result_types import FunnelPayload, funnel_overlap
from ..views import dims_label, informed_label, item_subject, prefix_label, random_label, window_label
from .bounds import OWN_ROW_KINDS, ViewBounds, status_of, view_bounds
from .payload import (
    CanaryPayload,
    OutcomePayload,
    RandomStatsPayload,
    Scores,
    SpecRecord,
    evaluated,
)
from .summary import group_by_spec
from .units import human_bytes

_MAX_WINDOW_ROWS = 24
_UNIT_NOUN = {"sts": "pairs", "retrieval": "judged queries"}
_STATUS_STYLE = {"pass": "green", "FAIL": "bold red", "xfail": "yellow", "XPASS": "yellow", "error": "bold red"}


def _window_rows(labels: list[str], scores: Scores, bounds: ViewBounds) -> tuple[list[str], int]:
    """All windows when few; else the lowest, the highest and every failing one."""
    if len(labels) <= _MAX_WINDOW_ROWS:
        return labels, 0
    ordered = sorted(labels, key=lambda label: _score(scores, label))
    keep = set(ordered[:4] + ordered[-4:])
    keep.update(label for label in labels if "FAIL" in bounds.statuses(label))
    shown = [label for label in labels if label in keep]
    return shown, len(labels) - len(shown)


def _score(scores: Scores, label: str) -> float:
    """The score of a view that is not a random family (those hold statistics)."""
    value = scores[label]
    if isinstance(value, dict):
        raise TypeError(f"{label} holds the statistics of random subsets, not one score")
    return value


def _stats(scores: Scores, label: str) -> RandomStatsPayload:
    value = scores[label]
    if not isinstance(value, dict):
        raise TypeError(f"{label} holds one score, not the statistics of random subsets")
    return value


def _at(funnel: FunnelPayload, key: str) -> str:
    """`` binary`` when a funnel stage runs at a precision other than float32."""
    precision = str(funnel.get(key, "float32"))
    return "" if precision == "float32" else f" {precision}"


def build_table(record: SpecRecord) -> Any:
    from rich.table import Table
    from rich.text import Text

    summary = evaluated(record)
    checks = record["checks"]
    counts = Counter(c["outcome"] for c in checks)
    outcome_text = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    title = f"{summary['name']} · {summary['model']['name']} · {summary['task']['kind']} {summary['metric']}"
    caption = (
        f"{summary['task']['units']} {_UNIT_NOUN.get(summary['task']['kind'], 'units')}, "
        f"{summary['task']['texts']} texts, {summary['full_dim']} dims · "
        f"{record['encoding']['encoded']} encoded, {record['encoding']['cache_hits']} from cache · "
        + (f"checks: {outcome_text}" if checks else "report only (no thresholds)")
    )
    if summary.get("split_correlations"):
        caption += " · window maps across splits: " + ", ".join(
            f"{pair} r={value:.2f}" for pair, value in summary["split_correlations"].items())
    table = Table(title=Text(title, style="bold"), caption=Text(caption), title_justify="left",
                  caption_justify="left")
    table.add_column("view")
    table.add_column("score", justify="right")
    intervals = summary.get("intervals") or {}
    if intervals:
        confidence = next(iter(intervals.values()))["confidence"]
        table.add_column(f"{confidence:.0%} CI", justify="right")
    table.add_column("of full", justify="right")
    table.add_column("bound")
    table.add_column("status")
    reference_kind = next((kind for kind in ("baseline", "compare")
                           if any(check.get("kind") == kind for check in checks)), None)
    baselines = {row["view"]: row for check in checks if check.get("kind") == reference_kind
                 for row in check.get("rows") or []}
    if baselines:
        table.add_column("baseline" if reference_kind == "baseline" else "reference", justify="right")
        table.add_column("Δ", justify="right")
    table.add_column("note")
    scores = summary["scores"]
    full = summary["full_score"]
    bounds = view_bounds(record["checks"])

    def add(label: str, score_text: str, share: str, extra: str = "") -> None:
        bound_text = bounds.text(label)
        status = bounds.status(label)
        cells: list[Any] = [Text(label), score_text]
        if intervals:
            interval = intervals.get(label)
            cells.append("" if interval is None else f"[{interval['low']:.4f}, {interval['high']:.4f}]")
        cells += [share, Text(bound_text), Text(status, style=_STATUS_STYLE.get(status, ""))]
        if baselines:
            row = baselines.get(label)
            cells += ["", ""] if row is None else [
                f"{row['baseline']:.4f}", Text(row["note"].removeprefix("Δ "), style="" if row["ok"] else "bold red")]
        table.add_row(*cells, Text(extra))

    def share_of(value: float) -> str:
        return f"{value / full:.1%}" if full else ""

    def score_cells(label: str) -> tuple[str, str]:
        value = _score(scores, label)
        return f"{value:.4f}", share_of(value)

    layout = summary["layout"]
    for k in layout["prefixes"]:
        label = prefix_label(k)
        add(label, *score_cells(label))
    pad = ["", ""] if baselines else []
    ci_pad = [""] if intervals else []
    for k in layout["random"]:
        label = random_label(k)
        stats = _stats(scores, label)
        add(label, f"{stats['mean']:.4f} ± {stats['sd']:.4f}", share_of(stats["mean"]),
            f"prefix beats {stats['prefix_percentile']:.0f}% of {stats['samples']}")
    windows = [window_label(s, e) for s, e in layout["windows"]]
    shown, hidden = _window_rows(windows, scores, bounds)
    for label in shown:
        add(label, *score_cells(label))
    if hidden:
        table.add_row(Text(f"… {hidden} more windows"), "", *ci_pad, "", "", "", *pad, "all are in --mrlcheck-json")
    for name in layout["dims"]:
        label = dims_label(name)
        add(label, *score_cells(label))
    funnel = summary.get("funnel")
    if funnel:
        overlap = funnel_overlap(funnel)
        add("funnel", f"{funnel['score']:.4f}", share_of(funnel["score"]),
            f"{funnel['shortlist_dims']}-dim{_at(funnel, 'shortlist_precision')} shortlist of {funnel['shortlist']}, "
            f"rerank at {funnel['rerank_dims']}{_at(funnel, 'rerank_precision')}: "
            + (f"{funnel['relative_bytes']:.0%} of the full float32 search's bytes" if "relative_bytes" in funnel
               else f"{funnel['relative_cost']:.0%} of the arithmetic") + f", {overlap:.0%} top-k overlap")
    informed = summary.get("informed")
    for k in layout.get("informed", []):
        label = informed_label(k)
        add(label, *score_cells(label),
            f"best {k} dims chosen on {informed['select_split']} ({informed['method']})" if informed else "")
    for check in checks:
        if (check.get("kind") in OWN_ROW_KINDS and check.get("kind") != "geometry") or check["name"] == "compare":
            status = status_of(check["outcome"], check["outcome"] != "failed")
            table.add_row(Text(check["name"]), "", *ci_pad, "", "", Text(status, style=_STATUS_STYLE.get(status, "")),
                          *pad, Text(check.get("summary", "")))
    return table


_GEOMETRY_COLUMNS = (
    ("isoscore", "IsoScore ↑"),
    ("uniformity", "uniformity ↓"),
    ("mean_abs_correlation", "|corr| ↓"),
    ("effective_rank", "eff. rank ↑"),
    ("participation_ratio", "part. ratio ↑"),
    ("outliers", "outlier dims"),
)


def build_geometry_table(record: SpecRecord) -> Any:
    """Geometry of the vectors per prefix size; cells of bounded metrics carry their status."""
    from rich.table import Table
    from rich.text import Text

    summary = evaluated(record)
    statuses: dict[tuple[str, str], str] = {}
    for check in record["checks"]:
        if check.get("kind") == "geometry":
            metric = item_subject(check["name"], "geometry") or ""
            for row in check.get("rows") or []:
                statuses[(row["view"], metric)] = status_of(check["outcome"], row["ok"])
    table = Table(title=Text(f"{summary['name']} · geometry of the vectors per prefix", style="bold"),
                  title_justify="left")
    table.add_column("view")
    for _, header in _GEOMETRY_COLUMNS:
        table.add_column(header, justify="right")
    for size, values in summary["geometry"].items():
        view = prefix_label(int(size))
        cells: list[Any] = [Text(view)]
        for metric, _ in _GEOMETRY_COLUMNS:
            value = cast("float | list[int] | None", values.get(metric))
            if isinstance(value, list):
                text = ", ".join(map(str, value)) or "none"
            else:
                text = "n/a" if value is None else f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
            status = statuses.get((view, metric))
            if status:
                text += f" {status}"
            cells.append(Text(text, style=_STATUS_STYLE.get(status or "", "")))
        table.add_row(*cells)
    return table


def build_cost_table(record: SpecRecord) -> Any:
    """What each prefix size costs: storage per vector and for the corpus, and search time."""
    from rich.table import Table
    from rich.text import Text

    summary = evaluated(record)
    table = Table(title=Text(f"{summary['name']} · cost per size", style="bold"), title_justify="left")
    from .index import cost_rows

    ann = cost_rows(summary)
    for header in ("view", "float32 B", "int8 B", "binary B", "index (float32)", "index (binary)", "search time",
                   *(("ANN memory", "ANN query/q") if ann else ())):
        table.add_column(header, justify="left" if header == "view" else "right", no_wrap=header == "view")
    for size, cost in summary["cost"].items():
        per_vector, index = cost["bytes_per_vector"], cost["index_bytes"]
        table.add_row(prefix_label(int(size)), str(per_vector["float32"]), str(per_vector["int8"]),
                      str(per_vector["binary"]), human_bytes(index["float32"]), human_bytes(index["binary"]),
                      f"{cost['relative_search_time']:.0%} of full", *(("", "") if ann else ()))
    for view, memory, per_query in ann:
        table.add_row(view, "", "", "", "", "", "", memory, per_query)
    return table



def render_tables(terminalreporter: Any, config: pytest.Config, payloads: Sequence[OutcomePayload]) -> None:
    which = get_option(config, "tables")
    if which == "none":
        return
    if config.get_verbosity() <= -2:
        which = "failed"
    records = group_by_spec(payloads)
    chosen = [
        r for r in records
        if which == "all" or r["error"] or any(c["outcome"] in ("failed", "xpassed") for c in r["checks"])
    ]
    if not chosen:
        return
    from rich.console import Console
    from rich.text import Text

    markup = bool(getattr(terminalreporter._tw, "hasmarkup", False))
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=markup,
        color_system="standard" if markup else None,
        # a terminal gets its own width; logs (CI) get room for the table
        width=terminalreporter._tw.fullwidth if markup else max(terminalreporter._tw.fullwidth, 132),
        highlight=False,
        emoji=False,
        markup=False,  # cells are Text or plain strings: a label such as dims[odd] is not a style tag
    )
    for record in chosen:
        if record["summary"] is None:
            reason = record["error"] or "an unexpected error (see the failures above)"
            console.print(Text.assemble((record["id"], "bold"), f": not evaluated: {reason}"))
            continue
        console.print(build_table(record))
        if record["summary"].get("geometry"):
            console.print(build_geometry_table(record))
        if record["summary"].get("precision"):
            from .precision import build_frontier_table, build_grid_table

            console.print(build_grid_table(record))
            if which == "all":
                console.print(build_frontier_table(record))
        if record["summary"].get("pca"):
            from .pca import build_pca_table

            console.print(build_pca_table(record))
        if record["summary"].get("index"):
            from .index import build_index_table

            console.print(build_index_table(record))
        if record["summary"].get("cost") and which == "all":
            console.print(build_cost_table(record))
    terminalreporter.write_sep("=", "mrlcheck")
    terminalreporter.write(buffer.getvalue())
    terminalreporter.write_line(accounting_line(records))


def accounting_line(records: Sequence[SpecRecord]) -> str:
    """Texts encoded vs served from the cache (per model when several), and API use, over the run."""
    totals: dict[str, float] = {}
    per_model: dict[str, list[float]] = {}
    for record in records:
        for key, value in record["encoding"].items():
            totals[key] = totals.get(key, 0) + value
        if record["summary"] is not None:
            counts = per_model.setdefault(record["summary"]["model"]["name"], [0, 0])
            counts[0] += record["encoding"].get("encoded", 0)
            counts[1] += record["encoding"].get("cache_hits", 0)
    line = f"embeddings: {int(totals.get('encoded', 0))} texts encoded, {int(totals.get('cache_hits', 0))} from cache"
    if len(per_model) > 1:
        line += " (" + "; ".join(f"{name}: {int(e)} encoded, {int(h)} cached"
                                 for name, (e, h) in sorted(per_model.items())) + ")"
    if totals.get("api_requests"):
        line += (f"; API: {int(totals['api_requests'])} requests ({int(totals.get('api_retries', 0))} retries), "
                 f"{int(totals.get('api_tokens', 0)):,} tokens")
        if "api_estimated_cost" in totals:
            line += f", about ${totals['api_estimated_cost']:.4f}"
    return line + canary_note(records)


def canary_note(records: Sequence[SpecRecord]) -> str:
    """``; canaries: …`` for the accounting line: texts re-encoded, drifts found, or why they were skipped."""
    seen: dict[tuple[str, str, str], CanaryPayload] = {}
    for record in records:
        for canary in record["summary"]["canary"] if record["summary"] is not None else []:
            seen.setdefault((canary["model"], canary["role"], canary["reason"]), canary)
    if not seen:
        return ""
    skipped = [c for c in seen.values() if c["status"] == "skipped"]
    ran = [c for c in seen.values() if c["status"] != "skipped"]
    parts = []
    if ran:
        texts = int(sum(record["encoding"].get("canary", 0) for record in records))
        failed = [c for c in ran if c["status"] == "failed"]
        parts.append(f"{texts} cached texts re-encoded for {len(ran)} model/role pair{'s' if len(ran) != 1 else ''}"
                     + (f", {len(failed)} stale (see the canary items)" if failed else ", all match"))
    if skipped:
        parts.append(f"{len(skipped)} skipped ({skipped[0]['note']})")
    return "; canaries: " + ", ".join(parts)
