"""The persistent embedding cache: SQLite (WAL), one row per (model key, text), float32 blobs.

- Safe with several processes: SQLite transactions, plus a per-model file lock around "find
  misses → encode → write" so each text is encoded once in total across pytest-xdist workers.
- Atomic: every write is one transaction; a killed run leaves the last committed state.
- Self-checking: every row carries a CRC of its key and bytes; a bad row is dropped and
  recomputed, a file SQLite cannot read is moved aside (kept, never deleted) and rebuilt.
- No pickle: vectors are raw little-endian float32.
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

from . import locks
from .errors import CacheError, MrlcheckWarning

SCHEMA_VERSION = "1"
DB_NAME = "embeddings.sqlite3"
_BATCH = 500
_T = TypeVar("_T")


class MrlcheckCacheWarning(MrlcheckWarning):
    """The embedding cache was damaged and has been repaired."""


def text_key(text: str) -> bytes:
    """SHA-256 of the text: the per-text part of a cache key."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def _crc(model_key: str, key: bytes, blob: bytes) -> int:
    return zlib.crc32(blob, zlib.crc32(key, zlib.crc32(model_key.encode())))


class VectorStore(Protocol):
    """Where full-dimension vectors live between runs."""

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

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / DB_NAME
        self._conn: sqlite3.Connection | None = None
        self._run_lock: int | None = None  # shared lock held while connected (see ``maintenance``)
        self._maintaining = False
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
                hint="set --mrlcheck-cache-dir to a writable folder, or use --mrlcheck-no-cache",
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
                    conn.executescript(_SCHEMA_SQL)
                    row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                    if row is None:
                        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                    else:
                        self._check_schema(row[0])
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
        return self._conn

    def _check_schema(self, found: object) -> None:
        if found != SCHEMA_VERSION:
            raise CacheError(
                f"{self.path} was written by another version of pytest-mrlcheck "
                f"(schema {found}, this one reads {SCHEMA_VERSION})",
                hint="point --mrlcheck-cache-dir elsewhere, or remove that file",
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
                self._check_schema(None if row is None else row[0])
            except sqlite3.DatabaseError as exc:
                conn.close()
                last = exc
                continue
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            return conn
        raise CacheError(f"the read-only embedding cache {self.path} cannot be read: {last}",
                         hint="use --mrlcheck-no-cache, or point --mrlcheck-cache-dir at a writable copy")

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
                                 hint="free some space, or use --mrlcheck-no-cache") from None
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

    def get_many(self, model_key: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        def read(conn: sqlite3.Connection) -> dict[bytes, np.ndarray]:
            found: dict[bytes, np.ndarray] = {}
            bad: list[bytes] = []
            for start in range(0, len(keys), _BATCH):
                chunk = list(keys[start : start + _BATCH])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT text_key, dim, data, crc FROM vectors WHERE model_key=? AND text_key IN ({marks})",
                    [model_key, *chunk],
                ).fetchall()
                for key, dim, data, crc in rows:
                    if len(data) != 4 * dim or _crc(model_key, key, data) != crc:
                        bad.append(key)
                        continue
                    found[key] = np.frombuffer(data, dtype="<f4")
            if bad:
                self._write(conn, lambda c: c.executemany(
                    "DELETE FROM vectors WHERE model_key=? AND text_key=?", [(model_key, k) for k in bad]
                ))
                warnings.warn(
                    f"{len(bad)} damaged entries in the embedding cache {self.path} were dropped "
                    "and will be recomputed",
                    MrlcheckCacheWarning,
                    stacklevel=4,
                )
            if found:
                self._write(conn, lambda c: c.execute(
                    "UPDATE models SET last_used=? WHERE model_key=?", (time.time(), model_key)))
            return found

        return self._guarded(read, {})

    def put_many(self, model_key: str, identity: str, items: dict[bytes, np.ndarray]) -> None:
        now = time.time()

        def write(conn: sqlite3.Connection) -> None:
            rows = []
            for key, vector in items.items():
                blob = np.ascontiguousarray(vector, dtype="<f4").tobytes()
                rows.append((model_key, key, len(blob) // 4, blob, _crc(model_key, key, blob), now))

            def insert(c: sqlite3.Connection) -> None:
                c.execute(
                    "INSERT INTO models VALUES (?, ?, ?, ?) ON CONFLICT(model_key) DO UPDATE SET last_used=?",
                    (model_key, identity, now, now, now),
                )
                c.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?)", rows)

            self._write(conn, insert)

        if self.read_only is None:
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
            conn.execute("BEGIN")
            try:
                counts: dict[str, tuple[int, tuple[int, ...], int]] = {}
                for key, dim, count in conn.execute(
                    "SELECT model_key, dim, COUNT(*) FROM vectors GROUP BY model_key, dim"
                ):
                    vectors, dims, data = counts.get(str(key), (0, (), 0))
                    counts[str(key)] = (vectors + int(count), (*dims, int(dim)), data + 4 * int(dim) * int(count))
                models = conn.execute("SELECT model_key, identity, created, last_used FROM models").fetchall()
            finally:
                conn.execute("COMMIT")
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
                    count = conn.execute("DELETE FROM vectors WHERE model_key=?", (key,)).rowcount
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
        """Give the space of deleted rows back to the file system; True when the file is compact.

        VACUUM is a write transaction of its own (it waits for other writers up to the busy
        timeout; in WAL mode readers keep their snapshot). The checkpoint that moves it into the
        database file and truncates the WAL waits at most ``checkpoint_wait`` seconds for readers;
        if one is still reading, the file shrinks at a later checkpoint and this returns False.
        """
        if not self.path.is_file():
            return True

        def run(conn: sqlite3.Connection) -> bool:
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
CREATE TABLE IF NOT EXISTS vectors (
    model_key TEXT NOT NULL, text_key BLOB NOT NULL, dim INTEGER NOT NULL,
    data BLOB NOT NULL, crc INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (model_key, text_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS digests (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL);
"""


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
