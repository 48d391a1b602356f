"""A local BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) → :class:`RetrievalData`."""

from __future__ import annotations

import contextlib
import csv
import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..datapaths import ANYWHERE, DataAccess, checked_folder, excerpt_cells, open_text, utf8_error
from ..errors import DataError
from ..spec import DataSpec
from .jsonlines import json_line
from .records import RetrievalData
from .retrieval_records import IdRow, build_retrieval_data, checked_records, judgements
from .rows import field_limit
from .values import BLANK, NUMBER, identifier_value, json_kind

_BEIR_HINT = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv"
#: Header cells of a qrels file (BEIR: query-id, corpus-id, score; TREC: query, iteration, document, grade).
_QRELS_HEADER = frozenset({"query-id", "query_id", "qid", "query", "queryid", "corpus-id", "corpus_id", "doc-id",
                           "doc_id", "docid", "document", "pid", "score", "grade", "relevance", "label", "rel",
                           "iteration", "iter", "q0"})


def _read_jsonl_records(path: Path, what: str, access: DataAccess = ANYWHERE) -> list[IdRow]:
    """``(line, id, object)`` of a BEIR corpus or queries file; every object has a usable ``_id``."""
    records: list[IdRow] = []
    with open_text(path, f"{what} file", access, _BEIR_HINT) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if BLANK.fullmatch(line):
                    continue
                row = json_line(line, path, number)
                if not isinstance(row, dict):
                    raise DataError(f"{path}:{number}: expected a JSON object, got {json_kind(row)}",
                                    hint='one object per line: {"_id": "...", "text": "..."}')
                if "_id" not in row:
                    raise DataError(f"{path}:{number}: expected a JSON object with an \"_id\"",
                                    hint='one object per line: {"_id": "...", "text": "..."}')
                raw = row["_id"]
                if not (type(raw) is str and raw.isascii() and raw and not raw.isspace()):  # else: as is
                    raw = identifier_value(raw, f"{path}:{number}")
                records.append((number, raw, row))
        except UnicodeDecodeError:
            raise utf8_error(path) from None
    return records


def _qrels_rows(path: Path, handle: Any) -> Iterator[tuple[int, str, str, str]]:
    """``(line, query, document, grade)`` of a qrels file: the header (if any) skipped, widths checked."""
    reader = csv.reader(handle, delimiter="\t", strict=True)
    width: int | None = None
    last = 0
    try:
        for row in reader:
            start, last = last + 1, reader.line_num
            if not row or (len(row) == 1 and BLANK.fullmatch(row[0])):
                continue
            cells = [cell.strip() for cell in row]
            if width is None:
                width = len(cells)
                if width not in (3, 4):
                    raise DataError(f"{path}:{start}: expected 3 tab-separated cells (query-id, corpus-id, "
                                    f"score), got {len(cells)}: {excerpt_cells(cells)}",
                                    hint="BEIR judgements: query-id<TAB>corpus-id<TAB>score; TREC: query "
                                    "iteration document grade")
                if not NUMBER.fullmatch(cells[-1]) and all(c.lower() in _QRELS_HEADER for c in cells):
                    continue  # the header
            if len(cells) != width:
                raise DataError(f"{path}:{start}: row has {len(cells)} cells, the first row {width}",
                                hint="every judgement is query-id<TAB>corpus-id<TAB>score")
            yield (start, cells[0], cells[1], cells[2]) if width == 3 else (start, cells[0], cells[2], cells[3])
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid TSV ({exc})",
                        hint="quote ids that contain tabs or quotes") from None


def read_qrels(path: Path, access: DataAccess = ANYWHERE) -> list[tuple[str, str, int]]:
    """``(query id, document id, grade)`` of a BEIR ``qrels/<split>.tsv`` (or TREC four-column) file.

    The first line is a header only when it names the columns (``query-id corpus-id score``); every row
    has the same number of cells (3, or 4 for TREC's ``query iteration document grade``); the grades and
    repeated pairs are read by :func:`~.retrieval_records.judgements`.
    """
    with open_text(path, "judgements file", access, _BEIR_HINT) as handle, field_limit():
        try:
            return judgements(_qrels_rows(path, handle), str(path), "line",
                              first_hint="if line 1 is a header, name its columns query-id, corpus-id, score")
        except UnicodeDecodeError:
            raise utf8_error(path) from None


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
    corpus_rows = _read_jsonl_records(corpus_path, "corpus", access)
    query_rows = _read_jsonl_records(queries_path, "queries", access)
    corpus = checked_records(corpus_rows, str(corpus_path), "line", ("title", "text"), corpus_label=str(corpus_path))
    queries = checked_records(query_rows, str(queries_path), "line", ("text",))
    if not os.path.lexists(qrels_path):
        qrels_folder = folder / "qrels"
        available = sorted(p.stem for p in qrels_folder.glob("*.tsv")) if qrels_folder.is_dir() else []
        raise DataError(f"judgements file not found: {qrels_path}",
                        hint=f"splits available: {', '.join(available) or 'none'}; set task.data.split")
    return build_retrieval_data(corpus, queries, read_qrels(qrels_path, access), what=str(qrels_path),
                                source=folder, document=spec.document, limit=spec.limit)
