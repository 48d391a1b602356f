"""Fault tests as users meet them: a read-only cache, a full disk (tmpfs mounts, as root), a cache
cleared while a run uses it, planted lock files. Killed writers and concurrent processes are in
``test_cache.py`` and ``test_baseline.py``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck import baseline as baselines
from pytest_mrlcheck.cli import main
from pytest_mrlcheck.errors import MrlcheckError
from pytest_mrlcheck.store import DB_NAME, SqliteStore, text_key
from tests.support.fault_helpers import fill, remount_read_only, remount_writable, tmpfs
from tests.support.helpers import FAKE_SPEC, assert_clean_output, encoded_lines, write_sts_csv

N_ITEMS = 8
N_TEXTS = 160


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def _other_spec(write_spec: Callable[..., Path], project: pytest.Pytester) -> None:
    write_sts_csv(project.path / "data" / "other.csv", seed=7)
    write_spec(FAKE_SPEC.replace("fake-sts", "other").replace("data/pairs.csv", "data/other.csv"), name="other")


def test_a_warm_read_only_cache_is_read_and_says_nothing_new_is_stored(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    with tmpfs(fake_project.path / "disk", "8m") as disk:
        cache = str(disk / "cache")
        fake_project.runpytest_subprocess("--mrlcheck-cache-dir", cache).assert_outcomes(passed=N_ITEMS)
        assert len(encoded_lines(fake_project)) == N_TEXTS
        remount_read_only(disk)
        warm = fake_project.runpytest_subprocess("--mrlcheck-cache-dir", cache, "--mrlcheck-offline")
        warm.assert_outcomes(passed=N_ITEMS)
        output = _output(warm)
        assert f"the embedding cache {cache} is read-only: cached vectors are read, nothing new is stored" in output
        assert output.count("is read-only") == 1, "one line"
        assert_clean_output(output)
        assert len(encoded_lines(fake_project)) == N_TEXTS, "every vector came from the read-only cache"

        _other_spec(write_spec, fake_project)  # misses: encoded for this run, not stored
        cold = fake_project.runpytest_subprocess("--mrlcheck-cache-dir", cache)
        cold.assert_outcomes(passed=2 * N_ITEMS)
        assert len(encoded_lines(fake_project)) == 2 * N_TEXTS
        assert_clean_output(_output(cold))
        offline = fake_project.runpytest_subprocess("--mrlcheck-cache-dir", cache, "--mrlcheck-offline")
        offline.assert_outcomes(passed=N_ITEMS, failed=N_ITEMS)
        offline.stdout.fnmatch_lines(["*offline: would need to encode 160 texts*"])
        assert_clean_output(_output(offline))
        remount_writable(disk)


def test_a_read_only_folder_with_no_cache_encodes_and_stores_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        remount_read_only(disk)
        store = SqliteStore(disk / "cache")
        with pytest.warns(Warning, match="is read-only"):
            assert store.get_many("m", [text_key("a")]) == {}
        store.put_many("m", "{}", {text_key("a"): np.ones(4, dtype=np.float32)})  # a no-op, no error
        assert store.get_many("m", [text_key("a")]) == {}
        store.close()


def test_a_full_disk_says_disk_full_and_where_and_keeps_the_verdicts(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    with tmpfs(fake_project.path / "disk", "2m") as disk:
        cache = str(disk / "cache")
        first = fake_project.runpytest_subprocess("--mrlcheck-cache-dir", cache)
        first.assert_outcomes(passed=N_ITEMS)
        filler = fill(disk)
        _other_spec(write_spec, fake_project)
        full = fake_project.runpytest_subprocess("--mrlcheck-cache-dir", cache)
        output = _output(full)
        full.assert_outcomes(passed=2 * N_ITEMS)
        assert "disk full" in output and cache in output, output[-3000:]
        assert "cannot rollback" not in output
        assert_clean_output(output)
        filler.unlink()
        with sqlite3.connect(Path(cache) / DB_NAME) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        again = fake_project.runpytest_subprocess("--mrlcheck-cache-dir", cache, "-k", "fake-sts",
                                                  "--mrlcheck-offline")
        again.assert_outcomes(passed=N_ITEMS)  # the rows committed before the disk filled are all there


def test_a_full_disk_while_storing_is_named_not_hidden_behind_rollback(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        store = SqliteStore(disk / "cache")
        store.put_many("m", "{}", {text_key("kept"): np.ones(4, dtype=np.float32)})
        filler = fill(disk)
        big = {text_key(f"t{i}"): np.ones(256, dtype=np.float32) for i in range(2000)}
        with pytest.warns(Warning, match=r"disk full: the embedding cache .*embeddings\.sqlite3 cannot store"):
            store.put_many("m", "{}", big)
        store.put_many("m", "{}", big)  # from now on: nothing stored, no second notice, no error
        assert set(store.get_many("m", [text_key("kept"), *big])) == {text_key("kept")}
        store.close()
        filler.unlink()


_HOLDER = textwrap.dedent(
    """
    import sys, time, numpy as np
    from pathlib import Path
    from pytest_mrlcheck.store import SqliteStore, text_key
    store = SqliteStore(Path(sys.argv[1]))
    store.put_many("m", "{}", {text_key("before"): np.ones(4, dtype=np.float32)})
    print("ready", flush=True)
    sys.stdin.readline()  # a run in progress, until told to go on
    store.put_many("m", "{}", {text_key("after"): np.ones(4, dtype=np.float32)})
    store.close()
    print("done", flush=True)
    """
)


def test_cache_clear_and_prune_refuse_while_a_run_uses_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with subprocess.Popen([sys.executable, "-c", _HOLDER, "cache"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as run:
        assert run.stdin is not None and run.stdout is not None
        assert run.stdout.readline().strip() == "ready"
        for argv in (["cache", "clear", "--yes"], ["cache", "prune", "--unused-since", "2999-01-01", "--yes"]):
            capsys.readouterr()
            code = main([*argv, "--cache-dir", "cache"])
            out, err = capsys.readouterr()
            assert code == 2, (argv, out, err)
            assert "is in use by a running pytest or mrlcheck" in err and "nothing was changed" in err
            assert_clean_output(out + err)
        assert (tmp_path / "cache" / DB_NAME).exists()
        run.stdin.write("go\n")
        run.stdin.flush()
        assert run.stdout.readline().strip() == "done"
    store = SqliteStore(tmp_path / "cache")
    assert set(store.get_many("m", [text_key("before"), text_key("after")])) == {text_key("before"),
                                                                                  text_key("after")}
    store.close()
    capsys.readouterr()
    assert main(["cache", "clear", "--yes", "--cache-dir", "cache"]) == 0  # once the run is over
    assert not (tmp_path / "cache" / DB_NAME).exists()


def test_a_run_started_during_clear_waits_and_builds_a_fresh_cache(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "cache")
    store.put_many("m", "{}", {text_key("old"): np.ones(4, dtype=np.float32)})
    store.close()
    with store.maintenance():
        script = ("import sys, numpy as np; from pathlib import Path; "
                  "from pytest_mrlcheck.store import SqliteStore, text_key; "
                  "s = SqliteStore(Path(sys.argv[1])); "
                  "s.put_many('m', '{}', {text_key('new'): np.ones(4, dtype=np.float32)}); s.close()")
        waiting = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "cache")])
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(1.5)  # blocked on the cache lock while the maintenance holds it
        for path in store.files():
            path.unlink()
    assert waiting.wait(30) == 0
    fresh = SqliteStore(tmp_path / "cache")
    assert set(fresh.get_many("m", [text_key("old"), text_key("new")])) == {text_key("new")}
    fresh.close()


def test_a_planted_lock_file_cannot_redirect_or_break_the_cache(tmp_path: Path) -> None:
    (tmp_path / "cache" / "locks").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "cache" / "locks" / "cache.lock").symlink_to(victim)
    store = SqliteStore(tmp_path / "cache")
    with pytest.raises(MrlcheckError, match="is a symbolic link; refusing to follow it"):
        store.get_many("m", [text_key("a")])
    assert victim.read_text() == "precious"


def test_a_file_in_the_shared_temp_folder_does_not_break_baseline_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    (shared / "pytest-mrlcheck-locks").write_text("planted by another user")  # broke the old lock folder
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr("tempfile.tempdir", None)
    path = tmp_path / "baselines" / "b.json"
    entry = {"provenance": {"model": {}}, "scores": {"prefix[8]": 0.5}, "random_margins": {}}
    assert baselines.update(path, "spec", entry) is True
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.json"], "no lock file beside the baseline"
    assert [p.name for p in shared.iterdir()] == ["pytest-mrlcheck-locks"]


def test_a_read_only_format_1_cache_is_read_as_it_is(tmp_path: Path) -> None:
    from tests.support.cache import write_format_1

    rng = np.random.default_rng(0)
    stored = {text_key(f"t{i}"): rng.standard_normal(16).astype(np.float32) for i in range(200)}
    with tmpfs(tmp_path / "disk", "4m") as disk:
        write_format_1(disk / "cache", {"m": stored}, damaged=1)
        remount_read_only(disk)
        store = SqliteStore(disk / "cache")
        with pytest.warns(Warning, match="is read-only|1 damaged entries") as caught:
            found = store.lookup("m", list(stored))
        notices = sorted(str(w.message) for w in caught)
        assert len(notices) == 2 and "read-only" in notices[1], notices
        assert not any("converted" in n for n in notices), "nothing is written to a read-only cache"
        assert int(found.mask.sum()) == 199, "the damaged row is skipped, every other one read"
        for i, vector in enumerate(stored.values()):
            if found.mask[i]:
                assert np.array_equal(found.matrix[i], vector)
        assert [(m.vectors, m.dims) for m in store.model_summaries()] == [(200, (16,))]
        store.close()
        remount_writable(disk)
        writable = SqliteStore(disk / "cache")
        with pytest.warns(Warning, match="converted in place: 199 vectors kept, 1 damaged"):
            assert int(writable.lookup("m", list(stored)).mask.sum()) == 199
        writable.close()
