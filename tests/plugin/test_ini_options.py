"""Bad ``mrlcheck_*`` ini values are usage errors at configure time: one line, no traceback."""

from __future__ import annotations

import pytest

from tests.support.helpers import FAKE_SPEC as SPEC
from tests.support.helpers import assert_clean_output


def _run_with_ini(project: pytest.Pytester, key: str, value: str) -> pytest.RunResult:
    project.makeini(f"[pytest]\nmrlcheck_{key} = {value}\n")
    project.makefile(".mrl.yaml", demo=SPEC)
    return project.runpytest("-p", "no:cacheprovider")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("max_encode", "abc", "expected a whole number"),
        ("max_encode", "-3", "expected a number ≥ 0"),
        ("max_encode", "١٢", "expected a whole number in ASCII digits 0-9"),
        ("max_encode", "1.5", "expected a whole number"),
        ("offline", "maybe", "expected true/false, yes/no, on/off or 1/0"),
        ("no_cache", "2", "expected true/false, yes/no, on/off or 1/0"),
        ("update_baseline", "sí", "expected true/false, yes/no, on/off or 1/0"),
        ("tables", "some", "expected one of all, failed, none"),
        ("tables", "ALL", "expected one of all, failed, none"),
        ("json", "reports", "expected a file, and this is a folder"),
        ("markdown", "reports", "expected a file, and this is a folder"),
        ("plots", "tox.ini", "expected a folder, and this is a file"),
        ("cache_dir", "tox.ini", "expected a folder, and this is a file"),
        ("cache_dir", "~no-such-user-mrlcheck/cache", "expected a path (its ~user is not known here)"),
    ],
)
def test_bad_ini_value_is_a_usage_error(
    fake_project: pytest.Pytester, key: str, value: str, expected: str
) -> None:
    (fake_project.path / "reports").mkdir()
    result = _run_with_ini(fake_project, key, value)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    ini = fake_project.path / "tox.ini"
    assert f"{ini}: mrlcheck_{key} = {value!r}: {expected}" in output, output
    assert_clean_output(output)


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_encode", "1000"), ("max_encode", " 500 "), ("offline", "no"), ("no_cache", "TRUE"),
     ("tables", "failed"), ("json", "reports/out.json"), ("plots", "plots")],
)
def test_good_ini_values_still_run(fake_project: pytest.Pytester, key: str, value: str) -> None:
    result = _run_with_ini(fake_project, key, value)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.OK, output


def test_ini_max_encode_is_enforced_as_a_number(fake_project: pytest.Pytester) -> None:
    result = _run_with_ini(fake_project, "max_encode", "3")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert_clean_output(output)


def test_command_line_path_is_checked_too(fake_project: pytest.Pytester) -> None:
    fake_project.makefile(".mrl.yaml", demo=SPEC)
    (fake_project.path / "reports").mkdir()
    result = fake_project.runpytest("-p", "no:cacheprovider", "--mrlcheck-json", "reports")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "--mrlcheck-json 'reports': expected a file, and this is a folder" in output, output
    assert_clean_output(output)


def test_command_line_number_uses_the_same_validator(fake_project: pytest.Pytester) -> None:
    fake_project.makefile(".mrl.yaml", demo=SPEC)
    result = fake_project.runpytest("-p", "no:cacheprovider", "--mrlcheck-max-encode", "١٢")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "in ASCII digits" in output, output
