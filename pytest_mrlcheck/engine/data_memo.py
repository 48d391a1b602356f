"""Local data kept for the length of a run: specs that read the same files the same way load them once.

A corpus shared by several specs (prefixes in one, precision in another, a PCA reference in a
third) is parsed and checked once per process. The key is the task kind, the data settings (all
but the spec line they were written on), the read permission, and the size, modification time and
inode of every file under the data path, so a file rewritten during the run is read again. A load
that warned is not kept: a later spec reading the same data loads it again and shows the same
warnings itself. The kept data is frozen: its arrays are made read-only, so a scorer that wrote
into shared data would fail loudly rather than change another spec's numbers.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..datapaths import DataAccess
from ..spec import DataSpec

T = TypeVar("T")

KEPT = 4  # loads kept at once, the most recently used first to stay


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for folder, subfolders, names in os.walk(path):
            subfolders.sort()
            for name in sorted(names):
                yield Path(folder) / name
    else:
        yield path


def data_key(kind: str, data: DataSpec, access: DataAccess) -> str | None:
    """The memo key of a local load, or None when a path cannot be read (the load reports why)."""
    try:
        stamps = []
        for name in _files(data.path):
            info = name.stat()
            stamps.append(f"{name.resolve()}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}")
    except OSError:
        return None
    settings = dataclasses.replace(data, line=0)
    return "\n".join([kind, repr(settings), repr(access), *stamps])


def _freeze(value: Any) -> None:
    for item in dataclasses.fields(value) if dataclasses.is_dataclass(value) else ():
        field_value = getattr(value, item.name)
        if isinstance(field_value, np.ndarray):
            field_value.flags.writeable = False


@dataclasses.dataclass
class DataMemo:
    """The last ``KEPT`` local loads of this process, by :func:`data_key`."""

    entries: OrderedDict[str, Any] = dataclasses.field(default_factory=OrderedDict)

    def load(self, key: str | None, load: Callable[[], T]) -> T:
        if key is not None and key in self.entries:
            self.entries.move_to_end(key)
            kept: T = self.entries[key]
            return kept
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = load()
        for warning in caught:  # shown as the load would have shown them
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno,
                                   source=warning.source)
        if key is not None and not caught:
            _freeze(value)
            self.entries[key] = value
            while len(self.entries) > KEPT:
                self.entries.popitem(last=False)
        return value
