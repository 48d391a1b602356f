"""Storage precisions in a spec (``views.precision``, ``128@int8`` keys, ``precision:`` settings) and
``views.calibration``."""

from __future__ import annotations

import difflib
from typing import Any

from .fields import _Ctx, _mapping, _reject_unknown, _relative, _str, _type_name
from .types import CalibrationSpec


def _precision_key(ctx: _Ctx, text: str, key: str, line: int, precision_ok: bool) -> tuple[int, str]:
    """A ``"128@int8"`` key → ``(128, "int8")``, or a clear error naming the key."""
    from ..views import PRECISIONS, parse_size

    if not precision_ok:
        raise ctx.error(f"{key}.{text}", line, f"{key} does not take a precision ({text!r})",
                        "precisions (128@int8) work in checks.prefix and checks.relative; write the size alone")
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ctx.error(f"{key}.{text}", line, str(exc),
                        f"write the size and one of {', '.join(PRECISIONS)}, e.g. \"128@int8\"") from None


def _parse_precisions(ctx: _Ctx, raw: Any, key: str, line: int) -> tuple[str, ...]:
    """``views.precision``: a list (or one name) of known precisions, in the canonical order."""
    from ..views import PRECISIONS

    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values:
        raise ctx.error(key, line, f"expected a list of precisions, got {_type_name(raw)}",
                        f"precisions: {', '.join(PRECISIONS)}")
    for value in values:
        _known_precision(ctx, value, key, line)
    if len(set(values)) != len(values):
        raise ctx.error(key, line, f"repeated precisions in {values}")
    return tuple(p for p in PRECISIONS if p in values and p != "float32")


def _known_precision(ctx: _Ctx, value: Any, key: str, line: int) -> str:
    from ..views import PRECISIONS

    if value not in PRECISIONS:
        near = difflib.get_close_matches(str(value), PRECISIONS, n=1, cutoff=0.5)
        raise ctx.error(key, line, f"unknown precision {_type_name(value)}",
                        f"did you mean {near[0]!r}?" if near else f"precisions: {', '.join(PRECISIONS)}")
    return str(value)


def _parse_calibration(ctx: _Ctx, raw: Any, line: int) -> CalibrationSpec:
    """``views.calibration: {path, column}``: a text file whose vectors give int8/uint8 ranges."""
    cal = _mapping(ctx, raw, "views.calibration", line)
    _reject_unknown(ctx, cal, ["path", "column"], "views.calibration")
    path = _str(ctx, cal, "path", "views.calibration")
    if path is None:
        raise ctx.error("views.calibration.path", cal.line, "missing required key 'path'",
                        "path: data/calibration.csv (relative to the spec file), with a text column")
    resolved = _relative(ctx, path)
    if not resolved.is_file():
        raise ctx.error("views.calibration.path", cal.line_of("path"), f"calibration file not found: {resolved}",
                        "a csv/tsv/jsonl file of texts, relative to the spec file")
    return CalibrationSpec(resolved, _str(ctx, cal, "column", "views.calibration", "text") or "text", cal.line)
