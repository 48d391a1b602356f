"""The embedding cache: hits, keying, corruption, killed writers and concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.store import SqliteStore, text_key
from tests.support.helpers import FAKE_SPEC, assert_clean_output, encoded_lines

N_ITEMS = 8
N_TEXTS = 160


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--mrlcheck-cache-dir", "cache", *args)


def test_second_run_encodes_nothing(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC)
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    assert len(encoded_lines(fake_project)) == N_TEXTS
    second = _run(fake_project, "--color=no")
    second.assert_outcomes(passed=N_ITEMS)
    assert len(encoded_lines(fake_project)) == N_TEXTS
    second.stdout.fnmatch_lines(["*0 encoded, 160 from cache*"])


def test_no_cache_option_reads_and_writes_nothing(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    _run(fake_project, "--mrlcheck-no-cache").assert_outcomes(passed=N_ITEMS)
    _run(fake_project, "--mrlcheck-no-cache").assert_outcomes(passed=N_ITEMS)
    assert len(encoded_lines(fake_project)) == 2 * N_TEXTS
    assert not (fake_project.path / "cache").exists()


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(("callable: fake_encoder:encode", "callable: fake_encoder:encode\n  prompts: {query: 'q: '}"),
                     id="prompt-changed"),
        pytest.param(("callable: fake_encoder:encode", "callable: fake_encoder:encode\n  normalize: false"),
                     id="normalize-changed"),
    ],
)
def test_a_changed_model_setting_misses(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], edit: tuple[str, str]
) -> None:
    write_spec(FAKE_SPEC)
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    write_spec(FAKE_SPEC.replace(*edit))
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    assert len(encoded_lines(fake_project)) == 2 * N_TEXTS


def test_a_changed_model_source_misses(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC)
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    module = fake_project.path / "fake_encoder.py"
    module.write_text(module.read_text() + "\n# retrained\n")
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    assert len(encoded_lines(fake_project)) == 2 * N_TEXTS


def test_corrupt_database_file_is_moved_aside_and_rebuilt(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    database = fake_project.path / "cache" / "embeddings.sqlite3"
    for side in ("-wal", "-shm"):
        database.with_name(database.name + side).unlink(missing_ok=True)
    database.write_bytes(b"this is not a database" * 100)
    result = _run(fake_project, "-W", "default")
    result.assert_outcomes(passed=N_ITEMS)
    result.stdout.fnmatch_lines(["*MrlcheckCacheWarning: the embedding cache * could not be read*moved to*"])
    assert len(encoded_lines(fake_project)) == 2 * N_TEXTS
    kept = list(database.parent.glob("embeddings.sqlite3.corrupt-*"))
    assert kept and kept[0].read_bytes().startswith(b"this is not a database")
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    assert len(encoded_lines(fake_project)) == 2 * N_TEXTS


def test_damaged_rows_are_dropped_and_recomputed(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    database = fake_project.path / "cache" / "embeddings.sqlite3"
    with sqlite3.connect(database) as conn:  # flip one byte in each of three rows of the first chunk
        chunk, dim, data = conn.execute("SELECT id, dim, data FROM chunks ORDER BY id LIMIT 1").fetchone()
        damaged = bytearray(data)
        for row in (0, 5, 9):
            damaged[row * 4 * dim + 3] ^= 0xFF
        conn.execute("UPDATE chunks SET data=? WHERE id=?", (bytes(damaged), chunk))
    result = _run(fake_project, "-W", "default")
    result.assert_outcomes(passed=N_ITEMS)
    result.stdout.fnmatch_lines(["*3 damaged entries in the embedding cache * were dropped and will be recomputed*"])
    assert len(encoded_lines(fake_project)) == N_TEXTS + 3
    _run(fake_project, "--mrlcheck-offline").assert_outcomes(passed=N_ITEMS)  # dropped once, stored again
    assert len(encoded_lines(fake_project)) == N_TEXTS + 3


def test_store_round_trip_is_bit_exact(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    vectors = {text_key(f"t{i}"): np.random.default_rng(i).standard_normal(7).astype(np.float32) for i in range(5)}
    store.put_many("m", "{}", vectors)
    store.close()
    found = SqliteStore(tmp_path).get_many("m", list(vectors))
    assert set(found) == set(vectors)
    for key, vector in vectors.items():
        assert np.array_equal(found[key], vector)
    assert SqliteStore(tmp_path).get_many("other-model", list(vectors)) == {}


_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from pathlib import Path
    from pytest_mrlcheck.store import SqliteStore, text_key
    store = SqliteStore(Path(sys.argv[1]))
    store.put_many("m", "{}", {text_key("kept"): np.ones(4, dtype=np.float32)})
    print("ready", flush=True)
    i = 0
    while True:  # write big batches until killed
        store.put_many("m", "{}", {text_key(f"t{i}-{j}"): np.full(256, j, dtype=np.float32) for j in range(5000)})
        i += 1
    """
)


