"""Cache format 2 (vectors in chunks): size on disk, damaged chunks, superseded copies, key matching,
and caches written in format 1 (one row per vector) converted in place or read as they are."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck import chunks
from pytest_mrlcheck.store import DB_NAME, SqliteStore, text_key
from tests.support.cache import VECTORS_1_SQL, v1_crc, write_format_1
from tests.support.helpers import FAKE_SPEC, encoded_lines


def _vectors(count: int, dim: int, seed: int = 0, prefix: str = "t") -> dict[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {text_key(f"{prefix}{i}"): rng.standard_normal(dim).astype(np.float32) for i in range(count)}


def test_a_format_1_cache_is_converted_in_place_with_one_notice(tmp_path: Path) -> None:
    stored = {"model-a": _vectors(700, 48), "model-b": _vectors(30, 8, seed=1, prefix="b")}
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"weights")
    path = write_format_1(tmp_path / "cache", stored, damaged=2, digest_of=weights)
    store = SqliteStore(tmp_path / "cache")
    before = store.size_on_disk()
    keys = list(stored["model-a"])
    with pytest.warns(Warning, match="converted in place") as caught:
        found = store.lookup("model-a", keys)
    notices = [str(w.message) for w in caught]
    assert notices == [f"the embedding cache {path} was in the format of an older pytest-mrlcheck (format 1, one "
                       "row per vector); converted in place: 728 vectors kept, 2 damaged ones dropped (they will "
                       "be recomputed)"]
    assert int(found.mask.sum()) == 698 and found.dims == (48,)
    for i, key in enumerate(keys):
        if found.mask[i]:
            assert np.array_equal(found.matrix[i], stored["model-a"][key])
    small = store.get_many("model-b", list(stored["model-b"]))
    assert all(np.array_equal(small[k], v) for k, v in stored["model-b"].items()) and len(small) == 30
    assert sorted((m.model_key, m.vectors, m.dims) for m in store.model_summaries()) == [
        ("model-a", 698, (48,)), ("model-b", 30, (8,))]
    assert store.file_digest(weights) == "remembered", "the digests table was kept: no re-hashing"
    store.close()
    assert store.size_on_disk() < before, "the old rows' pages were given back (VACUUM)"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("2",)
        assert conn.execute("SELECT type FROM sqlite_master WHERE name='vectors'").fetchone() == ("view",)
        assert conn.execute("SELECT count(*) FROM vectors").fetchone() == (728,)
    again = SqliteStore(tmp_path / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second notice
        assert int(again.lookup("model-a", keys).mask.sum()) == 698
    again.close()


def _downgrade_to_format_1(path: Path) -> None:
    """Rewrite a format-2 cache as format 1 (the vectors view gives one row per vector)."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        rows = conn.execute("SELECT model_key, text_key, dim, data, created FROM vectors").fetchall()
        conn.execute("DROP VIEW vectors")
        conn.execute("DROP TABLE chunks")
        conn.execute(VECTORS_1_SQL)
        conn.executemany("INSERT INTO vectors VALUES (?, ?, ?, ?, ?, ?)",
                         [(m, k, d, v, v1_crc(m, k, v), c) for m, k, d, v, c in rows])
        conn.execute("UPDATE meta SET value='1' WHERE key='schema'")


