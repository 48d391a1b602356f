"""Format 1 of the embedding cache (one row per vector): read as it is when read-only, else converted."""

from __future__ import annotations

import contextlib
import sqlite3
import zlib
from collections.abc import Sequence

import numpy as np

from . import chunks
from .cache_chunks import insert_chunk, pieces_of
from .cache_schema import CHUNK_TABLES, SCHEMA_VERSION

_BATCH = 500


def _crc(model_key: str, key: bytes, blob: bytes) -> int:
    return zlib.crc32(blob, zlib.crc32(key, zlib.crc32(model_key.encode())))



def legacy_counts(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    return [(str(key), int(dim), int(count)) for key, dim, count in
            conn.execute("SELECT model_key, dim, COUNT(*) FROM vectors GROUP BY model_key, dim")]


def legacy_read(conn: sqlite3.Connection, model_key: str,
                 keys: Sequence[bytes]) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], dict[int, int]]:
    found: dict[bytes, np.ndarray] = {}
    bad = 0
    for start in range(0, len(keys), _BATCH):
        part = list(keys[start:start + _BATCH])
        marks = ",".join("?" * len(part))
        for key, dim, data, crc in conn.execute(
            f"SELECT text_key, dim, data, crc FROM vectors WHERE model_key=? AND text_key IN ({marks})",
            [model_key, *part],
        ):
            if len(data) != 4 * dim or _crc(model_key, key, data) != crc:
                bad += 1
                continue
            found[bytes(key)] = np.frombuffer(data, dtype="<f4")
    return pieces_of(keys, found), ({-1: bad} if bad else {})


def convert_legacy(conn: sqlite3.Connection) -> tuple[int, int]:
    """Format 1 → 2 in one write transaction (a kill leaves format 1 as it was); then VACUUM gives
    the old rows' pages back (skipped without a word if the disk has no room for it: ``mrlcheck
    cache prune`` vacuums later). Returns (vectors kept, damaged rows dropped)."""
    kept = dropped = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in CHUNK_TABLES:
            conn.execute(statement)
        pending: dict[tuple[str, int], tuple[list[bytes], list[bytes], list[int], list[float]]] = {}

        def flush(model_key: str, dim: int) -> None:
            keys, blobs, crcs, times = pending.pop((model_key, dim))
            joined, crc_bytes, data = b"".join(keys), np.array(crcs, dtype="<u4").tobytes(), b"".join(blobs)
            packed = chunks.Packed(len(keys), dim, joined, crc_bytes, data,
                                   chunks.chunk_crc(model_key, joined, crc_bytes, data))
            insert_chunk(conn, model_key, packed, max(times))

        rows = conn.execute("SELECT model_key, text_key, dim, data, crc, created FROM vectors")
        for model_key, key, dim, data, crc, created in rows:
            key, data, dim = bytes(key), bytes(data), int(dim)
            if (len(key) != chunks.KEY_BYTES or dim <= 0 or len(data) != 4 * dim
                    or _crc(str(model_key), key, data) != int(crc) & 0xFFFFFFFF):
                dropped += 1
                continue
            slot = pending.setdefault((str(model_key), dim), ([], [], [], []))
            slot[0].append(key)
            slot[1].append(data)
            slot[2].append(int(crc))
            slot[3].append(float(created))
            kept += 1
            if len(slot[0]) >= chunks.rows_per_chunk(dim):
                flush(str(model_key), dim)
        for model_key, dim in list(pending):
            flush(model_key, dim)
        conn.execute("DROP TABLE vectors")
        conn.execute("UPDATE meta SET value=? WHERE key='schema'", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("VACUUM")
    return kept, dropped
