"""One guard at the boundary: whatever the plugin runs (user callables, loaders, scorers) fails as a
message naming the spec and the step, once per spec, showing only the user's own frames."""

from __future__ import annotations

import fnmatch
import json
import math
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

import pytest_mrlcheck.providers.python_callable
import pytest_mrlcheck.report.summary  # noqa: F401 - imported before pytester snapshots sys.modules, so patches stick
from pytest_mrlcheck.errors import DataError
from pytest_mrlcheck.guard import MAX_MESSAGE, Step, StepFailed, scrub, step, user_frames, wrap
from tests.support.encoders import CALLS_ENV, TOY_ENCODERS
from tests.support.helpers import FAKE_SPEC, assert_clean_output


def _spec(callable_name: str, module: str = "toys") -> str:
    return FAKE_SPEC.replace("callable: fake_encoder:encode", f"callable: {module}:{callable_name}")


def _run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, str]:
    result = project.runpytest("--mrlcheck-no-cache", "--color=no", *args)
    output = result.stdout.str() + result.stderr.str()
    assert_clean_output(output)
    return result, output


def _calls(project: pytest.Pytester) -> int:
    path = project.path / "calls.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def toys(fake_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    fake_project.makepyfile(toys=TOY_ENCODERS)
    monkeypatch.setenv(CALLS_ENV, str(fake_project.path / "calls.log"))
    return fake_project


def test_a_raising_callable_fails_once_with_its_own_frames(toys: pytest.Pytester, write_spec: Callable[..., Path]
                                                            ) -> None:
    write_spec(_spec("raises"))
    result, output = _run(toys, "--junitxml", "junit.xml", "--mrlcheck-json", "report.json")
    result.assert_outcomes(failed=8)
    assert _calls(toys) == 1  # once per spec, not once per item
    headline = "encoding with python:toys:raises failed: KeyError: 'missing-key'"
    # pytest's own short summary repeats each failure's message, in full when the CI variable is set
    # (it does not cut lines to the terminal width there): count what the plugin prints before it
    body, _, short_summary = output.partition("short test summary info")
    assert short_summary.count("FAILED demo.mrl.yaml::fake-sts::") == 8
    output = body
    assert output.count(f"spec 'fake-sts' could not be evaluated:\n{headline}") == 1
    assert output.count(f"spec 'fake-sts' could not be evaluated: {headline}\n"
                        "  (the full message is at the first failure of this spec: demo.mrl.yaml::fake-sts::prefix[8])"
                        ) == 7
    frames = re.findall(r"^    (toys\.py:\d+ in \w+: .*)$", output, flags=re.MULTILINE)
    # the user's two frames, shown with the first item and in the end-of-run summary: nothing else
    assert frames == ["toys.py:20 in raises: return _inner_helper(texts)",
                      "toys.py:15 in _inner_helper: return table[texts[0][:0] + \"missing-key\"]"] * 2
    assert "_pytest/" not in output and "pluggy/" not in output and "site-packages" not in output
    assert "table = " not in output  # source lines, never locals
    junit = (toys.path / "junit.xml").read_text()
    failures = ElementTree.fromstring(junit).findall(".//testcase/failure")
    assert len(failures) == 8 and all(headline in (f.text or "") for f in failures)
    assert "Traceback" not in junit and "pytest_mrlcheck/" not in junit
    (spec,) = json.loads((toys.path / "report.json").read_text())["specs"]
    assert spec["error"].startswith(headline)


