"""Caches in format 1 (one row per vector), as pytest-mrlcheck wrote them before format 2."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import numpy as np

from pytest_mrlcheck.store import DB_NAME

# The schema pytest-mrlcheck wrote before format 2 (commit 416e3e8), verbatim.
VECTORS_1_SQL = """
CREATE TABLE IF NOT EXISTS vectors (
    model_key TEXT NOT NULL, text_key BLOB NOT NULL, dim INTEGER NOT NULL,
    data BLOB NOT NULL, crc INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (model_key, text_key)) WITHOUT ROWID;
"""
FORMAT_1_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_key TEXT PRIMARY KEY, identity TEXT NOT NULL,
    created REAL NOT NULL, last_used REAL NOT NULL);
""" + VECTORS_1_SQL + """
CREATE TABLE IF NOT EXISTS digests (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL);
"""


def v1_crc(model_key: str, key: bytes, blob: bytes) -> int:
    """A vector row's CRC in format 1: of the model key, then the text key, then the vector bytes."""
    return zlib.crc32(blob, zlib.crc32(key, zlib.crc32(model_key.encode())))


def write_format_1(directory: Path, rows: dict[str, dict[bytes, np.ndarray]], *, damaged: int = 0,
                   digest_of: Path | None = None) -> Path:
    """A format-1 cache as the old code wrote it (WAL, one row per vector); the first ``damaged``
    rows get a wrong CRC."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / DB_NAME
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(FORMAT_1_SQL)
    conn.execute("INSERT INTO meta VALUES ('schema', '1')")
    conn.execute("BEGIN")
    done = 0
    for model_key, vectors in rows.items():
        conn.execute("INSERT INTO models VALUES (?, ?, ?, ?)", (model_key, '{"provider": "python"}', 1.0, 2.0))
        for key, vector in vectors.items():
            blob = np.asarray(vector, dtype="<f4").tobytes()
            crc = v1_crc(model_key, key, blob) ^ (1 if done < damaged else 0)
            conn.execute("INSERT INTO vectors VALUES (?, ?, ?, ?, ?, ?)",
                         (model_key, key, len(blob) // 4, blob, crc, 1.0))
            done += 1
    if digest_of is not None:
        stat = digest_of.stat()
        conn.execute("INSERT INTO digests VALUES (?, ?, ?, 'remembered')", (str(digest_of), stat.st_size,
                                                                         stat.st_mtime_ns))
    conn.execute("COMMIT")
    conn.close()
    return path
