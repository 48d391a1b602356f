"""One builder per task kind: the same bad row reads the same from a local file and from ``hf:`` data.

Each case writes the same rows as a local jsonl file (or BEIR folder) and as a dataset read by the hub
loader, and checks both raise the same message after the row's origin (``path:3`` / ``dataset: row 3``),
with the same hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_mrlcheck.data import (
    CellRow,
    Origin,
    load_beir,
    load_labelled,
    load_pair_labels,
    load_rerank,
    load_sts,
    load_texts,
    rerank_data,
    unique_texts,
)
from pytest_mrlcheck.errors import DataError
from pytest_mrlcheck.spec import DataSpec


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _after(message: str, origin: str) -> str:
    assert message.startswith(origin + ": "), (message, origin)
    return message.removeprefix(origin)


def _same(local: DataError, local_origin: str, hub: DataError, hub_origin: str, expected: str) -> None:
    assert _after(local.message, local_origin) == _after(hub.message, hub_origin) == f": {expected}"
    assert local.hint == hub.hint


def _hub(tmp_path: Path, rows: list[dict[str, Any]], kind: str, **source: Any) -> tuple[DataError, str]:
    pytest.importorskip("datasets")
    from pytest_mrlcheck.data_hub import HFSource, load_hf

    path = _jsonl(tmp_path / "hub" / "test.jsonl", rows)
    hf = HFSource(str(path), cache_dir=tmp_path / "hf-cache", **source)
    with pytest.raises(DataError) as caught:
        load_hf(hf, kind, {})
    return caught.value, f"{hf.describe()}: row"


def _local(tmp_path: Path, rows: list[dict[str, Any]], loader: Any, columns: dict[str, str | int],
           *args: Any) -> tuple[DataError, Path]:
    path = _jsonl(tmp_path / "local.jsonl", rows)
    with pytest.raises(DataError) as caught:
        loader(DataSpec(path=path, format="jsonl", columns=columns, header=True), *args)
    return caught.value, path


STS = {"text1": "sentence1", "text2": "sentence2", "score": "score"}


def test_a_bad_sts_score_reads_the_same(tmp_path: Path) -> None:
    rows = [{"sentence1": f"a{i}", "sentence2": f"b{i}", "score": s} for i, s in enumerate(["1", "high", "3"])]
    local, path = _local(tmp_path, rows, load_sts, STS)
    hub, origin = _hub(tmp_path, rows, "sts")
    _same(local, f"{path}:2", hub, f"{origin} 2", "score 'high' is not a number")


def test_an_empty_sts_text_reads_the_same(tmp_path: Path) -> None:
    rows = [{"sentence1": t, "sentence2": f"b{i}", "score": i} for i, t in enumerate(["a", "b", "  "])]
    local, path = _local(tmp_path, rows, load_sts, STS)
    hub, origin = _hub(tmp_path, rows, "sts")
    _same(local, f"{path}:3", hub, f"{origin} 3", "text1 is empty")


def test_a_fractional_class_label_reads_the_same(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": label} for i, label in enumerate([0.0, 1.0, 1.5])]
    local, path = _local(tmp_path, rows, load_labelled, {"text": "text", "label": "label"}, False)
    hub, origin = _hub(tmp_path, rows, "clustering")
    _same(local, f"{path}:3", hub, f"{origin} 3", "label 1.5 is a fractional number, not a class")


def test_a_pair_label_that_is_not_binary_reads_the_same(tmp_path: Path) -> None:
    rows = [{"sentence1": f"a{i}", "sentence2": f"b{i}", "label": label} for i, label in enumerate([0, 2, 1])]
    local, path = _local(tmp_path, rows, load_pair_labels, {"text1": "sentence1", "text2": "sentence2",
                                                            "label": "label"})
    hub, origin = _hub(tmp_path, rows, "pair-classification")
    _same(local, f"{path}:2", hub, f"{origin} 2", "label '2' is not 0 or 1")


def test_the_same_rerank_row_reads_the_same_from_a_file_and_from_cells(tmp_path: Path) -> None:
    rows = [{"query": "q", "positive": ["a"], "negative": ["b"]}, {"query": "r", "positive": ["c"], "negative": "c"}]
    local, path = _local(tmp_path, rows, load_rerank, {"query": "query", "positive": "positive",
                                                       "negative": "negative"})
    cells = [CellRow(Origin("set", number, "row"), row) for number, row in enumerate(rows, start=1)]
    with pytest.raises(DataError) as caught:
        rerank_data(cells, "set", tmp_path)
    _same(local, f"{path}:2", caught.value, "set: row 2", "'c' is both a positive and a negative candidate")


def test_the_same_blank_text_reads_the_same_in_a_corpus_file_and_from_cells(tmp_path: Path) -> None:
    rows = [{"text": "a"}, {"text": 3}]
    local, path = _local(tmp_path, rows, load_texts, {"text": "text"})
    cells = [CellRow(Origin("set", number, "row"), row) for number, row in enumerate(rows, start=1)]
    with pytest.raises(DataError) as caught:
        unique_texts(cells, "set")
    _same(local, f"{path}:2", caught.value, "set: row 2", "text must be text, got int '3'")


CORPUS = [{"_id": "d1", "title": "Cats", "text": "Cats purr."}, {"_id": "d2", "title": " ", "text": ""}]
QUERIES = [{"_id": "q1", "text": "what do cats do"}]
QRELS = [{"query-id": "q1", "corpus-id": "d1", "score": "1"}, {"query-id": "q1", "corpus-id": "d2", "score": "x"}]


def _retrieval_errors(tmp_path: Path, corpus: list[dict[str, Any]],
                      qrels: list[dict[str, Any]]) -> tuple[DataError, Path, DataError, str]:
    datasets = pytest.importorskip("datasets")
    from pytest_mrlcheck.data_hub import HFSource, load_hf

    beir = tmp_path / "beir"
    _jsonl(beir / "corpus.jsonl", corpus)
    _jsonl(beir / "queries.jsonl", QUERIES)
    (beir / "qrels").mkdir()
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{r['query-id']}\t{r['corpus-id']}\t{r['score']}\n" for r in qrels),
        encoding="utf-8")
    with pytest.raises(DataError) as local:
        load_beir(DataSpec(path=beir, format="beir", columns={}, header=True, split="test"))
    parts = tmp_path / "parts"
    datasets.Dataset.from_list(corpus).save_to_disk(str(parts / "corpus"))
    datasets.Dataset.from_list(QUERIES).save_to_disk(str(parts / "queries"))
    datasets.DatasetDict({"test": datasets.Dataset.from_list(qrels)}).save_to_disk(str(parts / "qrels"))
    source = HFSource(str(parts), cache_dir=tmp_path / "hf-cache")
    with pytest.raises(DataError) as hub:
        load_hf(source, "retrieval", {})
    return local.value, beir, hub.value, source.describe()


def test_a_document_without_text_reads_the_same(tmp_path: Path) -> None:
    local, beir, hub, what = _retrieval_errors(tmp_path, CORPUS, QRELS[:1])
    _same(local, f"{beir / 'corpus.jsonl'}:2", hub, f"{what} corpus: row 2",
          "id 'd2' has no text (title and text empty)")


def test_a_judgement_grade_that_is_not_a_number_reads_the_same(tmp_path: Path) -> None:
    corpus = [CORPUS[0], {"_id": "d2", "title": "Dogs", "text": "Dogs bark."}]
    local, beir, hub, what = _retrieval_errors(tmp_path, corpus, QRELS)
    # line 3 of the file (after its header) is row 2 of the judgements table
    _same(local, f"{beir / 'qrels' / 'test.tsv'}:3", hub, f"{what} judgements: row 2", "score 'x' is not a number")
