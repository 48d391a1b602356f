"""One reading of every cell a dataset holds: texts, numbers, labels and ids, each with one message per fault.

Every loader (local files, BEIR folders, ``hf:`` and ``mteb:`` data) reads cells through these functions, so
the same bad value reads the same wherever it came from. ``where`` names the cell's origin: ``file:line``
or ``dataset: row N``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..datapaths import excerpt
from ..errors import DataError

BLANK = re.compile(r"\s*")
#: Numbers in data files: ASCII digits, an optional sign, point and exponent (no ``_``, no other digits).
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Origin:
    """Where a row came from: a file's line (``path:3``) or a dataset's row (``dataset 'x' (…): row 3``)."""

    source: str
    number: int
    unit: str = "line"  # "line" for files, "row" for tables

    def __str__(self) -> str:
        return f"{self.source}:{self.number}" if self.unit == "line" else f"{self.source}: row {self.number}"

    @property
    def place(self) -> str:
        """``on line 3`` / ``in row 3``, for messages that point back to an earlier row."""
        return f"on line {self.number}" if self.unit == "line" else f"in row {self.number}"


def json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _got(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {excerpt(value)}"


def text_value(value: Any, where: str, role: str) -> str:
    """``value`` as a text to embed: a non-blank string of valid Unicode, else a :class:`DataError`."""
    if not isinstance(value, str):
        raise DataError(f"{where}: {role} must be text, got {_got(value)}")
    if BLANK.fullmatch(value):
        raise DataError(f"{where}: {role} is empty", hint="every row needs a text: fill it in or remove the row")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"{where}: {role} holds invalid Unicode (an unpaired surrogate such as \\ud800)",
                        hint="write the character itself, or a valid surrogate pair") from None
    return value


def number_value(raw: Any, where: str, role: str, hint: str | None = None) -> float:
    """A finite number from a cell (ASCII digits only) or a JSON number; booleans are not numbers.

    ``hint`` replaces the usual advice for a text that is not a number.
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise DataError(f"{where}: {role} must be a number, got {_got(raw)}")
    if isinstance(raw, str):
        if not NUMBER.fullmatch(raw.strip()):
            raise DataError(f"{where}: {role} {excerpt(raw)} is not a number",
                            hint=hint or f"the {role} column must hold numbers written with ASCII digits and a "
                            f"'.' decimal point; check task.data.columns.{role}")
        raw = raw.strip()
    try:
        value = float(raw)
    except OverflowError:
        raise DataError(f"{where}: {role} {excerpt(raw)} is too large for a number") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {role} {excerpt(raw)} is not a finite number")
    return value


def label_value(raw: Any, where: str, role: str = "label") -> str:
    """A class label: a non-blank text (surrounding spaces dropped) or a whole number (``1.0`` reads as ``1``)."""
    if raw is None:
        raise DataError(f"{where}: empty {role}")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise DataError(f"{where}: {role} must be a text or a whole number, got {_got(raw)}")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise DataError(f"{where}: empty {role}" if math.isnan(raw) else f"{where}: {role} {raw} is not a label")
        if not raw.is_integer():
            raise DataError(f"{where}: {role} {raw!r} is a fractional number, not a class",
                            hint="labels are texts or whole numbers")
        return str(int(raw))
    if isinstance(raw, int):
        return str(raw)
    label = raw.strip()
    if not label:
        raise DataError(f"{where}: empty {role}")
    return text_value(label, where, role)


_BINARY = {"0": 0, "1": 1, "true": 1, "false": 0, "0.0": 0, "1.0": 1}


def binary_label(raw: Any, where: str) -> int:
    """A pair label: 0/1, true/false (JSON booleans too), 0.0/1.0."""
    value = str(raw).strip().lower() if isinstance(raw, str | int | float) else None
    if value is None or value not in _BINARY:
        raise DataError(f"{where}: label {excerpt(raw)} is not 0 or 1",
                        hint="pair classification needs binary labels (1 = same meaning)")
    return _BINARY[value]


def identifier_value(raw: Any, where: str, role: str = "_id") -> str:
    """A document or query id: a non-blank text or a whole number, as text."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise DataError(f"{where}: {role} must be a text or a whole number, got {_got(raw)}")
    return text_value(str(raw), where, role)
