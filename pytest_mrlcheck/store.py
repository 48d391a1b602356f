"""The persistent embedding cache: SQLite (WAL), vectors in chunks of up to 2 MiB (format 2).

- One row of ``chunks`` holds up to a few thousand vectors of one model key (``chunks.py``: the
  text keys, a CRC per row, the float32 rows as one blob, a CRC of the whole chunk). A lookup reads
  the keys of the model's chunks, matches them with numpy, then reads each chunk it needs with one
  query and ``np.frombuffer``: about 1.03 × the raw vector bytes on disk (format 1, one row per
  vector in a WITHOUT ROWID table, took 3 ×).
- Safe with several processes: SQLite transactions, plus a per-model file lock around "find
  misses → encode → write" so each text is encoded once in total across pytest-xdist workers.
- Atomic: every write is one transaction; a killed run leaves the last committed state. A read is
  one read transaction, so the keys and vectors it sees belong to one snapshot.
- Self-checking: every row carries a CRC of its key and bytes (checked through the chunk's CRC); a
  bad row is dropped and recomputed, a file SQLite cannot read is moved aside (kept, never deleted)
  and rebuilt.
- No pickle: vectors are raw little-endian float32.
- Format 1 caches are converted in place on first use (one transaction, then VACUUM), with one
  notice; a read-only one is read as it is.

The parts: ``cache_schema`` (tables), ``cache_db`` (connection and repair), ``cache_chunks``
(format 2 reads and writes), ``cache_legacy`` (format 1), ``file_digest`` (hashing weight files),
``memo_table`` (the score memo's rows, see ``score_memo``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
import warnings
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import chunks, locks, memo_table
from .cache_chunks import (
    Found,
    chunk_counts,
    compact,
    compact_all,
    insert_chunk,
    pieces_of,
    read_chunks,
    rewrite_all,
)
from .cache_db import CacheDatabase, MrlcheckCacheWarning
from .cache_legacy import legacy_counts, legacy_read
from .cache_schema import DB_NAME, LEGACY_SCHEMA, RUNTIMES_TABLE, SCHEMA_VERSION, has_table, parse_identity, snapshot
from .file_digest import remembered_digest, sha256_file

__all__ = [
    "DB_NAME", "LEGACY_SCHEMA", "SCHEMA_VERSION", "Found", "MemoryStore", "ModelSummary", "MrlcheckCacheWarning",
    "SqliteStore", "VectorStore", "sha256_file", "text_key",
]


def text_key(text: str) -> bytes:
    """SHA-256 of the text: the per-text part of a cache key."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class VectorStore(Protocol):
    """Where full-dimension vectors live between runs."""

    def lookup(self, model_key: str, keys: Sequence[bytes]) -> Found: ...

    def get_many(self, model_key: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]: ...

    def put_many(self, model_key: str, identity: str, items: dict[bytes, np.ndarray]) -> None: ...

    def encode_lock(self, model_key: str) -> contextlib.AbstractContextManager[None]: ...

    def file_digest(self, path: Path) -> str: ...

    def runtime_of(self, model_key: str) -> dict[str, Any] | None: ...

    def record_runtime(self, model_key: str, runtime: dict[str, Any]) -> None: ...


