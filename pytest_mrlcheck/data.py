"""Dataset loaders for local files (csv, tsv, jsonl) → task data with every text's role."""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .datapaths import ANYWHERE, DataAccess, checked_folder, excerpt, excerpt_cells, open_text, utf8_error
from .errors import DataError, MrlcheckWarning
from .spec import DataSpec


@dataclass(frozen=True)
class StsData:
    """Sentence pairs with gold scores; ``texts`` is the de-duplicated list the pairs index into."""

    texts: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    gold: np.ndarray
    source: Path

    @property
    def pairs(self) -> int:
        return len(self.gold)

    def fingerprint(self) -> str:
        """SHA-256 of the texts and labels actually used, in order."""
        digest = hashlib.sha256()
        for i, j, score in zip(self.left, self.right, self.gold, strict=True):
            digest.update(self.texts[i].encode())
            digest.update(b"\x00")
            digest.update(self.texts[j].encode())
            digest.update(f"\x00{score!r}\n".encode())
        return digest.hexdigest()


_BLANK = re.compile(r"\s*")
#: Numbers in data files: ASCII digits, an optional sign, point and exponent (no ``_``, no other digits).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: Cells of a first row that mark it as a header in a file read without one.
_HEADER_WORDS = frozenset({"text", "text1", "text2", "sentence", "sentence1", "sentence2", "sentences", "score",
                           "label", "labels", "split", "query", "positive", "negative", "gold", "similarity"})
_FILE_HINT = "task.data.path is relative to the spec file's folder"


@contextlib.contextmanager
def _field_limit() -> Iterator[None]:
    """Let csv read fields of any size while the block runs (csv's default stops at 128 KiB)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, _MAX_FIELD))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


_MAX_FIELD = 2**31 - 1  # the largest limit a C long accepts on every platform


def _rows(spec: DataSpec, access: DataAccess = ANYWHERE) -> Iterator[tuple[int, dict[Any, Any] | list[str]]]:
    """(line number, row) for each data row of the file."""
    path = spec.path
    handle = open_text(path, "data file", access, _FILE_HINT)
    with handle, _field_limit():
        try:
            if spec.format == "jsonl":
                for number, line in enumerate(handle, start=1):
                    if _BLANK.fullmatch(line):
                        continue
                    row = json_line(line, path, number)
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{number}: expected a JSON object per line, got {_json_kind(row)}",
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
            if not row or (len(row) == 1 and _BLANK.fullmatch(row[0])):
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


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


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


def text_value(value: Any, where: str, role: str) -> str:
    """``value`` as a text to embed: a non-blank string of valid Unicode, else a :class:`DataError`."""
    if not isinstance(value, str):
        got = "null" if value is None else f"{type(value).__name__} {excerpt(value)}"
        raise DataError(f"{where}: {role} must be text, got {got}")
    if _BLANK.fullmatch(value):
        raise DataError(f"{where}: {role} is empty", hint="every row needs a text: fill it in or remove the row")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"{where}: {role} holds invalid Unicode (an unpaired surrogate such as \\ud800)",
                        hint="write the character itself, or a valid surrogate pair") from None
    return value


def number_value(raw: Any, where: str, role: str) -> float:
    """A finite number from a cell (ASCII digits only) or a JSON number; booleans are not numbers."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        got = "null" if raw is None else f"{type(raw).__name__} {excerpt(raw)}"
        raise DataError(f"{where}: {role} must be a number, got {got}")
    if isinstance(raw, str):
        if not _NUMBER.fullmatch(raw.strip()):
            raise DataError(f"{where}: {role} {excerpt(raw)} is not a number",
                            hint=f"the {role} column must hold numbers written with ASCII digits and a '.' "
                            f"decimal point; check task.data.columns.{role}")
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
    if isinstance(raw, bool) or raw is None or not isinstance(raw, int | float | str):
        got = "null" if raw is None else f"{type(raw).__name__} {excerpt(raw)}"
        if raw is None:
            raise DataError(f"{where}: empty {role}")
        raise DataError(f"{where}: {role} must be a text or a whole number, got {got}")
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


