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
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sqlite3
import time
import warnings
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from . import chunks, locks
from .errors import CacheError, MrlcheckWarning

SCHEMA_VERSION = "2"
LEGACY_SCHEMA = "1"  # one row per vector; converted in place, read as it is when read-only
DB_NAME = "embeddings.sqlite3"
_BATCH = 500
_PIPELINE_FROM = 16 << 20  # reads of more vector bytes than this check CRCs on a second thread
_COMPACT_SHARE = 8  # superseded rows beyond 1/8 of a model's rows are compacted away on the next read
_T = TypeVar("_T")


class MrlcheckCacheWarning(MrlcheckWarning):
    """The embedding cache was damaged and has been repaired."""


def text_key(text: str) -> bytes:
    """SHA-256 of the text: the per-text part of a cache key."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def _crc(model_key: str, key: bytes, blob: bytes) -> int:
    return zlib.crc32(blob, zlib.crc32(key, zlib.crc32(model_key.encode())))


@dataclass(frozen=True)
class Found:
    """What the cache holds for a list of keys, as one matrix."""

    mask: np.ndarray  # bool per key asked for: found in the cache
    matrix: np.ndarray  # float32 ``len(keys) × dim``: the vector of each key found, zeros elsewhere
    dims: tuple[int, ...]  # the sizes found; more than one means the cache mixes sizes for one model key

    @classmethod
    def of(cls, count: int, pieces: dict[int, tuple[np.ndarray, np.ndarray]]) -> Found:
        """From ``dim → (positions found, count × dim matrix)`` pieces (the matrix is empty unless
        exactly one size was found)."""
        mask = np.zeros(count, dtype=bool)
        for positions, _ in pieces.values():
            mask[positions] = True
        if len(pieces) != 1:
            return cls(mask, np.zeros((count, 0), dtype=np.float32), tuple(sorted(pieces)))
        [(dim, (_, matrix))] = pieces.items()
        return cls(mask, matrix, (dim,))


def _pieces_of(keys: Sequence[bytes], found: dict[bytes, np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``dim → (positions, len(keys) × dim matrix)`` of a dict of found vectors."""
    by_dim: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        if key in found:
            by_dim.setdefault(int(found[key].shape[0]), []).append(i)
    pieces = {}
    for dim, idx in by_dim.items():
        matrix = np.zeros((len(keys), dim), dtype=np.float32)
        matrix[idx] = np.stack([found[keys[i]] for i in idx])
        pieces[dim] = (np.array(idx, dtype=np.int64), matrix)
    return pieces


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
        return Found.of(len(keys), _pieces_of(keys, self.get_many(model_key, keys)))

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