class MemoryStore:
    """A store that lives for one process (used with ``--mrlcheck-no-cache``)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, bytes], np.ndarray] = {}
        self._digests: dict[tuple[str, int, int], str] = {}
        self._runtimes: dict[str, dict[str, Any]] = {}

    def runtime_of(self, model_key: str) -> dict[str, Any] | None:
        return self._runtimes.get(model_key)

    def record_runtime(self, model_key: str, runtime: dict[str, Any]) -> None:
        self._runtimes[model_key] = dict(runtime)

    def get_many(self, model_key: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        return {k: self._data[(model_key, k)] for k in keys if (model_key, k) in self._data}

    def lookup(self, model_key: str, keys: Sequence[bytes]) -> Found:
        return Found.of(len(keys), pieces_of(keys, self.get_many(model_key, keys)))

    def put_many(self, model_key: str, identity: str, items: dict[bytes, np.ndarray]) -> None:
        for k, v in items.items():
            self._data[(model_key, k)] = v

    @contextlib.contextmanager
    def encode_lock(self, model_key: str) -> Iterator[None]:
        yield

    def file_digest(self, path: Path) -> str:
        stat = path.stat()
        memo_key = (str(path), stat.st_size, stat.st_mtime_ns)
        if memo_key not in self._digests:
            self._digests[memo_key] = sha256_file(path)
        return self._digests[memo_key]


@dataclass(frozen=True)
class ModelSummary:
    """What the cache holds for one model key (used by ``mrlcheck cache``)."""

    model_key: str
    identity: dict[str, Any]  # the canonical identity JSON, parsed ({} when missing or unreadable)
    created: float | None  # seconds since the epoch; None for vectors without a models row
    last_used: float | None
    vectors: int
    dims: tuple[int, ...]
    data_bytes: int  # vector payload only (4 bytes per dimension), not SQLite's overhead


class SqliteStore(CacheDatabase):
    """The on-disk cache shared by every process that points at the same folder."""

    # -- vectors ------------------------------------------------------------------------------

    def lookup(self, model_key: str, keys: Sequence[bytes]) -> Found:
        """The cached vectors of ``keys`` as one matrix (rows of keys not cached are zero)."""
        return Found.of(len(keys), self._read(model_key, keys))

    def get_many(self, model_key: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for positions, matrix in self._read(model_key, keys).values():
            for i in positions.tolist():
                found[keys[i]] = matrix[i]
        return found

    def _read(self, model_key: str, keys: Sequence[bytes]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """``dim → (positions found, len(keys) × dim matrix)``; damaged rows are dropped (with a
        warning) and superseded copies compacted away, each in a write transaction of its own."""

        def read(conn: sqlite3.Connection) -> dict[int, tuple[np.ndarray, np.ndarray]]:
            if self._schema == LEGACY_SCHEMA:
                pieces, damaged = legacy_read(conn, model_key, keys)
                superseded = False
            else:
                outcome = read_chunks(conn, model_key, keys)
                pieces, damaged, superseded = outcome.pieces, outcome.damaged, outcome.superseded
            bad = sum(damaged.values())
            if damaged and self._schema == SCHEMA_VERSION:
                self.transaction(conn, lambda c: rewrite_all(c, model_key, damaged))
            if bad:
                warnings.warn(
                    f"{bad} damaged entries in the embedding cache {self.path} were dropped "
                    "and will be recomputed",
                    MrlcheckCacheWarning,
                    stacklevel=5,
                )
            if superseded:
                self.transaction(conn, lambda c: compact(c, model_key))
            if pieces:
                self.transaction(conn, lambda c: c.execute(
                    "UPDATE models SET last_used=? WHERE model_key=?", (time.time(), model_key)))
            return pieces

        return self.guarded(read, {})

    def put_many(self, model_key: str, identity: str, items: dict[bytes, np.ndarray]) -> None:
        now = time.time()
        for key in items:
            if len(key) != chunks.KEY_BYTES:
                raise ValueError(f"cache keys are {chunks.KEY_BYTES}-byte digests (text_key), got {len(key)} bytes")
        by_dim: dict[int, list[bytes]] = {}
        for key, vector in items.items():
            by_dim.setdefault(int(np.shape(vector)[-1]) if np.ndim(vector) else 1, []).append(key)

        def insert(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?) ON CONFLICT(model_key) DO UPDATE SET last_used=?",
                (model_key, identity, now, now, now),
            )
            for dim, keys in by_dim.items():
                step = chunks.rows_per_chunk(dim)
                for start in range(0, len(keys), step):
                    part = keys[start:start + step]
                    matrix = np.stack([np.asarray(items[k], dtype="<f4").reshape(dim) for k in part])
                    insert_chunk(c, model_key, chunks.pack(model_key, part, matrix), now)

        def write(conn: sqlite3.Connection) -> None:
            if self._schema == LEGACY_SCHEMA:  # only ever open read-only: nothing can be stored
                return
            self.transaction(conn, insert)

        if self.read_only is None and items:
            self.guarded(write, None)

    # -- cross-process encode lock --------------------------------------------------------

    def encode_lock(self, model_key: str) -> contextlib.AbstractContextManager[None]:
        """Hold an exclusive lock per model while misses are found, encoded and written (none on
        a read-only cache: nothing is written, so there is nothing to take turns at)."""
        if not self._writable():
            return contextlib.nullcontext()
        return locks.exclusive(self.directory / "locks" / f"{model_key[:32]}.lock")

    # -- digests of local weight files (so a warm run never re-hashes a model) ---------------

    def file_digest(self, path: Path) -> str:
        return remembered_digest(self, path)

    # -- the runtime that produced a local model's vectors (library versions, dtype, device) -----
    # Kept in a table of its own, created on first write: caches written before it existed stay
    # readable as they are (no schema bump), and a reader never needs write access.

    def runtime_of(self, model_key: str) -> dict[str, Any] | None:
        """The runtime recorded with this model key's vectors, or None."""
        if not self.path.is_file():
            return None

        def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
            if not has_table(conn, "runtimes"):
                return None
            row = conn.execute("SELECT runtime FROM runtimes WHERE model_key=?", (model_key,)).fetchone()
            return parse_identity(row[0]) if row else None

        return self.guarded(read, None)

    def record_runtime(self, model_key: str, runtime: dict[str, Any]) -> None:
        """Remember (or replace) the runtime that produced this model key's vectors."""
        text = json.dumps(runtime, sort_keys=True, separators=(",", ":"))

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(RUNTIMES_TABLE)
            conn.execute("INSERT OR REPLACE INTO runtimes VALUES (?, ?, ?)", (model_key, text, time.time()))

        self.guarded(lambda conn: self.transaction(conn, write), False)

    def runtimes(self) -> dict[str, dict[str, Any]]:
        """Every recorded runtime by model key (for ``mrlcheck cache info``); never creates a cache."""
        if not self.path.is_file():
            return {}

        def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            if not has_table(conn, "runtimes"):
                return {}
            return {str(key): parse_identity(value)
                    for key, value in conn.execute("SELECT model_key, runtime FROM runtimes")}

        return self.guarded(read, {})

    # -- the score memo (``score_memo``): scores of inputs seen before ---------------------------

    def memo_get(self, key: bytes) -> np.ndarray | None:
        """The memoised values of ``key``, or None (absent, or damaged: then dropped with a warning
        and replaced by the caller's next ``memo_put``)."""
        if not self.path.is_file():
            return None

        def read(conn: sqlite3.Connection) -> np.ndarray | None:
            found = memo_table.read(conn, key)
            if isinstance(found, memo_table.Damaged):
                warnings.warn(f"a damaged score memo entry in the embedding cache {self.path} was ignored "
                              "and will be recomputed", MrlcheckCacheWarning, stacklevel=5)
                return None
            if found is not None and self.read_only is None and memo_table.stale_use(conn, key, time.time()):
                self.transaction(conn, lambda c: memo_table.touch(c, key))
            return found

        return self.guarded(read, None)

    def memo_put(self, key: bytes, what: str, values: np.ndarray) -> None:
        """Store the values of ``key`` in one transaction (nothing in a read-only cache)."""
        if self.read_only is None:
            self.guarded(lambda conn: self.transaction(conn, lambda c: memo_table.write(c, key, what, values)),
                         False)

    def memo_summary(self, *, unused_before: float | None = None) -> memo_table.MemoSummary:
        """How many memoised scores the cache holds (all, or those unused since ``unused_before``) and
        their bytes; never creates a cache."""
        if not self.path.is_file():
            return memo_table.MemoSummary(0, 0)
        return self.guarded(lambda conn: memo_table.summary(conn, unused_before), memo_table.MemoSummary(0, 0))

    def delete_memo(self, *, unused_before: float) -> memo_table.MemoSummary:
        """Delete the memoised scores not used since ``unused_before``, in one write transaction."""
        if not self.path.is_file():
            return memo_table.MemoSummary(0, 0)
        removed: list[memo_table.MemoSummary] = []

        def delete(conn: sqlite3.Connection) -> None:
            self.transaction(conn, lambda c: removed.append(memo_table.delete_unused(c, unused_before)))

        self.guarded(delete, None)
        return removed[0] if removed else memo_table.MemoSummary(0, 0)

    # -- maintenance (``mrlcheck cache``) ------------------------------------------------------

    def model_summaries(self) -> list[ModelSummary]:
        """Every model key with its identity, vector count, dims and times, most recently used first.

        Read in one transaction (a consistent snapshot while other processes write). Never creates
        a cache: with no database file the answer is an empty list.
        """
        if not self.path.is_file():
            return []

        def read(conn: sqlite3.Connection) -> list[ModelSummary]:
            with snapshot(conn):
                counts: dict[str, tuple[int, tuple[int, ...], int]] = {}
                for key, dim, count in (legacy_counts(conn) if self._schema == LEGACY_SCHEMA
                                        else chunk_counts(conn)):
                    vectors, dims, data = counts.get(str(key), (0, (), 0))
                    counts[str(key)] = (vectors + int(count), (*dims, int(dim)), data + 4 * int(dim) * int(count))
                models = conn.execute("SELECT model_key, identity, created, last_used FROM models").fetchall()
            out = []
            seen = set()
            for key, identity, created, last_used in models:
                seen.add(str(key))
                vectors, dims, data = counts.get(str(key), (0, (), 0))
                out.append(ModelSummary(str(key), parse_identity(identity), float(created), float(last_used),
                                        vectors, tuple(sorted(dims)), data))
            for key, (vectors, dims, data) in counts.items():
                if key not in seen:  # vectors whose models row is gone: shown, and pruned as "never used"
                    out.append(ModelSummary(key, {}, None, None, vectors, tuple(sorted(dims)), data))
            return sorted(out, key=lambda m: (-(m.last_used or 0.0), m.model_key))

        return self.guarded(read, [])

    def delete_models(self, keys: Collection[str], *, unused_before: float | None = None) -> dict[str, int]:
        """Delete the vectors and the models row of each key, in one write transaction.

        With ``unused_before`` (seconds since the epoch) a model is deleted only if it is still
        unused since then when the transaction runs, so a run that used it a moment ago keeps it.
        Returns model key → vectors deleted, for the models actually deleted.
        """
        if not keys or not self.path.is_file():
            return {}

        def delete(conn: sqlite3.Connection) -> dict[str, int]:
            removed: dict[str, int] = {}
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key in keys:
                    row = conn.execute("SELECT last_used FROM models WHERE model_key=?", (key,)).fetchone()
                    if unused_before is not None and row is not None and float(row[0]) >= unused_before:
                        continue
                    count = int(conn.execute("SELECT COALESCE(SUM(count), 0) FROM chunks WHERE model_key=?",
                                             (key,)).fetchone()[0])
                    conn.execute("DELETE FROM chunks WHERE model_key=?", (key,))
                    deleted_row = conn.execute("DELETE FROM models WHERE model_key=?", (key,)).rowcount
                    if has_table(conn, "runtimes"):
                        conn.execute("DELETE FROM runtimes WHERE model_key=?", (key,))
                    if count or deleted_row:
                        removed[key] = max(count, 0)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return removed

        return self.guarded(delete, {})

    def vacuum(self, checkpoint_wait: float = 2.0) -> bool:
        """Drop superseded vector copies, then give the space of deleted rows back to the file
        system; True when the file is compact.

        VACUUM is a write transaction of its own (it waits for other writers up to the busy
        timeout; in WAL mode readers keep their snapshot). The checkpoint that moves it into the
        database file and truncates the WAL waits at most ``checkpoint_wait`` seconds for readers;
        if one is still reading, the file shrinks at a later checkpoint and this returns False.
        """
        if not self.path.is_file():
            return True

        def run(conn: sqlite3.Connection) -> bool:
            models = [str(row[0]) for row in conn.execute("SELECT DISTINCT model_key FROM chunks")]
            self.transaction(conn, lambda c: compact_all(c, models))
            conn.execute("VACUUM")
            conn.execute(f"PRAGMA busy_timeout={int(checkpoint_wait * 1000)}")
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute("PRAGMA busy_timeout=120000")
            return not busy

        return self.guarded(run, True)

