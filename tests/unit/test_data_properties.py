"""Property-based tests of the data loaders (Hypothesis).

Generated files — random bytes, valid and invalid UTF-8, other encodings, BOMs, line endings, quoting,
missing and extra cells, huge fields, empty files — for the csv/tsv/jsonl, BEIR and ``.npz`` readers. The only
allowed outcomes: the records (for well-formed files, exactly the records written) or an error of the
package's hierarchy whose message names the file (and the line, where the problem has one). Each property
runs a bounded number of examples by default and many more under the ``slow`` marker.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_mrlcheck.data import load_beir, load_labelled, load_rerank, load_sts, load_texts
from pytest_mrlcheck.errors import MrlcheckError
from pytest_mrlcheck.providers import ProviderContext
from pytest_mrlcheck.providers.precomputed import PrecomputedEncoder, PrecomputedSettings
from pytest_mrlcheck.spec import DataSpec

BUDGETS = [pytest.param(60, id="bounded"), pytest.param(1500, marks=pytest.mark.slow, id="thorough")]
STS_COLUMNS = {"text1": "sentence1", "text2": "sentence2", "score": "score"}
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252", "shift_jis"])


def run(budget: int, strategy: st.SearchStrategy[Any], check: Callable[[Any], None]) -> None:
    """``check`` on ``budget`` examples of ``strategy`` (no deadline: the machine is shared)."""
    settings(max_examples=budget, deadline=None, derandomize=budget < 100, database=None,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(given(strategy)(check))()


def outcome(load: Callable[[], Any], path: Path) -> Any:
    """The loaded data, or None after a package error that names ``path``; anything else fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return load()
        except MrlcheckError as exc:
            message = str(exc)
            assert path.name in message, message
            assert len(message) < 1200, message
            line = re.search(rf"{re.escape(path.name)}:(\d+):", message)
            if line is not None:
                assert int(line.group(1)) >= 1
            return None



# ------------------------------------------------------------------------------------------ anything at all

CELL = st.text(max_size=12) | st.sampled_from(["", " ", '"', '""', "a,b", "1.5", "nan", "\ufeff", "\x00", "\t"])


def messy_table() -> st.SearchStrategy[bytes]:
    """Text tables with any cells, quoting, widths, endings and encodings — and raw bytes."""
    rows = st.lists(st.lists(CELL, min_size=0, max_size=5), max_size=6)

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        if draw(st.booleans()):
            return draw(st.binary(max_size=400))
        header = draw(st.sampled_from([["sentence1", "sentence2", "score"], ["text", "label"], [], ["a", "b"]]))
        body = [header, *draw(rows)] if header else draw(rows)
        ending = draw(ENDINGS)
        delimiter = draw(st.sampled_from([",", "\t", ";"]))
        quote = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE, -1]))
        if quote == -1:  # hand-joined, unquoted: delimiters and quotes inside cells break the shape
            text = ending.join(delimiter.join(row) for row in body)
        else:
            out = io.StringIO()
            writer = csv.writer(out, delimiter=delimiter, lineterminator=ending, quoting=quote, escapechar="\\")
            try:
                writer.writerows(body)
            except csv.Error:  # a row csv cannot write this way: join it by hand instead
                out.write(ending.join(delimiter.join(row) for row in body))
            text = out.getvalue()
        if draw(st.booleans()):
            text += draw(st.text(max_size=20))
        return text.encode(draw(ENCODINGS), errors="replace")

    return build()


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_any_table_file_loads_or_fails_with_a_message_naming_it(tmp_path: Path, budget: int, fmt: str) -> None:
    folder = tmp_path

    def check(data: bytes) -> None:
        path = folder / f"pairs.{fmt}"
        path.write_bytes(data)
        for load in (lambda: load_sts(DataSpec(path=path, format=fmt, columns=STS_COLUMNS, header=True)),
                     lambda: load_sts(DataSpec(path=path, format=fmt, columns={"text1": 0, "text2": 1, "score": 2},
                                               header=False)) if fmt != "jsonl" else None,
                     lambda: load_labelled(DataSpec(path=path, format=fmt, columns={"text": "text", "label": "label"},
                                                    header=True), with_split=False),
                     lambda: load_texts(DataSpec(path=path, format=fmt, columns={"text": "text"}, header=True))):
            outcome(load, path)

    run(budget, messy_table(), check)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)


