"""Cross-process locks (``flock``), kept beside what they protect and opened safely.

- :func:`exclusive` / :func:`shared` / :func:`try_exclusive`: a lock file (inside the cache folder),
  opened without following a symbolic link, refused if it is not a regular file, created ``0o644``
  (a read-only descriptor is enough to lock, so other users of a shared cache can lock it too).
- :func:`folder_lock`: a lock on a folder itself (no file is created): baselines are locked by their
  folder, so a repository gets no lock files and the atomic rename of a baseline (a new inode)
  cannot slip past the lock.

On platforms without ``fcntl`` (Windows) these do not lock; SQLite's own locking and the atomic
file replacement still keep the data consistent there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import MrlcheckError


class LockError(MrlcheckError):
    """A lock file cannot be used (a symbolic link, not a regular file, not creatable)."""


class LockBusy(MrlcheckError):
    """Another process holds the lock (raised by :func:`try_exclusive`)."""


def open_lock_file(lock_file: Path) -> int:
    """A descriptor of ``lock_file`` (created if needed), never through a symbolic link."""
    flags = os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, flags | os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockError(f"the lock file {lock_file} is a symbolic link; refusing to follow it",
                            hint="remove it (nothing of yours is in it)") from None
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or not lock_file.exists():
            raise LockError(f"cannot create the lock file {lock_file}: {exc.strerror}") from None
        try:  # a lock file someone else created: locking needs no write access
            fd = os.open(lock_file, flags | os.O_RDONLY)
        except OSError as again:
            raise LockError(f"cannot open the lock file {lock_file}: {again.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LockError(f"the lock file {lock_file} is not a regular file", hint="remove it")
    return fd


def _flock(fd: int, operation: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    fcntl.flock(fd, operation)


def _ops() -> tuple[int, int, int, int]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return (0, 0, 0, 0)
    return (fcntl.LOCK_EX, fcntl.LOCK_SH, fcntl.LOCK_NB, fcntl.LOCK_UN)


@contextlib.contextmanager
def _held(fd: int, operation: int) -> Iterator[None]:
    try:
        _flock(fd, operation)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` for the ``with`` block (waits for it)."""
    with _held(open_lock_file(lock_file), _ops()[0]):
        yield


def shared(lock_file: Path) -> int:
    """Take a shared lock on ``lock_file`` (waits while someone holds it exclusively); returns the
    descriptor: the lock lasts until it is closed."""
    fd = open_lock_file(lock_file)
    try:
        _flock(fd, _ops()[1])
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def try_exclusive(lock_file: Path, busy: str) -> Iterator[None]:
    """An exclusive lock without waiting: :class:`LockBusy` with ``busy`` if anyone holds it."""
    fd = open_lock_file(lock_file)
    ex, _, nb, _ = _ops()
    try:
        _flock(fd, ex | nb)
    except OSError:
        os.close(fd)
        raise LockBusy(busy, hint="wait for that run to finish, then try again") from None
    try:
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (created if needed); creates no lock file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise LockError(f"cannot lock the folder {folder}: {exc.strerror}") from None
    with _held(fd, _ops()[0]):
        yield
