"""Retrieval records: documents and queries with ids, graded judgements, and the :class:`RetrievalData` they make.

Shared by the BEIR folder loader and the ``hf:``/``mteb:`` loaders. A record set comes as
``(number, id, fields)`` rows of one source (a file read by line, a table by row); a message about a row
names its :class:`~.values.Origin`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..datapaths import excerpt
from ..errors import DataError
from .records import MrlcheckDataWarning, RetrievalData
from .values import BLANK, Origin, identifier_value, number_value

#: ``(number, id, fields)``: one document or query of a source, numbered by line or row.
IdRow = tuple[int, str, Mapping[str, Any]]


def _plain_texts(fields: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    """True when every field is ASCII text or missing and one is not blank: nothing to check further
    (ASCII holds no unpaired surrogate); anything else takes the checking path."""
    filled = False
    for name in names:
        value = fields.get(name)
        if value is None:
            continue
        if type(value) is not str or not value.isascii():
            return False
        filled = filled or not (value == "" or value.isspace())
    return filled


def _text_field(value: Any, where: str, identifier: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(f"{where}: id {excerpt(identifier)}: expected text, got {type(value).__name__}",
                        hint="mrlcheck embeds text; image, audio and conversation tasks are not supported")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"{where}: id {excerpt(identifier)}: invalid Unicode (an unpaired surrogate)") from None
    return value


def checked_records(rows: Sequence[IdRow], source: str, unit: str, fields: tuple[str, ...], *,
                    corpus_label: str | None = None) -> list[tuple[str, Mapping[str, Any]]]:
    """``(id, fields)`` of ``rows`` once every id is unique and every record has text.

    Text fields are text or missing, and one at least is not blank. With ``corpus_label`` the rows are a
    corpus, which must not be empty (the message names ``corpus_label``).
    """
    if len({identifier for _, identifier, _ in rows}) != len(rows):
        seen: dict[str, int] = {}
        for number, identifier, _ in rows:
            if identifier in seen:
                first = Origin(source, seen[identifier], unit)
                raise DataError(f"{Origin(source, number, unit)}: duplicate id {excerpt(identifier)} "
                                f"(first {first.place})", hint="every document and query needs its own _id")
            seen[identifier] = number
    if corpus_label is not None and not rows:
        raise DataError(f"{corpus_label}: the corpus is empty")
    for number, identifier, record in rows:
        if _plain_texts(record, fields):
            continue
        where = str(Origin(source, number, unit))
        values = [_text_field(record.get(name), where, identifier) for name in fields]
        if all(BLANK.fullmatch(value) for value in values):
            raise DataError(f"{where}: id {excerpt(identifier)} has no text ({' and '.join(fields)} empty)",
                            hint="every document and query needs a text to embed: fill it in or remove it")
    return [(identifier, record) for _, identifier, record in rows]


def judgements(rows: Iterable[tuple[int, Any, Any, Any]], source: str, unit: str, *,
               first_hint: str | None = None) -> list[tuple[str, str, int]]:
    """``(query id, document id, grade)`` of ``(number, query, document, grade)`` rows.

    Grades are numbers, truncated toward zero with a warning when fractional; a pair judged twice with
    the same grade is kept once (with a warning), with different grades it is an error. ``first_hint``
    advises on a grade of the first row that is not a number (a header read as a judgement).
    """
    grades: dict[tuple[str, str], tuple[int, int]] = {}
    repeated = 0
    fractional: list[tuple[int, Any]] = []
    for number, raw_query, raw_doc, raw_grade in rows:
        where = str(Origin(source, number, unit))
        query = identifier_value(raw_query, where, "query-id")
        doc = identifier_value(raw_doc, where, "corpus-id")
        value = number_value(raw_grade, where, "score", hint=first_hint if number == 1 and first_hint else
                             "grades are numbers (0 = not relevant)")
        if not value.is_integer():
            fractional.append((number, raw_grade))
        grade = int(value)
        key = (query, doc)
        if key in grades:
            first_grade, first_number = grades[key]
            if first_grade != grade:
                first = Origin(source, first_number, unit)
                raise DataError(f"{where}: query {excerpt(query)} and document {excerpt(doc)} are judged again "
                                f"with another grade ({grade}; {first_grade} {first.place})",
                                hint="keep one judgement per pair")
            repeated += 1
            continue
        grades[key] = (grade, number)
    if repeated:
        warnings.warn(f"{source}: {repeated} judgements repeat an earlier one (same pair, same grade); each pair "
                      "was counted once", MrlcheckDataWarning, stacklevel=3)
    if fractional:
        number, raw = fractional[0]
        warnings.warn(f"{source}: {len(fractional)} of {len(grades) + repeated} judgements have fractional grades "
                      f"(first {Origin(source, number, unit).place}: {excerpt(raw)}); grades are whole numbers (as "
                      "pytrec_eval, BEIR and MTEB read them), so they were truncated toward zero",
                      MrlcheckDataWarning, stacklevel=3)
    return [(query, doc, grade) for (query, doc), (grade, _) in grades.items()]


def build_retrieval_data(
    corpus: Sequence[tuple[str, Mapping[str, Any]]],
    queries: Sequence[tuple[str, Mapping[str, Any]]],
    judged: Iterable[tuple[str, str, int]],
    *,
    what: str,
    source: Path,
    document: str = "{title} {text}",
    limit: int | None = None,
) -> RetrievalData:
    """Checked records (:func:`checked_records`) and :func:`judgements` → :class:`RetrievalData`.

    Documents are ``document.format(title=…, text=…)`` and must not be blank; judgements naming unknown
    ids are counted and warned about, and so are judged queries without any relevant document; queries
    without judgements are counted, not kept; ``limit`` keeps the first N judged queries.
    """
    doc_ids = tuple(identifier for identifier, _ in corpus)
    documents = tuple(document.format(title=fields.get("title") or "", text=fields.get("text") or "").strip()
                      for _, fields in corpus)
    for identifier, text in zip(doc_ids, documents, strict=True):
        if not text:
            raise DataError(f"{what}: document {excerpt(identifier)} has no text (title and text empty)",
                            hint="every document needs a text to embed")
    query_text = {identifier: str(fields.get("text") or "") for identifier, fields in queries}
    known_docs = set(doc_ids)
    qrels: dict[str, dict[str, int]] = {}
    unknown_docs = unknown_queries = 0
    for query, doc, grade in judged:
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
    judged_queries = [q for q in query_text if q in qrels]
    unjudged = len(query_text) - len(judged_queries)
    if not judged_queries:
        raise DataError(f"{what}: no query in the queries has a judgement",
                        hint="check that the qrels ids match the query ids")
    if limit is not None:
        judged_queries = judged_queries[:limit]
        qrels = {q: qrels[q] for q in judged_queries}
    hopeless = sum(1 for q in judged_queries if all(grade <= 0 for grade in qrels[q].values()))
    if hopeless:
        every = ("every judged query has" if hopeless == len(judged_queries)
                 else f"{hopeless} of {len(judged_queries)} judged queries have")
        warnings.warn(f"{what}: {every} no relevant document (every grade is 0 or less); such a query scores 0 in "
                      "every view", MrlcheckDataWarning, stacklevel=3)
    return RetrievalData(tuple(judged_queries), tuple(query_text[q] for q in judged_queries), doc_ids, documents,
                         qrels, unjudged, source)
