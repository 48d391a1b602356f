"""Report files: a report that cannot be written is a usage error before the run or one warning
line at the end, never a changed verdict; every file is written whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_mrlcheck import atomic
from pytest_mrlcheck.cli import main
from pytest_mrlcheck.errors import FileWriteError
from tests.support.fault_helpers import fill, tmpfs
from tests.support.helpers import FAKE_SPEC, assert_clean_output

N_ITEMS = 8


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(("option", "value", "message"), [
    pytest.param("--mrlcheck-json", "afile/report.json", "cannot write there: *afile is not a folder",
                 id="json-under-a-file"),
    pytest.param("--mrlcheck-markdown", "afile/deeper/report.md", "cannot write there: *afile is not a folder",
                 id="markdown-under-a-file"),
    # the kind of an existing path is checked with every option value, before the report targets
    pytest.param("--mrlcheck-markdown", "adir", "expected a file, and this is a folder", id="markdown-is-a-folder"),
    pytest.param("--mrlcheck-json", "adir", "expected a file, and this is a folder", id="json-is-a-folder"),
    pytest.param("--mrlcheck-plots", "afile", "expected a folder, and this is a file", id="plots-naming-a-file"),
])
def test_an_unwritable_report_path_is_a_usage_error_before_the_run(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], option: str, value: str, message: str
) -> None:
    write_spec(FAKE_SPEC)
    (fake_project.path / "afile").write_text("mine\n")
    (fake_project.path / "adir").mkdir()
    result = fake_project.runpytest_subprocess("--mrlcheck-no-cache", option, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option} *{value}*: {message}*"])
    assert_clean_output(_output(result))
    assert not (fake_project.path / "encoded.log").exists(), "nothing ran"
    assert (fake_project.path / "afile").read_text() == "mine\n"


@pytest.mark.parametrize(("target", "reason"), [
    pytest.param("missing/summary.md", "its folder * does not exist", id="missing-folder"),
    pytest.param("adir", "it is a folder", id="a-folder"),
    pytest.param("afile/summary.md", "afile is not a folder", id="under-a-file"),
])
def test_a_bad_step_summary_is_one_warning_and_the_checks_decide_the_exit_status(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    target: str, reason: str,
) -> None:
    write_spec(FAKE_SPEC)
    (fake_project.path / "adir").mkdir()
    (fake_project.path / "afile").write_text("mine\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fake_project.path / target))
    result = fake_project.runpytest_subprocess("--mrlcheck-no-cache")
    result.assert_outcomes(passed=N_ITEMS)
    assert result.ret == 0
    output = _output(result)
    result.stdout.fnmatch_lines([f"*$GITHUB_STEP_SUMMARY not written: cannot write *{reason}*"])
    assert_clean_output(output)
    assert not (fake_project.path / "missing").exists()


LATE_FOLDER = """
from pathlib import Path

def test_makes_the_report_path_a_folder():
    Path("{target}").mkdir(parents=True)
"""


@pytest.mark.parametrize("option", ["--mrlcheck-json", "--mrlcheck-markdown"])
def test_a_report_that_fails_at_the_end_is_one_warning_not_a_failed_run(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], option: str
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.makepyfile(test_late=LATE_FOLDER.format(target="out/report"))
    result = fake_project.runpytest_subprocess("--mrlcheck-no-cache", option, "out/report")
    result.assert_outcomes(passed=N_ITEMS + 1)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*{option} report not written: cannot write *out/report: it is a folder*"])
    assert_clean_output(_output(result))


def test_failing_checks_keep_their_exit_status_when_a_report_fails(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.99, 64: 0.5}"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fake_project.path / "missing" / "summary.md"))
    result = fake_project.runpytest_subprocess("--mrlcheck-no-cache")
    result.assert_outcomes(passed=N_ITEMS - 1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_full_disk_keeps_the_old_reports_whole_and_the_run_green(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(FAKE_SPEC)
    with tmpfs(fake_project.path / "disk", "1m") as disk:
        old_md = "# last week's report\n" + "row\n" * 2000
        (disk / "report.md").write_text(old_md)
        (disk / "report.json").write_text('{"old": true}\n')
        earlier = "earlier step\n" + "x" * (4096 - 14) + "\n"  # a whole page: an append needs a new one
        (disk / "summary.md").write_text(earlier)
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(disk / "summary.md"))
        filler = fill(disk)
        result = fake_project.runpytest_subprocess(
            "--mrlcheck-no-cache", "--mrlcheck-markdown", str(disk / "report.md"),
            "--mrlcheck-json", str(disk / "report.json"), "--mrlcheck-plots", str(disk / "plots"))
        result.assert_outcomes(passed=N_ITEMS)
        assert result.ret == 0
        output = _output(result)
        for what in ("--mrlcheck-markdown report", "--mrlcheck-json report", "$GITHUB_STEP_SUMMARY"):
            assert f"{what} not written: cannot write" in output and "disk full" in output, output[-3000:]
        assert_clean_output(output)
        assert (disk / "report.md").read_text() == old_md
        assert (disk / "report.json").read_text() == '{"old": true}\n'
        assert (disk / "summary.md").read_text() == earlier, "an append is whole or nothing"
        assert not [p for p in disk.iterdir() if p.name.startswith(".")], "no temporary file left behind"
        filler.unlink()


def test_append_is_whole_or_nothing_on_a_full_disk(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "256k") as disk:
        path = disk / "summary.md"
        path.write_text("before\n")
        fill(disk)
        with pytest.raises(FileWriteError, match="disk full"):
            atomic.append_text(path, "x" * 200_000)
        assert path.read_text() == "before\n"


def test_atomic_writes_name_the_file_and_the_reason(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(FileWriteError, match=r"cannot write .*afile/x\.json: .*afile is not a folder"):
        atomic.write_text(tmp_path / "afile" / "x.json", "{}")
    (tmp_path / "adir").mkdir()
    with pytest.raises(FileWriteError, match="it is a folder"):
        atomic.write_bytes(tmp_path / "adir", b"png")
    atomic.write_text(tmp_path / "new" / "deep" / "x.txt", "ok")
    assert (tmp_path / "new" / "deep" / "x.txt").read_text() == "ok"
    mode = (tmp_path / "new" / "deep" / "x.txt").stat().st_mode & 0o777
    assert mode == 0o666 & ~_umask(), "a report is readable like any other file the user writes"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_command_refuses_unwritable_outputs_before_measuring(
    fake_project: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fake_project.path)
    (fake_project.path / "afile").write_text("mine\n")
    fake = ["--provider", "python", "--model", "fake_encoder:encode", "--data", "data/pairs.csv", "--no-cache"]
    for argv, message in (
        (["scan", *fake, "--markdown", "afile/map.md"], "--markdown afile/map.md: cannot write there"),
        (["scan", *fake, "--json", "afile/x.json"], "--json afile/x.json: cannot write there"),
        (["scan", *fake, "--plots", "afile"], "--plots afile: cannot write there: it is a file, not a folder"),
        (["init", *fake, "--out", "afile/x.mrl.yaml"], "cannot write there: "),
    ):
        capsys.readouterr()
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2, (argv, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert_clean_output(out + err)
    assert not (fake_project.path / "encoded.log").exists(), "nothing was measured"

    assert main(["scan", *fake, "--json", "out/scan.json"]) == 0
    capsys.readouterr()
    code = main(["report", "out/scan.json", "--plots", "afile"])
    _, err = capsys.readouterr()
    assert code == 2 and "--plots afile: cannot write there" in err
    assert_clean_output(err)
