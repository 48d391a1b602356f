"""One jsonl line → its JSON value, strictly: bad JSON and a key given twice are clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..datapaths import excerpt
from ..errors import DataError


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _fast_json(line: str) -> Any:
    """``line`` parsed by the C scanner when that is provably what the strict path would give, else
    ``_SLOW`` (the caller then takes the strict path, which also words every error).

    Without a backslash no quote is escaped, so a flat object (scalar values) holds exactly two
    quotes per key and per text value: a key given twice would add two more.
    """
    if "\\" in line or not line.startswith("{"):
        return _SLOW
    try:
        value, end = _SCAN(line, 0)
    except (ValueError, RecursionError, StopIteration):
        return _SLOW
    if end != len(line) and not line[end:].isspace():
        return _SLOW
    texts = 0
    for item in value.values():
        kind = type(item)
        if kind is str:
            texts += 1
        elif kind is dict or kind is list:
            return _SLOW
    if line.count('"') != 2 * (len(value) + texts):
        return _SLOW
    return value


_SLOW = object()


def json_line(line: str, path: Path | str, number: int) -> Any:
    """One jsonl line parsed; a clear :class:`DataError` for bad JSON and for a key given twice."""
    fast = _fast_json(line)
    if fast is not _SLOW:
        return fast
    try:
        return json.loads(line, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{number}: not valid JSON ({exc.msg}, column {exc.colno})",
                        hint="one JSON value per line (jsonl)") from None
    except _DuplicateKey as exc:
        raise DataError(f"{path}:{number}: the key {excerpt(exc.key)} appears twice in one object",
                        hint="keep one value per key") from None
    except (ValueError, RecursionError) as exc:  # a number beyond int's digit limit, absurd nesting
        raise DataError(f"{path}:{number}: cannot read this JSON line ({type(exc).__name__}: "
                        f"{excerpt(str(exc))})") from None

