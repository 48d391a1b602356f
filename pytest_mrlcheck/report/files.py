"""Report files written at the end of a run (controller only): JSON, Markdown, step summary, plots.

A report that cannot be written never changes a verdict: what can be checked before the run is a
usage error naming the option (:func:`validate_targets`, at configure time); what fails at the end
(a full disk) is one warning line naming the file and the reason, and the exit status stays that
of the checks. Every file goes through :mod:`pytest_mrlcheck.atomic`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .. import atomic
from ..errors import MrlcheckError
from ..options import get_option

if TYPE_CHECKING:
    from .payload import OutcomePayload, Report

_TARGETS = (("json", "--mrlcheck-json", False), ("markdown", "--mrlcheck-markdown", False),
            ("plots", "--mrlcheck-plots", True))


def validate_targets(config: pytest.Config) -> None:
    """Refuse report paths that cannot be written before anything runs (a usage error)."""
    for name, flag, folder in _TARGETS:
        path = get_option(config, name)
        if path is None:
            continue
        problem = atomic.check_target(Path(path), folder=folder)
        if problem is not None:
            what = "a folder to write plots into" if folder else "a file path"
            raise pytest.UsageError(f"{flag} {path}: cannot write there: {problem} ({flag} takes {what})")


def warn_line(config: pytest.Config, message: str) -> None:
    """One warning line on the terminal (not a Python warning: no source line, and no warning
    filter can turn a report problem into a failed run)."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    line = f"mrlcheck: warning: {message}"
    if terminal is not None:
        terminal.write_line(line, yellow=True)
    else:
        print(line, file=sys.stderr)


def _attempt(config: pytest.Config, what: str, write: Callable[[], object]) -> None:
    try:
        write()
    except MrlcheckError as exc:
        warn_line(config, f"{what} not written: {exc.message} (the test outcomes are unaffected)")
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        warn_line(config, f"{what} not written:{where} {atomic.reason(exc)} (the test outcomes are unaffected)")


def write_reports(config: pytest.Config, payloads: list[OutcomePayload]) -> None:
    json_path = get_option(config, "json")
    markdown_path = get_option(config, "markdown")
    plots_dir = get_option(config, "plots")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if not (json_path or markdown_path or plots_dir or summary_file):
        return
    from .json_report import build_report, write_json

    report = build_report(payloads)
    if json_path:
        _attempt(config, "--mrlcheck-json report", lambda: write_json(Path(json_path), report))
    if markdown_path or summary_file:
        from .markdown import append_step_summary, render_markdown

        text = render_markdown(report)
        if markdown_path:
            _attempt(config, "--mrlcheck-markdown report", lambda: atomic.write_text(Path(markdown_path), text))
        if summary_file:
            _attempt(config, "$GITHUB_STEP_SUMMARY", lambda: append_step_summary(text))
    if plots_dir:
        _attempt(config, "--mrlcheck-plots", lambda: _plots(config, report, Path(plots_dir)))


def _plots(config: pytest.Config, report: Report, directory: Path) -> None:
    from .plots import write_plots

    try:
        write_plots(report, directory)
    except ImportError as exc:
        warn_line(config, f"--mrlcheck-plots needs matplotlib ({exc}); pip install 'pytest-mrlcheck[plots]'")
