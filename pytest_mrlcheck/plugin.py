"""pytest hooks, and nothing else: collect ``*.mrl.yaml`` specs, carry results, print reports.

Imports only pytest and the standard library at load; everything else loads when used. A
session with no spec file loads a handful of light modules (options, run state, progress, report
paths) and neither numpy nor the engine: those load when the first spec file is collected.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import options

if TYPE_CHECKING:
    from .report.payload import ItemPayload
    from .state import RunState


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    from .state import STATE_KEY, RunState

    config.addinivalue_line("markers", "mrlcheck: an expectation collected from a *.mrl.yaml spec")
    options.resolve_all(config)  # every option and ini value checked once, before the run
    if options.get_option(config, "refresh") and options.get_option(config, "offline"):
        raise pytest.UsageError("--mrlcheck-refresh re-encodes cached vectors and --mrlcheck-offline forbids "
                                "encoding: use one of them")
    if not hasattr(config, "workerinput"):  # the controller writes the reports: check their paths now
        from .report.files import validate_targets

        validate_targets(config)
    state = RunState(config)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(ResultsReporter(state), "mrlcheck-reporter")


def pytest_unconfigure(config: pytest.Config) -> None:
    from .state import STATE_KEY

    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = parent.config.getini("mrlcheck_patterns")
    if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns):
        from .nodes import SpecFile

        return SpecFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    nodes = sys.modules.get(f"{__package__}.nodes")  # no spec collected yet: no CheckItem exists either
    if nodes is not None and isinstance(item, nodes.CheckItem) and report.when == "call":
        report.mrlcheck = item.report_payload()
    return report


class ResultsReporter:
    """Gathers item payloads from test reports (also those sent by xdist workers) and reports them."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from .progress import for_pytest

        # now the terminal reporter exists and output capture is off, so a terminal is visible
        self.state.progress = for_pytest(session.config)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload: ItemPayload | None = getattr(report, "mrlcheck", None)
        if payload is None:
            return
        outcome: str = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        self.state.payloads.append({**payload, "outcome": outcome})

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from .state import is_xdist_worker

        if is_xdist_worker(session.config) or not self.state.payloads:
            return
        from .report.files import write_reports

        write_reports(session.config, self.state.payloads)

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        from .state import is_xdist_worker

        if is_xdist_worker(config) or not self.state.payloads:
            return
        from .report.terminal import render_tables

        render_tables(terminalreporter, config, self.state.payloads)