def test_a_run_killed_while_writing_leaves_a_readable_cache(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                          text=True) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.6)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    store = SqliteStore(tmp_path)
    kept = store.get_many("m", [text_key("kept")])
    assert np.array_equal(kept[text_key("kept")], np.ones(4, dtype=np.float32))
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        batches = conn.execute("SELECT count(*) FROM vectors").fetchone()[0] - 1
    assert batches % 5000 == 0, "a batch is written whole or not at all"


def _worker(directory: str, log: str, texts: list[str]) -> None:
    from pytest_mrlcheck.embed import EncodeStats, embed_texts

    class Counting:
        def identity(self) -> dict[str, str]:
            return {"provider": "counting"}

        def encode(self, batch: list[str], role: str) -> np.ndarray:
            with Path(log).open("a", encoding="utf-8") as handle:
                handle.write("".join(f"{t}\n" for t in batch))
            time.sleep(0.2)  # widen the race window
            return np.stack([np.full(8, float(len(t)), dtype=np.float32) for t in batch])

    store = SqliteStore(Path(directory))
    matrix = embed_texts(texts, "query", None, Counting(), store, EncodeStats(), "counting")
    assert matrix.shape == (len(texts), 8)


def test_concurrent_processes_encode_each_text_once(tmp_path: Path) -> None:
    texts = [f"sentence {i}" for i in range(300)]
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(str(tmp_path / "cache"), str(log), texts)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert sorted(lines) == sorted(texts)


def test_offline_fails_on_a_cache_miss_and_passes_when_warm(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    cold = _run(fake_project, "--mrlcheck-offline")
    cold.assert_outcomes(failed=N_ITEMS)
    assert_clean_output(cold.stdout.str() + cold.stderr.str())
    cold.stdout.fnmatch_lines(["offline: would need to encode 160 texts (query role) with fake_encoder:encode; "
                               "0 of 160 are cached"])
    assert encoded_lines(fake_project) == []
    _run(fake_project).assert_outcomes(passed=N_ITEMS)
    _run(fake_project, "--mrlcheck-offline").assert_outcomes(passed=N_ITEMS)
    assert len(encoded_lines(fake_project)) == N_TEXTS


def test_max_encode_stops_before_encoding(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC)
    result = _run(fake_project, "--mrlcheck-max-encode", "100")
    result.assert_outcomes(failed=N_ITEMS)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["budget: encoding 160 more texts with fake_encoder:encode would exceed "
                                 "--mrlcheck-max-encode 100 (0 already encoded in this process)"])
    assert encoded_lines(fake_project) == []
    _run(fake_project, "--mrlcheck-max-encode", "160").assert_outcomes(passed=N_ITEMS)
    bad = _run(fake_project, "--mrlcheck-max-encode", "lots")
    bad.stderr.fnmatch_lines(["*--mrlcheck-max-encode: expected a whole number, got 'lots'*"])


def _open_fresh(directory: str, start: float) -> None:
    time.sleep(max(0.0, start - time.time()))  # everyone opens the new cache at the same moment
    store = SqliteStore(Path(directory))
    for i in range(20):
        store.get_many("m", [text_key(f"t{i}")])
        store.put_many("m", "{}", {text_key(f"t{i}-{os.getpid()}"): np.ones(4, dtype=np.float32)})
    store.close()


def test_many_processes_creating_one_new_cache_at_once(tmp_path: Path) -> None:
    """Several xdist workers opening a cache that does not exist yet must not see 'database is locked'."""
    context = multiprocessing.get_context("spawn")
    for attempt in range(3):
        directory = tmp_path / f"cache{attempt}"
        start = time.time() + 2.0
        workers = [context.Process(target=_open_fresh, args=(str(directory), start)) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