@st.composite
def messy_jsonl(draw: st.DrawFn, keys: tuple[str, ...]) -> bytes:
    """Lines of JSON objects using ``keys`` (values of any type), other JSON values, and broken lines."""
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["object", "object", "value", "broken", "blank", "escape"]))
        if kind == "object":
            obj = {key: draw(JSON_VALUES | st.text(max_size=10)) for key in keys if draw(st.booleans()) or True}
            lines.append(json.dumps(obj, allow_nan=True))
        elif kind == "value":
            lines.append(json.dumps(draw(JSON_VALUES), allow_nan=True))
        elif kind == "broken":
            lines.append(draw(st.text(max_size=20)))
        elif kind == "escape":
            lines.append('{"' + keys[0] + '": "\\ud83d", "_id": "x"}')
        else:
            lines.append("  ")
    text = draw(ENDINGS).join(lines)
    prefix = draw(st.sampled_from(["", "\ufeff"]))
    return (prefix + text).encode(draw(ENCODINGS), errors="replace")


@pytest.mark.parametrize("budget", BUDGETS)
def test_any_jsonl_with_the_right_keys_loads_or_fails_clearly(tmp_path: Path, budget: int) -> None:
    folder = tmp_path

    def check(data: bytes) -> None:
        path = folder / "rows.jsonl"
        path.write_bytes(data)
        outcome(lambda: load_sts(DataSpec(path=path, format="jsonl", columns=STS_COLUMNS, header=True)), path)
        outcome(lambda: load_labelled(DataSpec(path=path, format="jsonl", columns={"text": "sentence1",
                                                                                 "label": "score"}, header=True),
                                      with_split=False), path)
        outcome(lambda: load_rerank(DataSpec(path=path, format="jsonl", columns={
            "query": "sentence1", "positive": "sentence2", "negative": "score"}, header=True)), path)

    run(budget, messy_jsonl(("sentence1", "sentence2", "score")), check)


# ------------------------------------------------------------------------------------------ round trips

SAFE_TEXT = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() != "")
HUGE_TEXT = st.builds(lambda word, n: (word + " ") * n, st.sampled_from(["river", "ß", "文"]),
                      st.integers(30_000, 60_000))  # fields of 90 KB to 360 KB: beyond csv's default limit


@pytest.mark.parametrize("budget", BUDGETS)
def test_well_formed_csv_reads_back_exactly_what_was_written(tmp_path: Path, budget: int) -> None:
    folder = tmp_path
    rows = st.lists(st.tuples(SAFE_TEXT | HUGE_TEXT, SAFE_TEXT, st.floats(-1e6, 1e6, allow_nan=False)),
                    min_size=3, max_size=8).filter(lambda r: len({s for _, _, s in r}) > 1)

    def check(example: tuple[list[tuple[str, str, float]], str, str, str, bool]) -> None:
        pairs, ending, encoding, fmt, bom = example
        out = io.StringIO()
        # a bare CR or LF inside an unquoted cell is a line break to a reader of CR/LF/CRLF files: quote it
        breaks = any(c in text for a, b, _ in pairs for text in (a, b) for c in "\r\n")
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator=ending,
                            quoting=csv.QUOTE_ALL if breaks else csv.QUOTE_MINIMAL)
        writer.writerow(["sentence1", "sentence2", "score"])
        writer.writerows([(a, b, repr(s)) for a, b, s in pairs])
        path = folder / f"pairs.{fmt}"
        path.write_bytes(("\ufeff" if bom else "").encode() + out.getvalue().encode(encoding))
        data = outcome(lambda: load_sts(DataSpec(path=path, format=fmt, columns=STS_COLUMNS, header=True)), path)
        assert data is not None
        got = [(data.texts[i], data.texts[j], float(g)) for i, j, g in zip(data.left, data.right, data.gold,
                                                                           strict=True)]
        assert got == pairs

    run(budget, st.tuples(rows, ENDINGS, st.just("utf-8"), st.sampled_from(["csv", "tsv"]), st.booleans()), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_well_formed_jsonl_reads_back_exactly_what_was_written(tmp_path: Path, budget: int) -> None:
    folder = tmp_path
    labels = st.sampled_from(["a", "b", "c"]) | st.integers(-3, 3)
    rows = st.lists(st.tuples(SAFE_TEXT, labels), min_size=2, max_size=8).filter(
        lambda r: len({str(label) for _, label in r}) > 1)

    def check(example: tuple[list[tuple[str, Any]], str, bool]) -> None:
        items, ending, ascii_only = example
        lines = [json.dumps({"text": t, "label": label}, ensure_ascii=ascii_only) for t, label in items]
        path = folder / "rows.jsonl"
        path.write_bytes(ending.join(lines).encode("utf-8"))
        data = outcome(lambda: load_labelled(DataSpec(path=path, format="jsonl", columns={"text": "text",
                                                                                        "label": "label"},
                                                      header=True), with_split=False), path)
        assert data is not None
        assert [data.texts[i] for i in data.rows] == [t for t, _ in items]
        assert list(data.labels) == [str(label).strip() for _, label in items]

    run(budget, st.tuples(rows, ENDINGS, st.booleans()), check)


# ------------------------------------------------------------------------------------------ BEIR


@st.composite
def beir_folder(draw: st.DrawFn) -> dict[str, bytes]:
    """The three files of a BEIR folder, each either well-formed-ish or messy."""
    ids = draw(st.lists(st.sampled_from(["d1", "d2", "d3", "1", "q1", "q2", " ", ""]) | st.integers(0, 3),
                        min_size=0, max_size=5))

    def records(field: str) -> bytes:
        if draw(st.integers(0, 4)) == 0:
            return draw(messy_jsonl(("_id", "text", "title")))
        lines = [json.dumps({"_id": identifier, field: draw(SAFE_TEXT | st.none() | st.integers())})
                 for identifier in ids]
        return draw(ENDINGS).join(lines).encode(draw(ENCODINGS), errors="replace")

    corpus, queries = records("text"), records("text")
    qrels_rows = draw(st.lists(st.lists(st.sampled_from(["q1", "q2", "d1", "d2", "1", "0", "2", "0.5", "-1", "x",
                                                         "query-id", "corpus-id", "score", ""]), min_size=1,
                                        max_size=5), max_size=6))
    qrels = draw(ENDINGS).join("\t".join(row) for row in qrels_rows)
    if draw(st.booleans()):
        qrels = "query-id\tcorpus-id\tscore" + draw(ENDINGS) + qrels
    raw = qrels.encode(draw(ENCODINGS), errors="replace")
    if draw(st.integers(0, 5)) == 0:
        raw = draw(st.binary(max_size=200))
    return {"corpus.jsonl": corpus, "queries.jsonl": queries, "qrels/test.tsv": raw}


@pytest.mark.parametrize("budget", BUDGETS)
def test_any_beir_folder_loads_or_fails_with_a_message_naming_the_file(tmp_path: Path, budget: int) -> None:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)

    def check(files: dict[str, bytes]) -> None:
        for name, content in files.items():
            (folder / name).write_bytes(content)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                data = load_beir(DataSpec(path=folder, format="beir", columns={}, header=True, split="test"))
            except MrlcheckError as exc:
                message = str(exc)
            else:
                message = ""
        if message:
            assert any(name.split("/")[-1] in message for name in files), message
            return
        assert data.query_ids and set(data.qrels) == set(data.query_ids)
        assert all(doc in data.doc_ids for judged in data.qrels.values() for doc in judged)
        assert all(text.strip() for text in (*data.queries, *data.documents))

    run(budget, beir_folder(), check)


