"""``mrlcheck scan``/``init`` on bad input: exit status 2, one clear ``mrlcheck: error:`` line (then
only indented detail: a hint, the user's own frames), never a traceback, the callable called once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_mrlcheck.cli import main
from tests.support.encoders import CALLS_ENV, TOY_ENCODERS
from tests.support.helpers import FAKE_SPEC, assert_clean_output

FAKE = ["--provider", "python", "--model", "fake_encoder:encode", "--data", "data/pairs.csv", "--no-cache"]


def _toy(name: str) -> list[str]:
    return ["--provider", "python", "--model", f"toys:{name}", "--data", "data/pairs.csv", "--no-cache"]


@pytest.fixture
def project(fake_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.chdir(fake_project.path)
    fake_project.makepyfile(toys=TOY_ENCODERS)
    monkeypatch.setenv(CALLS_ENV, str(fake_project.path / "calls.log"))
    (fake_project.path / "broken.py").write_text("def encode(texts, role)\n    return texts\n")
    (fake_project.path / "latin1.csv").write_bytes("sentence1,sentence2,score\ncafé,thé,1\n".encode("latin-1"))
    beir = fake_project.path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "\xff\xfe"}\n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "hello"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    (fake_project.path / "raising.mrl.yaml").write_text(_spec_text("raises"))
    return fake_project


def _spec_text(callable_name: str) -> str:
    return FAKE_SPEC.replace("callable: fake_encoder:encode", f"callable: toys:{callable_name}")


def _calls(project: pytest.Pytester) -> int:
    path = project.path / "calls.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


# (argv, text the error must contain; None: only that it is clean and exits 2), calls of the toy callable
CASES: list[Any] = [
    pytest.param(["scan", *_toy("raises")], "encoding with python:toys:raises failed: KeyError: 'missing-key'", 1,
                 id="scan-raising-callable"),
    pytest.param(["init", *_toy("raises"), "--out", "x.mrl.yaml"], "encoding with python:toys:raises failed", 1,
                 id="init-raising-callable"),
    pytest.param(["scan", *_toy("exits")], "failed: SystemExit: 3", 1, id="callable-sys-exit"),
    pytest.param(["scan", *_toy("returns_none")], "returned None; expected an array of shape (160, dims)", 1,
                 id="callable-none"),
    pytest.param(["scan", *_toy("returns_too_few")], "of shape (159, 64)", 1, id="callable-wrong-shape"),
    pytest.param(["scan", *_toy("returns_nan")], "NaN or infinite values in 1 of 160 vectors", 1, id="callable-nan"),
    pytest.param(["scan", *_toy("returns_strings")], "not real numbers", 1, id="callable-strings"),
    pytest.param(["scan", *_toy("raisse")], "has no function 'raisse'", 0, id="callable-missing"),
    pytest.param(["scan", "--provider", "python", "--model", "broken:encode", "--data", "data/pairs.csv"],
                 "importing 'broken' for python:broken:encode failed: SyntaxError", 0, id="callable-syntax-error"),
    pytest.param(["scan", *FAKE[:4], "--data", "latin1.csv", "--no-cache"], "not valid UTF-8", 0, id="data-latin1"),
    pytest.param(["scan", *FAKE[:4], "--data", "beir", "--kind", "retrieval", "--no-cache"], None, 0,
                 id="data-beir-not-utf8"),
    pytest.param(["scan", *FAKE[:4], "--data", "data", "--no-cache"], "corpus file not found", 0,
                 id="data-folder-not-beir"),
    pytest.param(["scan", *FAKE, "--columns", "a,b,c"], "column 'a' (for text1) is not in the header", 0,
                 id="data-bad-columns"),
    pytest.param(["scan", "--model", "./models/nowhere", "--data", "data/pairs.csv", "--no-cache"],
                 "does not exist", 0, id="model-missing-folder"),
    pytest.param(["scan", "--model", "pkg:no-such-model-package", "--data", "data/pairs.csv", "--no-cache"],
                 "is not installed", 0, id="model-missing-package"),
    pytest.param(["scan", *FAKE, "--window", "1000"], "--window: 1000 is wider than the model's 64 dims", 0,
                 id="option-window"),
    pytest.param(["scan", *FAKE, "--metric", "ndcg@10"],
                 "--metric: task.metric: expected one of spearman, pearson; got str 'ndcg@10'", 0,
                 id="option-metric"),
    pytest.param(["scan", *FAKE, "--ladder", "8,1000"], "--ladder: 1000 is more than the model's 64 dims", 0,
                 id="option-ladder"),
    pytest.param(["scan", *FAKE, "--random", "0"], "argument --random", 0, id="option-random"),
    pytest.param(["init", *FAKE, "--margin", "2"], "argument --margin", 0, id="option-margin"),
    pytest.param(["scan", "raising.mrl.yaml", "--no-cache"],
                 "raising.mrl.yaml::fake-sts: encoding with python:toys:raises failed", 1, id="spec-raising-callable"),
    pytest.param(["init", "raising.mrl.yaml", "--no-cache", "--out", "y.mrl.yaml"],
                 "raising.mrl.yaml::fake-sts: encoding with python:toys:raises failed", 1,
                 id="init-spec-raising-callable"),
    pytest.param(["scan", *FAKE, "--json", "/dev/null/report.json"], None, 0, id="report-unwritable"),
    pytest.param(["init", *FAKE, "--out", "/proc/no/such/x.mrl.yaml"], "cannot write /proc/no/such/x.mrl.yaml", 0,
                 id="init-out-unwritable"),
]


@pytest.mark.parametrize(("argv", "message", "calls"), CASES)
def test_bad_input_exits_2_with_one_clear_line(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], argv: list[str], message: str | None, calls: int
) -> None:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert_clean_output(out + err)
    assert code == 2, err
    lines = err.rstrip("\n").splitlines()
    assert lines[0].startswith(("mrlcheck: error:", "mrlcheck scan: error:", "mrlcheck init: error:")), err
    assert all(line.startswith("  ") for line in lines[1:]), err  # detail only: hint, the user's frames
    if message is not None:
        assert message in err
    assert _calls(project) == calls
    assert not (project.path / "x.mrl.yaml").exists() and not (project.path / "y.mrl.yaml").exists()


def test_a_raising_callable_shows_its_frames(project: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["scan", *_toy("raises")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[1:] == [
        "  in your code (most recent call last):",
        "    toys.py:20 in raises: return _inner_helper(texts)",
        '    toys.py:15 in _inner_helper: return table[texts[0][:0] + "missing-key"]',
    ]


def test_an_internal_error_is_still_one_line(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pytest_mrlcheck.cli.scan._print_table", _raise_type_error)
    capsys.readouterr()
    assert main(["scan", *FAKE]) == 2
    out, err = capsys.readouterr()
    assert_clean_output(out + err)
    assert err.startswith("mrlcheck: error: running mrlcheck scan failed: TypeError: injected")


def _raise_type_error(*args: Any) -> None:
    raise TypeError("injected")


def test_a_spec_that_breaks_the_parser(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pytest_mrlcheck.spec.load_specs", _raise_type_error)
    capsys.readouterr()
    assert main(["scan", "raising.mrl.yaml", "--no-cache"]) == 2
    out, err = capsys.readouterr()
    assert_clean_output(out + err)
    assert err.startswith("mrlcheck: error: reading the spec raising.mrl.yaml failed: TypeError: injected")
    assert _calls(project) == 0


def test_the_script_itself_prints_no_traceback(project: pytest.Pytester) -> None:
    import subprocess
    import sys

    script = Path(sys.executable).with_name("mrlcheck")
    done = subprocess.run([str(script), "scan", "raising.mrl.yaml", "--no-cache"], cwd=project.path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert_clean_output(done.stdout + done.stderr)
    assert done.stderr.startswith("mrlcheck: error: raising.mrl.yaml::fake-sts: encoding with python:toys:raises")
