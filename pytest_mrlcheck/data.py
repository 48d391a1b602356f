"""Dataset loaders for local files (csv, tsv, jsonl) → task data with every text's role."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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


def _rows(spec: DataSpec) -> Iterator[tuple[int, dict[Any, Any] | list[str]]]:
    """(line number, row) for each data row of the file."""
    path = spec.path
    if not path.is_file():
        raise DataError(
            f"data file not found: {path}",
            hint="task.data.path is relative to the spec file's folder",
        )
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DataError(f"cannot open data file {path}: {exc.strerror}") from None
    with handle:
        try:
            if spec.format == "jsonl":
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{number}: expected a JSON object per line")
                    yield number, row
                return
            reader = csv.reader(handle, delimiter="," if spec.format == "csv" else "\t")
            header: list[str] | None = None
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if spec.header and header is None:
                    header = [cell.strip() for cell in row]
                    _check_header(spec, header, reader.line_num)
                    continue
                if header is not None:
                    yield reader.line_num, dict(zip(header, row, strict=False))
                else:
                    yield reader.line_num, row
        except UnicodeDecodeError:
            raise DataError(f"{path}: not valid UTF-8 text") from None
        except csv.Error as exc:
            raise DataError(f"{path}: CSV error: {exc}") from None


def _check_header(spec: DataSpec, header: list[str], line: int) -> None:
    for role, column in spec.columns.items():
        if isinstance(column, str) and column not in header:
            raise DataError(
                f"{spec.path}:{line}: column {column!r} (for {role}) is not in the header {header}",
                hint=f"map it in task.data.columns, e.g. columns: {{{role}: {header[0]!r}}}; "
                "or set header: false for a file without a header",
            )


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
    if column not in row or row[column] is None:
        raise DataError(
            f"{spec.path}:{line}: missing field {column!r} (for {role})",
            hint="map the field names in task.data.columns",
        )
    return row[column]


def load_sts(spec: DataSpec) -> StsData:
    """Read sentence pairs and gold scores; clear errors for missing columns and bad scores."""
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    gold: list[float] = []
    for line, row in _rows(spec):
        if spec.limit is not None and len(gold) >= spec.limit:
            break
        first = _cell(spec, row, "text1", line)
        second = _cell(spec, row, "text2", line)
        raw_score = _cell(spec, row, "score", line)
        try:
            score = float(raw_score)
        except (TypeError, ValueError):
            raise DataError(
                f"{spec.path}:{line}: score {raw_score!r} is not a number",
                hint="the score column must hold numbers; check task.data.columns.score",
            ) from None
        if not math.isfinite(score):
            raise DataError(f"{spec.path}:{line}: score {raw_score!r} is not a finite number")
        for text in (first, second):
            if not isinstance(text, str):
                raise DataError(f"{spec.path}:{line}: expected text, got {type(text).__name__} {text!r}")
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


def _read_jsonl_records(path: Path, what: str) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{what} file not found: {path}",
                        hint="a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise DataError(f"{path}:{number}: expected a JSON object with an \"_id\"")
            records.append((number, row))
    return records


def _unique_ids(records: list[tuple[int, dict[str, Any]]], path: Path) -> None:
    seen: dict[str, int] = {}
    for number, row in records:
        identifier = str(row["_id"])
        if identifier in seen:
            raise DataError(f"{path}:{number}: duplicate id {identifier!r} (first on line {seen[identifier]})")
        seen[identifier] = number


def load_beir(spec: DataSpec) -> RetrievalData:
    """Read a BEIR folder; judgements naming unknown ids are counted and warned about, not fatal."""
    folder = spec.path
    if not folder.is_dir():
        raise DataError(f"BEIR folder not found: {folder}", hint="task.data.path is relative to the spec file")
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{spec.split or 'test'}.tsv"
    corpus = _read_jsonl_records(corpus_path, "corpus")
    queries = _read_jsonl_records(queries_path, "queries")
    _unique_ids(corpus, corpus_path)
    _unique_ids(queries, queries_path)
    if not corpus:
        raise DataError(f"{corpus_path}: the corpus is empty")
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DataError(f"judgements file not found: {qrels_path}",
                        hint=f"splits available: {', '.join(available) or 'none'}; set task.data.split")
    judgements: list[tuple[str, str, int]] = []
    with qrels_path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or header
            if len(row) == 4:  # TREC style: query 0 doc grade
                row = [row[0], row[2], row[3]]
            if len(row) != 3:
                raise DataError(f"{qrels_path}:{number}: expected query-id, corpus-id, score; got {row}")
            query, doc, grade_text = (cell.strip() for cell in row)
            try:
                judgements.append((query, doc, int(float(grade_text))))
            except ValueError:
                raise DataError(f"{qrels_path}:{number}: score {grade_text!r} is not a number") from None
    return build_retrieval_data(
        [(str(row["_id"]), row) for _, row in corpus],
        [(str(row["_id"]), row) for _, row in queries],
        judgements,
        what=str(qrels_path),
        source=folder,
        document=spec.document,
        limit=spec.limit,
    )


def _text_field(value: Any, what: str, identifier: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(f"{what}: id {identifier!r}: expected text, got {type(value).__name__}",
                        hint="mrlcheck embeds text; image, audio and conversation tasks are not supported")
    return value


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

    Documents are ``document.format(title=…, text=…)``; judgements naming unknown ids are counted and
    warned about; queries without judgements are counted, not kept; ``limit`` keeps the first N
    judged queries. Shared by the BEIR folder loader and the ``hf:``/``mteb:`` loaders.
    """
    if not corpus:
        raise DataError(f"{what}: the corpus is empty")
    doc_ids = tuple(identifier for identifier, _ in corpus)
    documents = tuple(
        document.format(title=_text_field(fields.get("title"), what, identifier),
                        text=_text_field(fields.get("text"), what, identifier)).strip()
        for identifier, fields in corpus
    )
    query_text = {identifier: _text_field(fields.get("text"), what, identifier) for identifier, fields in queries}
    known_docs = set(doc_ids)
    qrels: dict[str, dict[str, int]] = {}
    unknown_docs = unknown_queries = 0
    for query, doc, raw in judgements:
        try:
            grade = int(float(raw))
        except (TypeError, ValueError):
            raise DataError(f"{what}: judgement ({query!r}, {doc!r}): score {raw!r} is not a number") from None
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
    judged = [q for q in query_text if q in qrels]
    unjudged = len(query_text) - len(judged)
    if not judged:
        raise DataError(f"{what}: no query in the queries has a judgement",
                        hint="check that the qrels ids match the query ids")
    if limit is not None:
        judged = judged[:limit]
        qrels = {q: qrels[q] for q in judged}
    return RetrievalData(tuple(judged), tuple(query_text[q] for q in judged), doc_ids, documents, qrels, unjudged,
                         source)


