"""The embedding cache's layout: format versions, tables, and the small SQLite helpers every part uses."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "2"
LEGACY_SCHEMA = "1"  # one row per vector; converted in place, read as it is when read-only
DB_NAME = "embeddings.sqlite3"


SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_key TEXT PRIMARY KEY, identity TEXT NOT NULL,
    created REAL NOT NULL, last_used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS digests (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL);
""" + "".join(f"{statement};\n" for statement in (
    # A rowid table with the blobs last: reading id, dim, count and keys never walks the overflow
    # pages of ``data`` (SQLite's advice for large blobs: rowid tables, big values at the end).
    """CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model_key TEXT NOT NULL, dim INTEGER NOT NULL,
    count INTEGER NOT NULL, created REAL NOT NULL, crc INTEGER NOT NULL,
    keys BLOB NOT NULL, crcs BLOB NOT NULL, data BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS chunks_by_model ON chunks (model_key, id)",
)) + """
-- One row per stored vector, for a look with the sqlite3 shell (format 1 had this table).
CREATE VIEW IF NOT EXISTS vectors (model_key, text_key, dim, data, crc, created) AS
WITH RECURSIVE slot (chunk, i, n) AS (
    SELECT id, 0, count FROM chunks WHERE count > 0
    UNION ALL SELECT chunk, i + 1, n FROM slot WHERE i + 1 < n)
SELECT c.model_key, substr(c.keys, 32 * s.i + 1, 32), c.dim, substr(c.data, 4 * c.dim * s.i + 1, 4 * c.dim),
       substr(c.crcs, 4 * s.i + 1, 4), c.created
FROM slot AS s JOIN chunks AS c ON c.id = s.chunk;
"""
CHUNK_TABLES = [part.strip() for part in SCHEMA_SQL.split(";") if "chunks" in part and "VIEW" not in part]


def no_space(directory: Path) -> bool:
    try:
        return os.statvfs(directory).f_bavail == 0
    except (OSError, AttributeError):
        return False


def is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL (the message SQLite gives is "database or disk is full")."""
    return getattr(exc, "sqlite_errorcode", None) == 13 or "disk is full" in str(exc)


RUNTIMES_TABLE = ("CREATE TABLE IF NOT EXISTS runtimes (model_key TEXT PRIMARY KEY, runtime TEXT NOT NULL, "
                  "recorded REAL NOT NULL)")


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def parse_identity(text: object) -> dict[str, Any]:
    try:
        value = json.loads(str(text))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}



@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: every query inside sees the same committed state."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")

