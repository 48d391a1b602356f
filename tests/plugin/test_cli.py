"""The ``mrlcheck`` command: scan, init, cache, report, and its errors (through ``main`` and once as a script)."""

from __future__ import annotations

import datetime
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck import __version__
from pytest_mrlcheck.cli import default_window, identity_summary, main
from pytest_mrlcheck.report.units import human_bytes
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import DB_NAME, SqliteStore, text_key
from tests.support.helpers import FAKE_SPEC, assert_clean_output, encoded_lines

FAKE = ["--provider", "python", "--model", "fake_encoder:encode", "--data", "data/pairs.csv"]

# Dims 0:32 (junk:front) or 16:48 (junk:middle) replaced by per-text noise: a prefix that loses to random subsets.
JUNK_ENCODER = '''
import hashlib

import numpy as np

from fake_encoder import encode as _encode


def _junk(texts, role, start, end):
    out = _encode(texts, role)
    for row, text in zip(out, texts):
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        row[start:end] = np.random.default_rng(seed).standard_normal(end - start)
    return out


def front(texts, role):
    return _junk(texts, role, 0, 32)


def middle(texts, role):
    return _junk(texts, role, 16, 48)
'''


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def project(fake_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The fake project (encoder, 80 STS pairs) as the current folder."""
    monkeypatch.chdir(fake_project.path)
    return fake_project


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop what earlier steps (pytester runs) printed
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help_say_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out
    code, out, _ = run(capsys, "scan", "--help")
    assert code == 0
    for text in ("default: sentence-transformers", "default: 32", "default: 0.98", ".pytest_cache/d/mrlcheck",
                 "nearest full/6", "default: spearman", "--no-header"):
        assert text in " ".join(out.split()), text
    code, out, _ = run(capsys, "init", "--help")
    assert code == 0 and "default: 0.01" in out and "--force" in out
    code, out, _ = run(capsys, "cache", "prune", "--help")
    assert code == 0 and "--unused-since" in out
    assert [default_window(d) for d in (64, 384, 768, 1024, 3072)] == [8, 64, 128, 128, 512]


def test_scan_prints_the_ladder_random_and_windows_from_one_encoding(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "scan", *FAKE, "--json", "r/scan.json", "--markdown", "r/scan.md")
    assert code == 0, err
    for text in ("prefix[16]", "prefix[32]", "prefix[64]", "random[32]", "± ", "prefix beats", "window[",
                 "more windows", "80 pairs, 160 texts, 64 dims", "160 encoded, 0 from cache", "report only",
                 "smallest prefix keeping 98% of the full score"):
        assert text in out, text
    assert len(encoded_lines(project)) == 160  # every unique text once
    report = json.loads((project.path / "r" / "scan.json").read_text())
    assert report["schema"] == "pytest-mrlcheck/report/1"
    [spec] = report["specs"]
    assert spec["layout"]["prefixes"] == [16, 32, 64] and spec["layout"]["random"] == [32]
    assert len(spec["layout"]["windows"]) == 29 and spec["checks"] == [] and spec["sweep"]["40"]
    assert "prefix[32]" in (project.path / "r" / "scan.md").read_text()

    code, out, _ = run(capsys, "scan", *FAKE, "--ladder", "8,24", "--window", "none", "--random", "16,48",
                       "--samples", "8", "--seed", "3")
    assert code == 0
    assert "0 encoded, 160 from cache" in out  # the cache the first scan filled
    assert "prefix[8]" in out and "prefix[24]" in out and "random[48]" in out and "of 8" in out
    assert "window[" not in out
    assert len(encoded_lines(project)) == 160


def test_scan_of_a_spec_file_runs_every_document_or_one_by_name(
    project: pytest.Pytester, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(FAKE_SPEC + "---\nname: views-only\n" + FAKE_SPEC.split("checks:")[0].replace(
        "name: fake-sts\n", "") + "views: {windows: {width: 32, step: 32}, dims: {odd: [1, 3, 5]}}\n")
    code, out, err = run(capsys, "scan", str(path))
    assert code == 0, err
    assert "fake-sts ·" in out and "views-only ·" in out
    assert "window[16:32]" in out  # fake-sts: the width of its segments check
    assert "window[32:64]" in out and "dims[odd]" in out  # views-only: its own views
    code, out, _ = run(capsys, "scan", str(path), "--name", "views-only")
    assert code == 0 and "fake-sts ·" not in out and "views-only ·" in out
    code, _, err = run(capsys, "scan", str(path), "--name", "nope")
    assert code == 2 and "no spec named 'nope' (it has: fake-sts, views-only)" in err
    assert_clean_output(err)


def test_init_writes_a_spec_that_loads_and_passes_under_pytest(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "init", *FAKE, "--out", "specs/fake.mrl.yaml")
    assert code == 0, err
    assert "wrote specs/fake.mrl.yaml" in out and "8 pass today" in out
    path = project.path / "specs" / "fake.mrl.yaml"
    text = path.read_text()
    assert "path: ../data/pairs.csv" in text  # relative to the written file
    assert text.startswith("# fake_encoder-encode-pairs: thresholds measured by `mrlcheck init`")
    [spec] = load_specs(path)
    checks = spec.checks
    assert checks.prefix and [t.dims for t in checks.prefix.thresholds] == [16, 32, 64]
    assert checks.relative and [t.dims for t in checks.relative.thresholds] == [32]
    assert checks.segments and (checks.segments.width, checks.segments.step) == (8, 2)
    assert checks.random and checks.random.dims == (32,) and checks.random.xfail is None
    assert checks.monotonic and checks.min_dims and checks.min_dims.max == 64 and checks.min_dims.ratio == 0.98
    assert all(0 < t.value < 1 for t in checks.prefix.thresholds)
    # the plugin reads the vectors init cached (same default cache folder), and every item passes
    project.makeini("[pytest]\nxfail_strict = true\n")
    result = project.runpytest("specs/fake.mrl.yaml", "-p", "cacheprovider")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*0 encoded, 160 from cache*"])
    assert len(encoded_lines(project)) == 160

    code, _, err = run(capsys, "init", *FAKE, "--out", "specs/fake.mrl.yaml")
    assert code == 2 and err.strip() == "mrlcheck: error: specs/fake.mrl.yaml exists; pass --force to overwrite it"
    assert_clean_output(err)
    assert path.read_text() == text
    code, _, _ = run(capsys, "init", *FAKE, "--out", "specs/fake.mrl.yaml", "--force")
    assert code == 0 and path.read_text() == text  # same model, same data: the same file


@pytest.mark.parametrize(("model", "extra", "checked", "xfailed"), [
    pytest.param("junk:front", [], ["random[32]"], ["random[32]"], id="prefix-loses"),
    pytest.param("junk:middle", ["--random", "16,48"], ["random[48]"], ["random[48]"], id="mixed"),
])
def test_init_marks_a_prefix_that_does_not_beat_random_as_xfail(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], model: str, extra: list[str],
    checked: list[str], xfailed: list[str],
) -> None:
    project.makepyfile(junk=JUNK_ENCODER)
    code, out, err = run(capsys, "init", "--provider", "python", "--model", model, "--data", "data/pairs.csv",
                         "--out", "junk.mrl.yaml", *extra)
    assert code == 0, err
    assert "xfail as expected" in out
    text = (project.path / "junk.mrl.yaml").read_text()
    assert "does NOT beat random subsets" in text
    [spec] = load_specs(project.path / "junk.mrl.yaml")
    assert spec.checks.random and spec.checks.random.xfail and "no better than random" in spec.checks.random.xfail
    assert [f"random[{k}]" for k in spec.checks.random.dims] == checked
    assert spec.views.random and spec.views.random.dims == (tuple(sorted({int(x) for x in extra[1].split(",")}))
                                                            if extra else (32,))
    project.makeini("[pytest]\nxfail_strict = true\n")
    result = project.runpytest("junk.mrl.yaml", "-rx")
    outcomes = result.parseoutcomes()
    assert outcomes.get("xfailed") == len(xfailed) and "failed" not in outcomes and result.ret == 0


def test_init_from_a_spec_without_checks_keeps_its_views_and_rebases_paths(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    source = project.path / "specs" / "base.yaml"
    source.parent.mkdir()
    source.write_text(
        "name: base\nmodel: {provider: python, callable: fake_encoder:encode}\n"
        "task: {kind: sts, data: {path: ../data/pairs.csv, limit: 60}}\n"
        "views: {dims: {first-half: '0:32'}, windows: {width: 16, step: 8}}\n"
    )
    code, out, err = run(capsys, "init", "specs/base.yaml", "--out", "deep/er/base.mrl.yaml", "--margin", "0.02")
    assert code == 0, err
    text = (project.path / "deep" / "er" / "base.mrl.yaml").read_text()
    assert "path: ../../data/pairs.csv" in text and "limit: 60" in text and "first-half" in text
    [spec] = load_specs(project.path / "deep" / "er" / "base.mrl.yaml")
    assert spec.checks.segments and spec.checks.segments.width == 16
    assert spec.checks.dims and spec.checks.dims.thresholds[0].label == "first-half"
    total = int(re.search(r"base: (\d+) checks", out).group(1))  # type: ignore[union-attr]
    assert total >= 8
    project.runpytest("deep/er/base.mrl.yaml").assert_outcomes(passed=total)
    # default output: <stem>.mrl.yaml next to the spec
    code, out, _ = run(capsys, "init", "specs/base.yaml")
    assert code == 0 and "wrote specs/base.mrl.yaml" in out


def test_cache_info_prune_and_clear_on_a_cache_filled_by_a_run(
    project: pytest.Pytester, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = run(capsys, "cache", "info", "--cache-dir", "cache")
    assert code == 0 and "no embedding cache" in out
    assert not (project.path / "cache").exists()  # info creates nothing
    write_spec(FAKE_SPEC)
    project.runpytest("--mrlcheck-cache-dir", "cache").assert_outcomes(passed=8)

    code, out, _ = run(capsys, "cache", "info", "--cache-dir", "cache")
    assert code == 0
    assert "160 vectors of 1 model key" in out
    memo = SqliteStore(project.path / "cache").memo_summary()
    assert memo.entries == 1 and f"score memo: 1 entry, {human_bytes(memo.data_bytes)}" in out  # the spec's views
    for text in ("python", "fake_encoder:encode", "query", "64", "160", datetime.date.today().isoformat()):
        assert text in out, text
    [model] = SqliteStore(project.path / "cache").model_summaries()
    assert identity_summary(model.identity)[0] == "python" and model.dims == (64,) and model.vectors == 160

    code, out, _ = run(capsys, "cache", "prune", "--cache-dir", "cache", "--unused-since", "2000-01-01")
    assert code == 0 and "nothing to prune" in out
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    code, out, _ = run(capsys, "cache", "prune", "--cache-dir", "cache", "--unused-since", tomorrow, "--dry-run")
    assert code == 0 and "would remove 160 vectors of 1 model key and 1 score memo entry" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(capsys, "cache", "prune", "--cache-dir", "cache", "--unused-since", tomorrow)
    assert code == 2 and "pass --yes" in err and len(err.strip().splitlines()) == 1
    assert_clean_output(err)
    code, out, _ = run(capsys, "cache", "prune", "--cache-dir", "cache", "--unused-since", tomorrow, "--yes")
    assert code == 0 and "removed 160 vectors of 1 model key" in out
    assert SqliteStore(project.path / "cache").model_summaries() == []
    assert "and 1 score memo entry" in out and SqliteStore(project.path / "cache").memo_summary().entries == 0

    project.runpytest("--mrlcheck-cache-dir", "cache").assert_outcomes(passed=8)  # refill
    monkeypatch.setattr(sys, "stdin", FakeTty("n\n"))
    code, out, _ = run(capsys, "cache", "clear", "--cache-dir", "cache")
    assert code == 1 and "nothing removed" in out and (project.path / "cache" / DB_NAME).exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(capsys, "cache", "clear", "--cache-dir", "cache")
    assert code == 2 and "pass --yes" in err
    assert_clean_output(err)
    code, out, _ = run(capsys, "cache", "clear", "--cache-dir", "cache", "--yes")
    assert code == 0 and "removed" in out and "160 vectors" in out
    assert not list((project.path / "cache").glob(f"{DB_NAME}*"))
    code, out, _ = run(capsys, "cache", "clear", "--cache-dir", "cache", "--yes")
    assert code == 0 and "nothing to clear" in out


def test_store_maintenance_is_transactional_next_to_a_reader(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c")
    assert store.model_summaries() == [] and not (tmp_path / "c").exists()  # reading creates nothing
    vectors = {text_key(f"t{i}"): np.ones(8, dtype=np.float32) for i in range(300)}
    store.put_many("old", json.dumps({"provider": "python", "callable": "m:f", "role": "query"}), vectors)
    store.put_many("new", json.dumps({"provider": "sentence-transformers", "role": "document",
                                      "weights": {"package": "p", "version": "1"}}), dict(list(vectors.items())[:5]))
    cutoff = time.time()
    store.get_many("new", list(vectors)[:1])  # used after the cutoff: kept even if asked to delete it
    reader = sqlite3.connect(store.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM vectors").fetchone() == (305,)
        assert store.delete_models(["old", "new"], unused_before=cutoff) == {"old": 300}
        assert reader.execute("SELECT COUNT(*) FROM vectors").fetchone() == (305,)  # its snapshot
        started = time.perf_counter()
        assert store.vacuum(checkpoint_wait=0.1) is False  # the reader holds the WAL: no long wait
        assert time.perf_counter() - started < 5
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM vectors").fetchone() == (5,)
    finally:
        reader.close()
    assert store.vacuum() is True
    [kept] = store.model_summaries()
    assert (kept.model_key, kept.vectors, kept.dims) == ("new", 5, (8,))
    assert identity_summary(kept.identity) == ("sentence-transformers", "pkg:p 1")
    store.close()


def test_report_renders_a_json_report_written_by_a_pytest_run(
    project: pytest.Pytester, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_spec(FAKE_SPEC.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {8: 0.99, 64: 0.5}"))
    project.runpytest("--mrlcheck-json", "out/report.json", "--mrlcheck-no-cache").assert_outcomes(passed=7,
                                                                                                    failed=1)
    code, out, err = run(capsys, "report", "out/report.json")
    assert code == 0, err
    assert out.startswith("## ❌ mrlcheck: 1 failed, 7 passed")
    assert "### ❌ fake-sts" in out and "`prefix[8]`" in out
    code, out, err = run(capsys, "report", "out/report.json", "--markdown", "out/report.md")
    assert code == 0 and out == "" and "wrote out/report.md" in err
    assert (project.path / "out" / "report.md").read_text().startswith("## ❌ mrlcheck")

    (project.path / "other.json").write_text('{"specs": []}')
    for path, message in (("data/pairs.csv", "not JSON"), ("other.json", "no \"schema\""),
                          ("missing.json", "report not found: missing.json")):
        code, out, err = run(capsys, "report", path)
        assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1, err
        assert_clean_output(err)


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(["scan", *FAKE[:4], "--data", "nope.csv"], "data not found: nope.csv", id="missing-data"),
    pytest.param(["scan", "--provider", "openai-ish", "--model", "m", "--data", "data/pairs.csv"],
                 "argument --provider: invalid choice: 'openai-ish'", id="unknown-provider"),
    pytest.param(["cache", "prune", "--unused-since", "2024-13-01"],
                 "argument --unused-since: expected a date YYYY-MM-DD, got '2024-13-01'", id="bad-date"),
    pytest.param(["scan", "--provider", "python", "--model", "fake_encoder", "--data", "data/pairs.csv"],
                 "--model: model.callable: expected 'package.module:function', got str 'fake_encoder'",
                 id="callable-without-function"),
    pytest.param(["scan", *FAKE, "--ladder", "16,100"], "--ladder: 100 is more than the model's 64 dims",
                 id="ladder-too-big"),
    pytest.param(["scan", "--model", "x"], "give a SPEC file, or --data", id="no-data"),
    pytest.param(["scan", "demo.mrl.yaml", "--model", "x"], "--model cannot be combined with a SPEC file",
                 id="spec-and-model"),
    pytest.param(["init", *FAKE, "--margin", "-1"], "argument --margin: expected a number in [0, 1)",
                 id="bad-margin"),
    pytest.param(["scan", "--provider", "python", "--model", "missing_module:encode", "--data", "data/pairs.csv"],
                 "cannot find module 'missing_module'", id="missing-module"),
    pytest.param(["frobnicate"], "invalid choice: 'frobnicate'", id="unknown-command"),
])
def test_bad_input_is_one_clear_line_and_exit_code_2(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert_clean_output(out + err)
    first = err.strip().splitlines()
    assert first[0].startswith(("mrlcheck: error:", "mrlcheck scan: error:", "mrlcheck init: error:",
                                "mrlcheck cache prune: error:"))
    assert len(first) == 1 or first[1].startswith("  hint:")  # MrlcheckError messages keep their hint


def test_a_spec_error_names_file_line_and_key(
    project: pytest.Pytester, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_spec(FAKE_SPEC.replace("kind: sts", "kind: stss"))
    code, _, err = run(capsys, "scan", "demo.mrl.yaml")
    assert code == 2 and "demo.mrl.yaml:6: task.kind: expected one of sts" in err
    assert_clean_output(err)


def test_the_installed_script_runs(project: pytest.Pytester) -> None:
    script = Path(sys.executable).with_name("mrlcheck")
    assert script.exists(), "pip install -e . installs the mrlcheck script"
    done = subprocess.run([str(script), "scan", *FAKE, "--no-cache", "--random", "16"], cwd=project.path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "prefix[64]" in done.stdout and "random[16]" in done.stdout and "\x1b[" not in done.stdout
    assert not (project.path / ".pytest_cache").exists()  # --no-cache writes nothing
    done = subprocess.run([str(script), "cache", "prune", "--unused-since", "yesterday"], cwd=project.path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert_clean_output(done.stdout + done.stderr)
