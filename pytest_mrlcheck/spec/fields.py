"""Typed readers of one value or mapping key; each error names the file, line and dotted key."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..yamlload import LineDict
from .limits import MAX_DIMS, MAX_DIMS_LIST

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+@-]*$")

# A size written as a text: ASCII digits, no sign, no leading zero, no spaces (see _size_key).
_SIZE_TEXT_RE = re.compile(r"^[1-9][0-9]*$")


class _Ctx:
    """Where we are in the file: used to build errors that name path, line and key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, line: int, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, path=self.path, line=line, key=key, hint=hint)


def _type_name(value: Any) -> str:
    """What a value is, for a message: its type, and a short excerpt of scalars only."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, str | int | float):
        return f"{type(value).__name__} {_excerpt(value)}"
    return type(value).__name__


def _excerpt(value: str | int | float, limit: int = 60) -> str:
    """``repr`` of a scalar, cut to ``limit`` characters (a message never quotes a whole huge value)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"(a number of {len(str(abs(value)))} digits)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _optional_mapping(ctx: _Ctx, mapping: LineDict, key: str, where: str) -> LineDict:
    """An optional sub-mapping: omitted or null is an empty mapping on the key's line."""
    value = mapping.get(key)
    if value is None:
        return LineDict(line=mapping.line_of(key))
    return _mapping(ctx, value, f"{where}.{key}" if where else key, mapping.line_of(key))


def _size_key(ctx: _Ctx, raw: Any, key: str, line: int) -> int:
    """A mapping key that is a size: a YAML whole number, or a text of ASCII digits (``"16"``).

    Anything else (``"016"``, ``"16 "``, ``16.0``, ``true``, digits of other scripts such as
    ``"١٦"`` or ``"１６"``) is refused rather than guessed, so two spellings of one size can
    never make two entries.
    """
    if isinstance(raw, str):
        if not _SIZE_TEXT_RE.match(raw):
            raise ctx.error(key, line, f"expected a dimension count as the key, got str {_excerpt(raw)}",
                            "write sizes as plain numbers with the digits 0-9: 16, not '016', '16 ' or '１６'")
        raw = int(raw)
    if isinstance(raw, float) and raw.is_integer():
        raise ctx.error(key, line, f"expected a whole number as the key, got float {_excerpt(raw)}",
                        f"write {int(raw)}")
    return _int(ctx, raw, key, line, maximum=MAX_DIMS)


def _no_repeats(ctx: _Ctx, entries: Iterable[tuple[Any, int]], key: str, what: str) -> None:
    """``(value, line)`` pairs: the same value twice, in any spelling, is an error naming both lines."""
    seen: dict[Any, int] = {}
    for value, line in entries:
        if value in seen:
            raise ctx.error(f"{key}.{value}", line, f"{what} {value} is given twice (first on line {seen[value]})",
                            "each entry may appear once; remove one of them")
        seen[value] = line


def _mapping(ctx: _Ctx, value: Any, key: str, line: int) -> LineDict:
    if not isinstance(value, LineDict):
        raise ctx.error(key, line, f"expected a mapping of keys, got {_type_name(value)}")
    return value


def _reject_unknown(ctx: _Ctx, mapping: LineDict, allowed: Iterable[str], where: str) -> None:
    allowed = list(allowed)
    for key in mapping:
        if not isinstance(key, str) or key not in allowed:
            shown = key if isinstance(key, str) else str(key)[:60]
            near = difflib.get_close_matches(shown[:100], allowed, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]!r}?" if near else f"allowed keys: {', '.join(allowed)}"
            dotted = f"{where}.{shown}" if where else shown
            raise ctx.error(dotted, mapping.line_of(key), f"unknown key {_excerpt(shown)}", hint)


def _required(ctx: _Ctx, mapping: LineDict, key: str, where: str, hint: str | None = None) -> Any:
    if key not in mapping or mapping[key] is None:
        dotted = f"{where}.{key}" if where else key
        raise ctx.error(dotted, mapping.line, f"missing required key {key!r}", hint)
    return mapping[key]


def _str(ctx: _Ctx, mapping: LineDict, key: str, where: str, default: str | None = None) -> str | None:
    value = mapping.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(f"{where}.{key}", mapping.line_of(key), f"expected a text, got {_type_name(value)}")
    return value