def test_every_item_names_the_error_even_when_run_alone(toys: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(_spec("raises"))
    result, output = _run(toys, "-k", "monotonic")
    result.assert_outcomes(failed=1)
    assert "toys.py:15 in _inner_helper" in output and _calls(toys) == 1


CALLABLE_CASES = [
    pytest.param("exits", "encoding with python:toys:exits failed: SystemExit: 3", id="sys-exit"),
    pytest.param("unprintable", "encoding with python:toys:unprintable failed: toys.Unprintable", id="bad-str"),
    pytest.param("numpy_fails", "encoding with python:toys:numpy_fails failed: numpy.LinAlgError: Singular matrix",
                 id="library-error"),
    pytest.param("returns_none", "callable toys:returns_none returned None; expected an array of shape (160, dims)",
                 id="none"),
    pytest.param("returns_flat_list", "returned a list of 160 items of shape (160,); expected an array of shape",
                 id="flat-list"),
    pytest.param("returns_too_few", "of shape (159, 64); expected an array of shape (160, dims)", id="too-few"),
    pytest.param("returns_3d", "of shape (160, 64, 1); expected", id="3d"),
    pytest.param("returns_strings", "dtype <U1: not real numbers", id="strings"),
    pytest.param("returns_ragged", "that is not a numeric array", id="ragged"),
    pytest.param("returns_complex", "dtype complex128: not real numbers", id="complex"),
    pytest.param("returns_dict", "dtype object: not real numbers", id="dict"),
    pytest.param("returns_nan", "returned NaN or infinite values in 1 of 160 vectors", id="nan"),
    pytest.param("returns_huge", "returned values too large for float32 in 160 of 160 vectors", id="overflow"),
    pytest.param("returns_empty_rows", "returned vectors of dimension 0", id="zero-dims"),
    pytest.param("returns_huge_ints", "dtype object: not real numbers", id="huge-ints"),
    pytest.param("NOT_A_FUNCTION", "toys.NOT_A_FUNCTION is int, not a function", id="not-a-function"),
    pytest.param("raisse", "module 'toys' (toys.py) has no function 'raisse'*hint: did you mean toys:raises?",
                 id="missing-function"),
]


@pytest.mark.parametrize(("name", "message"), CALLABLE_CASES)
def test_a_misbehaving_callable_is_one_clear_message(
    toys: pytest.Pytester, write_spec: Callable[..., Path], name: str, message: str
) -> None:
    write_spec(_spec(name))
    result, output = _run(toys)
    result.assert_outcomes(failed=8)
    assert fnmatch.fnmatchcase(output, f"*{message}*"), output[-3000:]
    assert _calls(toys) == (0 if name in ("NOT_A_FUNCTION", "raisse") else 1)


def test_a_long_message_is_cut(toys: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(_spec("long_message"))
    result, output = _run(toys)
    result.assert_outcomes(failed=8)
    assert "x" * (MAX_MESSAGE - 20) in output and "x" * (MAX_MESSAGE + 1) not in output


IMPORT_CASES = [
    pytest.param("def encode(texts, role)\n    return texts\n",
                 "loading the model importing 'broken' for python:broken:encode failed: SyntaxError: expected ':' "
                 "(broken.py, line 1)", "broken.py:1 in <module>: def encode(texts, role)", id="syntax-error"),
    pytest.param("import numpy\nimport not_installed_anywhere_xyz\n",
                 "failed: ModuleNotFoundError: No module named 'not_installed_anywhere_xyz'",
                 "broken.py:2 in <module>: import not_installed_anywhere_xyz", id="import-error-inside"),
    pytest.param("CONFIG = {}\nTOKEN = CONFIG['token']\n", "failed: KeyError: 'token'",
                 "broken.py:2 in <module>: TOKEN = CONFIG['token']", id="raises-at-import"),
]


@pytest.mark.parametrize(("source", "message", "frame"), IMPORT_CASES)
def test_a_module_that_fails_to_import(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], source: str, message: str, frame: str
) -> None:
    (fake_project.path / "broken.py").write_text(source)
    write_spec(_spec("encode", module="broken"))
    result, output = _run(fake_project)
    result.assert_outcomes(failed=8)
    assert message in output and frame in output
    assert "hint: the module must import cleanly" in output


def test_a_package_whose_init_fails(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    package = fake_project.path / "encoders"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('half-configured')\n")
    (package / "mine.py").write_text("def encode(texts, role):\n    return None\n")
    write_spec(_spec("encode", module="encoders.mine"))
    result, output = _run(fake_project)
    result.assert_outcomes(failed=8)
    assert "importing 'encoders.mine' for python:encoders.mine:encode failed: RuntimeError: half-configured" in output
    assert "encoders/__init__.py:1 in <module>" in output


# --------------------------------------------------------------------------- every step, by injection


def _boom(*args: Any, **kwargs: Any) -> Any:
    _boom.calls += 1  # type: ignore[attr-defined]
    raise ZeroDivisionError("injected failure")


@pytest.mark.parametrize(("target", "message"), [
    pytest.param("pytest_mrlcheck.engine.prepare_sts.load_sts", "loading data from data/pairs.csv failed: "
                 "ZeroDivisionError: injected failure", id="load-data"),
    pytest.param("pytest_mrlcheck.tasks.sts.score_views", "scoring sts (spearman) failed: ZeroDivisionError: "
                 "injected failure", id="score"),
    pytest.param("pytest_mrlcheck.engine.orchestrate.plan_views", "scoring sts (spearman) failed", id="plan-views"),
    pytest.param("pytest_mrlcheck.engine.embedding.embed_texts", "encoding with python:fake_encoder:encode failed",
                 id="cache-lookup"),
    pytest.param("pytest_mrlcheck.providers.python_callable.PythonCallableEncoder.identity",
                 "loading the model python:fake_encoder:encode failed", id="identity"),
    pytest.param("pytest_mrlcheck.providers.python_callable.PythonCallableEncoder.__init__",
                 "loading the model python:fake_encoder:encode failed", id="make-encoder"),
    pytest.param("pytest_mrlcheck.report.summary.summarize", "summarising the scores of demo.mrl.yaml::fake-sts "
                 "failed", id="summary"),
    pytest.param("pytest_mrlcheck.state.RunState.context", "opening the embedding cache failed", id="open-cache"),
])
def test_a_failure_in_any_step_is_named_and_runs_once(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    target: str, message: str
) -> None:
    _boom.calls = 0  # type: ignore[attr-defined]
    attribute = target.rpartition(".")[2]
    if attribute == "context":
        monkeypatch.setattr("pytest_mrlcheck.state.RunState.context", property(_boom))
    else:
        monkeypatch.setattr(target, _boom)
    write_spec(FAKE_SPEC)
    result, output = _run(fake_project)
    result.assert_outcomes(failed=8)
    assert _boom.calls == 1, _boom.calls  # type: ignore[attr-defined]
    assert message in output
    assert "test_guard.py:" in output and " in _boom: raise ZeroDivisionError(" in output  # this file is "user code"


def test_a_library_failure_says_so(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pytest_mrlcheck.engine.prepare_sts.load_sts", math.sqrt)  # raises TypeError, no Python frame
    write_spec(FAKE_SPEC)
    result, output = _run(fake_project)
    result.assert_outcomes(failed=8)
    assert "loading data from data/pairs.csv failed: TypeError: math.sqrt() takes exactly one argument" in output
    assert "hint: raised outside your code, by pytest-mrlcheck or a library it uses" in output
    assert "in your code" not in output


def test_a_spec_file_that_breaks_the_reader_is_a_collection_error(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pytest_mrlcheck.nodes.load_specs", _boom)
    write_spec(FAKE_SPEC)
    result, output = _run(fake_project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert re.search(r"reading the spec \S*demo\.mrl\.yaml failed: ZeroDivisionError: injected failure", output)


def test_check_planning_failure_is_a_collection_error(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pytest_mrlcheck.nodes.plan_checks", _boom)
    write_spec(FAKE_SPEC)
    result, output = _run(fake_project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "planning the checks of spec 'fake-sts'" in output and "ZeroDivisionError: injected failure" in output


def test_an_unguarded_exception_in_an_item_still_reads_as_a_message(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pytest_mrlcheck.nodes.CheckItem.runtest", _boom)
    write_spec(FAKE_SPEC)
    result, output = _run(fake_project)
    result.assert_outcomes(failed=8)
    assert "spec 'fake-sts': prefix[8] failed: ZeroDivisionError: injected failure" in output


def test_agreement_without_queries_is_clean(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    """An issue-13 finding (an AttributeError in the spec parser): whoever fixes the parser, the guard
    already turns it into a message."""
    (fake_project.path / "corpus.csv").write_text("text\n" + "\n".join(f"doc {i}" for i in range(30)) + "\n")
    write_spec(textwrap.dedent("""
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: agreement, data: {path: corpus.csv}, metric: overlap@5}
        checks: {prefix: {8: 0.1}}
    """))
    _, output = _run(fake_project)
    assert "demo.mrl.yaml" in output


# --------------------------------------------------------------------------- the guard itself


def test_step_wraps_foreign_errors_and_keeps_ours() -> None:
    with pytest.raises(StepFailed) as caught, step(Step.SCORE, "sts (spearman)"):
        raise ValueError("bad\n  input")
    error = caught.value
    assert str(error).startswith("scoring sts (spearman) failed: ValueError: bad input")
    assert error.__cause__ is None and error.__suppress_context__
    with pytest.raises(DataError), step(Step.LOAD_DATA):
        raise DataError("ours")
    with pytest.raises(KeyboardInterrupt), step(Step.LOAD_DATA):
        raise KeyboardInterrupt


def test_scrub_drops_every_frame_and_chained_exception() -> None:
    secret = "sk-local-in-a-frame"  # noqa: F841 - a local the traceback would carry

    def inner() -> None:
        with step(Step.ENCODE, "with x"):
            raise OverflowError("int too large")

    with pytest.raises(StepFailed) as caught:
        inner()
    assert caught.value.__context__ is not None  # Python chains it on raise…
    scrub(caught.value)
    assert caught.value.__context__ is None and caught.value.__traceback__ is None  # …scrub cuts it off


def test_user_frames_skip_the_package_pytest_and_libraries(tmp_path: Path) -> None:
    user = tmp_path / "user_module_for_frames.py"
    user.write_text("import json\n\ndef go():\n    return json.loads('{')\n")
    namespace: dict[str, Any] = {}
    exec(compile(user.read_text(), str(user), "exec"), namespace)
    try:
        namespace["go"]()
    except ValueError as error:
        frames = user_frames(error.__traceback__)
        wrapped = wrap(Step.ENCODE, "with python:user:go", error)
    assert [f.function for f in frames] == ["test_user_frames_skip_the_package_pytest_and_libraries", "go"]
    assert frames[-1].line == 4 and frames[-1].source == "return json.loads('{')"  # json's own frames: skipped
    assert "json.decoder" not in str(wrapped) and "user_module_for_frames.py:4 in go" in str(wrapped)


def test_redaction_masks_url_credentials_and_secret_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-1234567890")
    with pytest.raises(StepFailed) as caught, step(Step.ENCODE):
        raise ConnectionError("https://bob:hunter2@example.com/v1 refused tok-1234567890")
    assert "hunter2" not in str(caught.value) and "tok-1234567890" not in str(caught.value)
    assert "https://***@example.com/v1 refused ***" in str(caught.value)
