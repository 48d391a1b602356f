"""``provider: precomputed``: vectors a team already has, looked up by text in ``.npz`` files.

A file holds two arrays: ``texts`` (a unicode array, ``N``) and ``embeddings`` (float16, float32
or float64, ``N × d``)::

    np.savez("vectors.npz", texts=np.array(texts, dtype=str), embeddings=matrix.astype(np.float32))

An optional second file (``queries``, same format) answers role ``query``; without it every role
reads the main file. Files load lazily and once (per run, shared between specs); they are read
with ``allow_pickle=False``, so object arrays are refused. The cache identity is the SHA-256 of
the file(s): replacing a file re-reads it, moving it does not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..datapaths import ANYWHERE, DataAccess, checked_file, excerpt, open_binary
from ..errors import DataError, ProviderError
from . import ProviderContext, check_vectors

_SHOW_MISSING = 5
_SHOW_CHARS = 60
_SAVE_HINT = 'np.savez(path, texts=np.array(texts, dtype=str), embeddings=vectors.astype("float32"))'


@dataclass(frozen=True)
class PrecomputedSettings:
    """``path``: the ``.npz`` for documents (and every role without ``queries``); relative paths are
    resolved against the spec's folder."""

    path: Path
    queries: Path | None = None
    normalize: bool = True


def _short(text: str) -> str:
    return excerpt(text, _SHOW_CHARS)


def _checked(path: Path, access: DataAccess) -> Path:
    """``path`` if it is a regular file the spec may read; a :class:`ProviderError` naming the problem."""
    if not os.path.lexists(path):
        raise ProviderError(f"precomputed vectors file {path} does not exist",
                            hint="paths are relative to the spec file's folder")
    try:
        return checked_file(path, "precomputed vectors file", access)
    except DataError as exc:
        raise ProviderError(exc.message, hint=exc.hint) from None


