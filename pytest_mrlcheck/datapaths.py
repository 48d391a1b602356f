"""Where a spec may read data from, opening data files safely, and quoting their content briefly.

Every data path (csv/tsv/jsonl files, BEIR folders and the files in them, precomputed ``.npz``
files, an agreement queries file, a local ``hf:`` folder) goes through :func:`checked_file` or
:func:`checked_folder` before anything reads it:

- **Inside the root.** With a :class:`DataAccess` that names a root (pytest's rootdir; the current
  folder for the ``mrlcheck`` command), a path whose target — symbolic links resolved — lies
  outside it is refused unless the spec opted in (``allow_outside_root: true``, or the ini option
  ``mrlcheck_allow_outside_root``). A spec may come from an untrusted pull request; without this
  it could make the report quote ``/proc/self/environ``.
- **The right kind of thing.** A missing path, a dangling link, a link loop, a folder where a file
  is expected (and the reverse) and anything but a regular file (a FIFO, a socket, a device) each
  get their own message. Non-regular files are refused before opening and files are opened
  non-blocking, so a named pipe can never hang a run.

Messages that quote a file's content use :func:`excerpt`: at most :data:`EXCERPT_CHARS`
characters, control characters escaped.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from .errors import DataError

#: The longest excerpt of a file's content any message quotes.
EXCERPT_CHARS = 60

OUTSIDE_ROOT_HINT = (
    "a spec may only read data inside the project root, since a spec can come from an untrusted pull "
    "request; to read this path on purpose, set allow_outside_root: true in the spec (or "
    "mrlcheck_allow_outside_root = true in the ini file)"
)


@dataclass(frozen=True)
class DataAccess:
    """Which paths a spec may read: anything under ``root`` (None: no restriction), or anything."""

    root: Path | None = None
    allow_outside_root: bool = False

    def check(self, path: Path, what: str) -> None:
        """Refuse ``path`` when its target (links resolved) lies outside the root and no opt-in was given."""
        if self.root is None or self.allow_outside_root:
            return
        root = Path(os.path.realpath(self.root))
        target = Path(os.path.realpath(path))
        if target == root or target.is_relative_to(root):
            return
        via = "" if target == Path(os.path.normpath(Path(path).absolute())) else f" (it resolves to {target})"
        raise DataError(f"{what} {path} is outside the project root {self.root}{via}", hint=OUTSIDE_ROOT_HINT)


ANYWHERE = DataAccess()


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``value`` quoted for a message: control characters escaped, at most ``limit`` characters (``…`` ends a cut)."""
    text = value if isinstance(value, str) else str(value)[: 4 * limit]
    pieces = [char if char.isprintable() and char != "'" else
              ("\\'" if char == "'" else char.encode("unicode_escape").decode("ascii")) for char in text[: limit + 1]]
    if sum(len(piece) for piece in pieces) <= limit and len(text) <= limit:
        return "'" + "".join(pieces) + "'"
    kept: list[str] = []
    size = 0
    for piece in pieces:
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "'" + "".join(kept) + "…'"


