"""Precision views through the plugin: the issue's spec, item ids, reports, baselines and bad input."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import assert_clean_output, encoded_lines

ISSUE_SPEC = """
name: quant
model: {provider: python, callable: fake_encoder:encode}
task: {kind: sts, data: {path: data/pairs.csv}}
views:
  prefix: [64, 128, 256, 384]
  precision: [float16, int8, binary]       # every prefix and window is also scored at each listed precision
  calibration: {path: data/calib.csv, column: text}   # optional; see below
checks:
  prefix: {128: 0.80, "128@int8": 0.79, "256@binary": 0.74}
  relative: {"256@binary": 0.95}           # relative to the FULL float32 score
  min_dims: {ratio: 0.98, precision: int8} # smallest k at int8 keeping 98 % of full float32
  cheapest: {ratio: 0.97}
"""

IDS = ["prefix[128]", "prefix[128@int8]", "prefix[256@binary]", "relative[256@binary]", "min_dims", "cheapest"]


def esc(pattern: str) -> str:
    return pattern.replace("[", "[[]")


@pytest.fixture
def quant_project(fake_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("FAKE_DIM", "384")
    lines = (fake_project.path / "data" / "pairs.csv").read_text(encoding="utf-8").splitlines()[1:41]
    texts = sorted({part for line in lines for part in line.split(",")[:2]})
    (fake_project.path / "data" / "calib.csv").write_text("text\n" + "\n".join(f"{t} calibration" for t in texts)
                                                          + "\n", encoding="utf-8")
    return fake_project


def _spec(project: pytest.Pytester) -> dict[str, Any]:
    (spec,) = json.loads((project.path / "report.json").read_text(encoding="utf-8"))["specs"]
    assert spec["error"] is None, spec["error"]
    return dict(spec)


def test_issue_spec_ids_outcomes_and_json(quant_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(ISSUE_SPEC)
    collected = quant_project.runpytest("--collect-only", "-q")
    collected.stdout.fnmatch_lines([esc(f"demo.mrl.yaml::quant::{name}") for name in IDS])
    result = quant_project.runpytest("--mrlcheck-json", "report.json", "--color=no", "-rA")
    spec = _spec(quant_project)
    scores, full = spec["scores"], spec["full_score"]
    outcomes = {check["name"]: check["outcome"] for check in spec["checks"]}
    assert list(outcomes) == IDS
    # every outcome follows from the scores in the JSON
    expected = {
        "prefix[128]": scores["prefix[128]"] >= 0.80,
        "prefix[128@int8]": scores["prefix[128]@int8"] >= 0.79,
        "prefix[256@binary]": scores["prefix[256]@binary"] >= 0.74,
        "relative[256@binary]": scores["prefix[256]@binary"] >= 0.95 * full,
    }
    for name, ok in expected.items():
        assert outcomes[name] == ("passed" if ok else "failed"), name
    for label in ("prefix[64]@float16", "prefix[384]@int8", "prefix[64]@binary"):
        assert isinstance(scores[label], float)
    assert "window[0:64]@int8" not in scores  # no windows in this spec
    precision = spec["precision"]
    assert precision["precisions"] == ["float32", "float16", "int8", "binary"]
    assert precision["calibration"].endswith("calib.csv") and precision["note"] is None
    configurations = precision["configurations"]
    assert len(configurations) == 4 * 4
    kept = [c for c in configurations if c["score"] >= 0.97 * full]
    cheapest = min(kept, key=lambda c: (c["bytes_per_vector"], -c["score"]))
    assert precision["cheapest"] == cheapest
    assert outcomes["cheapest"] == "passed"
    # the frontier: no configuration is both at most as large and better
    for point in precision["frontier"]:
        assert not any(c["bytes_per_vector"] <= point["bytes_per_vector"] and c["score"] > point["score"]
                       for c in configurations)
    int8_sizes = [k for k in (64, 128, 256, 384) if scores[f"prefix[{k}]@int8"] >= 0.98 * full]
    check = next(c for c in spec["checks"] if c["name"] == "min_dims")
    if int8_sizes:
        assert check["value"] <= min(int8_sizes)
    result.stdout.fnmatch_lines(["*score by size and precision*", esc("*prefix[128]*"), "*bytes per vector vs score*",
                                 "*cheapest ★*"])
    calibration_lines = [line for line in encoded_lines(quant_project) if line.endswith(" calibration")]
    assert calibration_lines, "the calibration file is encoded"
    rerun = quant_project.runpytest("--mrlcheck-json", "report2.json")
    assert "0 texts encoded" in rerun.stdout.str()


def test_windows_and_default_calibration_note(quant_project: pytest.Pytester,
                                              write_spec: Callable[..., Path]) -> None:
    write_spec("""
        name: w
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: sts, data: {path: data/pairs.csv}}
        views: {prefix: [64], precision: [uint8, ubinary], windows: {width: 64, step: 64}}
        checks: {prefix: {"64@uint8": -1}}
        """)
    quant_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-markdown", "report.md").assert_outcomes(
        passed=1)
    spec = _spec(quant_project)
    assert "window[0:64]@ubinary" in spec["scores"] and "window[320:384]@uint8" in spec["scores"]
    assert spec["precision"]["calibration"] == "every text the spec embeds"
    assert "optimistic" in spec["precision"]["note"]
    markdown = (quant_project.path / "report.md").read_text(encoding="utf-8")
    assert "| size | float32 | uint8 | ubinary |" in markdown and "optimistic" in markdown


def test_a_failing_precision_threshold_is_highlighted(quant_project: pytest.Pytester,
                                                      write_spec: Callable[..., Path]) -> None:
    write_spec("""
        name: f
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: sts, data: {path: data/pairs.csv}}
        views: {prefix: [64, 384], precision: [binary]}
        checks:
          prefix: {"64@binary": 0.999}
          cheapest: {ratio: 0.5, max_bytes: 1}
        """)
    result = quant_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-markdown", "report.md",
                                     "--color=no")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([esc("*prefix[64]@binary scores *, below the minimum 0.9990*"),
                                 "*more than the allowed 1 bytes*"])
    assert "FAIL" in result.stdout.str().split("score by size and precision")[1]
    assert "❌ **" in (quant_project.path / "report.md").read_text(encoding="utf-8")
    spec = _spec(quant_project)
    assert spec["precision"]["precisions"] == ["float32", "binary"]


def test_cheapest_alone_scores_every_precision(quant_project: pytest.Pytester,
                                               write_spec: Callable[..., Path]) -> None:
    write_spec("""
        name: c
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: sts, data: {path: data/pairs.csv}}
        views: {prefix: [32, 384]}
        checks: {cheapest: {ratio: 0.9}}
        """)
    quant_project.runpytest("--mrlcheck-json", "report.json").assert_outcomes(passed=1)
    spec = _spec(quant_project)
    assert spec["precision"]["precisions"] == ["float32", "float16", "int8", "uint8", "binary", "ubinary"]
    assert spec["precision"]["cheapest"]["bytes_per_vector"] == math.ceil(
        spec["precision"]["cheapest"]["dims"] * {"float32": 32, "float16": 16, "int8": 8, "uint8": 8, "binary": 1,
                                                 "ubinary": 1}[spec["precision"]["cheapest"]["precision"]] / 8)


def test_baseline_records_and_compares_precision_views(quant_project: pytest.Pytester,
                                                       write_spec: Callable[..., Path]) -> None:
    body = """
        name: b
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: sts, data: {path: data/pairs.csv}}
        views: {prefix: [64, 384], precision: [int8]}
        baseline: {path: base.json, tolerance: 0.001}
        """
    write_spec(body)
    quant_project.runpytest("--mrlcheck-update-baseline").assert_outcomes(passed=1)
    recorded = json.loads((quant_project.path / "base.json").read_text(encoding="utf-8"))["specs"]["b"]["scores"]
    assert list(recorded) == ["prefix[64]", "prefix[384]", "prefix[64]@int8", "prefix[384]@int8"]
    quant_project.runpytest().assert_outcomes(passed=1)
    content = json.loads((quant_project.path / "base.json").read_text(encoding="utf-8"))
    content["specs"]["b"]["scores"]["prefix[64]@int8"] += 0.05
    (quant_project.path / "base.json").write_text(json.dumps(content), encoding="utf-8")
    result = quant_project.runpytest("--color=no")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([esc("*prefix[64]@int8*")])


def test_compare_covers_precision_views(quant_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("""
        name: cmp
        model: {provider: python, callable: fake_encoder:noisy}
        task: {kind: sts, data: {path: data/pairs.csv}}
        views: {prefix: [64], precision: [binary]}
        compare: {model: {provider: python, callable: fake_encoder:encode}, max_drop: 1.0}
        """)
    quant_project.runpytest("--mrlcheck-json", "report.json").assert_outcomes(passed=1)
    (check,) = _spec(quant_project)["checks"]
    assert [row["view"] for row in check["rows"]] == ["prefix[64]", "prefix[64]@binary"]


@pytest.mark.parametrize(("snippet", "expected"), [
    pytest.param('views: {prefix: [64], precision: [int4]}', "*views.precision*unknown precision*int4*",
                 id="unknown-precision"),
    pytest.param('views: {precision: [binray]}', "*did you mean 'binary'*", id="typo"),
    pytest.param('checks: {prefix: {"64@int4": 0.1}}', "*checks.prefix.64@int4*unknown precision 'int4'*",
                 id="unknown-at"),
    pytest.param('checks: {geometry: {isoscore: {"64@int8": 0.1}}}',
                 "*checks.geometry.isoscore does not take a precision*", id="geometry-at"),
    pytest.param('checks: {prefix: {"64@int8": 0.1, "64@int8 ": 0.2}}', "*64@int8 is given twice*",
                 id="twice"),
    pytest.param('checks: {min_dims: {ratio: 0.9, precision: bits}}', "*checks.min_dims.precision*unknown*",
                 id="min-dims"),
    pytest.param('checks: {cheapest: {ratio: 2}}', "*checks.cheapest.ratio*", id="cheapest-ratio"),
    pytest.param('checks: {cheapest: {ratio: 0.9, bytes: 3}}', "*checks.cheapest.bytes: unknown key*",
                 id="cheapest-key"),
    pytest.param('views: {calibration: {path: data/missing.csv}}', "*views.calibration.path*not found*",
                 id="calibration-missing"),
    pytest.param('views: {calibration: {column: text}}', "*views.calibration.path*missing*",
                 id="calibration-no-path"),
])
def test_bad_precision_input_is_a_spec_error(quant_project: pytest.Pytester, write_spec: Callable[..., Path],
                                             snippet: str, expected: str) -> None:
    checks = "" if snippet.startswith("checks") else 'checks: {prefix: {"64@int8": 0.1}}\n'
    write_spec("name: bad\nmodel: {provider: python, callable: fake_encoder:encode}\n"
               "task: {kind: sts, data: {path: data/pairs.csv}}\n" + snippet + "\n" + checks)
    result = quant_project.runpytest("--color=no")
    assert result.ret != 0
    result.stdout.fnmatch_lines([esc(expected)])
    assert_clean_output(result.stdout.str() + result.stderr.str())


@pytest.mark.parametrize(("setup", "snippet", "expected"), [
    pytest.param(None, 'checks: {prefix: {"512@int8": 0.1}}',
                 "*checks.prefix.512@int8: asks for 512 dimensions but the model gives 384*", id="too-large"),
    pytest.param("", 'views: {calibration: {path: data/calib.csv}}\nchecks: {prefix: {"64@int8": 0.1}}',
                 "*views.calibration: *calib.csv*", id="empty-calibration"),
    pytest.param("text\nonly one\n", 'views: {calibration: {path: data/calib.csv}}\nchecks: {prefix: {"64@int8": 0.1}}',
                 "*need at least two*", id="one-text"),
])
def test_bad_precision_input_at_run_time(quant_project: pytest.Pytester, write_spec: Callable[..., Path],
                                         setup: str | None, snippet: str, expected: str) -> None:
    if setup is not None:
        (quant_project.path / "data" / "calib.csv").write_text(setup, encoding="utf-8")
    write_spec("name: bad\nmodel: {provider: python, callable: fake_encoder:encode}\n"
               "task: {kind: sts, data: {path: data/pairs.csv}}\n" + snippet + "\n")
    result = quant_project.runpytest("--color=no")
    assert result.ret != 0
    result.stdout.fnmatch_lines([esc(expected)])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_funnel_binary_shortlist_with_rescoring(fake_project: pytest.Pytester,
                                                write_spec: Callable[..., Path]) -> None:
    from tests.support.beir import write_beir

    write_beir(fake_project.path / "data" / "beir")
    write_spec("""
        name: r
        model: {provider: python, callable: fake_encoder:encode}
        task:
          kind: retrieval
          data: {path: data/beir}
          metric: ndcg@10
          funnel: {shortlist_dims: 64, shortlist: 20, shortlist_precision: binary, rerank_precision: int8,
                   min_ratio: 0.5}
        views: {prefix: [16, 64], precision: [binary]}
        checks: {prefix: {"64@binary": 0.0}}
        """)
    result = fake_project.runpytest("--mrlcheck-json", "report.json", "--color=no")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*64-dim binary shortlist of 20, rerank at 64 int8*"])
    funnel = _spec(fake_project)["funnel"]
    assert (funnel["shortlist_precision"], funnel["rerank_precision"]) == ("binary", "int8")
    assert funnel["shortlist_bytes_per_vector"] == 8 and funnel["rerank_bytes_per_vector"] == 64


def test_funnel_precision_must_be_known(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("""
        name: r
        model: {provider: python, callable: fake_encoder:encode}
        task:
          kind: retrieval
          data: {path: data/beir}
          funnel: {shortlist_dims: 16, shortlist_precision: bit}
        checks: {prefix: {16: 0.0}}
        """)
    result = fake_project.runpytest("--color=no")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*task.funnel.shortlist_precision: unknown precision*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_plots_and_markdown_draw_the_precision_panel(quant_project: pytest.Pytester,
                                                     write_spec: Callable[..., Path]) -> None:
    pytest.importorskip("matplotlib")
    from pytest_mrlcheck.report.plots import spec_figure

    write_spec("""
        name: p
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: sts, data: {path: data/pairs.csv}}
        views: {prefix: [32, 128, 384], precision: [int8, binary]}
        checks: {cheapest: {ratio: 0.9}}
        """)
    quant_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-plots", "plots").assert_outcomes(passed=1)
    spec = _spec(quant_project)
    assert list((quant_project.path / "plots").glob("*.png"))
    figure = spec_figure(spec)
    panel = next(ax for ax in figure.axes if ax.get_title(loc="left") == "score vs storage, per precision")
    labels = panel.get_legend_handles_labels()[1]
    assert labels[:3] == ["float32", "int8", "binary"]
    assert "Pareto frontier" in labels and "90% of full float32" in labels
    assert f"cheapest: {spec['precision']['cheapest']['view']}" in labels
    curves = {line.get_label(): line for line in panel.get_lines()}
    binary = curves["binary"]
    assert list(binary.get_xdata()) == [4, 16, 48]  # bytes of 32, 128, 384 sign bits
    assert list(binary.get_ydata()) == [spec["scores"][f"prefix[{k}]@binary"] for k in (32, 128, 384)]


def test_a_calibration_file_outside_the_root_needs_the_opt_in(quant_project: pytest.Pytester,
                                                              write_spec: Callable[..., Path],
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    """The calibration file obeys the project root like every data path (allow_outside_root opts in)."""
    outside = tmp_path_factory.mktemp("elsewhere") / "calib.csv"
    outside.write_text("text\n" + "".join(f"calibration sentence number {i}\n" for i in range(8)), encoding="utf-8")
    body = ("name: cal\nmodel: {provider: python, callable: fake_encoder:encode}\n"
            "task: {kind: sts, data: {path: data/pairs.csv}}\n"
            f'views: {{calibration: {{path: "{outside}"}}}}\nchecks: {{prefix: {{"64@int8": -1.0}}}}\n')
    write_spec(body)
    refused = quant_project.runpytest("--color=no", "--mrlcheck-no-cache")
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(["*views.calibration*is outside the project root*"])
    assert_clean_output(refused.stdout.str() + refused.stderr.str())
    write_spec("allow_outside_root: true\n" + body)
    quant_project.runpytest("--color=no", "--mrlcheck-no-cache").assert_outcomes(passed=1)