class _Table:
    """One loaded file: text → row, and the matrix."""

    def __init__(self, path: Path, access: DataAccess = ANYWHERE) -> None:
        self.path = path
        texts, embeddings = _load(path, access)
        self.embeddings = embeddings
        self.rows: dict[str, int] = {}
        conflicts: list[str] = []
        for row, text in enumerate(texts.tolist()):
            first = self.rows.setdefault(text, row)
            if first != row and not np.array_equal(embeddings[first], embeddings[row]):
                conflicts.append(text)
        if conflicts:
            shown = ", ".join(_short(t) for t in conflicts[:_SHOW_MISSING])
            raise ProviderError(
                f"{path} holds {len(conflicts)} text(s) more than once with different vectors: {shown}",
                hint="keep one vector per text (identical duplicates are fine)",
            )

    def lookup(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if missing:
            shown = ", ".join(_short(t) for t in missing[:_SHOW_MISSING])
            more = f" and {len(missing) - _SHOW_MISSING} more" if len(missing) > _SHOW_MISSING else ""
            raise ProviderError(
                f"{len(missing)} of {len(set(texts))} texts are not in {self.path}: {shown}{more}",
                hint="the file must hold every text the task encodes, exactly (same whitespace and case; "
                "retrieval documents after the task's document template)",
            )
        index = np.fromiter((self.rows[t] for t in texts), dtype=np.int64, count=len(texts))
        return np.asarray(self.embeddings[index], dtype=np.float32)


def _load(path: Path, access: DataAccess = ANYWHERE) -> tuple[np.ndarray, np.ndarray]:
    _checked(path, access)
    try:
        handle = open_binary(path, "precomputed vectors file", access)
    except DataError as exc:
        raise ProviderError(exc.message, hint=exc.hint) from None
    with handle:
        return _read_archive(path, handle)


def _read_archive(path: Path, handle: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        archive = np.load(handle, allow_pickle=False)
    except Exception as exc:  # numpy and zipfile raise many types for a damaged file; all mean "not readable"
        raise ProviderError(f"cannot read {path} as an .npz file ({type(exc).__name__}: {excerpt(str(exc))})",
                            hint=_SAVE_HINT) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ProviderError(f"{path} is a single .npy array, not an .npz with texts and embeddings",
                            hint=_SAVE_HINT)
    with archive:
        names = set(archive.files)
        if not {"texts", "embeddings"} <= names:
            raise ProviderError(
                f"{path} must hold arrays 'texts' and 'embeddings'; it holds {sorted(names) or 'nothing'}",
                hint=_SAVE_HINT,
            )
        texts = _member(archive, "texts", path, "a unicode array (dtype '<U…')")
        embeddings = _member(archive, "embeddings", path, "float16 or float32")
    if texts.dtype.kind != "U" or texts.ndim != 1:
        raise ProviderError(
            f"{path}: 'texts' must be a 1-D unicode array, got dtype {texts.dtype} with shape {texts.shape}",
            hint=_SAVE_HINT,
        )
    if embeddings.dtype.kind != "f" or embeddings.ndim != 2 or embeddings.shape[1] == 0:
        raise ProviderError(
            f"{path}: 'embeddings' must be a float matrix (N × d), got dtype {embeddings.dtype} "
            f"with shape {embeddings.shape}",
            hint=_SAVE_HINT,
        )
    if embeddings.shape[0] != texts.shape[0]:
        raise ProviderError(f"{path}: {texts.shape[0]} texts but {embeddings.shape[0]} embedding rows")
    bad = ~np.isfinite(embeddings).all(axis=1)
    if bad.any():
        raise ProviderError(f"{path}: {int(bad.sum())} of {len(texts)} embeddings hold NaN or infinite values")
    return texts, embeddings


def _member(archive: Any, name: str, path: Path, expected: str) -> np.ndarray:
    """One array of the archive; an object array or a damaged member is a clear :class:`ProviderError`."""
    try:
        array: np.ndarray = archive[name]
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # "Object arrays cannot be loaded when allow_pickle=False"
            raise ProviderError(f"{path}: {name!r} is an object array; it must be {expected}",
                                hint=_SAVE_HINT + " — object arrays would need pickle, which is never loaded") from None
        raise ProviderError(f"{path}: cannot read the array {name!r} ({excerpt(str(exc))})", hint=_SAVE_HINT) from None
    except Exception as exc:  # a damaged member: zipfile, zlib and numpy raise many types
        raise ProviderError(f"{path}: cannot read the array {name!r} (the file is damaged: {type(exc).__name__}: "
                            f"{excerpt(str(exc))})", hint=_SAVE_HINT) from None
    return array


class PrecomputedEncoder:
    """Looks texts up in one or two ``.npz`` files; no model, no network."""

    def __init__(self, settings: PrecomputedSettings, context: ProviderContext) -> None:
        self.settings = settings
        self.context = context

    def _resolve(self, path: Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else self.context.spec_dir / path

    @property
    def documents_path(self) -> Path:
        return self._resolve(self.settings.path)

    @property
    def queries_path(self) -> Path | None:
        return None if self.settings.queries is None else self._resolve(self.settings.queries)

    def _digest(self, path: Path) -> str:
        return self.context.file_digest(_checked(path, self.context.data_access))

    def identity(self) -> dict[str, Any]:
        queries = self.queries_path
        return {
            "provider": "precomputed",
            "documents": self._digest(self.documents_path),
            "queries": None if queries is None else self._digest(queries),
            "normalize": self.settings.normalize,
        }

    def _table(self, path: Path) -> _Table:
        digest = self._digest(path)  # checks the path first: a link loop or a FIFO is named, not resolved
        key = ("precomputed", os.path.realpath(path), digest)
        table = self.context.loaded_models.get(key)
        if not isinstance(table, _Table):
            table = _Table(path, self.context.data_access)
            self.context.loaded_models[key] = table
        return table

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        queries = self.queries_path
        path = queries if role == "query" and queries is not None else self.documents_path
        vectors = check_vectors(self._table(path).lookup(texts), len(texts), f"precomputed vectors {path}")
        if self.settings.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        return vectors


__all__ = ["PrecomputedEncoder", "PrecomputedSettings"]
