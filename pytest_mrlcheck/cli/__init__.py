"""The ``mrlcheck`` command: map a model, write a spec from today's scores, look after the
embedding cache, render a saved report.

- ``mrlcheck scan``: every view of one cached full-dimension encoding (the prefix ladder, random
  subsets, sliding windows), printed as the plugin's tables; no thresholds.
- ``mrlcheck init``: the same measurement, written as a ready-to-commit ``*.mrl.yaml`` whose
  thresholds sit a margin below today's scores (checked before the file is written).
- ``mrlcheck cache info|clear|prune``: the SQLite cache the plugin and ``scan`` share.
- ``mrlcheck report``: Markdown (and plots) from a ``--mrlcheck-json`` file.

Exit codes: 0 done; 1 declined at a prompt, or init's self-check failed (a bug); 2 a usage or input
error, reported in one line (plus a hint line for errors the plugin also reports), never a traceback.

One module per command (``scan``, ``init`` with ``thresholds`` and ``document``, ``cache``, ``report``);
``parser`` defines the arguments (the options shared with the plugin come from ``options.OPTIONS``),
``targets`` turns a SPEC file or ``--model``/``--data`` into specs (the options become a raw spec
mapping read by the one spec parser), ``measure`` evaluates one.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import TextIO

from ..errors import MrlcheckError, MrlcheckWarning
from ..guard import Step, wrap
from .cache import identity_summary
from .common import InitCheckFailed, UsageError
from .measure import default_window
from .parser import build_parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``mrlcheck`` command; returns the exit code (also for ``--help`` and usage errors)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    args.argv = arguments
    handler: Callable[[argparse.Namespace], int] = args.handler
    with warnings.catch_warnings():
        warnings.simplefilter("default", MrlcheckWarning)
        warnings.showwarning = _show_warning
        try:
            return handler(args)
        except (UsageError, MrlcheckError) as exc:
            return _fail(str(exc))
        except InitCheckFailed as exc:
            print(f"mrlcheck: error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            return _fail(f"{exc.strerror or exc}{where}")
        except KeyboardInterrupt:
            print("mrlcheck: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # the boundary: whatever no guard named is still one message, never a traceback
            return _fail(str(wrap(Step.RUN_COMMAND, f"mrlcheck {' '.join(arguments[:1])}", exc)))


def _fail(message: str) -> int:
    print(f"mrlcheck: error: {message}", file=sys.stderr)
    return 2


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    print(f"mrlcheck: warning: {message}", file=file or sys.stderr)




__all__ = ["build_parser", "default_window", "identity_summary", "main"]
