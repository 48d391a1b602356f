"""Rows → task records, one builder per task kind, shared by local files and ``hf:``/``mteb:`` data.

A loader reads its rows (a csv line, a jsonl object, a dataset row) and hands them over as :class:`Row`s:
each gives its origin (``where``) and its cell for a role (``row["text1"]``). The builder checks every cell
(:mod:`.values`), de-duplicates the texts and refuses a dataset the task cannot score, with one message per
fault whatever the data came from. ``what`` names the whole dataset in the messages about all of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..datapaths import excerpt
from ..errors import DataError
from .records import LabelledTexts, MrlcheckDataWarning, PairLabels, RerankData, StsData
from .values import Origin, binary_label, json_kind, label_value, number_value, text_value


class Row(Protocol):
    """One row of a dataset: where it came from and its cell for each role."""

    @property
    def where(self) -> str: ...

    @property
    def number_hint(self) -> str | None:
        """Advice that replaces a number cell's own when it cannot be read (e.g. a header read as data)."""

    def __getitem__(self, role: str) -> Any: ...


@dataclass(frozen=True)
class CellRow:
    """A row whose cells are already at hand, role → value (a dataset row, an MTEB row)."""

    origin: Origin
    cells: Mapping[str, Any]
    number_hint: str | None = None

    @property
    def where(self) -> str:
        return str(self.origin)

    def __getitem__(self, role: str) -> Any:
        return self.cells[role]


def table_rows(what: str, roles: Iterable[str], *columns: Iterable[Any]) -> list[CellRow]:
    """Rows numbered from 1 (``what: row N``) of columns given in the order of ``roles``."""
    names = tuple(roles)
    return [CellRow(Origin(what, number, "row"), dict(zip(names, cells, strict=True)))
            for number, cells in enumerate(zip(*columns, strict=True), start=1)]


def _intern(index: dict[str, int], text: str) -> int:
    return index.setdefault(text, len(index))


def _text(row: Row, role: str) -> str:
    return text_value(row[role], row.where, role)


def sts_data(rows: Iterable[Row], what: str, source: Path, limit: int | None = None) -> StsData:
    """Sentence pairs (``text1``, ``text2``) with a gold ``score`` each; at least 3 pairs, not all scored alike."""
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    gold: list[float] = []
    for row in rows:
        if limit is not None and len(gold) >= limit:
            break
        first, second = _text(row, "text1"), _text(row, "text2")
        try:
            score = number_value(row["score"], row.where, "score")
        except DataError as exc:
            if row.number_hint:
                raise DataError(exc.message, hint=row.number_hint) from None
            raise
        left.append(_intern(index, first))
        right.append(_intern(index, second))
        gold.append(score)
    if not gold:
        raise DataError(f"{what}: no sentence pairs found (the dataset is empty)")
    if len(gold) < 3:
        raise DataError(f"{what}: only {len(gold)} pairs; a correlation needs at least 3")
    if len(set(gold)) == 1:
        raise DataError(f"{what}: every gold score is {gold[0]}; a correlation needs varied scores")
    return StsData(tuple(index), np.array(left, dtype=np.intp), np.array(right, dtype=np.intp),
                   np.array(gold, dtype=np.float64), source)


def labelled_texts(rows: Iterable[Row], what: str, source: Path, *, with_split: bool = False,
                   limit: int | None = None) -> LabelledTexts:
    """Texts (``text``) with a class ``label`` each (and a ``split`` with ``with_split``); two classes at least."""
    index: dict[str, int] = {}
    indices: list[int] = []
    labels: list[str] = []
    splits: list[str] = []
    for row in rows:
        if limit is not None and len(indices) >= limit:
            break
        text = _text(row, "text")
        labels.append(label_value(row["label"], row.where))
        indices.append(_intern(index, text))
        splits.append(label_value(row["split"], row.where, "split") if with_split else "")
    if not indices:
        raise DataError(f"{what}: no rows found (the dataset is empty)")
    if len(set(labels)) < 2:
        raise DataError(f"{what}: every row has the label {excerpt(labels[0])}; at least two classes are needed")
    return LabelledTexts(tuple(index), np.array(indices, dtype=np.intp), tuple(labels), tuple(splits), source)


def pair_labels(rows: Iterable[Row], what: str, source: Path, limit: int | None = None) -> PairLabels:
    """Text pairs (``text1``, ``text2``) with a 0/1 ``label`` each; both labels must occur."""
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    labels: list[int] = []
    for row in rows:
        if limit is not None and len(labels) >= limit:
            break
        first, second = _text(row, "text1"), _text(row, "text2")
        labels.append(binary_label(row["label"], row.where))
        left.append(_intern(index, first))
        right.append(_intern(index, second))
    if not labels:
        raise DataError(f"{what}: no pairs found (the dataset is empty)")
    if len(set(labels)) < 2:
        raise DataError(f"{what}: every pair has label {labels[0]}; average precision needs both classes")
    return PairLabels(tuple(index), np.array(left, dtype=np.intp), np.array(right, dtype=np.intp),
                      np.array(labels, dtype=np.int64), source)


def _candidates(row: Row, role: str) -> list[str]:
    value = row[role]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise DataError(f"{row.where}: {role} must be a list of texts, got {json_kind(value)}")
    return [text_value(v, row.where, f"{role}[{i}]") for i, v in enumerate(value)]


def rerank_data(rows: Iterable[Row], what: str, source: Path, limit: int | None = None) -> RerankData:
    """A ``query`` with its ``positive`` and ``negative`` candidates per row; one query at least must have both."""
    index: dict[str, int] = {}
    queries: list[str] = []
    candidate_rows: list[tuple[int, ...]] = []
    labels: list[tuple[int, ...]] = []
    for row in rows:
        if limit is not None and len(queries) >= limit:
            break
        query = _text(row, "query")
        positives, negatives = _candidates(row, "positive"), _candidates(row, "negative")
        both = set(positives) & set(negatives)
        if both:
            raise DataError(f"{row.where}: {excerpt(next(iter(both)))} is both a positive and a negative candidate",
                            hint="a candidate is either relevant or not")
        if len(set(positives)) != len(positives) or len(set(negatives)) != len(negatives):
            raise DataError(f"{row.where}: a candidate is listed twice", hint="list each candidate once")
        queries.append(query)
        candidate_rows.append(tuple(_intern(index, text) for text in [*positives, *negatives]))
        labels.append(tuple([1] * len(positives) + [0] * len(negatives)))
    if not queries:
        raise DataError(f"{what}: no queries found (the dataset is empty)")
    if not any(0 < sum(marks) < len(marks) for marks in labels):
        raise DataError(f"{what}: no query has both a positive and a negative candidate")
    return RerankData(tuple(queries), tuple(index), tuple(candidate_rows), tuple(labels), source)


def unique_texts(rows: Iterable[Row], what: str, limit: int | None = None) -> tuple[str, ...]:
    """The unique ``text`` cells in order (a corpus without labels); repeats are dropped with a warning."""
    seen: dict[str, None] = {}
    repeats = 0
    for row in rows:
        if limit is not None and len(seen) >= limit:
            break
        text = _text(row, "text")
        if text in seen:
            repeats += 1
        seen.setdefault(text, None)
    if repeats:
        warnings.warn(f"{what}: {repeats} rows repeat an earlier text; each text was used once",
                      MrlcheckDataWarning, stacklevel=3)
    if len(seen) < 2:
        raise DataError(f"{what}: {len(seen)} texts; agreement needs a corpus of at least 2")
    return tuple(seen)