def load_sts(spec: DataSpec, access: DataAccess = ANYWHERE) -> StsData:
    """Read sentence pairs and gold scores; clear errors for missing columns and bad scores."""
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    gold: list[float] = []
    for line, row in _rows(spec, access):
        if spec.limit is not None and len(gold) >= spec.limit:
            break
        where = f"{spec.path}:{line}"
        first = text_value(_cell(spec, row, "text1", line), where, "text1")
        second = text_value(_cell(spec, row, "text2", line), where, "text2")
        try:
            score = number_value(_cell(spec, row, "score", line), where, "score")
        except DataError as exc:
            if line == 1 and not spec.header and spec.format != "jsonl":
                raise DataError(exc.message, hint="if line 1 is a header, set header: true") from None
            raise
        left.append(index.setdefault(first, len(index)))
        right.append(index.setdefault(second, len(index)))
        gold.append(score)
    if not gold:
        raise DataError(f"{spec.path}: no sentence pairs found (the dataset is empty)")
    if len(gold) < 3:
        raise DataError(f"{spec.path}: only {len(gold)} pairs; a correlation needs at least 3")
    if len(set(gold)) == 1:
        raise DataError(f"{spec.path}: every gold score is {gold[0]}; a correlation needs varied scores")
    return StsData(
        texts=tuple(index),
        left=np.array(left, dtype=np.intp),
        right=np.array(right, dtype=np.intp),
        gold=np.array(gold, dtype=np.float64),
        source=spec.path,
    )


class MrlcheckDataWarning(MrlcheckWarning):
    """Data was usable but not clean (e.g. judgements naming unknown documents)."""


@dataclass(frozen=True)
class RetrievalData:
    """Queries, a corpus and graded judgements (BEIR layout)."""

    query_ids: tuple[str, ...]
    queries: tuple[str, ...]
    doc_ids: tuple[str, ...]
    documents: tuple[str, ...]
    qrels: dict[str, dict[str, int]]
    unjudged_queries: int
    source: Path

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for ids, texts in ((self.query_ids, self.queries), (self.doc_ids, self.documents)):
            for identifier, text in zip(ids, texts, strict=True):
                digest.update(f"{identifier}\x00{text}\n".encode())
        for query in sorted(self.qrels):
            for doc, grade in sorted(self.qrels[query].items()):
                digest.update(f"{query}\x00{doc}\x00{grade}\n".encode())
        return digest.hexdigest()


_BEIR_HINT = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv"
#: Header cells of a qrels file (BEIR: query-id, corpus-id, score; TREC: query, iteration, document, grade).
_QRELS_HEADER = frozenset({"query-id", "query_id", "qid", "query", "queryid", "corpus-id", "corpus_id", "doc-id",
                           "doc_id", "docid", "document", "pid", "score", "grade", "relevance", "label", "rel",
                           "iteration", "iter", "q0"})


def _read_jsonl_records(path: Path, what: str, access: DataAccess = ANYWHERE) -> list[tuple[int, dict[str, Any]]]:
    """``(line, object)`` of a BEIR corpus or queries file; every object has a usable ``_id``."""
    records = []
    with open_text(path, f"{what} file", access, _BEIR_HINT) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if _BLANK.fullmatch(line):
                    continue
                row = json_line(line, path, number)
                if not isinstance(row, dict):
                    raise DataError(f"{path}:{number}: expected a JSON object, got {_json_kind(row)}",
                                    hint='one object per line: {"_id": "...", "text": "..."}')
                if "_id" not in row:
                    raise DataError(f"{path}:{number}: expected a JSON object with an \"_id\"",
                                    hint='one object per line: {"_id": "...", "text": "..."}')
                raw = row["_id"]
                if not (type(raw) is str and raw.isascii() and raw and not raw.isspace()):  # else: as is
                    row["_id"] = identifier_value(raw, f"{path}:{number}")
                records.append((number, row))
        except UnicodeDecodeError:
            raise utf8_error(path) from None
    return records


def identifier_value(raw: Any, where: str, role: str = "_id") -> str:
    """A document or query id: a non-blank text or a whole number, as text."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        got = "null" if raw is None else f"{type(raw).__name__} {excerpt(raw)}"
        raise DataError(f"{where}: {role} must be a text or a whole number, got {got}")
    return text_value(str(raw), where, role)


def _unique_ids(records: list[tuple[int, dict[str, Any]]], path: Path) -> None:
    if len({row["_id"] for _, row in records}) == len(records):
        return
    seen: dict[str, int] = {}
    for number, row in records:
        identifier = str(row["_id"])
        if identifier in seen:
            raise DataError(f"{path}:{number}: duplicate id {excerpt(identifier)} (first on line {seen[identifier]})",
                            hint="every document and query needs its own _id")
        seen[identifier] = number


def _check_record_texts(records: list[tuple[int, dict[str, Any]]], path: Path, fields: tuple[str, ...]) -> None:
    """Each record's text fields are text (or null) and at least one of them is not blank."""
    for number, row in records:
        if _plain_texts(row, fields):
            continue
        where = f"{path}:{number}"
        values = [_text_field(row.get(field), where, str(row["_id"])) for field in fields]
        if all(_BLANK.fullmatch(value) for value in values):
            raise DataError(f"{where}: id {excerpt(row['_id'])} has no text ({' and '.join(fields)} empty)",
                            hint="every document and query needs a text to embed: fill it in or remove the line")