class SqliteStore:
    """The on-disk cache shared by every process that points at the same folder."""

    def __init__(self, directory: Path, flag_prefix: str = "--mrlcheck-") -> None:
        self.directory = directory
        self.flag_prefix = flag_prefix  # how hints spell the cache flags: ``--`` under the mrlcheck command
        self.path = directory / DB_NAME
        self._conn: sqlite3.Connection | None = None
        self._run_lock: int | None = None  # shared lock held while connected (see ``maintenance``)
        self._maintaining = False
        self._schema = SCHEMA_VERSION  # of the open connection: LEGACY_SCHEMA only when read-only
        self.read_only: str | None = None  # why nothing new can be stored (None: writable)

    # -- connection and repair -------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        """Held shared by every process using the cache, exclusively by ``clear``/``prune``."""
        return self.directory / "locks" / "cache.lock"

    def _writable(self) -> bool:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return False
            raise CacheError(
                f"cannot create the embedding cache folder {self.directory}: {exc.strerror}",
                hint=f"set {self.flag_prefix}cache-dir to a writable folder, or use {self.flag_prefix}no-cache",
            ) from None
        wanted = [self.directory, *(p for p in self.files())]
        return all(os.access(p, os.W_OK) for p in wanted)

    def _connect(self) -> sqlite3.Connection | None:
        """The connection (None: a read-only place with no cache in it: nothing to read)."""
        if self._conn is None:
            if not self._writable():
                return self._connect_read_only()
            if not self._maintaining and self._run_lock is None:
                self._run_lock = locks.shared(self.lock_path)  # waits while clear/prune runs
            conn = sqlite3.connect(self.path, timeout=120.0, isolation_level=None)
            # Switching to WAL and creating the tables can fail at once with "database is locked"
            # (no busy wait) when several xdist workers open a new cache together: take turns.
            with locks.exclusive(self.directory / "locks" / "setup.lock"):
                try:
                    conn.execute("PRAGMA busy_timeout=120000")
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("PRAGMA journal_size_limit=67108864")  # a WAL grown by a big write shrinks back
                    row = (conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                           if _has_table(conn, "meta") else None)
                    converted = None
                    if row is not None and row[0] == LEGACY_SCHEMA:
                        converted = _convert_legacy(conn)
                    elif row is not None:
                        self._check_schema(row[0])
                    conn.executescript(_SCHEMA_SQL)
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                except sqlite3.OperationalError as exc:
                    conn.close()
                    if _is_full(exc) or (self.path.is_file() and _no_space(self.directory)):
                        # a full disk cannot even hold WAL's shared-memory file: read what is there
                        return self._connect_read_only(self._full_notice())
                    raise
                except BaseException:
                    conn.close()
                    raise
            self._conn = conn
            self._schema = SCHEMA_VERSION
            if converted is not None:
                kept, dropped = converted
                warnings.warn_explicit(
                    f"the embedding cache {self.path} was in the format of an older pytest-mrlcheck (format 1, "
                    f"one row per vector); converted in place: {kept:,} vectors kept"
                    + (f", {dropped:,} damaged ones dropped (they will be recomputed)" if dropped else ""),
                    MrlcheckCacheWarning, "embedding cache", 0)
        return self._conn

    def _check_schema(self, found: object, *, legacy_ok: bool = False) -> None:
        if legacy_ok and found == LEGACY_SCHEMA:
            return
        if found != SCHEMA_VERSION:
            raise CacheError(
                f"{self.path} was written by another version of pytest-mrlcheck "
                f"(schema {found}, this one reads {SCHEMA_VERSION})",
                hint=f"point {self.flag_prefix}cache-dir elsewhere, or remove that file",
            )

    def _full_notice(self) -> str:
        return (f"disk full: the embedding cache {self.path} cannot store new vectors; "
                "this run goes on without storing them (what was stored before stays)")

    def _connect_read_only(self, notice: str | None = None) -> sqlite3.Connection | None:
        """Read committed rows without a lock or any write: ``mode=ro`` (which in WAL mode needs
        the ``-shm`` file to exist or be creatable), else ``immutable=1`` (right on a read-only
        file system, where nobody can change the file while we read)."""
        self._stop_writes(notice or f"the embedding cache {self.directory} is read-only: cached vectors "
                          "are read, nothing new is stored")
        if not self.path.is_file():
            return None
        uri = self.path.resolve().as_uri()
        last: sqlite3.Error | None = None
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            conn = sqlite3.connect(uri + query, uri=True, isolation_level=None)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                self._check_schema(None if row is None else row[0], legacy_ok=True)
            except sqlite3.DatabaseError as exc:
                conn.close()
                last = exc
                continue
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._schema = str(row[0])
            return conn
        raise CacheError(f"the read-only embedding cache {self.path} cannot be read: {last}",
                         hint=f"use {self.flag_prefix}no-cache, or point {self.flag_prefix}cache-dir at a "
                         "writable copy")

    def _stop_writes(self, notice: str) -> None:
        """From now on nothing is stored (read-only cache, full disk); says so once, in one line."""
        if self.read_only is None:
            self.read_only = notice
            # a warning without a source frame: one line in pytest's warnings summary
            warnings.warn_explicit(notice, MrlcheckCacheWarning, "embedding cache", 0)

    @contextlib.contextmanager
    def maintenance(self) -> Iterator[None]:
        """Exclusive use of the cache for ``mrlcheck cache clear/prune``: refused (never waited for)
        while a run uses it, so a live run's database is never removed or rewritten under it."""
        self.close()
        busy = (f"the embedding cache {self.directory} is in use by a running pytest or mrlcheck "
                "(it holds the cache lock); nothing was changed")
        with locks.try_exclusive(self.lock_path, busy):
            self._maintaining = True
            try:
                yield
            finally:
                self.close()
                self._maintaining = False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._run_lock is not None:
            os.close(self._run_lock)
            self._run_lock = None

    def __del__(self) -> None:  # a store dropped without close() must not keep the cache locked
        with contextlib.suppress(Exception):
            if self._run_lock is not None:
                os.close(self._run_lock)
                self._run_lock = None

    def _quarantine(self, error: sqlite3.DatabaseError) -> None:
        """Move an unreadable database aside (kept for inspection) so a fresh one is built."""
        self.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{DB_NAME}.corrupt-{stamp}-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            self.path.replace(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(DB_NAME + suffix)
            with contextlib.suppress(FileNotFoundError):
                side.replace(target.with_name(target.name + suffix))
        warnings.warn(
            f"the embedding cache {self.path} could not be read ({error}); it was moved to "
            f"{target.name} and is being rebuilt",
            MrlcheckCacheWarning,
            stacklevel=3,
        )

    def _guarded(self, action: Callable[[sqlite3.Connection], _T], empty: _T) -> _T:
        """Run ``action`` on the connection (``empty`` when a read-only place holds no cache)."""
        try:
            conn = self._connect()
            return empty if conn is None else action(conn)
        except sqlite3.OperationalError as exc:
            if _is_full(exc):
                raise CacheError(f"disk full: the embedding cache {self.path} cannot be written ({exc})",
                                 hint=f"free some space, or use {self.flag_prefix}no-cache") from None
            if "locked" in str(exc) or "busy" in str(exc):
                raise CacheError(f"the embedding cache {self.path} stayed locked: {exc}") from None
            if "no such table" not in str(exc) and "malformed" not in str(exc):
                raise CacheError(f"the embedding cache {self.path} cannot be used: {exc}") from None
            self._quarantine(exc)
        except sqlite3.DatabaseError as exc:
            self._quarantine(exc)
        conn = self._connect()
        return empty if conn is None else action(conn)

    def _write(self, conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], object]) -> bool:
        """One write transaction; on a full disk nothing is stored from now on (with a notice) and
        the run goes on with its vectors in memory. False when nothing was written."""
        if self.read_only is not None:
            return False
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                write(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite has already rolled back after SQLITE_FULL
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if not _is_full(exc):
                raise
            self._stop_writes(self._full_notice())
            return False
        return True

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
                pieces, damaged = _legacy_read(conn, model_key, keys)
                superseded = False
            else:
                outcome = _read_chunks(conn, model_key, keys)
                pieces, damaged, superseded = outcome.pieces, outcome.damaged, outcome.superseded
            bad = sum(damaged.values())
            if damaged and self._schema == SCHEMA_VERSION:
                self._write(conn, lambda c: _rewrite_all(c, model_key, damaged))
            if bad:
                warnings.warn(
                    f"{bad} damaged entries in the embedding cache {self.path} were dropped "
                    "and will be recomputed",
                    MrlcheckCacheWarning,
                    stacklevel=5,
                )
            if superseded:
                self._write(conn, lambda c: _compact(c, model_key))
            if pieces:
                self._write(conn, lambda c: c.execute(
                    "UPDATE models SET last_used=? WHERE model_key=?", (time.time(), model_key)))
            return pieces

        return self._guarded(read, {})

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
                    _insert_chunk(c, model_key, chunks.pack(model_key, part, matrix), now)

        def write(conn: sqlite3.Connection) -> None:
            if self._schema == LEGACY_SCHEMA:  # only ever open read-only: nothing can be stored
                return
            self._write(conn, insert)

        if self.read_only is None and items:
            self._guarded(write, None)

    # -- cross-process encode lock --------------------------------------------------------

    def encode_lock(self, model_key: str) -> contextlib.AbstractContextManager[None]:
        """Hold an exclusive lock per model while misses are found, encoded and written (none on
        a read-only cache: nothing is written, so there is nothing to take turns at)."""
        if not self._writable():
            return contextlib.nullcontext()
        return locks.exclusive(self.directory / "locks" / f"{model_key[:32]}.lock")

    # -- digests of local weight files (so a warm run never re-hashes a model) ---------------

    def file_digest(self, path: Path) -> str:
        stat = path.stat()

        def lookup(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT size, mtime_ns, digest FROM digests WHERE path=?", (str(path),)).fetchone()
            if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
                return str(row[2])
            return None

        known = self._guarded(lookup, None)
        if known is not None:
            return known
        digest = sha256_file(path)

        def remember(conn: sqlite3.Connection) -> None:
            self._write(conn, lambda c: c.execute(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)",
                (str(path), stat.st_size, stat.st_mtime_ns, digest),
            ))

        self._guarded(remember, None)
        return digest

    # -- the runtime that produced a local model's vectors (library versions, dtype, device) -----
    # Kept in a table of its own, created on first write: caches written before it existed stay
    # readable as they are (no schema bump), and a reader never needs write access.

    def runtime_of(self, model_key: str) -> dict[str, Any] | None:
        """The runtime recorded with this model key's vectors, or None."""
        if not self.path.is_file():
            return None

        def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
            if not _has_table(conn, "runtimes"):
                return None
            row = conn.execute("SELECT runtime FROM runtimes WHERE model_key=?", (model_key,)).fetchone()
            return _parse_identity(row[0]) if row else None

        return self._guarded(read, None)

    def record_runtime(self, model_key: str, runtime: dict[str, Any]) -> None:
        """Remember (or replace) the runtime that produced this model key's vectors."""
        text = json.dumps(runtime, sort_keys=True, separators=(",", ":"))

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(RUNTIMES_TABLE)
            conn.execute("INSERT OR REPLACE INTO runtimes VALUES (?, ?, ?)", (model_key, text, time.time()))

        self._guarded(lambda conn: self._write(conn, write), False)

    def runtimes(self) -> dict[str, dict[str, Any]]:
        """Every recorded runtime by model key (for ``mrlcheck cache info``); never creates a cache."""
        if not self.path.is_file():
            return {}

        def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            if not _has_table(conn, "runtimes"):
                return {}
            return {str(key): _parse_identity(value)
                    for key, value in conn.execute("SELECT model_key, runtime FROM runtimes")}

        return self._guarded(read, {})

    # -- maintenance (``mrlcheck cache``) ------------------------------------------------------

    def files(self) -> list[Path]:
        """The database file and its WAL/shared-memory companions that exist now."""
        candidates = [self.path, self.path.with_name(DB_NAME + "-wal"), self.path.with_name(DB_NAME + "-shm")]
        return [path for path in candidates if path.is_file()]

    def size_on_disk(self) -> int:
        """Bytes of the database and its companions (0 when there is no cache)."""
        total = 0
        for path in self.files():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def model_summaries(self) -> list[ModelSummary]:
        """Every model key with its identity, vector count, dims and times, most recently used first.

        Read in one transaction (a consistent snapshot while other processes write). Never creates
        a cache: with no database file the answer is an empty list.
        """
        if not self.path.is_file():
            return []

        def read(conn: sqlite3.Connection) -> list[ModelSummary]:
            with _snapshot(conn):
                counts: dict[str, tuple[int, tuple[int, ...], int]] = {}
                for key, dim, count in (_legacy_counts(conn) if self._schema == LEGACY_SCHEMA
                                        else _chunk_counts(conn)):
                    vectors, dims, data = counts.get(str(key), (0, (), 0))
                    counts[str(key)] = (vectors + int(count), (*dims, int(dim)), data + 4 * int(dim) * int(count))
                models = conn.execute("SELECT model_key, identity, created, last_used FROM models").fetchall()
            out = []
            seen = set()
            for key, identity, created, last_used in models:
                seen.add(str(key))
                vectors, dims, data = counts.get(str(key), (0, (), 0))
                out.append(ModelSummary(str(key), _parse_identity(identity), float(created), float(last_used),
                                        vectors, tuple(sorted(dims)), data))
            for key, (vectors, dims, data) in counts.items():
                if key not in seen:  # vectors whose models row is gone: shown, and pruned as "never used"
                    out.append(ModelSummary(key, {}, None, None, vectors, tuple(sorted(dims)), data))
            return sorted(out, key=lambda m: (-(m.last_used or 0.0), m.model_key))

        return self._guarded(read, [])

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
                    if _has_table(conn, "runtimes"):
                        conn.execute("DELETE FROM runtimes WHERE model_key=?", (key,))
                    if count or deleted_row:
                        removed[key] = max(count, 0)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return removed

        return self._guarded(delete, {})

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
            self._write(conn, lambda c: _compact_all(c, models))
            conn.execute("VACUUM")
            conn.execute(f"PRAGMA busy_timeout={int(checkpoint_wait * 1000)}")
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute("PRAGMA busy_timeout=120000")
            return not busy

        return self._guarded(run, True)


_SCHEMA_SQL = """
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
_CHUNK_TABLES = [part.strip() for part in _SCHEMA_SQL.split(";") if "chunks" in part and "VIEW" not in part]


def _no_space(directory: Path) -> bool:
    try:
        return os.statvfs(directory).f_bavail == 0
    except (OSError, AttributeError):
        return False


def _is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL (the message SQLite gives is "database or disk is full")."""
    return getattr(exc, "sqlite_errorcode", None) == 13 or "disk is full" in str(exc)


RUNTIMES_TABLE = ("CREATE TABLE IF NOT EXISTS runtimes (model_key TEXT PRIMARY KEY, runtime TEXT NOT NULL, "
                  "recorded REAL NOT NULL)")


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def _parse_identity(text: object) -> dict[str, Any]:
    try:
        value = json.loads(str(text))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- format 2: chunk reads and writes (SQL around ``chunks.py``) ----------------------------------


@contextlib.contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: every query inside sees the same committed state."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")


