"""Every file the plugin writes goes through here: a reader sees the old file or the whole new one.

- :func:`write_text` / :func:`write_bytes`: write a temporary file beside the target, flush it to
  disk, rename it over the target. A full disk, a kill or a crash leaves the old file untouched.
- :func:`staged`: the same, with a check of the temporary file before it replaces the target
  (``mrlcheck init`` loads and runs the spec it is about to write).
- :func:`append_text`: appending cannot be a rename (``$GITHUB_STEP_SUMMARY`` is shared with other
  steps), so it is all or nothing instead: a failed append is cut back to the old length.
- :func:`check_target`: the same problems, found before a run (a folder where a file is wanted…).

Failures raise :class:`~pytest_mrlcheck.errors.FileWriteError` naming the file and the reason in
words ("disk full", "read-only file system", "… is a file, not a folder").
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import FileWriteError

_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "file name too long",
}


def reason(exc: OSError) -> str:
    """A short description of why a write failed."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return exc.strerror or str(exc)


def _problem(path: Path, *, folder: bool = False) -> str | None:
    """Why ``path`` cannot be created or replaced (as a file, or as a folder), or None."""
    if path.is_dir() and not folder:
        return "it is a folder"
    if path.exists() and folder and not path.is_dir():
        return "it is a file, not a folder"
    for parent in path.parents:
        if parent.is_dir():
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"{parent} is not writable"
            return None
        if parent.exists() or parent.is_symlink():
            return f"{parent} is not a folder"
    return None  # pragma: no cover - the root is a folder


def check_target(path: Path, *, folder: bool = False, append: bool = False) -> str | None:
    """Why writing ``path`` would fail, found without writing anything (None: it looks writable).

    ``folder``: ``path`` is a folder to write files into. ``append``: the file is appended to and its
    folder must exist already (nothing creates the folder of ``$GITHUB_STEP_SUMMARY``).
    """
    if append:
        if path.is_dir():
            return "it is a folder"
        if not path.parent.is_dir():
            return f"its folder {path.parent} does not exist" if not path.parent.exists() else (
                f"{path.parent} is not a folder")
        if path.exists() and not os.access(path, os.W_OK):
            return "it is not writable"
        return None
    return _problem(path, folder=folder)


def _make_parent(path: Path) -> None:
    problem = _problem(path)
    if problem is not None:
        raise FileWriteError(path, problem)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(path, reason(exc)) from None


@contextlib.contextmanager
def staged(path: Path, data: bytes, *, suffix: str = "") -> Iterator[Path]:
    """Write ``data`` to a temporary file beside ``path`` and yield it; it replaces ``path`` when the
    ``with`` block ends normally, and is removed otherwise (``path`` is then untouched)."""
    _make_parent(path)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise FileWriteError(path, reason(exc)) from None
    temporary = Path(name)
    try:
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        except OSError as exc:
            raise FileWriteError(path, reason(exc)) from None
        yield temporary
        try:
            temporary.chmod(0o666 & ~_umask())
            temporary.replace(path)
        except OSError as exc:
            raise FileWriteError(path, reason(exc)) from None
    finally:
        temporary.unlink(missing_ok=True)


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)  # read once per process (the only way to read it), then put back
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (see the module docstring)."""
    with staged(path, data):
        pass


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    write_bytes(path, text.encode("utf-8"))


def append_text(path: Path, text: str) -> None:
    """Append ``text`` (UTF-8) to ``path`` whole or not at all; what was there is never cut.

    The folder must exist. On a failure (a full disk) the file is truncated back to its old length.
    """
    problem = check_target(path, append=True)
    if problem is not None:
        raise FileWriteError(path, problem)
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise FileWriteError(path, reason(exc)) from None
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise FileWriteError(path, reason(exc)) from None
    finally:
        os.close(fd)