def read_qrels(path: Path, access: DataAccess = ANYWHERE) -> list[tuple[str, str, int]]:
    """``(query id, document id, grade)`` of a BEIR ``qrels/<split>.tsv`` (or TREC four-column) file.

    The first line is a header only when it names the columns (``query-id corpus-id score``); every row
    has the same number of cells (3, or 4 for TREC's ``query iteration document grade``); grades are
    numbers. A pair judged twice with the same grade is kept once (with a warning), with different
    grades it is an error. Fractional grades are truncated to whole numbers, with a warning.
    """
    judgements: dict[tuple[str, str], tuple[int, int]] = {}
    repeated = 0
    fractional: list[tuple[int, str]] = []
    with open_text(path, "judgements file", access, _BEIR_HINT) as handle, _field_limit():
        reader = csv.reader(handle, delimiter="\t", strict=True)
        width: int | None = None
        last = 0
        try:
            for row in reader:
                start, last = last + 1, reader.line_num
                if not row or (len(row) == 1 and _BLANK.fullmatch(row[0])):
                    continue
                cells = [cell.strip() for cell in row]
                if width is None:
                    width = len(cells)
                    if width not in (3, 4):
                        raise DataError(f"{path}:{start}: expected 3 tab-separated cells (query-id, corpus-id, "
                                        f"score), got {len(cells)}: {excerpt_cells(cells)}",
                                        hint="BEIR judgements: query-id<TAB>corpus-id<TAB>score; TREC: query "
                                        "iteration document grade")
                    if not _NUMBER.fullmatch(cells[-1]) and all(c.lower() in _QRELS_HEADER for c in cells):
                        continue  # the header
                if len(cells) != width:
                    raise DataError(f"{path}:{start}: row has {len(cells)} cells, the first row {width}",
                                    hint="every judgement is query-id<TAB>corpus-id<TAB>score")
                query, doc, grade_text = (cells[0], cells[1], cells[2]) if width == 3 else (cells[0], cells[2],
                                                                                            cells[3])
                where = f"{path}:{start}"
                query = identifier_value(query, where, "query-id")
                doc = identifier_value(doc, where, "corpus-id")
                if not _NUMBER.fullmatch(grade_text):
                    hint = ("if line 1 is a header, name its columns query-id, corpus-id, score" if start == 1
                            else "grades are numbers (0 = not relevant)")
                    raise DataError(f"{where}: score {excerpt(grade_text)} is not a number", hint=hint)
                value = float(grade_text)
                if not math.isfinite(value):
                    raise DataError(f"{where}: score {excerpt(grade_text)} is not a finite number")
                if not value.is_integer():
                    fractional.append((start, grade_text))
                grade = int(value)
                key = (query, doc)
                if key in judgements:
                    first_grade, first_line = judgements[key]
                    if first_grade != grade:
                        raise DataError(f"{where}: query {excerpt(query)} and document {excerpt(doc)} are judged "
                                        f"again with another grade ({grade}; {first_grade} on line {first_line})",
                                        hint="keep one judgement per pair")
                    repeated += 1
                    continue
                judgements[key] = (grade, start)
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: not valid TSV ({exc})",
                            hint="quote ids that contain tabs or quotes") from None
        except UnicodeDecodeError:
            raise utf8_error(path) from None
    if repeated:
        warnings.warn(f"{path}: {repeated} judgements repeat an earlier one (same pair, same grade); each pair "
                      "was counted once", MrlcheckDataWarning, stacklevel=3)
    if fractional:
        line, text = fractional[0]
        warnings.warn(f"{path}: {len(fractional)} of {len(judgements) + repeated} judgements have fractional grades "
                      f"(first on line {line}: {excerpt(text)}); grades are whole numbers (as pytrec_eval, BEIR and "
                      "MTEB read them), so they were truncated toward zero", MrlcheckDataWarning, stacklevel=3)
    return [(query, doc, grade) for (query, doc), (grade, _) in judgements.items()]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a big corpus is read: its hundreds of thousands of new
    dicts (nothing cyclic) would otherwise trigger full collections over a growing heap, which cost
    more than the parsing itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_beir(spec: DataSpec, access: DataAccess = ANYWHERE) -> RetrievalData:
    """Read a BEIR folder; judgements naming unknown ids are counted and warned about, not fatal."""
    with _collector_paused():
        return _load_beir(spec, access)


