"""The cache database's connection: opening (WAL), read-only and full-disk fallbacks, repair, locks.

Every write is one transaction; a file SQLite cannot read is moved aside (kept, never deleted) and
rebuilt. A shared lock is held while connected so ``mrlcheck cache clear/prune`` never removes or
rewrites a database a run is using.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from . import locks
from .cache_legacy import convert_legacy
from .cache_schema import DB_NAME, LEGACY_SCHEMA, SCHEMA_SQL, SCHEMA_VERSION, has_table, is_full, no_space
from .errors import CacheError, MrlcheckWarning

_T = TypeVar("_T")


class MrlcheckCacheWarning(MrlcheckWarning):
    """The embedding cache was damaged and has been repaired."""


class CacheDatabase:
    """One SQLite cache file shared by every process that points at the same folder."""

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
                           if has_table(conn, "meta") else None)
                    converted = None
                    if row is not None and row[0] == LEGACY_SCHEMA:
                        converted = convert_legacy(conn)
                    elif row is not None:
                        self._check_schema(row[0])
                    conn.executescript(SCHEMA_SQL)
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                except sqlite3.OperationalError as exc:
                    conn.close()
                    if is_full(exc) or (self.path.is_file() and no_space(self.directory)):
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

    def guarded(self, action: Callable[[sqlite3.Connection], _T], empty: _T) -> _T:
        """Run ``action`` on the connection (``empty`` when a read-only place holds no cache)."""
        try:
            conn = self._connect()
            return empty if conn is None else action(conn)
        except sqlite3.OperationalError as exc:
            if is_full(exc):
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

    def transaction(self, conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], object]) -> bool:
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
            if not is_full(exc):
                raise
            self._stop_writes(self._full_notice())
            return False
        return True

    # -- files ------------------------------------------------------------------------------

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