def test_a_run_on_a_format_1_cache_encodes_nothing_and_says_so_once(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-cache-dir", "cache").assert_outcomes(passed=8)
    assert len(encoded_lines(fake_project)) == 160
    _downgrade_to_format_1(fake_project.path / "cache" / DB_NAME)
    warm = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--mrlcheck-offline", "-W", "default")
    warm.assert_outcomes(passed=8)
    assert len(encoded_lines(fake_project)) == 160, "every vector came from the converted cache"
    output = warm.stdout.str()
    assert output.count("converted in place: 160 vectors kept") == 1, output[-3000:]
    fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--mrlcheck-offline").assert_outcomes(passed=8)


_CONVERTER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pytest_mrlcheck.store import SqliteStore
    print("ready", flush=True)
    SqliteStore(Path(sys.argv[1])).model_summaries()  # opening converts
    print("converted", flush=True)
    """
)


def test_a_conversion_killed_halfway_leaves_format_1_whole(tmp_path: Path) -> None:
    stored = {"m": _vectors(40_000, 32)}
    write_format_1(tmp_path / "cache", stored)
    with subprocess.Popen([sys.executable, "-W", "ignore", "-c", _CONVERTER, str(tmp_path / "cache")],
                          stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    store = SqliteStore(tmp_path / "cache")
    keys = list(stored["m"])
    still_format_1 = _schema(tmp_path) == "1"  # killed before its commit: nothing of the conversion stays
    with pytest.warns(Warning, match="converted in place") if still_format_1 else contextlib.nullcontext():
        found = store.lookup("m", keys)
    assert found.mask.all()
    assert np.array_equal(found.matrix, np.stack(list(stored["m"].values())))
    store.close()


def _schema(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "cache" / DB_NAME) as conn:
        return str(conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0])


def test_the_cache_is_close_to_the_raw_vector_bytes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    vectors = _vectors(12_000, 384)
    keys = list(vectors)
    for start in range(0, len(keys), 2048):  # as embed_texts writes: one transaction per 2048 texts
        store.put_many("m", "{}", {k: vectors[k] for k in keys[start:start + 2048]})
    store.close()
    raw = 12_000 * 384 * 4
    assert store.size_on_disk() <= 1.2 * raw, store.size_on_disk() / raw
    found = SqliteStore(tmp_path).lookup("m", keys)
    assert found.mask.all() and np.array_equal(found.matrix, np.stack([vectors[k] for k in keys]))


def _mapped_resident_bytes(db: Path) -> int:
    """Resident bytes of every mapping of ``db`` in this process (Linux ``/proc/self/smaps``)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            inside = line.rstrip().endswith(str(db))
        elif inside and head[:1] == ["Rss:"]:
            total += int(head[1]) * 1024
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads the process's memory map (Linux)")
def test_a_long_read_keeps_few_file_pages_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read drops SQLite's map every few MB, so the file's pages do not pile up in the RSS."""
    from pytest_mrlcheck import cache_chunks

    vectors = _vectors(12_000, 384)
    keys = list(vectors)
    store = SqliteStore(tmp_path)
    for start in range(0, len(keys), 2048):
        store.put_many("m", "{}", {k: vectors[k] for k in keys[start:start + 2048]})
    store.close()
    db = tmp_path / DB_NAME
    file_bytes = db.stat().st_size
    seen: list[int] = []
    checked = chunks.shape_ok

    def watching(*args: object) -> bool:
        seen.append(_mapped_resident_bytes(db))
        return checked(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(chunks, "shape_ok", watching)
    monkeypatch.setattr(cache_chunks, "_REMAP_EVERY", 4 << 20)
    found = SqliteStore(tmp_path).lookup("m", keys)
    assert found.mask.all() and np.array_equal(found.matrix, np.stack([vectors[k] for k in keys]))
    assert len(seen) > 6 and max(seen) <= 12 << 20, (max(seen), file_bytes)

    seen.clear()  # without the remap, the whole file ends up mapped: the test can tell the two apart
    monkeypatch.setattr(cache_chunks, "_REMAP_EVERY", 1 << 40)
    assert SqliteStore(tmp_path).lookup("m", keys).mask.all()
    assert max(seen) >= file_bytes // 2, (max(seen), file_bytes)


def test_a_chunk_with_inconsistent_sizes_is_dropped_whole(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    first, second = _vectors(50, 16), _vectors(50, 16, seed=3, prefix="u")
    store.put_many("m", "{}", first)
    store.put_many("m", "{}", second)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("UPDATE chunks SET keys=substr(keys, 33) WHERE id=(SELECT min(id) FROM chunks)")
    with pytest.warns(Warning, match="50 damaged entries in the embedding cache .* were dropped"):
        found = store.get_many("m", [*first, *second])
    assert set(found) == set(second)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (1,)
    store.close()


def test_a_damaged_chunk_crc_alone_loses_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    vectors = _vectors(40, 16)
    store.put_many("m", "{}", vectors)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("UPDATE chunks SET crc=crc+1")
    found = store.get_many("m", list(vectors))  # every row checks out: no warning, nothing dropped
    assert len(found) == 40
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        keys, crcs, data, crc = conn.execute("SELECT keys, crcs, data, crc FROM chunks").fetchone()
    assert chunks.chunk_crc("m", keys, crcs, data) == crc, "the chunk CRC was repaired"
    store.close()


def test_vectors_stored_again_replace_the_old_copies(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    old = _vectors(300, 8)
    store.put_many("m", "{}", old)
    new = {k: v + 1 for k, v in list(old.items())[:100]}
    store.put_many("m", "{}", new)  # what --mrlcheck-refresh does
    found = store.get_many("m", list(old))
    assert all(np.array_equal(found[k], new.get(k, old[k])) for k in old)
    [summary] = store.model_summaries()
    assert summary.vectors == 300
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("SELECT sum(count) FROM chunks").fetchone() == (300,), "the old copies were compacted"
    assert store.delete_models(["m"]) == {"m": 300}
    assert store.get_many("m", list(old)) == {}
    store.close()


def test_key_matching_takes_the_newest_copy_and_survives_shared_prefixes() -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**63, size=(1000, 4), dtype=np.uint64)
    keys[10, 0] = keys[20, 0] = keys[30, 0]  # three keys sharing their first 8 bytes
    keys[500] = keys[7]  # key 7 stored again later: the newer copy wins
    index = chunks.KeyIndex.build(keys)
    wanted = keys[[7, 10, 20, 30, 999]]
    absent = keys[[10]].copy()
    absent[0, 3] ^= 1
    assert index.find(np.vstack([wanted, absent])).tolist() == [500, 10, 20, 30, 999, -1]
    live = index.live()
    assert not live[7] and live[500] and int(live.sum()) == 999
    assert chunks.KeyIndex.build(keys[:0]).find(wanted).tolist() == [-1] * 5