def _load_beir(spec: DataSpec, access: DataAccess) -> RetrievalData:
    folder = checked_folder(spec.path, "BEIR folder", access, "task.data.path is relative to the spec file")
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{spec.split or 'test'}.tsv"
    corpus = _read_jsonl_records(corpus_path, "corpus", access)
    queries = _read_jsonl_records(queries_path, "queries", access)
    _unique_ids(corpus, corpus_path)
    _unique_ids(queries, queries_path)
    if not corpus:
        raise DataError(f"{corpus_path}: the corpus is empty")
    _check_record_texts(corpus, corpus_path, ("title", "text"))
    _check_record_texts(queries, queries_path, ("text",))
    if not os.path.lexists(qrels_path):
        qrels_folder = folder / "qrels"
        available = sorted(p.stem for p in qrels_folder.glob("*.tsv")) if qrels_folder.is_dir() else []
        raise DataError(f"judgements file not found: {qrels_path}",
                        hint=f"splits available: {', '.join(available) or 'none'}; set task.data.split")
    judgements = read_qrels(qrels_path, access)
    return build_retrieval_data(
        [(str(row["_id"]), row) for _, row in corpus],
        [(str(row["_id"]), row) for _, row in queries],
        judgements,
        what=str(qrels_path),
        source=folder,
        document=spec.document,
        limit=spec.limit,
    )


def _plain_texts(row: dict[str, Any], fields: tuple[str, ...]) -> bool:
    """True when every field is ASCII text or missing and one is not blank: nothing to check further
    (ASCII holds no unpaired surrogate); anything else takes the checking path."""
    filled = False
    for field in fields:
        value = row.get(field)
        if value is None:
            continue
        if type(value) is not str or not value.isascii():
            return False
        filled = filled or not (value == "" or value.isspace())
    return filled


def _plain(value: Any) -> str | None:
    """``value`` when it is ASCII text ("" for None): nothing to check; None when it needs checking."""
    if value is None:
        return ""
    return value if type(value) is str and value.isascii() else None


def _text_field(value: Any, what: str, identifier: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(f"{what}: id {excerpt(identifier)}: expected text, got {type(value).__name__}",
                        hint="mrlcheck embeds text; image, audio and conversation tasks are not supported")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"{what}: id {excerpt(identifier)}: invalid Unicode (an unpaired surrogate)") from None
    return value


def _field_text(fields: dict[str, Any], name: str, what: str, identifier: str) -> str:
    plain = _plain(fields.get(name))
    return plain if plain is not None else _text_field(fields.get(name), what, identifier)


