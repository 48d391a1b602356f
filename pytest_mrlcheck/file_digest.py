"""SHA-256 of local files (model weights), remembered by path, size and mtime so a warm run never re-hashes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cache_db import CacheDatabase


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remembered_digest(db: CacheDatabase, path: Path) -> str:
    """The SHA-256 of ``path``, read from the ``digests`` table while its size and mtime match, else
    computed and remembered (nothing is remembered in a read-only cache)."""
    stat = path.stat()

    def lookup(conn: sqlite3.Connection) -> str | None:
        row = conn.execute("SELECT size, mtime_ns, digest FROM digests WHERE path=?", (str(path),)).fetchone()
        if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return str(row[2])
        return None

    known = db.guarded(lookup, None)
    if known is not None:
        return known
    digest = sha256_file(path)

    def remember(conn: sqlite3.Connection) -> None:
        db.transaction(conn, lambda c: c.execute(
            "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)",
            (str(path), stat.st_size, stat.st_mtime_ns, digest),
        ))

    db.guarded(remember, None)
    return digest
