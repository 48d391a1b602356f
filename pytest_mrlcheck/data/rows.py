"""A local csv, tsv or jsonl data file → its rows, each with its line and its cell for every role.

Strict: a header is declared, never guessed; every row has the header's width; a first row that looks like
a header in a file read without one is refused. The cells themselves are checked by the builders.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from ..datapaths import ANYWHERE, DataAccess, excerpt, excerpt_cells, open_text, utf8_error
from ..errors import DataError
from ..spec import DataSpec
from .jsonlines import json_line
from .values import BLANK, json_kind

#: Cells of a first row that mark it as a header in a file read without one.
_HEADER_WORDS = frozenset({"text", "text1", "text2", "sentence", "sentence1", "sentence2", "sentences", "score",
                           "label", "labels", "split", "query", "positive", "negative", "gold", "similarity"})
_FILE_HINT = "task.data.path is relative to the spec file's folder"


@contextlib.contextmanager
def field_limit() -> Iterator[None]:
    """Let csv read fields of any size while the block runs (csv's default stops at 128 KiB)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, _MAX_FIELD))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


_MAX_FIELD = 2**31 - 1  # the largest limit a C long accepts on every platform


def file_rows(spec: DataSpec, access: DataAccess = ANYWHERE) -> Iterator[tuple[int, dict[Any, Any] | list[str]]]:
    """(line number, row) for each data row of the file."""
    path = spec.path
    handle = open_text(path, "data file", access, _FILE_HINT)
    with handle, field_limit():
        try:
            if spec.format == "jsonl":
                for number, line in enumerate(handle, start=1):
                    if BLANK.fullmatch(line):
                        continue
                    row = json_line(line, path, number)
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{number}: expected a JSON object per line, got {json_kind(row)}",
                                        hint='one object per line, e.g. {"text": "...", "label": "..."}')
                    yield number, row
                return
            yield from _table_rows(spec, handle)
        except UnicodeDecodeError:
            raise utf8_error(path) from None


def _table_rows(spec: DataSpec, handle: TextIO) -> Iterator[tuple[int, dict[Any, Any] | list[str]]]:
    """Rows of a csv/tsv file; every row must have as many cells as the header (or the first row)."""
    path = spec.path
    delimiter = "," if spec.format == "csv" else "\t"
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    width: int | None = None
    last = 0
    try:
        for row in reader:
            start, last = last + 1, reader.line_num
            if not row or (len(row) == 1 and BLANK.fullmatch(row[0])):
                continue
            if spec.header and header is None:
                header = [cell.strip() for cell in row]
                _check_header(spec, header, start)
                width = len(header)
                continue
            if width is None:
                width = len(row)
                _not_a_header(spec, row, start)
            if len(row) != width:
                against = "the header" if header is not None else "the first row"
                raise DataError(
                    f"{path}:{start}: row has {len(row)} cells, {against} has {width}",
                    hint="quote a text that contains the delimiter, a quote or a line break "
                    f"(\"like, this\"); check the format ({spec.format}: "
                    f"{'commas' if spec.format == 'csv' else 'tabs'} separate cells)",
                )
            yield start, (dict(zip(header, row, strict=True)) if header is not None else row)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid {spec.format.upper()} ({exc})",
                        hint="quote texts that contain the delimiter, quotes or line breaks, "
                        "and double a quote inside a quoted text") from None


def _check_header(spec: DataSpec, header: list[str], line: int) -> None:
    used = [name for name in spec.columns.values() if isinstance(name, str)]
    for name in used:
        if header.count(name) > 1:
            raise DataError(f"{spec.path}:{line}: the header names column {excerpt(name)} twice",
                            hint="give every column its own name")
    for role, column in spec.columns.items():
        if isinstance(column, str) and column not in header:
            shown = excerpt_cells(header)
            if len(header) == 1 and ("\t" in header[0] or "," in header[0]):
                other = "tsv" if "\t" in header[0] else "csv"
                hint = f"the file looks {'tab' if other == 'tsv' else 'comma'}-separated: set format: {other}"
            else:
                hint = (f"map it in task.data.columns (e.g. columns: {{{role}: <a column of the header>}}), "
                        "or set header: false for a file without a header")
            raise DataError(f"{spec.path}:{line}: column {excerpt(column)} (for {role}) is not in the header {shown}",
                            hint=hint)


def _not_a_header(spec: DataSpec, row: list[str], line: int) -> None:
    """A file read without a header whose first row names columns is refused, not read as data."""
    cells = [row[c].strip().lower() for c in spec.columns.values() if isinstance(c, int) and c < len(row)]
    if cells and all(cell in _HEADER_WORDS for cell in cells):
        raise DataError(f"{spec.path}:{line}: the first row looks like a header {excerpt_cells(row)}, and the "
                        "file is read without one (header: false, or numbered columns)",
                        hint="set header: true and name the columns, or remove the header row")


def _cell(spec: DataSpec, row: dict[Any, Any] | list[str], role: str, line: int) -> Any:
    column = spec.columns[role]
    if isinstance(row, list):
        assert isinstance(column, int)
        if column >= len(row):
            raise DataError(
                f"{spec.path}:{line}: row has {len(row)} columns, {role} is column {column}",
                hint="check the delimiter (format: csv or tsv) and task.data.columns",
            )
        return row[column]
    if column not in row:
        raise DataError(
            f"{spec.path}:{line}: missing field {excerpt(column)} (for {role})",
            hint="map the field names in task.data.columns",
        )
    return row[column]


@dataclass(frozen=True)
class FileRow:
    """A data file's row as the builders read it: ``path:line`` and the cell of each role."""

    spec: DataSpec
    line: int
    cells: dict[Any, Any] | list[str]

    @property
    def where(self) -> str:
        return f"{self.spec.path}:{self.line}"

    @property
    def number_hint(self) -> str | None:
        """Line 1 of a csv/tsv file read without a header may be a header the spec did not declare."""
        if self.line == 1 and not self.spec.header and self.spec.format != "jsonl":
            return "if line 1 is a header, set header: true"
        return None

    def __getitem__(self, role: str) -> Any:
        return _cell(self.spec, self.cells, role, self.line)


def spec_rows(spec: DataSpec, access: DataAccess = ANYWHERE) -> Iterator[FileRow]:
    """The data rows of ``spec``'s file, read as the builders need them."""
    for line, cells in file_rows(spec, access):
        yield FileRow(spec, line, cells)
