"""Bad input gets a clear message naming file, line and key, with a hint; never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_mrlcheck.errors import SpecError
from pytest_mrlcheck.spec import load_specs, parse_dim_selection
from tests.support.helpers import FAKE_SPEC, assert_clean_output

BAD_SPECS = [
    pytest.param("name: x\nmodel: [unclosed\n", 3, "YAML syntax error: *",
                 "check indentation and that every 'key: value' has a space after the colon", id="yaml-syntax"),
    pytest.param(FAKE_SPEC.replace("checks:", "chekcs:"), 9, "chekcs: unknown key 'chekcs'",
                 "did you mean 'checks'?", id="unknown-top-key"),
    pytest.param(FAKE_SPEC.replace("margin: 0.0", "margn: 0.0"), 13,
                 "checks.random.margn: unknown key 'margn'", "did you mean 'margin'?", id="unknown-nested-key"),
    pytest.param(FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: high, 64: 0.5}"), 10,
                 "checks.prefix.8: expected a number, got str 'high'", None, id="wrong-type"),
    pytest.param(FAKE_SPEC.replace("samples: 16", "samples: 0"), 13,
                 "checks.random.samples: expected a whole number ≥ 1, got 0", None, id="samples-zero"),
    pytest.param(FAKE_SPEC.replace("width: 16", "width: -4"), 12,
                 "checks.segments.width: expected a whole number ≥ 1, got -4", None, id="negative-width"),
    pytest.param(FAKE_SPEC.replace("kind: sts", "kind: stss"), 6,
                 "task.kind: expected one of sts, retrieval, classification, clustering, pair-classification, "
                 "reranking, agreement; got str 'stss'", "did you mean 'sts'?", id="unknown-kind"),
    pytest.param(FAKE_SPEC.replace("provider: python", "provider: pyton"), 3,
                 "model.provider: expected one of sentence-transformers, python, openai, precomputed, voyage, cohere, "
                 "gemini; got str 'pyton'",
                 "did you mean 'python'?", id="unknown-provider"),
    pytest.param(FAKE_SPEC.replace("    path: data/pairs.csv\n", "    format: csv\n"), 8,
                 "task.data.path: missing required key 'path'",
                 "path: data/pairs.csv (relative to the spec file), or hf: / mteb: for hub datasets",
                 id="missing-path"),
    pytest.param(FAKE_SPEC.replace("relative: {32: 0.9}", "relative: {32: 3}"), 11,
                 "checks.relative.32: expected a number in [0, 1.5], got 3", None, id="ratio-out-of-range"),
    pytest.param(FAKE_SPEC.replace("  prefix: {8: 0.3, 64: 0.5}\n", "  prefix: {8: 0.3}\n  prefix: {64: 0.5}\n"),
                 11, "duplicate key 'prefix' (first on line 10)", "YAML keeps only the last of duplicate keys*",
                 id="duplicate-key"),
    pytest.param(FAKE_SPEC.replace("callable: fake_encoder:encode", "callable: fake_encoder"), 4,
                 "model.callable: expected 'package.module:function', got str 'fake_encoder'",
                 "the function takes (texts: list[str], role: str) and returns an array", id="bad-callable"),
    pytest.param("", 1, "the file holds no spec", "a spec needs at least model, task and checks",
                 id="empty-file"),
]


def _esc(text: str) -> str:
    return text.replace("[", "[[]")


@pytest.mark.parametrize(("body", "line", "message", "hint"), BAD_SPECS)
def test_bad_spec_is_a_collection_error_with_location(
    fake_project: pytest.Pytester,
    write_spec: Callable[..., Path],
    body: str,
    line: int | None,
    message: str,
    hint: str | None,
) -> None:
    write_spec(body)
    result = fake_project.runpytest()
    location = f"demo.mrl.yaml:{line}: " if line else "demo.mrl.yaml: "
    expected = ["*ERROR collecting demo.mrl.yaml*", f"*/{location}{_esc(message)}"]
    if hint:
        expected.append(f"  hint: {_esc(hint)}")
    result.stdout.fnmatch_lines(expected)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_other_files_run_with_continue_on_collection_errors(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    write_spec("model: {provider: nope}\n", name="broken")
    result = fake_project.runpytest("--continue-on-collection-errors")
    result.assert_outcomes(passed=8, errors=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_errors_carry_path_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "x.mrl.yaml"
    path.write_text(FAKE_SPEC.replace("seed: 0", "seed: -1"))
    with pytest.raises(SpecError) as caught:
        load_specs(path)
    assert caught.value.path == path
    assert caught.value.line == 14  # FAKE_SPEC starts with an empty line
    assert caught.value.key == "checks.random.seed"


def test_hint_for_headerless_names(tmp_path: Path) -> None:
    path = tmp_path / "x.mrl.yaml"
    path.write_text(FAKE_SPEC.replace("path: data/pairs.csv", "path: data/pairs.csv\n    header: false\n"
                                      "    columns: {text1: a, text2: b, score: c}"))
    with pytest.raises(SpecError, match="a file without a header needs column numbers"):
        load_specs(path)


def test_defaults_and_multi_document_names(tmp_path: Path) -> None:
    path = tmp_path / "models.mrl.yaml"
    body = FAKE_SPEC.replace("name: fake-sts\n", "")
    path.write_text(body + "---\n" + body)
    first, second = load_specs(path)
    assert (first.name, second.name) == ("models-1", "models-2")
    assert first.task.metric == "spearman" and first.task.similarity == "cosine"
    assert first.task.data.columns == {"text1": "sentence1", "text2": "sentence2", "score": "score"}
    assert first.task.data.path == tmp_path / "data" / "pairs.csv"
    assert first.model.normalize is True and first.model.trust_remote_code is False
    assert first.checks.random is not None and first.checks.random.dims == (8, 16)


def test_duplicate_spec_names_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "x.mrl.yaml"
    path.write_text(FAKE_SPEC + "---\n" + FAKE_SPEC)
    with pytest.raises(SpecError, match="duplicate spec name 'fake-sts'"):
        load_specs(path)


def test_views_dims_and_dims_check(tmp_path: Path) -> None:
    path = tmp_path / "x.mrl.yaml"
    path.write_text(FAKE_SPEC + "  dims: {tail: 0.1}\nviews:\n  dims: {tail: \"32:64\", picks: [0, 5, 9]}\n")
    (spec,) = load_specs(path)
    assert spec.views.dims["tail"] == tuple(range(32, 64))
    assert spec.views.dims["picks"] == (0, 5, 9)
    path.write_text(FAKE_SPEC + "  dims: {nothing: 0.1}\n")
    with pytest.raises(SpecError, match="no dimension list named 'nothing'"):
        load_specs(path)


def test_parse_dim_selection() -> None:
    assert parse_dim_selection("0:3, 5, 7:9") == (0, 1, 2, 5, 7, 8)
    with pytest.raises(ValueError, match="empty"):
        parse_dim_selection("4:2")


RUNTIME_PROBLEMS = [
    pytest.param(lambda p: (p / "data" / "pairs.csv").unlink(), "data file not found: */data/pairs.csv",
                 id="missing-data-file"),
    pytest.param(lambda p: (p / "data" / "pairs.csv").write_text("a,b,c\nx,y,1\n"),
                 "*pairs.csv:1: column 'sentence1' (for text1) is not in the header ['a', 'b', 'c']",
                 id="missing-column"),
    pytest.param(lambda p: (p / "data" / "pairs.csv").write_text("sentence1,sentence2,score\n"),
                 "*pairs.csv: no sentence pairs found (the dataset is empty)", id="empty-dataset"),
    pytest.param(lambda p: (p / "data" / "pairs.csv").write_text(
        "sentence1,sentence2,score\na b,c d,1\ne f,g h,2\ni j,k l,high\n"),
        "*pairs.csv:4: score 'high' is not a number", id="non-numeric-score"),
]


@pytest.mark.parametrize(("damage", "message"), RUNTIME_PROBLEMS)
def test_data_problems_fail_that_specs_items_only(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], damage: Callable[[Path], None], message: str
) -> None:
    write_spec(FAKE_SPEC)
    other = fake_project.path / "other"
    other.mkdir()
    (other / "data").mkdir()
    (fake_project.path / "data" / "pairs.csv").rename(other / "data" / "pairs.csv")
    (fake_project.path / "data" / "pairs.csv").write_bytes((other / "data" / "pairs.csv").read_bytes())
    (other / "ok.mrl.yaml").write_text(FAKE_SPEC.replace("fake-sts", "healthy"))
    damage(fake_project.path)
    result = fake_project.runpytest()
    result.assert_outcomes(passed=8, failed=8)
    result.stdout.fnmatch_lines(["spec 'fake-sts' could not be evaluated:", message.replace("[", "[[]")])
    assert_clean_output(result.stdout.str() + result.stderr.str())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.3, 512: 0.5}"),
                     "*/demo.mrl.yaml:10: checks.prefix.512: asks for 512 dimensions but the model gives 64",
                     id="dims-beyond-model"),
        pytest.param(("width: 16", "width: 100"),
                     "*/demo.mrl.yaml:12: checks.segments.width: 100 is wider than the vector (64 dims)",
                     id="window-wider-than-vector"),
        pytest.param(("fake_encoder:encode", "fake_encoder:broken"),
                     "callable fake_encoder:broken returned NaN or infinite values in 1 of 160 vectors",
                     id="nan-vectors"),
        pytest.param(("fake_encoder:encode", "no_such_module:encode"),
                     "cannot find module 'no_such_module' for callable 'no_such_module:encode'",
                     id="missing-module"),
    ],
)
def test_model_problems_are_clear(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], edit: tuple[str, str], message: str
) -> None:
    write_spec(FAKE_SPEC.replace(*edit))
    result = fake_project.runpytest()
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines([message.replace("[", "[[]")])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_missing_local_model_folder_names_the_model(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("provider: python\n  callable: fake_encoder:encode",
                                 "provider: sentence-transformers\n  name: ./models/missing"))
    result = fake_project.runpytest()
    result.assert_outcomes(failed=8)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["*model folder */models/missing does not exist",
                                 "*hint: model.name is a hub id, a folder relative to the spec file, or pkg:<package>"])


def test_missing_model_package_says_how_to_install(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("provider: python\n  callable: fake_encoder:encode",
                                 "provider: sentence-transformers\n  name: pkg:no-such-model-package"))
    result = fake_project.runpytest()
    result.assert_outcomes(failed=8)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["model package 'no-such-model-package' is not installed",
                                 "*hint: pip install no-such-model-package"])


@pytest.mark.parametrize(("views", "key"), [("precision: []", "views.precision"), ("index: []", "views.index")])
def test_an_empty_list_is_named_empty(tmp_path: Path, views: str, key: str) -> None:
    """An empty list where items are needed says so ("got an empty list"), not "expected a list, got a list"."""
    path = tmp_path / "x.mrl.yaml"
    path.write_text("name: x\nmodel: {provider: python, callable: m:f}\n"
                    "task: {kind: retrieval, data: {path: data/pairs.csv}}\n"
                    f"views: {{{views}}}\nchecks: {{prefix: {{8: 0.0}}}}\n")
    with pytest.raises(SpecError, match="got an empty list") as caught:
        load_specs(path)
    assert caught.value.key == key and caught.value.line == 4