@dataclass(frozen=True)
class _ChunkHead:
    id: int
    dim: int
    count: int
    keys: bytes


@dataclass(frozen=True)
class _ReadOutcome:
    pieces: dict[int, tuple[np.ndarray, np.ndarray]]
    damaged: dict[int, int]  # chunk id → damaged rows in it (0: only its chunk CRC is wrong)
    superseded: bool  # enough superseded copies to compact the model


def _heads(conn: sqlite3.Connection, model_key: str) -> tuple[list[_ChunkHead], dict[int, int]]:
    """The model's chunks in storage order, without their vectors; chunks whose key blob does not
    match their row count are damaged as a whole (chunk id → rows)."""
    good, damaged = [], {}
    for cid, dim, count, keys in conn.execute(
        "SELECT id, dim, count, keys FROM chunks WHERE model_key=? ORDER BY id", (model_key,)
    ):
        if chunks.shape_ok(int(count), int(dim), bytes(keys)):
            good.append(_ChunkHead(int(cid), int(dim), int(count), bytes(keys)))
        else:
            damaged[int(cid)] = max(int(count), 1)
    return good, damaged


def _wanted(keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(positions of well-formed keys, their ``n × 4`` uint64 matrix): a key of another length can
    never have been stored, so it is simply not found."""
    joined = b"".join(keys)
    if len(joined) == chunks.KEY_BYTES * len(keys):
        return np.arange(len(keys), dtype=np.int64), chunks.key_matrix(joined)
    valid = [i for i, key in enumerate(keys) if len(key) == chunks.KEY_BYTES]
    return np.array(valid, dtype=np.int64), chunks.key_matrix(b"".join(keys[i] for i in valid))


_MMAP_BYTES = 1 << 31


@contextlib.contextmanager
def _mapped(conn: sqlite3.Connection) -> Iterator[None]:
    """Let SQLite read pages through a memory map for the length of one read (half the CPU of
    copying each page through its cache); off again afterwards, so no write and no other query
    of this connection ever runs on a mapped file."""
    conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
    try:
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA mmap_size=0")


def _read_chunks(conn: sqlite3.Connection, model_key: str, keys: Sequence[bytes]) -> _ReadOutcome:
    with _mapped(conn), _snapshot(conn):
        heads, damaged = _heads(conn, model_key)
        if not heads or not keys:
            return _ReadOutcome({}, damaged, False)
        index = chunks.KeyIndex.build(chunks.key_matrix(b"".join(h.keys for h in heads)))
        valid, wanted = _wanted(keys)
        stored = index.find(wanted)
        hit = stored >= 0
        asked, where = valid[hit], stored[hit]  # position in ``keys`` ↔ position in storage
        ends = np.cumsum([h.count for h in heads])
        chunk_of = np.searchsorted(ends, where, side="right")
        order = np.argsort(where, kind="stable")  # storage order: each chunk's rows together
        asked, where, chunk_of = asked[order], where[order], chunk_of[order]
        bounds = np.searchsorted(chunk_of, np.arange(len(heads) + 1))
        jobs = [(heads[c], asked[bounds[c]:bounds[c + 1]], where[bounds[c]:bounds[c + 1]] - (ends[c] - heads[c].count))
                for c in range(len(heads)) if bounds[c + 1] > bounds[c]]
        pieces = _fill(conn, model_key, len(keys), jobs, damaged)
        rows = int(ends[-1])
        superseded = rows - int(index.live().sum())
    return _ReadOutcome(pieces, damaged, superseded > 0 and superseded * _COMPACT_SHARE >= rows)


def _fill(conn: sqlite3.Connection, model_key: str, count: int,
          jobs: list[tuple[_ChunkHead, np.ndarray, np.ndarray]],
          damaged: dict[int, int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Read each needed chunk (one query), check it, copy its wanted rows into one matrix per size.
    A large read checks the CRC of one chunk on a second thread while the next one is fetched
    (``zlib.crc32`` and SQLite both release the GIL)."""
    matrices: dict[int, np.ndarray] = {}
    found: dict[int, list[np.ndarray]] = {}

    def fetch(head: _ChunkHead) -> tuple[int, bytes, bytes]:
        crc, crcs, data = conn.execute("SELECT crc, crcs, data FROM chunks WHERE id=?", (head.id,)).fetchone()
        return int(crc), bytes(crcs), bytes(data)

    def settle(head: _ChunkHead, asked: np.ndarray, rows: np.ndarray, blobs: tuple[int, bytes, bytes],
               intact: bool) -> None:
        _, crcs, data = blobs
        if not chunks.shape_ok(head.count, head.dim, head.keys, crcs, data):
            damaged[head.id] = head.count
            return
        if not intact:
            bad = chunks.bad_rows(model_key, head.count, head.dim, head.keys, crcs, data)
            damaged[head.id] = int(bad.sum())
            keep = ~bad[rows]
            asked, rows = asked[keep], rows[keep]
        vectors = np.frombuffer(data, dtype="<f4").reshape(head.count, head.dim)
        if head.dim not in matrices:
            matrices[head.dim] = np.zeros((count, head.dim), dtype=np.float32)
        target = matrices[head.dim]
        n = len(rows)
        if n and rows[-1] - rows[0] == n - 1 and asked[-1] - asked[0] == n - 1 and (
                n < 3 or (np.all(np.diff(rows) == 1) and np.all(np.diff(asked) == 1))):
            target[asked[0]:asked[0] + n] = vectors[rows[0]:rows[0] + n]  # the usual case: one block copy
        elif n:
            target[asked] = vectors[rows]
        found.setdefault(head.dim, []).append(asked)

    def check(head: _ChunkHead, blobs: tuple[int, bytes, bytes]) -> bool:
        crc, crcs, data = blobs
        return chunks.chunk_crc(model_key, head.keys, crcs, data) == crc

    total = sum(4 * head.dim * head.count for head, _, _ in jobs)
    if total < _PIPELINE_FROM or len(jobs) < 2:
        for head, asked, rows in jobs:
            blobs = fetch(head)
            settle(head, asked, rows, blobs, check(head, blobs))
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mrlcheck-crc") as pool:
            pending = None
            for head, asked, rows in jobs:
                blobs = fetch(head)
                job = (head, asked, rows, blobs, pool.submit(check, head, blobs))
                if pending is not None:
                    settle(*pending[:4], pending[4].result())
                pending = job
            if pending is not None:
                settle(*pending[:4], pending[4].result())
    return {dim: (np.sort(np.concatenate(found[dim])), matrix) for dim, matrix in matrices.items() if found.get(dim)}


def _insert_chunk(conn: sqlite3.Connection, model_key: str, packed: chunks.Packed, created: float) -> None:
    conn.execute(
        "INSERT INTO chunks (model_key, dim, count, created, crc, keys, crcs, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (model_key, packed.dim, packed.count, created, packed.crc, packed.keys, packed.crcs, packed.data),
    )


def _rewrite(conn: sqlite3.Connection, model_key: str, chunk_id: int, keep: np.ndarray | None = None) -> None:
    """Rewrite one chunk (inside a write transaction) without its damaged rows and, with ``keep``,
    only the rows it marks; a chunk left empty is deleted. Rows are checked again here, so a copy
    never blesses a damaged row with a fresh chunk CRC."""
    row = conn.execute("SELECT dim, count, created, crc, keys, crcs, data FROM chunks WHERE id=?",
                       (chunk_id,)).fetchone()
    if row is None:
        return
    dim, count, created, crc, keys, crcs, data = int(row[0]), int(row[1]), float(row[2]), int(row[3]), *map(
        bytes, row[4:])
    if not chunks.shape_ok(count, dim, keys, crcs, data):
        conn.execute("DELETE FROM chunks WHERE id=?", (chunk_id,))
        return
    good = np.ones(count, dtype=bool)
    if chunks.chunk_crc(model_key, keys, crcs, data) != crc:
        good = ~chunks.bad_rows(model_key, count, dim, keys, crcs, data)
    if keep is not None:
        good &= keep
    if not good.any():
        conn.execute("DELETE FROM chunks WHERE id=?", (chunk_id,))
        return
    rows = np.flatnonzero(good)
    new_keys = chunks.key_matrix(keys)[rows].tobytes()
    new_crcs = np.frombuffer(crcs, dtype="<u4")[rows].tobytes()
    new_data = np.frombuffer(data, dtype="<f4").reshape(count, dim)[rows].tobytes()
    conn.execute("UPDATE chunks SET count=?, created=?, crc=?, keys=?, crcs=?, data=? WHERE id=?",
                 (len(rows), created, chunks.chunk_crc(model_key, new_keys, new_crcs, new_data), new_keys,
                  new_crcs, new_data, chunk_id))


def _rewrite_all(conn: sqlite3.Connection, model_key: str, chunk_ids: Collection[int]) -> None:
    for chunk_id in chunk_ids:
        _rewrite(conn, model_key, chunk_id)


def _compact_all(conn: sqlite3.Connection, model_keys: Collection[str]) -> None:
    for model_key in model_keys:
        _compact(conn, model_key)


def _compact(conn: sqlite3.Connection, model_key: str) -> None:
    """Drop the superseded copies of the model's vectors (an older copy of a key stored again)."""
    heads, damaged = _heads(conn, model_key)
    for cid in damaged:
        conn.execute("DELETE FROM chunks WHERE id=?", (cid,))
    if not heads:
        return
    live = chunks.KeyIndex.build(chunks.key_matrix(b"".join(h.keys for h in heads))).live()
    start = 0
    for head in heads:
        part = live[start:start + head.count]
        start += head.count
        if not part.all():
            _rewrite(conn, model_key, head.id, part)


def _chunk_counts(conn: sqlite3.Connection) -> Iterator[tuple[str, int, int]]:
    """(model key, dim, live vectors) of every model."""
    for (model_key,) in conn.execute("SELECT DISTINCT model_key FROM chunks").fetchall():
        heads, _ = _heads(conn, str(model_key))
        if not heads:
            continue
        live = chunks.KeyIndex.build(chunks.key_matrix(b"".join(h.keys for h in heads))).live()
        per_dim: dict[int, int] = {}
        start = 0
        for head in heads:
            per_dim[head.dim] = per_dim.get(head.dim, 0) + int(live[start:start + head.count].sum())
            start += head.count
        for dim, count in per_dim.items():
            yield str(model_key), dim, count


# -- format 1: one row per vector (read when read-only, else converted) -----------------------------


def _legacy_counts(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    return [(str(key), int(dim), int(count)) for key, dim, count in
            conn.execute("SELECT model_key, dim, COUNT(*) FROM vectors GROUP BY model_key, dim")]


def _legacy_read(conn: sqlite3.Connection, model_key: str,
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
    return _pieces_of(keys, found), ({-1: bad} if bad else {})


def _convert_legacy(conn: sqlite3.Connection) -> tuple[int, int]:
    """Format 1 → 2 in one write transaction (a kill leaves format 1 as it was); then VACUUM gives
    the old rows' pages back (skipped without a word if the disk has no room for it: ``mrlcheck
    cache prune`` vacuums later). Returns (vectors kept, damaged rows dropped)."""
    kept = dropped = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _CHUNK_TABLES:
            conn.execute(statement)
        pending: dict[tuple[str, int], tuple[list[bytes], list[bytes], list[int], list[float]]] = {}

        def flush(model_key: str, dim: int) -> None:
            keys, blobs, crcs, times = pending.pop((model_key, dim))
            joined, crc_bytes, data = b"".join(keys), np.array(crcs, dtype="<u4").tobytes(), b"".join(blobs)
            packed = chunks.Packed(len(keys), dim, joined, crc_bytes, data,
                                   chunks.chunk_crc(model_key, joined, crc_bytes, data))
            _insert_chunk(conn, model_key, packed, max(times))

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
