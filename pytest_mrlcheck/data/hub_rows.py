"""Dataset columns (``hf:`` tables, MTEB's loaded data) → rows for the builders, numbered ``what: row N``.

Only the layout is converted here (MTEB's one-row-of-lists sets are flattened, a hierarchical label is
read by its first level); every check is the builders', the same as for local files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError
from .builders import CellRow, labelled_texts, pair_labels, sts_data, table_rows
from .records import LabelledTexts, PairLabels, RetrievalData, StsData
from .retrieval_records import IdRow, build_retrieval_data, checked_records, judgements
from .values import Origin, identifier_value


def hub_sts_data(first: Sequence[Any], second: Sequence[Any], scores: Sequence[Any], what: str,
                 source: Path) -> StsData:
    """Sentence pairs with gold scores → :class:`StsData`."""
    return sts_data(table_rows(what, ("text1", "text2", "score"), first, second, scores), what, source)


def _flatten(what: str, *columns: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of the columns; a row whose cells are lists (MTEB's one-row-per-set layout) gives one row each."""
    rows: list[tuple[Any, ...]] = []
    for number, cells in enumerate(zip(*columns, strict=True), start=1):
        if isinstance(cells[0], list):
            lengths = {len(cell) for cell in cells if isinstance(cell, list)}
            if len(lengths) != 1 or not all(isinstance(cell, list) for cell in cells):
                raise DataError(f"{what}: row {number}: list cells of different lengths; cannot pair them up")
            rows.extend(zip(*cells, strict=True))
        else:
            rows.append(cells)
    return rows


def hub_labelled_texts(parts: Sequence[tuple[str, Sequence[Any], Sequence[Any]]], what: str, source: Path,
                       limit: int | None = None) -> LabelledTexts:
    """``(split label, texts, labels)`` parts → :class:`LabelledTexts` (split ``""``: clustering).

    A hierarchical label (a list per text, MTEB's clustering) counts by its first, coarsest level.
    ``limit`` keeps the first N texts of each part.
    """
    rows: list[CellRow] = []
    for split, texts, raw_labels in parts:
        pairs = _flatten(what, texts, raw_labels)[:limit]
        for number, (text, label) in enumerate(pairs, start=1):
            if isinstance(label, list):
                label = label[0] if label else None
            rows.append(CellRow(Origin(what, number, "row"), {"text": text, "label": label, "split": split}))
    return labelled_texts(rows, what, source, with_split=any(split for split, _, _ in parts))


def hub_pair_labels(first: Sequence[Any], second: Sequence[Any], raw_labels: Sequence[Any], what: str,
                    source: Path, limit: int | None = None) -> PairLabels:
    """Text pairs with 0/1 labels → :class:`PairLabels` (MTEB's single-row-of-lists layout is flattened)."""
    triples = _flatten(what, first, second, raw_labels)[:limit]
    return pair_labels(table_rows(what, ("text1", "text2", "label"), *zip(*triples, strict=True)) if triples else [],
                       what, source)


def _id_column(table: Any, what: str) -> str:
    for name in ("_id", "id"):
        if name in table.column_names:
            return name
    raise DataError(f"{what}: no id column ('_id' or 'id') in {list(table.column_names)}")


def id_rows(table: Any, what: str, fields: Sequence[str]) -> list[IdRow]:
    """``(row, id, {field: value})`` per row of a corpus or queries table (a missing field is None)."""
    ids = [identifier_value(value, f"{what}: row {row}") for row, value in
           enumerate(table[_id_column(table, what)], start=1)]
    columns = {field: list(table[field]) if field in table.column_names else [None] * len(ids) for field in fields}
    return [(number, identifier, {field: columns[field][number - 1] for field in fields})
            for number, identifier in enumerate(ids, start=1)]


def hub_retrieval_data(corpus: Any, queries: Any, judged: Iterable[tuple[Any, Any, Any]], *, what: str,
                       source: Path, document: str = "{title} {text}", limit: int | None = None) -> RetrievalData:
    """Corpus and queries tables and ``(query id, document id, grade)`` judgements → :class:`RetrievalData`,
    by the rules of the BEIR folder loader."""
    return _retrieval(id_rows(corpus, f"{what} corpus", ("title", "text")),
                      id_rows(queries, f"{what} queries", ("text",)), judged, what, source, document, limit)


def retrieval_data(corpus: Sequence[tuple[str, Mapping[str, Any]]], queries: Sequence[tuple[str, Mapping[str, Any]]],
                   judged: Iterable[tuple[Any, Any, Any]], *, what: str, source: Path,
                   document: str = "{title} {text}", limit: int | None = None) -> RetrievalData:
    """``(id, fields)`` records (numbered as rows in their order) and judgements → :class:`RetrievalData`."""
    return _retrieval([(n, i, f) for n, (i, f) in enumerate(corpus, start=1)],
                      [(n, i, f) for n, (i, f) in enumerate(queries, start=1)], judged, what, source, document, limit)


def _retrieval(corpus: Sequence[IdRow], queries: Sequence[IdRow], judged: Iterable[tuple[Any, Any, Any]], what: str,
               source: Path, document: str, limit: int | None) -> RetrievalData:
    documents = checked_records(corpus, f"{what} corpus", "row", ("title", "text"), corpus_label=what)
    texts = checked_records(queries, f"{what} queries", "row", ("text",))
    grades = judgements(((number, *judgement) for number, judgement in enumerate(judged, start=1)),
                        f"{what} judgements", "row")
    return build_retrieval_data(documents, texts, grades, what=what, source=source, document=document, limit=limit)
