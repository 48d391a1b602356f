"""The plugin as users run it: collection, ids, outcomes, failure output, tables, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output, encoded_lines


def esc(pattern: str) -> str:
    """Escape ``[`` for fnmatch (view labels contain brackets)."""
    return pattern.replace("[", "[[]")


EXPECTED_IDS = [
    "demo.mrl.yaml::fake-sts::prefix[8]",
    "demo.mrl.yaml::fake-sts::prefix[64]",
    "demo.mrl.yaml::fake-sts::relative[32]",
    "demo.mrl.yaml::fake-sts::segments",
    "demo.mrl.yaml::fake-sts::random[8]",
    "demo.mrl.yaml::fake-sts::random[16]",
    "demo.mrl.yaml::fake-sts::monotonic",
    "demo.mrl.yaml::fake-sts::min_dims",
]


def test_collects_one_item_per_expectation_with_stable_ids(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    result = fake_project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines([f"{nodeid}" for nodeid in EXPECTED_IDS])
    assert result.ret == 0
    assert encoded_lines(fake_project) == [], "collection must not encode anything"


def test_passing_spec_runs_green_and_prints_a_table(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    result = fake_project.runpytest("--color=no")
    result.assert_outcomes(passed=len(EXPECTED_IDS))
    result.stdout.fnmatch_lines([
        "*= mrlcheck =*",
        "*fake-sts*fake_encoder:encode*sts spearman*",
        esc("*prefix[8]*"),
        esc("*random[16]*±*prefix beats*"),
        esc("*window[0:16]*"),
        "*80 pairs*",
    ])
    result.stdout.no_fnmatch_line("*\x1b[*")


def test_every_unique_text_is_encoded_once_per_run(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest().assert_outcomes(passed=len(EXPECTED_IDS))
    lines = encoded_lines(fake_project)
    assert len(lines) == len(set(lines)) == 160  # 80 pairs of distinct sentences


def test_failures_read_as_a_table_not_a_traceback(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.99, 64: 0.5}"))
    result = fake_project.runpytest("--color=no")
    result.assert_outcomes(passed=len(EXPECTED_IDS) - 1, failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines([
        esc("*fake-sts::prefix[8]*"),
        esc("prefix[8] scores 0.*, below the minimum 0.9900 (gap -0.*)"),
        "  view*score*bound*gap",
        esc("  prefix[8]*0.*≥ 0.9900*-0.*"),
    ])
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.no_fnmatch_line("*raise CheckFailed*")


def test_random_margin_failure_names_prefix_and_random_statistics(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("margin: 0.0", "margin: 0.9"))
    result = fake_project.runpytest("--color=no")
    result.assert_outcomes(passed=len(EXPECTED_IDS) - 2, failed=2)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines([
        esc("prefix[8] − mean(random[8]) = *, below the margin +0.9000; prefix 0.*; random mean 0.* ± 0.* "
            "over 16 subsets; prefix beats *% of them"),
    ])


def test_xfail_key_marks_the_item_expected_to_fail(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("margin: 0.0", "margin: 0.9, xfail: \"not an MRL model\""))
    result = fake_project.runpytest("-rx")
    result.assert_outcomes(passed=len(EXPECTED_IDS) - 2, xfailed=2)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines([esc("XFAIL*random[8]*not an MRL model*")])


def test_keyword_selection_and_multi_document_files(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    body = FAKE_SPEC.replace("name: fake-sts\n", "")
    write_spec(body + "---\n" + body.replace("fake_encoder:encode", "fake_encoder:encode\n  normalize: false"),
               name="pair")
    result = fake_project.runpytest("--collect-only", "-q", "-k", "random")
    result.stdout.fnmatch_lines([
        "pair.mrl.yaml::pair-1::random[8]",
        "pair.mrl.yaml::pair-1::random[16]",
        "pair.mrl.yaml::pair-2::random[8]",
        "pair.mrl.yaml::pair-2::random[16]",
        "*4/16 tests collected (12 deselected)*",
    ])


def test_json_report_has_the_documented_shape(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-json", "out/report.json").assert_outcomes(passed=len(EXPECTED_IDS))
    report = json.loads((fake_project.path / "out" / "report.json").read_text())
    assert report["schema"] == "pytest-mrlcheck/report/1"
    (spec,) = report["specs"]
    assert spec["id"] == "demo.mrl.yaml::fake-sts"
    assert spec["model"]["provider"] == "python"
    assert spec["task"]["kind"] == "sts" and spec["task"]["units"] == 80
    assert spec["metric"] == "spearman" and spec["full_dim"] == 64
    assert spec["full_score"] == spec["scores"]["prefix[64]"]
    assert {"prefix[8]", "prefix[16]", "prefix[32]", "window[0:16]", "window[48:64]"} <= set(spec["scores"])
    random8 = spec["scores"]["random[8]"]
    assert set(random8) == {"mean", "sd", "min", "max", "samples", "prefix", "prefix_percentile"}
    assert random8["samples"] == 16 and random8["min"] <= random8["mean"] <= random8["max"]
    assert [c["name"] for c in spec["checks"]] == [i.rsplit("::", 1)[1] for i in EXPECTED_IDS]
    assert all(c["outcome"] == "passed" and c["item"].startswith("demo.mrl.yaml::") for c in spec["checks"])
    assert report["totals"]["passed"] == len(EXPECTED_IDS)


def test_tables_follow_quiet_and_tables_option(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    quiet = fake_project.runpytest("-q")
    quiet.stdout.fnmatch_lines(["*fake-sts*", esc("*prefix[64]*")])
    silent = fake_project.runpytest("--mrlcheck-tables=none")
    silent.stdout.no_fnmatch_line("*= mrlcheck =*")
    failed_only = fake_project.runpytest("--mrlcheck-tables", "failed")
    failed_only.stdout.no_fnmatch_line("*= mrlcheck =*")


def test_colour_follows_pytest_color_option(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    result = fake_project.runpytest("--color=yes")
    assert "\x1b[" in result.stdout.str()


def test_help_lists_options_with_defaults(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines([
        "*truncated-embedding checks (pytest-mrlcheck)*",
        "*--mrlcheck-cache-dir*",
        "*--mrlcheck-no-cache*",
        "*--mrlcheck-json*",
        "*--mrlcheck-tables*",
        "*mrlcheck_patterns*",
    ])


def test_ini_patterns_and_cache_dir(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC, name="other")
    (fake_project.path / "other.mrl.yaml").rename(fake_project.path / "checks.embed.yaml")
    fake_project.makeini("[pytest]\nmrlcheck_patterns = *.embed.yaml\nmrlcheck_cache_dir = vectors\n")
    fake_project.runpytest().assert_outcomes(passed=len(EXPECTED_IDS))
    assert (fake_project.path / "vectors" / "embeddings.sqlite3").is_file()


def test_markdown_step_summary_and_plots_options(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.99, 64: 0.5}"))
    summary = fake_project.path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = fake_project.runpytest("--mrlcheck-markdown", "out/report.md", "--mrlcheck-plots", "out/plots")
    result.assert_outcomes(passed=7, failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    markdown = (fake_project.path / "out" / "report.md").read_text()
    assert "fake-sts" in markdown
    assert "❌" in markdown
    assert summary.read_text().startswith("earlier step\n")
    assert markdown.strip() in summary.read_text()
    (plot,) = (fake_project.path / "out" / "plots").glob("*.png")
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_junit_xml_carries_score_bound_and_view(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    import xml.etree.ElementTree as ET

    write_spec(FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.99, 64: 0.5}"))
    fake_project.runpytest("--junitxml", "junit.xml").assert_outcomes(passed=7, failed=1)
    tree = ET.parse(fake_project.path / "junit.xml")
    cases = {case.get("name"): case for case in tree.iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["prefix[8]"].iter("property")}
    assert properties["mrlcheck_check"] == "prefix"
    assert properties["mrlcheck_view"] == "prefix[8]"
    assert properties["mrlcheck_bound"] == "≥ 0.9900"
    assert float(properties["mrlcheck_score"]) == pytest.approx(0.8022, abs=1e-4)
    assert float(properties["mrlcheck_limit"]) == 0.99
    segments = {p.get("name"): p.get("value") for p in cases["segments"].iter("property")}
    assert segments["mrlcheck_view"].startswith("window[")


def test_no_progress_line_when_output_is_not_a_terminal(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    result = fake_project.runpytest_subprocess("--mrlcheck-no-cache")
    result.assert_outcomes(passed=8)
    assert "encoding query texts" not in result.stdout.str() + result.stderr.str()


def test_progress_draws_counts_and_rate_on_a_terminal_stream() -> None:
    import contextlib
    import io

    from pytest_mrlcheck.progress import rich_progress

    stream = io.StringIO()
    progress = rich_progress(stream, contextlib.nullcontext)
    with progress("model: encoding query texts", 600) as advance:
        for _ in range(3):
            advance(200)
    text = stream.getvalue()
    assert "model: encoding query texts" in text
    assert "600/600" in text
    assert "texts/s" in text
