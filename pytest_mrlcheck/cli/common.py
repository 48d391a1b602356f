"""What every ``mrlcheck`` command shares: its two errors, defaults, how paths and tables are shown,
and the report files it writes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..options import COMMAND_PREFIX

if TYPE_CHECKING:
    from ..report.payload import Report

DEFAULT_CACHE_DIR = Path(".pytest_cache", "d", "mrlcheck")
DEFAULT_RANDOM = (32, 64, 128)
DEFAULT_SAMPLES = 32
DEFAULT_SEED = 0
DEFAULT_MARGIN = 0.01
DEFAULT_RATIO = 0.98
DEFAULT_MIN_DIMS_STEP = 8
PROVIDER_CHOICES = ("sentence-transformers", "python")
FLAG_PREFIX = COMMAND_PREFIX  # how the shared options are spelled here: --cache-dir, --offline, …


class UsageError(Exception):
    """A mistake in how the command was called or what it was given: one line, exit code 2."""


class InitCheckFailed(Exception):
    """The spec ``init`` would write does not behave as measured (a bug; nothing is written)."""


def display(path: Path) -> str:
    """A path relative to the current folder when inside it, else absolute."""
    resolved, cwd = path.resolve(), Path.cwd().resolve()
    return resolved.relative_to(cwd).as_posix() if resolved.is_relative_to(cwd) else str(resolved)


def cache_dir(args: Any) -> Path:
    """``--cache-dir`` (relative to the current folder), else ``./.pytest_cache/d/mrlcheck``."""
    if args.cache_dir:
        return Path.cwd() / Path(args.cache_dir).expanduser()
    return Path.cwd() / DEFAULT_CACHE_DIR


def console() -> Any:
    from rich.console import Console

    interactive = sys.stdout.isatty()
    return Console(file=sys.stdout, highlight=False, emoji=False, width=None if interactive else 132)


def check_outputs(args: Any, *names: str) -> None:
    """Refuse output paths that cannot be written before anything is measured (a usage error)."""
    from .. import atomic

    for name in names:
        value = getattr(args, name, None)
        if value:
            problem = atomic.check_target(Path(value).expanduser(), folder=name == "plots")
            if problem is not None:
                what = "a folder to write plots into" if name == "plots" else "a file path"
                raise UsageError(f"--{name} {value}: cannot write there: {problem} (--{name} takes {what})")


def write_markdown_and_plots(report: Report, markdown: str | None, plots: str | None,
                             status: TextIO) -> None:
    from .. import atomic

    if markdown:
        from ..report.markdown import render_markdown

        atomic.write_text(Path(markdown).expanduser(), render_markdown(report))
        print(f"wrote {markdown}", file=status)
    if plots:
        try:
            from ..report.plots import write_plots

            written = write_plots(report, Path(plots).expanduser())
        except ImportError as exc:
            raise UsageError(f"--plots needs matplotlib ({exc}): pip install 'pytest-mrlcheck[plots]'") from None
        print(f"wrote {len(written)} plot{'s' if len(written) != 1 else ''} to {plots}", file=status)
