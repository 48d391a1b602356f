"""``mrlcheck init``: measure like ``scan``, then write a spec whose thresholds sit a margin below
today's scores, after loading and judging it (it passes today, or nothing is written)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from .common import InitCheckFailed, UsageError, console, display
from .document import document
from .measure import Measured, measure_named, run_context
from .targets import Target, targets

if TYPE_CHECKING:
    from ..engine.context import RunContext
    from ..report.payload import SpecRecord, SpecSummary


def _init_command(args: argparse.Namespace) -> str:
    words = ["mrlcheck", *args.argv]
    if "--force" not in words:
        words.append("--force")
    return shlex.join(words)


def _default_out(args: argparse.Namespace, chosen: list[Target]) -> Path:
    from ..spec import spec_stem

    if args.out:
        return (Path.cwd() / Path(args.out).expanduser()).resolve()
    if args.spec:
        path = Path(args.spec).expanduser().resolve()
        return path.with_name(f"{spec_stem(path)}.mrl.yaml")
    return Path.cwd() / f"{chosen[0].spec.name}.mrl.yaml"


def _write_verified(out: Path, text: str, run: RunContext, measured: list[Measured]) -> list[SpecRecord]:
    """Write ``text`` to ``out`` only after it loads and every check behaves as measured.

    Returns one table record per written spec: its checks judged on today's scores.
    """
    from .. import atomic
    from ..checks import judge, plan_checks
    from ..engine.orchestrate import evaluate
    from ..errors import SpecError
    from ..report.summary import JudgedCheck, spec_record, summarize
    from ..spec import load_specs

    records: list[SpecRecord] = []
    with atomic.staged(out, text.encode("utf-8"), suffix=".tmp.mrl.yaml") as path:
        try:
            specs = load_specs(path)
        except SpecError as exc:
            raise InitCheckFailed(f"the spec init wrote does not load ({exc}); nothing was written "
                                  "(a bug in mrlcheck init: please report it)") from None
        for spec, source in zip(specs, measured, strict=True):
            informed = spec.task.informed
            if informed is not None and informed.export is not None:
                spec = dataclasses.replace(spec, task=dataclasses.replace(
                    spec.task, informed=dataclasses.replace(informed, export=None)))
            result = evaluate(spec, run)
            spec_id = f"{display(out)}::{spec.name}"
            summary: SpecSummary = {**summarize(spec_id, result), "file": str(out),
                                    "encoding": source.summary["encoding"]}
            checks: list[JudgedCheck] = []
            for plan in plan_checks(spec):
                if plan.kind in ("baseline", "compare"):
                    continue
                verdict = judge(plan, result)
                if verdict.passed == bool(plan.xfail):
                    expected = "fail (xfail)" if plan.xfail else "pass"
                    raise InitCheckFailed(
                        f"{spec.name}::{plan.name} would not {expected} today: {verdict.summary}; nothing was "
                        "written (a bug in mrlcheck init: please report it)")
                checks.append(JudgedCheck(f"{spec_id}::{plan.name}", verdict, "xfailed" if plan.xfail else "passed"))
            records.append(spec_record(spec_id, summary, checks))
    return records


def cmd_init(args: argparse.Namespace) -> int:
    from ..report.terminal import build_table

    chosen = targets(args)
    out = _default_out(args, chosen)
    if out.is_dir():
        raise UsageError(f"{display(out)} is a folder; --out takes a file path")
    if out.exists() and not args.force:
        raise UsageError(f"{display(out)} exists; pass --force to overwrite it")
    from .. import atomic

    problem = atomic.check_target(out)
    if problem is not None:
        raise UsageError(f"--out {display(out)}: cannot write there: {problem}")
    command = _init_command(args)
    with run_context(args) as run:
        measured = [measure_named(target, args, run) for target in chosen]
        documents = [document(m, args.margin, out, command) for m in measured]
        text = "\n---\n".join("\n".join(lines) for lines, _, _ in documents) + "\n"
        records = _write_verified(out, text, run, measured)
    terminal = console()
    for table in records:
        terminal.print(build_table(table))
    for m, (_, checks, notes) in zip(measured, documents, strict=True):
        counts = ", ".join(f"{c.key} ×{len(c.items)}" if len(c.items) > 1 else c.key for c in checks)
        total = sum(len(c.items) for c in checks)
        xfails = sum(len(c.items) for c in checks if c.xfail)
        outcome = f"{total - xfails} pass today" + (f", {xfails} xfail as expected" if xfails else "")
        print(f"{m.spec.name}: {total} checks ({counts}); {outcome}")
        for note in notes:
            print(f"  note: {note}")
    print(f"wrote {display(out)}; run it: pytest {display(out)}")
    return 0


