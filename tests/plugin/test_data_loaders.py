"""The local data loaders never guess: a row they cannot read for sure is a clear error naming file and line.

Each case writes a small file, calls the loader directly and checks either the records read (compared with
what the file holds, written independently) or the :class:`DataError` message.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.data import (
    MrlcheckDataWarning,
    load_beir,
    load_labelled,
    load_pair_labels,
    load_rerank,
    load_sts,
    load_texts,
)
from pytest_mrlcheck.datapaths import excerpt
from pytest_mrlcheck.errors import DataError
from pytest_mrlcheck.spec import DataSpec
from tests.support.beir import RETRIEVAL_SPEC, beir_spec, write_beir, write_small_beir
from tests.support.sts import STS_COLUMNS, STS_ROWS, sts_csv

LABEL_COLUMNS = {"text": "text", "label": "label", "split": "split"}


def sts_spec(path: Path, fmt: str = "csv", header: bool = True, columns: dict[str, Any] | None = None) -> DataSpec:
    return DataSpec(path=path, format=fmt, columns=columns or STS_COLUMNS, header=header)


def label_spec(path: Path, fmt: str = "csv", header: bool = True, columns: dict[str, Any] | None = None) -> DataSpec:
    return DataSpec(path=path, format=fmt, columns=columns or {"text": "text", "label": "label"}, header=header)


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def pairs_of(data: Any) -> list[tuple[str, str, float]]:
    return [(data.texts[i], data.texts[j], float(g)) for i, j, g in zip(data.left, data.right, data.gold, strict=True)]


# ------------------------------------------------------------------------------------------ line endings, BOM


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("trailing", [True, False], ids=["final-newline", "no-final-newline"])
def test_csv_line_endings_and_a_last_line_without_newline_read_every_row(
    tmp_path: Path, newline: str, trailing: bool
) -> None:
    path = write(tmp_path / "p.csv", sts_csv(newline=newline, trailing=trailing))
    assert pairs_of(load_sts(sts_spec(path))) == STS_ROWS


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_jsonl_line_endings_read_every_row(tmp_path: Path, newline: str) -> None:
    lines = [json.dumps({"sentence1": a, "sentence2": b, "score": s}) for a, b, s in STS_ROWS]
    path = write(tmp_path / "p.jsonl", newline.join(lines))
    assert pairs_of(load_sts(sts_spec(path, "jsonl"))) == STS_ROWS


def test_a_utf8_bom_is_skipped_in_csv_jsonl_and_beir(tmp_path: Path) -> None:
    bom = "\ufeff"
    path = write(tmp_path / "p.csv", bom + sts_csv())
    assert pairs_of(load_sts(sts_spec(path))) == STS_ROWS
    lines = [json.dumps({"sentence1": a, "sentence2": b, "score": s}) for a, b, s in STS_ROWS]
    path = write(tmp_path / "p.jsonl", bom + "\n".join(lines))
    assert pairs_of(load_sts(sts_spec(path, "jsonl"))) == STS_ROWS
    folder = write_small_beir(tmp_path / "beir")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        file = folder / name
        file.write_bytes(b"\xef\xbb\xbf" + file.read_bytes())
    data = load_beir(beir_spec(folder))
    assert data.doc_ids == ("d1", "d2", "d3") and data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}


def test_a_one_megabyte_field_is_read(tmp_path: Path) -> None:
    big = "word " * 200_000  # 1 MB, far beyond csv's default field limit of 128 KiB
    rows = [(big.strip(), "short", 1.0), *STS_ROWS]
    path = write(tmp_path / "p.csv", sts_csv(rows))
    limit_before = csv.field_size_limit()
    assert pairs_of(load_sts(sts_spec(path))) == rows
    assert csv.field_size_limit() == limit_before  # the process-wide limit is restored


# ------------------------------------------------------------------------------------------ encodings


@pytest.mark.parametrize(("fmt", "body"), [
    ("csv", b"sentence1,sentence2,score\na,b,1\nc,d,2\ncaf\xe9,e,3\n"),
    ("jsonl", b'{"sentence1": "a", "sentence2": "b", "score": 1}\n\n{"sentence1": "caf\xe9", "sentence2": "b", '
              b'"score": 1}\n'),
])
def test_latin1_bytes_name_the_line(tmp_path: Path, fmt: str, body: bytes) -> None:
    path = write(tmp_path / f"p.{fmt}", body)
    with pytest.raises(DataError, match=r"not valid UTF-8 \(line [34]\) \(byte 0xe9\)") as caught:
        load_sts(sts_spec(path, fmt))
    assert f"line {4 if fmt == 'csv' else 3}" in str(caught.value)
    assert "save the file as UTF-8" in str(caught.value)


def test_a_utf16_file_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", sts_csv().encode("utf-16"))
    with pytest.raises(DataError, match=r"not valid UTF-8 \(line 1\)") as caught:
        load_sts(sts_spec(path))
    assert "UTF-16" in str(caught.value)


@pytest.mark.parametrize(("name", "line"), [("corpus.jsonl", 2), ("queries.jsonl", 1), ("qrels/test.tsv", 3)])
def test_beir_files_with_invalid_utf8_name_file_and_line(tmp_path: Path, name: str, line: int) -> None:
    folder = write_small_beir(tmp_path / "beir")
    file = folder / name
    lines = file.read_bytes().split(b"\n")
    target = lines[line - 1]
    lines[line - 1] = target.replace(b"a", b"\xff", 1) if b"a" in target else target + b"\xff"
    file.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=rf"{name.split('/')[-1]}: not valid UTF-8 \(line {line}\)"):
        load_beir(beir_spec(folder))


def test_a_lone_surrogate_escape_in_jsonl_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", '{"text": "ok", "label": "a"}\n{"text": "bad \\ud800", "label": "b"}\n')
    with pytest.raises(DataError, match=r"p.jsonl:2: text holds invalid Unicode"):
        load_labelled(label_spec(path, "jsonl"), with_split=False)


# ------------------------------------------------------------------------------------------ csv shape


def test_an_unquoted_delimiter_is_an_error_not_a_shifted_row(tmp_path: Path) -> None:
    # before: the extra cell was dropped and " world" became the label
    path = write(tmp_path / "l.csv", "text,label\nhello there,pos\nhello, world,pos\nbye,neg\n")
    with pytest.raises(DataError, match=r"l.csv:3: row has 3 cells, the header has 2") as caught:
        load_labelled(label_spec(path), with_split=False)
    assert "quote a text that contains the delimiter" in str(caught.value)


def test_a_short_row_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "text,label\nhello,pos\nalone\nbye,neg\n")
    with pytest.raises(DataError, match=r"l.csv:3: row has 1 cells, the header has 2"):
        load_labelled(label_spec(path), with_split=False)


def test_header_less_rows_must_keep_the_first_rows_width(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "hello,pos\nbye,neg\nhello, world,pos\n")
    spec = label_spec(path, header=False, columns={"text": 0, "label": 1})
    with pytest.raises(DataError, match=r"l.csv:3: row has 3 cells, the first row has 2"):
        load_labelled(spec, with_split=False)


def test_a_header_read_as_data_is_refused(tmp_path: Path) -> None:
    # before: the header row became a data row with the text "text" and the class "label"
    path = write(tmp_path / "l.csv", "text,label\nhello,pos\nbye,neg\n")
    spec = label_spec(path, header=False, columns={"text": 0, "label": 1})
    with pytest.raises(DataError, match=r"l.csv:1: the first row looks like a header") as caught:
        load_labelled(spec, with_split=False)
    assert "set header: true" in str(caught.value)


def test_a_header_row_in_a_headerless_sts_file_hints_header_true(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "first,second,grade\na,b,1\nc,d,2\ne,f,3\n")
    spec = sts_spec(path, header=False, columns={"text1": 0, "text2": 1, "score": 2})
    with pytest.raises(DataError, match=r"p.csv:1: score 'grade' is not a number") as caught:
        load_sts(spec)
    assert "if line 1 is a header, set header: true" in str(caught.value)


def test_a_used_column_named_twice_in_the_header_is_refused(tmp_path: Path) -> None:
    # before: dict(zip(...)) kept the last of the two columns silently
    path = write(tmp_path / "l.csv", "text,label,label\nhello,pos,neg\nbye,neg,pos\n")
    with pytest.raises(DataError, match=r"l.csv:1: the header names column 'label' twice"):
        load_labelled(label_spec(path), with_split=False)


def test_an_unterminated_quote_does_not_swallow_the_rest_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", 'text,label\n"hello,pos\nbye,neg\nmore,pos\n')
    with pytest.raises(DataError, match=r"l.csv:\d+: not valid CSV"):
        load_labelled(label_spec(path), with_split=False)


def test_a_tab_separated_file_read_as_csv_says_format_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "sentence1\tsentence2\tscore\na\tb\t1\n")
    with pytest.raises(DataError, match="not in the header") as caught:
        load_sts(sts_spec(path))
    assert "set format: tsv" in str(caught.value)


# ------------------------------------------------------------------------------------------ jsonl shape


@pytest.mark.parametrize(("line", "message"), [
    ('["a", "b", 1]', r"p.jsonl:2: expected a JSON object per line, got a list"),
    ('"just text"', r"p.jsonl:2: expected a JSON object per line, got a string"),
    ('{"sentence1": "a", "sentence1": "b", "sentence2": "c", "score": 1}', r"p.jsonl:2: the key 'sentence1' appears "
                                                                          "twice in one object"),
    ('{"sentence1": "a", "sentence2": "b", "score": ' + "9" * 5000 + "}", r"p.jsonl:2: cannot read this JSON line"),
    ("[" * 100_000 + "]" * 100_000, r"p.jsonl:2: cannot read this JSON line"),
    ('{"sentence1": "a", "sentence2": "b", "score": 1e999}', r"p.jsonl:2: score .* is not a finite number"),
    ('{"sentence1": "a", "sentence2": "b", "score": ' + "9" * 400 + "}", r"p.jsonl:2: score .* is too large"),
    ('{"sentence1": "a", "sentence2": "b", "score": true}', r"p.jsonl:2: score must be a number, got bool"),
    ('{"sentence1": "a", "sentence2": null, "score": 1}', r"p.jsonl:2: text2 must be text, got null"),
    ('{"sentence1": "a", "sentence2": "  ", "score": 1}', r"p.jsonl:2: text2 is empty"),
    ('{"sentence1": "a", "sentence2": "b", "score": 1', r"p.jsonl:2: not valid JSON"),
], ids=["list", "string", "duplicate-key", "int-digit-limit", "deep-nesting", "infinite", "overflow", "bool-score",
        "null-text", "blank-text", "truncated"])
def test_bad_jsonl_lines_are_clear_errors(tmp_path: Path, line: str, message: str) -> None:
    first = json.dumps({"sentence1": "x", "sentence2": "y", "score": 1})
    path = write(tmp_path / "p.jsonl", first + "\n" + line + "\n")
    with pytest.raises(DataError, match=message) as caught:
        load_sts(sts_spec(path, "jsonl"))
    assert len(str(caught.value)) < 400


# ------------------------------------------------------------------------------------------ values


@pytest.mark.parametrize("score", ["1_0", "٣", "３", "4,5", "0x10", "nan", "inf", ""],
                         ids=["underscore", "arabic-indic", "fullwidth", "decimal-comma", "hex", "nan", "inf", "empty"])
def test_scores_are_ascii_numbers(tmp_path: Path, score: str) -> None:
    # float() accepts "1_0" (10.0) and other digit forms; a data file's number must be unambiguous
    rows = "\n".join(f"s{i},t{i},{v}" for i, v in enumerate(["1", "2", score]))
    path = write(tmp_path / "p.csv", f"sentence1,sentence2,score\n{rows}\n" if score != "4,5" else
                 'sentence1,sentence2,score\ns0,t0,1\ns1,t1,2\ns2,t2,"4,5"\n')
    with pytest.raises(DataError, match=r"p.csv:4: score .*(not a number|not a finite number)"):
        load_sts(sts_spec(path))


@pytest.mark.parametrize("text", ["", "   ", "\t"], ids=["empty", "spaces", "tab"])
def test_empty_or_blank_texts_are_errors(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "p.csv", f"sentence1,sentence2,score\na,b,1\n{text},c,2\nd,e,3\n")
    with pytest.raises(DataError, match=r"p.csv:3: text1 is empty"):
        load_sts(sts_spec(path))


def test_labels_from_jsonl_numbers_are_one_class_per_value(tmp_path: Path) -> None:
    rows = [("a", 1), ("b", 1.0), ("c", 2), ("d", "2"), ("e", " 2 ")]
    path = write(tmp_path / "l.jsonl", "\n".join(json.dumps({"text": t, "label": v}) for t, v in rows))
    data = load_labelled(label_spec(path, "jsonl"), with_split=False)
    assert data.labels == ("1", "1", "2", "2", "2")


@pytest.mark.parametrize(("label", "message"), [
    (1.5, r"label 1.5 is a fractional number"), (None, r"empty label"), (True, r"label must be a text or a whole "
                                                                              "number, got bool"),
    (["a"], r"label must be a text or a whole number, got list"),
    ({"a": 1}, "label must be a text or a whole number, got dict"), ("  ", "empty label"),
], ids=["fraction", "null", "bool", "list", "object", "blank"])
def test_unusable_labels_are_errors(tmp_path: Path, label: Any, message: str) -> None:
    rows = [{"text": "a", "label": "x"}, {"text": "b", "label": label}]
    path = write(tmp_path / "l.jsonl", "\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match=rf"l.jsonl:2: {message}"):
        load_labelled(label_spec(path, "jsonl"), with_split=False)


def test_csv_labels_ignore_surrounding_spaces(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "text,label\na,pos\nb, pos\nc,neg \n")
    assert load_labelled(label_spec(path), with_split=False).labels == ("pos", "pos", "neg")


def test_pair_labels_accept_only_binary_values(tmp_path: Path) -> None:
    columns = {"text1": "a", "text2": "b", "label": "y"}
    good = write(tmp_path / "ok.jsonl", "\n".join(json.dumps({"a": f"s{i}", "b": f"t{i}", "y": v}) for i, v in
                                                  enumerate([1, 0, True, False, 1.0, "0"])))
    data = load_pair_labels(DataSpec(path=good, format="jsonl", columns=columns, header=True))
    assert data.labels.tolist() == [1, 0, 1, 0, 1, 0]
    bad = write(tmp_path / "bad.jsonl", json.dumps({"a": "s", "b": "t", "y": 1}) + "\n" +
                json.dumps({"a": "s", "b": "t", "y": [1]}))
    with pytest.raises(DataError, match=r"bad.jsonl:2: label \['\[1\]'|bad.jsonl:2: label .* is not 0 or 1"):
        load_pair_labels(DataSpec(path=bad, format="jsonl", columns=columns, header=True))


def test_rerank_refuses_a_candidate_that_is_positive_and_negative(tmp_path: Path) -> None:
    columns = {"query": "query", "positive": "positive", "negative": "negative"}
    path = write(tmp_path / "r.jsonl", json.dumps({"query": "q", "positive": ["a"], "negative": ["b", "a"]}))
    with pytest.raises(DataError, match=r"r.jsonl:1: 'a' is both a positive and a negative candidate"):
        load_rerank(DataSpec(path=path, format="jsonl", columns=columns, header=True))
    path = write(tmp_path / "r.jsonl", json.dumps({"query": "q", "positive": ["a"], "negative": ["b", ""]}))
    with pytest.raises(DataError, match=r"r.jsonl:1: negative\[1\] is empty"):
        load_rerank(DataSpec(path=path, format="jsonl", columns=columns, header=True))


def test_repeated_corpus_texts_are_used_once_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "text\na\nb\na\nc\nb\n")
    with pytest.warns(MrlcheckDataWarning, match=r"c.csv: 2 rows repeat an earlier text"):
        texts = load_texts(DataSpec(path=path, format="csv", columns={"text": "text"}, header=True))
    assert texts == ("a", "b", "c")


# ------------------------------------------------------------------------------------------ BEIR


def load_quietly(folder: Path) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_beir(beir_spec(folder))
    return data, [str(w.message) for w in caught if issubclass(w.category, MrlcheckDataWarning)]


def test_qrels_without_header_whose_first_grade_is_fractional_keep_the_first_row(tmp_path: Path) -> None:
    # before: line 1 was taken as a header because "0.5" is not all digits, and silently dropped
    folder = write_small_beir(tmp_path / "b", "q1\td1\t1.5\nq2\td2\t2\n")
    data, messages = load_quietly(folder)
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert any("1 of 2 judgements have fractional grades (first on line 1: '1.5')" in m for m in messages)


def test_a_first_qrels_line_that_is_neither_header_nor_judgement_is_an_error(tmp_path: Path) -> None:
    folder = write_small_beir(tmp_path / "b", "q1\td1\thigh\nq2\td2\t2\n")
    with pytest.raises(DataError, match=r"test.tsv:1: score 'high' is not a number") as caught:
        load_beir(beir_spec(folder))
    assert "if line 1 is a header, name its columns query-id, corpus-id, score" in str(caught.value)


@pytest.mark.parametrize(("qrels", "message"), [
    ("query-id\tcorpus-id\tscore\nq1\td1\t1\textra\n", r"test.tsv:2: row has 4 cells, the first row 3"),
    ("q1\td1\t1\tx\ty\n", r"test.tsv:1: expected 3 tab-separated cells"),
    ("q1 d1 1\n", r"test.tsv:1: expected 3 tab-separated cells"),
    ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t2\n", r"test.tsv:3: query 'q1' and document 'd1' are judged "
                                                           r"again with another grade \(2; 1 on line 2\)"),
    ("query-id\tcorpus-id\tscore\nq1\td1\t1_0\n", r"test.tsv:2: score '1_0' is not a number"),
    ("query-id\tcorpus-id\tscore\n\td1\t1\n", r"test.tsv:2: query-id is empty"),
], ids=["extra-column", "five-columns", "spaces-not-tabs", "conflicting-grades", "underscore-grade", "empty-id"])
def test_bad_qrels_rows_are_clear_errors(tmp_path: Path, qrels: str, message: str) -> None:
    folder = write_small_beir(tmp_path / "b", qrels)
    with pytest.raises(DataError, match=message):
        load_beir(beir_spec(folder))


def test_trec_style_qrels_read_the_document_and_grade_columns(tmp_path: Path) -> None:
    folder = write_small_beir(tmp_path / "b", "q1\t0\td1\t1\r\nq2\t0\td2\t2\r\n")
    data, _ = load_quietly(folder)
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}


def test_repeated_identical_judgements_are_counted_once_with_a_warning(tmp_path: Path) -> None:
    folder = write_small_beir(tmp_path / "b", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t1\nq2\td2\t2\n")
    data, messages = load_quietly(folder)
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert any("1 judgements repeat an earlier one" in m for m in messages)


def test_all_zero_grades_warn_with_counts(tmp_path: Path) -> None:
    folder = write_small_beir(tmp_path / "b", "query-id\tcorpus-id\tscore\nq1\td1\t0\nq2\td2\t2\n")
    _, messages = load_quietly(folder)
    assert any("1 of 2 judged queries have no relevant document" in m for m in messages)
    folder = write_small_beir(tmp_path / "c", "query-id\tcorpus-id\tscore\nq1\td1\t0\nq2\td2\t0\n")
    _, messages = load_quietly(folder)
    assert any("every judged query has no relevant document" in m for m in messages)


@pytest.mark.parametrize(("corpus", "message"), [
    ('{"_id": "d1", "text": "a"}\n{"_id": 1, "text": "b"}\n{"_id": "1", "text": "c"}\n',
     r"corpus.jsonl:3: duplicate id '1' \(first on line 2\)"),
    ('{"_id": null, "text": "a"}\n', r"corpus.jsonl:1: _id must be a text or a whole number, got null"),
    ('{"_id": "d1", "text": "a"}\n{"_id": "d2", "title": " ", "text": ""}\n', r"corpus.jsonl:2: id 'd2' has no text"),
    ('{"_id": "d1", "text": ["a"]}\n', r"corpus.jsonl:1: id 'd1': expected text, got list"),
    ('[{"_id": "d1"}]\n', r"corpus.jsonl:1: expected a JSON object, got a list"),
], ids=["int-and-text-id", "null-id", "empty-document", "list-text", "not-an-object"])
def test_bad_corpus_records_are_clear_errors(tmp_path: Path, corpus: str, message: str) -> None:
    folder = write_small_beir(tmp_path / "b")
    (folder / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_beir(beir_spec(folder))


def test_a_query_without_text_is_an_error(tmp_path: Path) -> None:
    folder = write_small_beir(tmp_path / "b")
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "a"}\n{"_id": "q2"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"queries.jsonl:2: id 'q2' has no text"):
        load_beir(beir_spec(folder))


# ------------------------------------------------------------------------------------------ excerpts


def test_excerpts_are_short_and_escape_control_characters() -> None:
    assert excerpt("plain") == "'plain'"
    assert excerpt("a\x00b\nc\x1b[31m") == "'a\\x00b\\nc\\x1b[31m'"
    long = excerpt("x" * 10_000)
    assert len(long) == 62 and long.endswith("…'")
    assert len(excerpt("\x00" * 100)) <= 62


def test_messages_quote_at_most_an_excerpt_of_a_cell(tmp_path: Path) -> None:
    secret = "S3CR3T-" + "k" * 100
    path = write(tmp_path / "p.csv", f"sentence1,sentence2,score\na,b,1\nc,d,{secret}\n")
    with pytest.raises(DataError) as caught:
        load_sts(sts_spec(path))
    assert secret not in str(caught.value) and "S3CR3T-" in str(caught.value)
    header = "|".join(f"VAR{i}={secret}" for i in range(5))
    path = write(tmp_path / "h.csv", header + "\n")
    with pytest.raises(DataError) as caught:
        load_sts(sts_spec(path))
    assert secret not in str(caught.value) and len(str(caught.value)) < 600


def test_np_int_ids_are_not_needed_for_retrieval_ids(tmp_path: Path) -> None:
    """Integer ids in the corpus match the same ids written in the qrels."""
    folder = write_small_beir(tmp_path / "b", "query-id\tcorpus-id\tscore\n1\t10\t1\n")
    (folder / "corpus.jsonl").write_text('{"_id": 10, "text": "a"}\n{"_id": 11, "text": "b"}\n', encoding="utf-8")
    (folder / "queries.jsonl").write_text('{"_id": 1, "text": "q"}\n', encoding="utf-8")
    data, _ = load_quietly(folder)
    assert data.qrels == {"1": {"10": 1}} and np.array_equal(np.array(data.doc_ids), np.array(["10", "11"]))


# ------------------------------------------------------------------------------------------ through the plugin

PLUGIN_CASES = [
    pytest.param("pairs", b"sentence1,sentence2,score\na,b,1\nc,d,two\n", "*pairs.csv:3: score 'two' is not a number*",
                 id="score"),
    pytest.param("pairs", b"sentence1,sentence2,score\na,b,1\nc, d,e,2\n",
                 "*pairs.csv:3: row has 4 cells, the header has 3*", id="width"),
    pytest.param("pairs", b"sentence1,sentence2,score\na,b,1\n\xff,d,2\n", "*pairs.csv: not valid UTF-8 (line 3)*",
                 id="utf8"),
    pytest.param("corpus", b'{"_id": "d0", "text": "caf\xe9"}\n', "*corpus.jsonl: not valid UTF-8 (line 1)*",
                 id="beir-corpus-utf8"),
    pytest.param("qrels", b"query-id\tcorpus-id\tscore\nq0\td0\t1\tx\n",
                 "*test.tsv:2: row has 4 cells, the first row 3*", id="qrels-width"),
]


@pytest.mark.parametrize(("target", "content", "message"), PLUGIN_CASES)
def test_bad_data_fails_the_specs_items_with_one_message(
    fake_project: pytest.Pytester, write_spec: Any, target: str, content: bytes, message: str
) -> None:
    from tests.support.helpers import FAKE_SPEC, assert_clean_output

    if target == "pairs":
        (fake_project.path / "data" / "pairs.csv").write_bytes(content)
        write_spec(FAKE_SPEC)
    else:
        write_beir(fake_project.path / "beir")
        name = "corpus.jsonl" if target == "corpus" else "qrels/test.tsv"
        (fake_project.path / "beir" / name).write_bytes(content)
        write_spec(RETRIEVAL_SPEC)
    result = fake_project.runpytest("--mrlcheck-no-cache")
    assert result.ret == 1 and result.parseoutcomes().get("failed", 0) >= 3
    result.stdout.fnmatch_lines([message])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_an_excel_csv_with_a_bom_runs_through_the_plugin(fake_project: pytest.Pytester, write_spec: Any) -> None:
    from tests.support.helpers import FAKE_SPEC

    path = fake_project.path / "data" / "pairs.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-no-cache").assert_outcomes(passed=8)