# ------------------------------------------------------------------------------------------ npz


@st.composite
def npz_bytes(draw: st.DrawFn) -> bytes:
    """An .npz holding arrays of various dtypes and shapes under the right (or wrong) names, or junk."""
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.binary(max_size=300))
    out = io.BytesIO()
    n = draw(st.integers(0, 4))
    texts = draw(st.sampled_from([
        np.array([f"t{i}" for i in range(n)]), np.array([f"t{i % 2}" for i in range(n)]),
        np.arange(n), np.array([[f"t{i}"] for i in range(n)]), np.array([f"t{i}" for i in range(n)], dtype=object),
    ]))
    embeddings = draw(st.sampled_from([
        np.ones((n, 4), np.float32), np.full((n, 4), np.nan), np.ones((n,), np.float32), np.ones((n, 0)),
        np.ones((n + 1, 4)), np.ones((n, 4), np.int64), np.arange(n * 3, dtype=np.float16).reshape(n, 3),
    ]))
    names = draw(st.sampled_from([("texts", "embeddings"), ("text", "embeddings"), ("texts",)]))
    arrays = dict(zip(names, (texts, embeddings), strict=False))
    if choice == 1:
        np.save(out, embeddings)
    else:
        np.savez(out, **arrays)
    data = out.getvalue()
    if choice == 2 and data:  # damage a byte or cut the file short
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1:] if draw(st.booleans()) \
            else data[:position]
    return data


@pytest.mark.parametrize("budget", BUDGETS)
def test_any_npz_file_loads_or_fails_with_a_message_naming_it(tmp_path: Path, budget: int) -> None:
    folder = tmp_path
    context = ProviderContext(spec_dir=folder, rootdir=folder, device=None, file_digest=lambda p: p.read_bytes().hex(),
                              loaded_models={})

    def check(data: bytes) -> None:
        path = folder / "vectors.npz"
        path.write_bytes(data)
        context.loaded_models.clear()
        encoder = PrecomputedEncoder(PrecomputedSettings(path=path), context)
        vectors = outcome(lambda: encoder.encode(["t0"], "document"), path)
        if vectors is not None:
            assert vectors.shape[0] == 1 and np.isfinite(vectors).all()

    run(budget, npz_bytes(), check)
