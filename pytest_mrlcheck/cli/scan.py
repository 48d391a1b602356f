"""``mrlcheck scan``: every view of one encoding, printed as the plugin's tables; no thresholds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MrlcheckError
from .common import check_outputs, console, write_markdown_and_plots
from .measure import Measured, measure_named, run_context
from .targets import Target, targets

if TYPE_CHECKING:
    from ..report.payload import Report, SpecRecord
    from ..report.summary import JudgedCheck


def record(measured: Measured, checks: tuple[JudgedCheck, ...] = ()) -> SpecRecord:
    """The record the terminal table and the JSON report take, from the measured result (a scan
    judges nothing: no checks)."""
    from ..report.summary import spec_record

    return spec_record(measured.target.spec_id, measured.summary, checks)


def _print_table(out: Any, measured: Measured) -> None:
    from ..report.terminal import build_table

    out.print(build_table(record(measured)))
    smallest = measured.smallest
    if smallest is not None:
        out.print(
            f"smallest prefix keeping {measured.ratio:.0%} of the full score "
            f"(searched every {measured.step} dims): {smallest} of {measured.result.full_dim}"
        )
    random = measured.result.random
    if random:
        leads = ", ".join(f"{k}: {stats.prefix - stats.mean:+.4f}" for k, stats in sorted(random.items()))
        out.print(f"prefix − mean of random subsets: {leads}")
    out.print()


def cmd_scan(args: argparse.Namespace) -> int:
    check_outputs(args, "json", "markdown", "plots")
    chosen = targets(args)
    measured: list[Measured] = []
    failed: list[tuple[Target, MrlcheckError]] = []
    with run_context(args) as run:
        for target in chosen:
            try:
                measured.append(measure_named(target, args, run))
            except MrlcheckError as exc:
                if len(chosen) == 1:
                    raise
                failed.append((target, exc))
    out = console()
    by_id = {m.target.spec_id: m for m in measured}
    for target in chosen:
        if target.spec_id in by_id:
            _print_table(out, by_id[target.spec_id])
    for target, error in failed:
        print(f"mrlcheck: error: {target.spec_id}: not evaluated: {error}", file=sys.stderr)
    if args.json or args.markdown or args.plots:
        try:
            _write_scan_reports(args, chosen, measured, failed)
        except MrlcheckError as exc:  # the measurement stands; only a report file is missing
            print(f"mrlcheck: warning: {exc}; the scan's results above are unaffected", file=sys.stderr)
    return 2 if failed else 0


def scan_report(chosen: list[Target], measured: list[Measured],
                failed: list[tuple[Target, MrlcheckError]]) -> Report:
    """The plugin's JSON report for a scan, from the measured results (and the errors of specs
    that could not be evaluated), in the targets' order; a scan judges nothing: no checks."""
    from ..report.json_report import report_from_records
    from ..report.summary import spec_record

    errors = {target.spec_id: str(exc) for target, exc in failed}
    by_id = {m.target.spec_id: m for m in measured}
    records = [record(by_id[t.spec_id]) if t.spec_id in by_id else spec_record(t.spec_id, None, error=errors[t.spec_id])
               for t in chosen]
    return report_from_records(records)


def _write_scan_reports(args: argparse.Namespace, chosen: list[Target], measured: list[Measured],
                        failed: list[tuple[Target, MrlcheckError]]) -> None:
    from ..report.json_report import write_json

    report = scan_report(chosen, measured, failed)
    if args.json:
        write_json(Path(args.json).expanduser(), report)
        print(f"wrote {args.json}")
    write_markdown_and_plots(report, args.markdown, args.plots, sys.stdout)
