"""Report files written at the end of a run (controller only): JSON, Markdown, step summary, plots."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from ..errors import MrlcheckWarning
from ..options import get_option
from .json_report import build_report, write_json


class MrlcheckReportWarning(MrlcheckWarning):
    """A report file could not be written (the test outcomes are unaffected)."""


def write_reports(config: pytest.Config, payloads: list[dict[str, Any]]) -> None:
    json_path = get_option(config, "json")
    markdown_path = get_option(config, "markdown")
    plots_dir = get_option(config, "plots")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if not (json_path or markdown_path or plots_dir or summary_file):
        return
    report = build_report(payloads)
    if json_path:
        write_json(Path(json_path), report)
    if markdown_path or summary_file:
        from .markdown import append_step_summary, render_markdown

        text = render_markdown(report)
        if markdown_path:
            Path(markdown_path).parent.mkdir(parents=True, exist_ok=True)
            Path(markdown_path).write_text(text, encoding="utf-8")
        append_step_summary(text)
    if plots_dir:
        try:
            from .plots import write_plots

            write_plots(report, Path(plots_dir))
        except ImportError as exc:
            warnings.warn(
                f"--mrlcheck-plots needs matplotlib ({exc}); pip install 'pytest-mrlcheck[plots]'",
                MrlcheckReportWarning,
                stacklevel=2,
            )
