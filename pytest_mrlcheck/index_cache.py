"""The on-disk cache of built ANN indexes: one file per index, in ``<cache folder>/indexes``.

A file is a short header (magic, the build's seconds) followed by FAISS' own serialization
(``serialize_index``; never pickle), written atomically. Keys hash the document vectors' digest,
the index kind, its build parameters, precision, size and similarity, so a warm run loads what a
cold run built and any change builds anew. A file that cannot be read (truncated, damaged, or not
holding the vectors it should) is moved aside as ``*.corrupt`` with a warning, and rebuilt.
Without a cache folder (``--mrlcheck-no-cache``) nothing is read or written.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .errors import FileWriteError
from .store import MrlcheckCacheWarning

_MAGIC = b"MRLIDX1\n"
_HEADER = struct.Struct("<d")  # build seconds
SUFFIX = ".faissindex"


def cache_folder(store: Any) -> Path | None:
    """Where a run's indexes live: beside the embedding cache (none for an in-memory store)."""
    directory = getattr(store, "directory", None)
    return None if directory is None else Path(directory) / "indexes"


class IndexCache:
    """Load and save serialized indexes by key; a ``None`` folder caches nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._write_failed = False

    def path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{key}{SUFFIX}"

    def load(self, key: str, binary: bool, fits: Callable[[Any], bool]) -> tuple[Any, float] | None:
        """The cached index and its build seconds, or None (absent, or damaged and moved aside)."""
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        import faiss

        try:
            data = path.read_bytes()
        except OSError:
            return None
        header = len(_MAGIC) + _HEADER.size
        try:
            if not data.startswith(_MAGIC) or len(data) <= header:
                raise ValueError("not an index file written by pytest-mrlcheck")
            (seconds,) = _HEADER.unpack_from(data, len(_MAGIC))
            payload = np.frombuffer(data, dtype=np.uint8, offset=header)
            index = (faiss.deserialize_index_binary(payload) if binary else faiss.deserialize_index(payload))
            if not fits(index):
                raise ValueError("it holds other vectors than the ones it is filed under")
        except (ValueError, RuntimeError, struct.error) as exc:
            self._move_aside(path, str(exc).splitlines()[0][:200])
            return None
        return index, float(seconds)

    def save(self, key: str, index: Any, binary: bool, seconds: float) -> None:
        """Write the index (atomically); a cache that cannot be written warns once and is skipped."""
        path = self.path(key)
        if path is None or self._write_failed:
            return
        import faiss

        payload = faiss.serialize_index_binary(index) if binary else faiss.serialize_index(index)
        try:
            atomic.write_bytes(path, _MAGIC + _HEADER.pack(seconds) + payload.tobytes())
        except FileWriteError as exc:
            self._write_failed = True
            warnings.warn_explicit(f"built indexes are not cached: {exc.message}", MrlcheckCacheWarning,
                                   "index cache", 0)

    @staticmethod
    def _move_aside(path: Path, reason: str) -> None:
        target = path.with_name(path.name + ".corrupt")
        with contextlib.suppress(OSError):
            path.replace(target)
        warnings.warn_explicit(f"the cached index {path.name} could not be used ({reason}); it was moved to "
                               f"{target.name} and is being rebuilt", MrlcheckCacheWarning, "index cache", 0)
