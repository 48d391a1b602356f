"""The score memo's rows in the embedding cache (SQL only; the keys are built in ``score_memo``).

One row per memoised call: a 32-byte key, what was scored (``score``, ``replicates``), the shape
and the little-endian float64 values (no pickle), a CRC of key, shape and values, and when the row
was written and last read. The table is created on first write, so caches written before it
existed stay readable as they are (no format change) and a reader never needs write access.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from dataclasses import dataclass

import numpy as np

from .cache_schema import has_table

TABLE = "score_memo"
CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (key BLOB PRIMARY KEY, what TEXT NOT NULL, shape TEXT NOT NULL, "
          "crc INTEGER NOT NULL, created REAL NOT NULL, used REAL NOT NULL, data BLOB NOT NULL)")
_TOUCH_AFTER = 3600.0  # a row read is marked used at most once an hour (no write on every warm read)


class Damaged:
    """A row whose CRC, shape or length is wrong: ignored, and replaced by the next write."""


DAMAGED = Damaged()


@dataclass(frozen=True)
class MemoSummary:
    """What the memo holds (for ``mrlcheck cache info``)."""

    entries: int
    data_bytes: int  # stored float64 values only, not SQLite's overhead


def _crc(key: bytes, shape: str, data: bytes) -> int:
    return zlib.crc32(data, zlib.crc32(shape.encode(), zlib.crc32(key)))


def _shape_text(values: np.ndarray) -> str:
    return ",".join(str(n) for n in values.shape)


def _parse_shape(text: str) -> tuple[int, ...] | None:
    try:
        shape = tuple(int(part) for part in text.split(",")) if text else ()
    except ValueError:
        return None
    return shape if all(n >= 0 for n in shape) else None


def read(conn: sqlite3.Connection, key: bytes) -> np.ndarray | Damaged | None:
    """The stored values of ``key`` (a fresh writable float64 array), DAMAGED, or None when absent."""
    if not has_table(conn, TABLE):
        return None
    row = conn.execute(f"SELECT shape, crc, data, used FROM {TABLE} WHERE key=?", (key,)).fetchone()
    if row is None:
        return None
    shape_text, crc, data = str(row[0]), int(row[1]), bytes(row[2])
    shape = _parse_shape(shape_text)
    if shape is None or len(data) != 8 * int(np.prod(shape, dtype=np.int64)) or _crc(key, shape_text, data) != crc:
        return DAMAGED
    return np.frombuffer(data, dtype="<f8").reshape(shape).astype(np.float64, copy=True)


def stale_use(conn: sqlite3.Connection, key: bytes, now: float) -> bool:
    """True when the row's last use is old enough to be worth a write."""
    row = conn.execute(f"SELECT used FROM {TABLE} WHERE key=?", (key,)).fetchone()
    return row is not None and float(row[0]) < now - _TOUCH_AFTER


def touch(conn: sqlite3.Connection, key: bytes) -> None:
    conn.execute(f"UPDATE {TABLE} SET used=? WHERE key=?", (time.time(), key))


def write(conn: sqlite3.Connection, key: bytes, what: str, values: np.ndarray) -> None:
    """Store (or replace) one row, inside the caller's write transaction."""
    data = np.ascontiguousarray(values, dtype="<f8").tobytes()
    shape = _shape_text(np.asarray(values))
    now = time.time()
    conn.execute(CREATE)
    conn.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (key, what, shape, _crc(key, shape, data), now, now, data))


def summary(conn: sqlite3.Connection, unused_before: float | None = None) -> MemoSummary:
    """Every row, or with ``unused_before`` the rows not used since then."""
    if not has_table(conn, TABLE):
        return MemoSummary(0, 0)
    entries, size = conn.execute(f"SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM {TABLE} WHERE used < ?",
                                 (float("inf") if unused_before is None else unused_before,)).fetchone()
    return MemoSummary(int(entries), int(size))


def delete_unused(conn: sqlite3.Connection, before: float) -> MemoSummary:
    """Delete the rows not used since ``before`` (inside the caller's write transaction)."""
    removed = summary(conn, before)
    if removed.entries:
        conn.execute(f"DELETE FROM {TABLE} WHERE used < ?", (before,))
    return removed
