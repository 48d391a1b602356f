"""A live progress line for long encodes: only on a real terminal, never from xdist workers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

Advance = Callable[[int], None]


class EncodeProgress(Protocol):
    """``with progress(label, total) as advance: advance(n)`` after each encoded batch."""

    def __call__(self, label: str, total: int) -> contextlib.AbstractContextManager[Advance]: ...


@contextlib.contextmanager
def no_progress(label: str, total: int) -> Iterator[Advance]:
    yield lambda count: None


def rich_progress(stream: IO[str], suspend: Callable[[], contextlib.AbstractContextManager[Any]]) -> EncodeProgress:
    """Progress drawn on ``stream`` while ``suspend()`` holds pytest's output capture off."""

    @contextlib.contextmanager
    def progress(label: str, total: int) -> Iterator[Advance]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        with suspend():
            stream.write("\n")
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
            )
            console = Console(file=stream, force_terminal=True)
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(label, total=total, rate="")

                def advance(count: int) -> None:
                    bar.advance(task, count)
                    speed = bar.tasks[0].speed
                    bar.update(task, rate=f"{speed:.0f} texts/s" if speed else "")

                yield advance

    return progress


def for_pytest(config: Any) -> EncodeProgress:
    """A terminal progress for this pytest run, or none (not a terminal, quiet, or an xdist worker).

    Call it at configure time: while a test runs, output capture hides whether stdout is a terminal.
    """
    if hasattr(config, "workerinput") or config.get_verbosity() < 0:
        return no_progress
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    stream = getattr(getattr(reporter, "_tw", None), "_file", None)
    if reporter is None or capture is None or stream is None or not getattr(stream, "isatty", lambda: False)():
        return no_progress
    return rich_progress(stream, capture.global_and_fixture_disabled)