def _digest(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, ensure_ascii=False, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _text(spec: DataSpec, row: dict[Any, Any] | list[str], role: str, line: int) -> str:
    value = _cell(spec, row, role, line)
    if not isinstance(value, str):
        raise DataError(f"{spec.path}:{line}: {role} must be text, got {type(value).__name__} {value!r}")
    return value


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


def load_labelled(spec: DataSpec, with_split: bool) -> LabelledTexts:
    index: dict[str, int] = {}
    rows: list[int] = []
    labels: list[str] = []
    splits: list[str] = []
    for line, row in _rows(spec):
        if spec.limit is not None and len(rows) >= spec.limit:
            break
        text = _text(spec, row, "text", line)
        label = _cell(spec, row, "label", line)
        if label is None or str(label).strip() == "":
            raise DataError(f"{spec.path}:{line}: empty label")
        rows.append(index.setdefault(text, len(index)))
        labels.append(str(label))
        splits.append(str(_cell(spec, row, "split", line)).strip() if with_split else "")
    if not rows:
        raise DataError(f"{spec.path}: no rows found (the dataset is empty)")
    if len(set(labels)) < 2:
        raise DataError(f"{spec.path}: every row has the label {labels[0]!r}; at least two classes are needed")
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


def load_pair_labels(spec: DataSpec) -> PairLabels:
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    labels: list[int] = []
    for line, row in _rows(spec):
        if spec.limit is not None and len(labels) >= spec.limit:
            break
        first, second = _text(spec, row, "text1", line), _text(spec, row, "text2", line)
        raw = _cell(spec, row, "label", line)
        value = str(raw).strip().lower()
        if value not in ("0", "1", "true", "false", "0.0", "1.0"):
            raise DataError(f"{spec.path}:{line}: label {raw!r} is not 0 or 1",
                            hint="pair classification needs binary labels (1 = same meaning)")
        left.append(index.setdefault(first, len(index)))
        right.append(index.setdefault(second, len(index)))
        labels.append(1 if value in ("1", "true", "1.0") else 0)
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


def load_rerank(spec: DataSpec) -> RerankData:
    index: dict[str, int] = {}
    queries: list[str] = []
    rows: list[tuple[int, ...]] = []
    labels: list[tuple[int, ...]] = []
    for line, row in _rows(spec):
        if spec.limit is not None and len(queries) >= spec.limit:
            break
        assert isinstance(row, dict)
        query = _text(spec, row, "query", line)
        lists = []
        for role in ("positive", "negative"):
            value = _cell(spec, row, role, line)
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise DataError(f"{spec.path}:{line}: {role} must be a list of texts")
            lists.append(value)
        positives, negatives = lists
        candidates = [*positives, *negatives]
        queries.append(query)
        rows.append(tuple(index.setdefault(text, len(index)) for text in candidates))
        labels.append(tuple([1] * len(positives) + [0] * len(negatives)))
    if not queries:
        raise DataError(f"{spec.path}: no queries found (the dataset is empty)")
    if not any(0 < sum(marks) < len(marks) for marks in labels):
        raise DataError(f"{spec.path}: no query has both a positive and a negative candidate")
    return RerankData(tuple(queries), tuple(index), tuple(rows), tuple(labels), spec.path)


def load_texts(spec: DataSpec) -> tuple[str, ...]:
    """The unique texts of a file (column ``text``), in order: a corpus without labels."""
    seen: dict[str, None] = {}
    for line, row in _rows(spec):
        if spec.limit is not None and len(seen) >= spec.limit:
            break
        seen.setdefault(_text(spec, row, "text", line), None)
    if len(seen) < 2:
        raise DataError(f"{spec.path}: {len(seen)} texts; agreement needs a corpus of at least 2")
    return tuple(seen)
