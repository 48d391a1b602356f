"""Comparing two models in one run, and noise-aware gating with bootstrap intervals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output

COMPARE_SPEC = """
name: candidate
model:
  provider: python
  callable: fake_encoder:noisy
task:
  kind: sts
  data:
    path: data/pairs.csv
compare:
  model: {provider: python, callable: "fake_encoder:encode"}
  max_drop: {max_drop}
views:
  prefix: [8, 16, 64]
"""


def _report(project: pytest.Pytester) -> dict[str, object]:
    (spec,) = [s for s in json.loads((project.path / "report.json").read_text())["specs"]]
    return dict(spec)


def test_compare_yields_an_item_per_listed_prefix_and_fails_on_drops(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(COMPARE_SPEC.replace("{max_drop}", "0.01"))
    result = fake_project.runpytest("--color=no", "--mrlcheck-json", "report.json")
    result.assert_outcomes(failed=3)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines([
        "*candidate::compare[[]8]*",
        "fake_encoder:noisy vs fake_encoder:encode: 1 of 1 views are worse by more than 0.01*",
        "*view*reference*now*Δ*",
    ])
    spec = _report(fake_project)
    checks = spec["checks"]
    assert isinstance(checks, list)
    assert [c["name"] for c in checks] == ["compare[8]", "compare[16]", "compare[64]"]
    for check in checks:
        (row,) = check["rows"]
        assert row["baseline"] > row["score"], "the noisy model is worse than the reference"


def test_compare_passes_within_the_allowed_drop(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(COMPARE_SPEC.replace("{max_drop}", "0.9"))
    fake_project.runpytest().assert_outcomes(passed=3)


def test_compare_with_cross_size_pairs(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    body = COMPARE_SPEC.replace("{max_drop}", "0.9").replace("views:\n  prefix: [8, 16, 64]\n", "")
    write_spec(body.replace("  max_drop: 0.9", "  max_drop: 0.9\n  pairs: {16: 64, 32: 32}"))
    result = fake_project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*candidate::compare[[]16:64]", "*candidate::compare[[]32]"])
    fake_project.runpytest().assert_outcomes(passed=2)


def test_compare_without_listed_prefixes_is_one_item(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(COMPARE_SPEC.replace("{max_drop}", "0.9").replace("views:\n  prefix: [8, 16, 64]\n", ""))
    result = fake_project.runpytest("--color=no", "--mrlcheck-json", "report.json")
    result.assert_outcomes(passed=1)
    (check,) = _report(fake_project)["checks"]  # type: ignore[misc]
    assert [row["view"] for row in check["rows"]] == ["prefix[16]", "prefix[32]", "prefix[64]"]


def test_significance_forgives_a_drop_within_noise(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NOISE", "0.05")  # a tiny, not significant degradation
    body = COMPARE_SPEC.replace("{max_drop}", "0.0")
    write_spec(body)
    strict = fake_project.runpytest("--mrlcheck-no-cache")
    assert strict.parseoutcomes().get("failed", 0) >= 1
    write_spec(body.replace("  max_drop: 0.0", "  max_drop: 0.0\n  significance: 0.05"))
    forgiving = fake_project.runpytest("--mrlcheck-no-cache", "--color=no", "--mrlcheck-json", "report.json")
    forgiving.assert_outcomes(passed=3)
    checks = _report(fake_project)["checks"]
    assert isinstance(checks, list)
    notes = [row["note"] for check in checks for row in check["rows"]]
    assert any("(not significant)" in note for note in notes)


def test_significance_still_fails_a_clear_drop(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NOISE", "3.0")
    write_spec(COMPARE_SPEC.replace("{max_drop}", "0.0").replace("  max_drop: 0.0",
                                                                 "  max_drop: 0.0\n  significance: 0.05"))
    result = fake_project.runpytest("--color=no")
    result.assert_outcomes(failed=3)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["*p = 0.0*"])


def test_confidence_uses_the_lower_bound(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    point_passes = FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.78}")
    write_spec(point_passes)
    fake_project.runpytest("-k", "prefix").assert_outcomes(passed=1)
    write_spec(point_passes.replace("prefix: {8: 0.78}", "prefix: {8: 0.78, confidence: 0.95}"))
    result = fake_project.runpytest("-k", "prefix", "--color=no")
    result.assert_outcomes(failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["prefix[[]8] scores 0.8022, 95% CI [[]0.*, 0.*]: the lower bound 0.* is below the "
                                 "minimum 0.7800*"])


def test_intervals_are_deterministic_and_in_the_json(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC + "bootstrap: {resamples: 200, seed: 3, confidence: 0.9}\n")
    runs = []
    for _ in range(2):
        fake_project.runpytest("--mrlcheck-json", "report.json").assert_outcomes(passed=8)
        runs.append(_report(fake_project)["intervals"])
    assert runs[0] == runs[1]
    interval = runs[0]["prefix[8]"]  # type: ignore[index]
    assert interval["confidence"] == 0.9
    assert interval["low"] < 0.8022 < interval["high"]