def build_retrieval_data(
    corpus: Sequence[tuple[str, dict[str, Any]]],
    queries: Sequence[tuple[str, dict[str, Any]]],
    judgements: Iterable[tuple[str, str, Any]],
    *,
    what: str,
    source: Path,
    document: str = "{title} {text}",
    limit: int | None = None,
) -> RetrievalData:
    """Corpus and query records and ``(query id, document id, grade)`` judgements → :class:`RetrievalData`.

    Documents are ``document.format(title=…, text=…)`` and must not be blank, nor may queries;
    judgements naming unknown ids are counted and warned about; fractional grades are truncated
    with a warning, and so are judged queries without any relevant document; queries without
    judgements are counted, not kept; ``limit`` keeps the first N judged queries. Shared by the
    BEIR folder loader and the ``hf:``/``mteb:`` loaders.
    """
    if not corpus:
        raise DataError(f"{what}: the corpus is empty")
    doc_ids = tuple(identifier for identifier, _ in corpus)
    texts = []
    for identifier, fields in corpus:
        title, text = _plain(fields.get("title")), _plain(fields.get("text"))
        if title is None or text is None:
            title = _text_field(fields.get("title"), what, identifier)
            text = _text_field(fields.get("text"), what, identifier)
        texts.append(document.format(title=title, text=text).strip())
    documents = tuple(texts)
    for identifier, text in zip(doc_ids, documents, strict=True):
        if not text:
            raise DataError(f"{what}: document {excerpt(identifier)} has no text (title and text empty)",
                            hint="every document needs a text to embed")
    query_text = {identifier: _field_text(fields, "text", what, identifier) for identifier, fields in queries}
    for identifier, text in query_text.items():
        if _BLANK.fullmatch(text):
            raise DataError(f"{what}: query {excerpt(identifier)} has no text", hint="every query needs a text")
    known_docs = set(doc_ids)
    qrels: dict[str, dict[str, int]] = {}
    unknown_docs = unknown_queries = fractional = 0
    for query, doc, raw in judgements:
        value = number_value(raw, f"{what}: judgement ({excerpt(query)}, {excerpt(doc)})", "score")
        if not value.is_integer():
            fractional += 1
        grade = int(value)
        if query not in query_text:
            unknown_queries += 1
            continue
        if doc not in known_docs:
            unknown_docs += 1
            continue
        qrels.setdefault(query, {})[doc] = grade
    if unknown_docs or unknown_queries:
        warnings.warn(
            f"{what}: {unknown_docs} judgements name documents and {unknown_queries} name queries "
            "that are not in the corpus/queries files; they were ignored",
            MrlcheckDataWarning,
            stacklevel=3,
        )
    if fractional:
        warnings.warn(f"{what}: {fractional} judgements have fractional grades; grades are whole numbers, so they "
                      "were truncated toward zero", MrlcheckDataWarning, stacklevel=3)
    judged = [q for q in query_text if q in qrels]
    unjudged = len(query_text) - len(judged)
    if not judged:
        raise DataError(f"{what}: no query in the queries has a judgement",
                        hint="check that the qrels ids match the query ids")
    if limit is not None:
        judged = judged[:limit]
        qrels = {q: qrels[q] for q in judged}
    hopeless = sum(1 for q in judged if all(grade <= 0 for grade in qrels[q].values()))
    if hopeless:
        every = ("every judged query has" if hopeless == len(judged)
                 else f"{hopeless} of {len(judged)} judged queries have")
        warnings.warn(f"{what}: {every} no relevant document (every grade is 0 or less); such a query scores 0 in "
                      "every view", MrlcheckDataWarning, stacklevel=3)
    return RetrievalData(tuple(judged), tuple(query_text[q] for q in judged), doc_ids, documents, qrels, unjudged,
                         source)