def _optional_text(ctx: _Ctx, mapping: LineDict, key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ctx.error(f"{where}.{key}", mapping.line_of(key), f"expected a text, got {_type_name(value)}")
    return value


def _choice(ctx: _Ctx, mapping: LineDict, key: str, where: str, choices: Iterable[str], default: str | None) -> str:
    choices = tuple(choices)
    value = mapping.get(key, default)
    if not isinstance(value, str) or value not in choices:
        near = (difflib.get_close_matches(value[:100], choices, n=1, cutoff=0.5)
                if isinstance(value, str) else [])
        hint = f"did you mean {near[0]!r}?" if near else None
        raise ctx.error(
            f"{where}.{key}",
            mapping.line_of(key),
            f"expected one of {', '.join(choices)}; got {_type_name(value)}",
            hint,
        )
    return str(value)


def _bool(ctx: _Ctx, mapping: LineDict, key: str, where: str, default: bool) -> bool:
    value = mapping.get(key, default)
    if not isinstance(value, bool):
        raise ctx.error(f"{where}.{key}", mapping.line_of(key), f"expected true or false, got {_type_name(value)}")
    return value


def _int(ctx: _Ctx, value: Any, key: str, line: int, minimum: int = 1, *, maximum: int) -> int:
    expected = f"expected a whole number from {minimum} to {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(key, line, f"{expected}, got {_type_name(value)}")
    if value < minimum:
        raise ctx.error(key, line, f"expected a whole number ≥ {minimum}, got {_excerpt(value)}")
    if value > maximum:
        raise ctx.error(key, line, f"{expected}, got {_excerpt(value)}",
                        "the limits of the spec format are listed in the README (Limits)")
    return value


def _float(
    ctx: _Ctx, value: Any, key: str, line: int, low: float = -math.inf, high: float = math.inf
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.error(key, line, f"expected a number, got {_type_name(value)}")
    if isinstance(value, int) and not low <= value <= high:  # before float(): huge ints overflow
        raise ctx.error(key, line, f"expected a number in [{low:g}, {high:g}], got {_excerpt(value)}")
    if not math.isfinite(value):
        raise ctx.error(key, line, f"expected a number, got {_type_name(value)}")
    if not low <= value <= high:
        raise ctx.error(key, line, f"expected a number in [{low:g}, {high:g}], got {_excerpt(value)}")
    return float(value)


def _xfail(ctx: _Ctx, mapping: LineDict, where: str) -> str | None:
    value = mapping.get("xfail")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(
            f"{where}.xfail",
            mapping.line_of("xfail"),
            f"expected a reason (text), got {_type_name(value)}",
            "xfail: \"why this check is expected to fail\" marks the item as xfail",
        )
    return value


def _dims_list(ctx: _Ctx, value: Any, key: str, line: int) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ctx.error(key, line, f"expected a list of dimension counts, got {_type_name(value)}")
    if len(value) > MAX_DIMS_LIST:
        raise ctx.error(key, line, f"expected at most {MAX_DIMS_LIST:,} sizes, got {len(value):,}")
    dims = tuple(_int(ctx, item, key, line, maximum=MAX_DIMS) for item in value)
    repeated = sorted({d for d in dims if dims.count(d) > 1})
    if repeated:
        raise ctx.error(key, line, f"repeated sizes: {', '.join(map(str, repeated))}",
                        "each size may appear once")
    return tuple(sorted(dims))


def _confidence(ctx: _Ctx, mapping: LineDict, where: str) -> float | None:
    if "confidence" not in mapping:
        return None
    return _float(ctx, mapping["confidence"], f"{where}.confidence", mapping.line_of("confidence"), 0.5, 0.999)


def _significance(ctx: _Ctx, mapping: LineDict, where: str) -> float | None:
    if "significance" not in mapping:
        return None
    return _float(ctx, mapping["significance"], f"{where}.significance", mapping.line_of("significance"), 0.0001, 0.5)


def _revision(ctx: _Ctx, mapping: LineDict, where: str) -> str | None:
    """A git revision: a text, or a number YAML read from an all-digit commit prefix."""
    value = mapping.get("revision")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(f"{where}.revision", mapping.line_of("revision"),
                        f"expected a branch, tag or commit (text), got {_type_name(value)}",
                        'quote it: revision: "0123abc"')
    return value


def _label(ctx: _Ctx, raw: Any, where: str, line: int) -> str:
    """A name keying an entry (views.dims, checks.dims): letters, digits and _ . + @ -."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # YAML reads `16:` as a number; the name is the same as "16"
    if not isinstance(raw, str) or not _NAME_RE.match(raw):
        shown = raw if isinstance(raw, str) else type(raw).__name__
        raise ctx.error(f"{where}.{str(shown)[:60]}", line,
                        f"expected a name of letters, digits and _ . + @ -, got {_excerpt(str(shown))}",
                        "names are ASCII: e.g. first_half")
    return raw


def _relative(ctx: _Ctx, text: str) -> Path:
    return Path(text) if Path(text).is_absolute() else _real(ctx.path.parent / text)


def _real(path: Path) -> Path:
    """``path`` absolute with links resolved, like ``Path.resolve()`` but never raising on a link loop
    (the data loaders name the loop when they read the path)."""
    return Path(os.path.realpath(path))
