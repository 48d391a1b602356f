"""PCA references through the plugin: item ids, outcomes from the JSON, the three reports, bad input."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import assert_clean_output, write_sts_csv

pytest.importorskip("sklearn.decomposition")

SPEC = """
name: ref
model: {provider: python, callable: fake_encoder:encode}
task: {kind: sts, data: {path: "data/pairs-{split}.csv", split: test}}
views:
  pca: {fit: train, sizes: [8, 16]}
checks:
  pca: {16: {max_gap: 0.5}, 32: {max_gap: -0.5}, 8: {max_gap: -0.5, xfail: "a 64-dim fake model: PCA wins"}}
"""


def esc(pattern: str) -> str:
    return pattern.replace("[", "[[]")


@pytest.fixture
def project(fake_project: pytest.Pytester) -> pytest.Pytester:
    write_sts_csv(fake_project.path / "data" / "pairs-test.csv", pairs=60)
    write_sts_csv(fake_project.path / "data" / "pairs-train.csv", pairs=60, seed=3)
    (fake_project.path / "data" / "fit.csv").write_text(
        "text\n" + "\n".join(f"river stone number {i} bread" for i in range(12)) + "\n", encoding="utf-8")
    return fake_project


def _spec(project: pytest.Pytester) -> dict[str, Any]:
    (spec,) = json.loads((project.path / "report.json").read_text(encoding="utf-8"))["specs"]
    assert spec["error"] is None, spec["error"]
    return dict(spec)


def test_items_outcomes_and_reports(project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC)
    collected = project.runpytest("--collect-only", "-q")
    collected.stdout.fnmatch_lines([esc(f"demo.mrl.yaml::ref::pca[{k}]") for k in (8, 16, 32)])
    result = project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-markdown", "report.md", "--color=no",
                               "-rA")
    spec = _spec(project)
    pca = spec["pca"]
    assert pca["fit"] == "train" and pca["note"] is None and pca["source"].startswith("split 'train'")
    rows = {row["dims"]: row for row in pca["sizes"]}
    assert sorted(rows) == [8, 16, 32]  # checks.pca sizes join views.pca.sizes
    for k, row in rows.items():
        assert row["prefix"] == spec["scores"][f"prefix[{k}]"] and row["pca"] == spec["scores"][f"pca[{k}]"]
        assert row["gap"] == pytest.approx(row["pca"] - row["prefix"])
        assert 0 < row["explained_variance"] <= 1
    assert rows[8]["explained_variance"] < rows[16]["explained_variance"] < rows[32]["explained_variance"]
    outcomes = {check["name"]: check["outcome"] for check in spec["checks"]}
    # every outcome follows from the JSON: the prefix may trail PCA by at most max_gap
    assert outcomes["pca[16]"] == ("passed" if rows[16]["gap"] <= 0.5 else "failed")
    assert outcomes["pca[32]"] == ("passed" if rows[32]["gap"] <= -0.5 else "failed") == "failed"
    assert outcomes["pca[8]"] == "xfailed"
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "*ref · prefix vs PCA*",
        "*size*prefix*PCA*gap*",
        f"*32*{rows[32]['prefix']:.4f}*{rows[32]['pca']:.4f}*{rows[32]['gap']:+.4f} FAIL*",
        "*gap = PCA − prefix; PCA fitted on split 'train'*",
    ])
    # the failure's own text (before the tables; pytest's short summary cuts it to the terminal width)
    result.stdout.fnmatch_lines([
        f"*prefix[[]32] scores {rows[32]['prefix']:.4f} and trails pca[[]32]*more than the allowed -0.5*"])
    markdown = (project.path / "report.md").read_text(encoding="utf-8")
    assert "| size | prefix | PCA | gap |" in markdown
    assert f"| 32 | {rows[32]['prefix']:.4f} | {rows[32]['pca']:.4f} | ❌ **{rows[32]['gap']:+.4f}** |" in markdown
    assert f"| 16 | {rows[16]['prefix']:.4f} | {rows[16]['pca']:.4f} | {rows[16]['gap']:+.4f} |" in markdown


def test_fit_on_the_evaluation_split_says_so(project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC.replace("fit: train", "fit: test").split("checks:")[0] + "checks: {prefix: {8: -1}}\n")
    result = project.runpytest("--mrlcheck-json", "report.json", "--color=no")
    result.assert_outcomes(passed=1)
    assert "evaluation units themselves" in _spec(project)["pca"]["note"]
    result.stdout.fnmatch_lines(["*PCA was fitted on the evaluation units themselves (optimistic*"])


def test_retrieval_checks_pca_alone_fits_the_corpus(fake_project: pytest.Pytester,
                                                    write_spec: Callable[..., Path]) -> None:
    from tests.support.beir import write_beir

    doc_ids, _, _ = write_beir(fake_project.path / "data" / "beir")
    write_spec("name: r\nmodel: {provider: python, callable: fake_encoder:encode}\n"
               "task: {kind: retrieval, data: {path: data/beir}}\nchecks: {pca: {16: {max_gap: 1.0}}}\n")
    result = fake_project.runpytest("--mrlcheck-json", "report.json", "-n", "2")
    result.assert_outcomes(passed=1)
    pca = _spec(fake_project)["pca"]
    assert pca["fit"] == "corpus" and pca["texts"] == len(doc_ids) and pca["note"] is None


SPEC_ERRORS = [  # (snippet, the message line, a part of the hint)
    ("views: {pca: {fitt: corpus, sizes: [8]}}", "*:4: views.pca.fitt: unknown key*", "did you mean"),
    ("views: {pca: {fit: train, sizes: [8]}}", "*:4: views.pca.fit: fitting on split 'train' needs a data path with "
     "{split} in it", "fit: data/fit.csv"),
    ("views: {pca: {sizes: [8]}}",
     "*:4: views.pca.fit: the texts of a sts task are its evaluation units*say which texts*",
     "fit: corpus to fit on the evaluation texts themselves"),
    ("views: {pca: {fit: data/missing.csv, sizes: [8]}}", "*:4: views.pca.fit: fit file not found: *missing.csv",
     "relative to the spec file"),
    ("views: {pca: {fit: data/fit.json, sizes: [8]}}", "*:4: views.pca.fit: cannot tell the format of 'data/fit.json'*",
     ".csv, .tsv or .jsonl"),
    ("views: {pca: {fit: corpus}}", "*:4: views.pca.sizes: missing required key 'sizes'", "sizes: [64, 128]"),
    ("views: {pca: {fit: {path: data/fit.csv, colum: text}, sizes: [8]}}", "*:4: views.pca.fit.colum: unknown key*",
     "column"),
    ("views: {pca: {fit: 3, sizes: [8]}}",
     "*:4: views.pca.fit: expected corpus, a split name or a file path, got int 3",
     "fit: train"),
    ("checks: {pca: {16: 0.02}}", "*:5: checks.pca.16: expected a mapping of keys, got float 0.02",
     "16: {max_gap: 0.02}"),
    ("checks: {pca: {16: {max_gap: 0.02, min: 1}}}", "*:5: checks.pca.16.min: unknown key 'min'", None),
    ("checks: {pca: {16: {}}}", "*:5: checks.pca.16.max_gap: missing required key 'max_gap'", None),
    ('checks: {pca: {"16@int8": {max_gap: 0.02}}}', "*:5: checks.pca.16@int8: checks.pca does not take a precision",
     "PCA references are float32"),
    ('checks: {pca: {16: {max_gap: 0.1}, "16": {max_gap: 0.2}}}', "*:5: checks.pca.16: size 16 is given twice*", None),
    ("checks: {pca: {xfail: why}}", "*:5: checks.pca: expected at least one {size: {max_gap: value}} entry", None),
]


@pytest.mark.parametrize(("snippet", "expected", "hint"), SPEC_ERRORS, ids=[f"e{i}" for i in range(len(SPEC_ERRORS))])
def test_bad_input_is_a_spec_error(project: pytest.Pytester, write_spec: Callable[..., Path], snippet: str,
                                   expected: str, hint: str | None) -> None:
    fit = "" if snippet.startswith("views") else "views: {pca: {fit: data/fit.csv, sizes: [8]}}\n"
    checks = "" if snippet.startswith("checks") else "checks: {prefix: {8: -1}}\n"
    write_spec("name: bad\nmodel: {provider: python, callable: fake_encoder:encode}\n"
               "task: {kind: sts, data: {path: data/pairs-test.csv}}\n" + fit + snippet + "\n" + checks)
    result = project.runpytest("--color=no")
    assert result.ret != 0
    result.stdout.fnmatch_lines([esc("*demo.mrl.yaml" + expected.lstrip("*"))])
    if hint is not None:
        hints = [line for line in result.stdout.lines if "hint:" in line]
        assert any(hint in line for line in hints), hints
    assert_clean_output(result.stdout.str() + result.stderr.str())


RUN_ERRORS = [
    ("sts", "views: {pca: {fit: data/fit.csv, sizes: [128]}}",
     "*views.pca.sizes: asks for 128 dimensions but the model gives 64*"),
    ("sts", "views: {pca: {fit: data/fit.csv, sizes: [16]}}",
     "*demo.mrl.yaml:4: views.pca.sizes: pca[[]16] needs at least 16 fit texts; fit.csv (12 texts*"),
    ("sts", "checks: {pca: {16: {max_gap: 0.1}}}\nviews: {pca: {fit: data/fit.csv}}",
     "*demo.mrl.yaml:4: checks.pca.16: pca[[]16] needs at least 16 fit texts*"),
    ("sts", "views: {pca: {fit: data/empty.csv, sizes: [8]}}",
     "*views.pca.fit: *empty.csv has fewer than two texts*a PCA fit needs*"),
    ("split", "views: {pca: {fit: validation, sizes: [8]}}",
     "*views.pca.fit: split 'validation' could not be loaded*pairs-validation.csv*"),
    ("classification", "views: {pca: {fit: validation, sizes: [8]}}",
     "*views.pca.fit: split 'validation' does not exist: the data's split column has 'test', 'train'*"),
]


@pytest.mark.parametrize(("kind", "snippet", "expected"), RUN_ERRORS, ids=[f"r{i}" for i in range(len(RUN_ERRORS))])
def test_bad_input_at_run_time(project: pytest.Pytester, write_spec: Callable[..., Path], kind: str, snippet: str,
                               expected: str) -> None:
    (project.path / "data" / "empty.csv").write_text("text\n", encoding="utf-8")
    task = {
        "sts": "task: {kind: sts, data: {path: data/pairs-test.csv}}",
        "split": 'task: {kind: sts, data: {path: "data/pairs-{split}.csv", split: test}}',
        "classification": "task: {kind: classification, k: 3, data: {path: data/labels.csv}}",
    }[kind]
    if kind == "classification":
        rows = [f"river stone {i} bread,t{i % 2},{'train' if i < 8 else 'test'}" for i in range(12)]
        (project.path / "data" / "labels.csv").write_text("text,label,split\n" + "\n".join(rows) + "\n",
                                                          encoding="utf-8")
    checks = "" if snippet.startswith("checks") else "\nchecks: {prefix: {8: -1}}"
    write_spec(f"name: bad\nmodel: {{provider: python, callable: fake_encoder:encode}}\n{task}\n"
               f"{snippet}{checks}\n")
    result = project.runpytest("--color=no")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([expected])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_missing_scikit_learn_names_the_extra(project: pytest.Pytester, write_spec: Callable[..., Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.decomposition", None)  # import fails as when not installed
    write_spec("name: nosk\nmodel: {provider: python, callable: fake_encoder:encode}\n"
               "task: {kind: sts, data: {path: data/pairs-test.csv}}\n"
               "views: {pca: {fit: data/fit.csv, sizes: [8]}}\nchecks: {prefix: {8: -1}}\n")
    result = project.runpytest("--color=no")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*demo.mrl.yaml:4: views.pca: PCA references need scikit-learn*",
                                 "*pip install 'pytest-mrlcheck[[]tasks]'*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