def excerpt_cells(cells: list[str], limit: int = 4) -> str:
    """The first ``limit`` cells of a row, each as a short :func:`excerpt`."""
    shown = ", ".join(excerpt(cell, 24) for cell in cells[:limit])
    more = f", … ({len(cells)} cells)" if len(cells) > limit else ""
    return f"[{shown}{more}]"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _stat(path: Path, what: str, hint: str | None) -> os.stat_result:
    try:
        return Path(path).stat()
    except FileNotFoundError:
        if os.path.lexists(path):
            raise DataError(f"{what} {path} is a symbolic link to a missing target ({Path(path).readlink()})",
                            hint=hint) from None
        raise DataError(f"{what} not found: {path}", hint=hint) from None
    except NotADirectoryError:
        raise DataError(f"{what} not found: {path} (a part of the path is a file, not a folder)",
                        hint=hint) from None
    except PermissionError:
        raise DataError(f"{what} {path} cannot be read (permission denied)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"{what} {path} is a symbolic link loop", hint="fix or remove the link") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise DataError(f"{what}: the path is too long: {excerpt(str(path))}") from None
        raise DataError(f"{what} {path} cannot be read ({exc.strerror})") from None
    except ValueError:  # an embedded NUL byte
        raise DataError(f"{what}: the path {excerpt(str(path))} contains a NUL character") from None


def checked_file(path: Path, what: str, access: DataAccess = ANYWHERE, hint: str | None = None) -> Path:
    """``path`` if it may be read and is a regular file (links followed); a :class:`DataError` otherwise."""
    access.check(path, what)
    mode = _stat(path, what, hint).st_mode
    if stat.S_ISDIR(mode):
        raise DataError(f"{what} {path} is a folder, not a file", hint=hint)
    if not stat.S_ISREG(mode):
        raise DataError(f"{what} {path} is {_kind(mode)}; only regular files are read", hint=hint)
    return path


def checked_folder(path: Path, what: str, access: DataAccess = ANYWHERE, hint: str | None = None) -> Path:
    """``path`` if it may be read and is a folder (links followed); a :class:`DataError` otherwise."""
    access.check(path, what)
    mode = _stat(path, what, hint).st_mode
    if not stat.S_ISDIR(mode):
        thing = "a file" if stat.S_ISREG(mode) else _kind(mode)
        raise DataError(f"{what} {path} is {thing}, not a folder", hint=hint)
    return path


def checked_existing(path: Path, what: str, access: DataAccess = ANYWHERE, hint: str | None = None) -> Path:
    """``path`` if it may be read and is a folder or a regular file (links followed)."""
    access.check(path, what)
    mode = _stat(path, what, hint).st_mode
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise DataError(f"{what} {path} is {_kind(mode)}; only regular files and folders are read", hint=hint)
    return path


def open_binary(path: Path, what: str, access: DataAccess = ANYWHERE, hint: str | None = None) -> BinaryIO:
    """Open a checked regular file for reading, non-blocking until it is known to be regular."""
    checked_file(path, what, access, hint)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise DataError(f"cannot open {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # replaced between the check and the open
            raise DataError(f"{what} {path} is {_kind(mode)}; only regular files are read", hint=hint)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_text(path: Path, what: str, access: DataAccess = ANYWHERE, hint: str | None = None) -> TextIO:
    """A checked file as UTF-8 text (a leading byte-order mark is skipped), line endings untranslated."""
    return io.TextIOWrapper(open_binary(path, what, access, hint), encoding="utf-8-sig", newline="")


def utf8_error(path: Path, what: str = "") -> DataError:
    """The :class:`DataError` for a file that is not valid UTF-8, naming the line of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    head = b""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                if not head:
                    head = chunk[:4]
                    if chunk.startswith(codecs.BOM_UTF8):
                        chunk = chunk[len(codecs.BOM_UTF8):]
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line += chunk.count(b"\n", 0, max(0, exc.start))
                    byte = chunk[exc.start] if exc.start < len(chunk) else None
                    found = f" (byte 0x{byte:02x})" if byte is not None else ""
                    return _not_utf8(path, what, f"line {line}", found, head)
                line += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return _not_utf8(path, what, f"line {line}", " (the file ends inside a character)", head)
    except OSError as exc:
        return DataError(f"cannot read {what + ' ' if what else ''}{path}: {exc.strerror}")
    return _not_utf8(path, what, "somewhere", "", head)


def _not_utf8(path: Path, what: str, where: str, found: str, head: bytes) -> DataError:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        hint = "the file looks like UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"
    else:
        hint = "save the file as UTF-8 (in Excel: 'CSV UTF-8'); other encodings are not guessed"
    label = f"{what} " if what else ""
    return DataError(f"{label}{path}: not valid UTF-8 ({where}){found}", hint=hint)


__all__ = ["ANYWHERE", "EXCERPT_CHARS", "DataAccess", "checked_existing", "checked_file", "checked_folder",
           "excerpt", "excerpt_cells", "open_binary", "open_text", "utf8_error"]


def resolve_hf_path(text: str, base: Path) -> str:
    """The ``hf.path`` of a spec: a local path relative to the spec's folder becomes absolute.

    Local: absolute, starting with ``./``, ``../`` or ``~``, or naming an existing file or folder
    next to the spec. Anything else is a hub id and returned unchanged.
    """
    if text.startswith("hf://"):
        return text
    if text.startswith("~"):
        return str(Path(text).expanduser())
    candidate = Path(text) if Path(text).is_absolute() else base / text
    if Path(text).is_absolute() or text.startswith(("./", "../", ".\\", "..\\")) or candidate.exists():
        return os.path.realpath(candidate)  # not Path.resolve(): it raises on a link loop
    return text
