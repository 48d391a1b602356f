"""Under pytest-xdist: each unique text encoded once in total, tables and JSON on the controller."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output, encoded_lines

pytest.importorskip("xdist")


def test_two_workers_encode_every_unique_text_exactly_once(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    write_spec(FAKE_SPEC.replace("fake-sts", "same-texts-other-checks").replace("margin: 0.0", "margin: -0.5"),
               name="second")
    result = fake_project.runpytest_subprocess(
        "-n", "2", "--color=no", "--mrlcheck-cache-dir", "cache", "--mrlcheck-json", "report.json"
    )
    result.assert_outcomes(passed=16)
    lines = encoded_lines(fake_project)
    assert len(lines) == 160 and len(set(lines)) == 160, "each text once in total across both workers"
    result.stdout.fnmatch_lines(["*= mrlcheck =*", "*fake-sts*", "*same-texts-other-checks*"])
    report = json.loads((fake_project.path / "report.json").read_text())
    assert [spec["name"] for spec in sorted(report["specs"], key=lambda s: s["name"])] == [
        "fake-sts", "same-texts-other-checks"]
    assert report["totals"]["passed"] == 16
    assert report["totals"]["encoded"] == 160


def test_failures_under_xdist_keep_their_table(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.99, 64: 0.5}"))
    result = fake_project.runpytest_subprocess("-n", "2", "--color=no", "--mrlcheck-cache-dir", "cache")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(["*below the minimum 0.9900*", "*view*score*bound*gap*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
