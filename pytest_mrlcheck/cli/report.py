"""``mrlcheck report``: Markdown (and plots) from a saved ``--mrlcheck-json`` report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import __version__
from .common import UsageError, check_outputs, write_markdown_and_plots


def cmd_report(args: argparse.Namespace) -> int:
    from ..report.json_report import SCHEMA

    check_outputs(args, "markdown", "plots")
    path = Path(args.report).expanduser()
    if not path.is_file():
        raise UsageError(f"report not found: {args.report}")
    hint = "write one with pytest --mrlcheck-json PATH (or mrlcheck scan --json PATH)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{args.report} is not a pytest-mrlcheck report (not UTF-8 text); {hint}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.report} is not a pytest-mrlcheck report (not JSON: {exc.msg} at line "
                         f"{exc.lineno}); {hint}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or not schema.startswith("pytest-mrlcheck/report/"):
        raise UsageError(f"{args.report} is not a pytest-mrlcheck report (no \"schema\": \"{SCHEMA}\"); {hint}")
    if schema != SCHEMA or not isinstance(data.get("specs"), list):
        raise UsageError(f"{args.report} has schema {schema!r}; this mrlcheck ({__version__}) reads {SCHEMA}")
    if args.markdown:
        write_markdown_and_plots(data, args.markdown, args.plots, sys.stderr)
        return 0
    from ..report.markdown import render_markdown

    sys.stdout.write(render_markdown(data))
    write_markdown_and_plots(data, None, args.plots, sys.stderr)
    return 0