def _digest(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, ensure_ascii=False, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _text(spec: DataSpec, row: dict[Any, Any] | list[str], role: str, line: int) -> str:
    return text_value(_cell(spec, row, role, line), f"{spec.path}:{line}", role)


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with a class label (and, for classification, a split per row)."""

    texts: tuple[str, ...]  # unique
    rows: np.ndarray  # index into ``texts`` per data row
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    source: Path

    def fingerprint(self) -> str:
        return _digest([self.texts[i] for i in self.rows], self.labels, self.splits)


def load_labelled(spec: DataSpec, with_split: bool, access: DataAccess = ANYWHERE) -> LabelledTexts:
    index: dict[str, int] = {}
    rows: list[int] = []
    labels: list[str] = []
    splits: list[str] = []
    for line, row in _rows(spec, access):
        if spec.limit is not None and len(rows) >= spec.limit:
            break
        where = f"{spec.path}:{line}"
        text = _text(spec, row, "text", line)
        label = label_value(_cell(spec, row, "label", line), where)
        rows.append(index.setdefault(text, len(index)))
        labels.append(label)
        splits.append(label_value(_cell(spec, row, "split", line), where, "split") if with_split else "")
    if not rows:
        raise DataError(f"{spec.path}: no rows found (the dataset is empty)")
    if len(set(labels)) < 2:
        raise DataError(f"{spec.path}: every row has the label {excerpt(labels[0])}; at least two classes are needed")
    return LabelledTexts(tuple(index), np.array(rows, dtype=np.intp), tuple(labels), tuple(splits), spec.path)


@dataclass(frozen=True)
class PairLabels:
    texts: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    labels: np.ndarray  # 0/1
    source: Path

    def fingerprint(self) -> str:
        return _digest([self.texts[i] for i in self.left], [self.texts[i] for i in self.right], self.labels.tolist())


_BINARY = {"0": 0, "1": 1, "true": 1, "false": 0, "0.0": 0, "1.0": 1}


def binary_label(raw: Any, where: str) -> int:
    """A pair label: 0/1, true/false (JSON booleans too), 0.0/1.0."""
    value = str(raw).strip().lower() if isinstance(raw, str | int | float) else None
    if value is None or value not in _BINARY:
        raise DataError(f"{where}: label {excerpt(raw)} is not 0 or 1",
                        hint="pair classification needs binary labels (1 = same meaning)")
    return _BINARY[value]


def load_pair_labels(spec: DataSpec, access: DataAccess = ANYWHERE) -> PairLabels:
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    labels: list[int] = []
    for line, row in _rows(spec, access):
        if spec.limit is not None and len(labels) >= spec.limit:
            break
        first, second = _text(spec, row, "text1", line), _text(spec, row, "text2", line)
        labels.append(binary_label(_cell(spec, row, "label", line), f"{spec.path}:{line}"))
        left.append(index.setdefault(first, len(index)))
        right.append(index.setdefault(second, len(index)))
    if not labels:
        raise DataError(f"{spec.path}: no pairs found (the dataset is empty)")
    if len(set(labels)) < 2:
        raise DataError(f"{spec.path}: every pair has label {labels[0]}; average precision needs both classes")
    return PairLabels(tuple(index), np.array(left, dtype=np.intp), np.array(right, dtype=np.intp),
                      np.array(labels, dtype=np.int64), spec.path)


@dataclass(frozen=True)
class RerankData:
    queries: tuple[str, ...]
    candidates: tuple[str, ...]  # unique candidate texts
    rows: tuple[tuple[int, ...], ...]  # per query: candidate indices
    labels: tuple[tuple[int, ...], ...]  # per query: 0/1 per candidate
    source: Path

    def fingerprint(self) -> str:
        return _digest(self.queries, [[self.candidates[i] for i in row] for row in self.rows], self.labels)


def load_rerank(spec: DataSpec, access: DataAccess = ANYWHERE) -> RerankData:
    index: dict[str, int] = {}
    queries: list[str] = []
    rows: list[tuple[int, ...]] = []
    labels: list[tuple[int, ...]] = []
    for line, row in _rows(spec, access):
        if spec.limit is not None and len(queries) >= spec.limit:
            break
        assert isinstance(row, dict)
        where = f"{spec.path}:{line}"
        query = _text(spec, row, "query", line)
        lists = []
        for role in ("positive", "negative"):
            value = _cell(spec, row, role, line)
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise DataError(f"{where}: {role} must be a list of texts, got {_json_kind(value)}")
            lists.append([text_value(v, where, f"{role}[{i}]") for i, v in enumerate(value)])
        positives, negatives = lists
        both = set(positives) & set(negatives)
        if both:
            raise DataError(f"{where}: {excerpt(next(iter(both)))} is both a positive and a negative candidate",
                            hint="a candidate is either relevant or not")
        if len(set(positives)) != len(positives) or len(set(negatives)) != len(negatives):
            raise DataError(f"{where}: a candidate is listed twice", hint="list each candidate once")
        candidates = [*positives, *negatives]
        queries.append(query)
        rows.append(tuple(index.setdefault(text, len(index)) for text in candidates))
        labels.append(tuple([1] * len(positives) + [0] * len(negatives)))
    if not queries:
        raise DataError(f"{spec.path}: no queries found (the dataset is empty)")
    if not any(0 < sum(marks) < len(marks) for marks in labels):
        raise DataError(f"{spec.path}: no query has both a positive and a negative candidate")
    return RerankData(tuple(queries), tuple(index), tuple(rows), tuple(labels), spec.path)


def load_texts(spec: DataSpec, access: DataAccess = ANYWHERE) -> tuple[str, ...]:
    """The unique texts of a file (column ``text``), in order: a corpus without labels.

    A text that repeats is kept once (its first row), with a warning that counts the repeats.
    """
    seen: dict[str, None] = {}
    repeats = 0
    for line, row in _rows(spec, access):
        if spec.limit is not None and len(seen) >= spec.limit:
            break
        text = _text(spec, row, "text", line)
        if text in seen:
            repeats += 1
        seen.setdefault(text, None)
    if repeats:
        warnings.warn(f"{spec.path}: {repeats} rows repeat an earlier text; each text was used once",
                      MrlcheckDataWarning, stacklevel=2)
    if len(seen) < 2:
        raise DataError(f"{spec.path}: {len(seen)} texts; agreement needs a corpus of at least 2")
    return tuple(seen)
