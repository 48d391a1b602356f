"""hf: and mteb: data (pytest_mrlcheck.data_hub) with the real ``datasets`` and ``mteb`` libraries.

Every dataset is built here, in tmp_path: there is no network to the Hugging Face hub. The hub-id
tests set HF_HUB_OFFLINE=1 and check the error; the unreachable-hub path (no offline variable)
is measured by hand, not timed here.
"""

from __future__ import annotations

import http.server
import json
import socket
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.data import MrlcheckDataWarning
from pytest_mrlcheck.data_hub import (
    HFSource,
    describe_mteb,
    hub_reachable,
    load_hf,
    load_mteb,
)
from pytest_mrlcheck.errors import DataError

datasets = pytest.importorskip("datasets")

STS_ROWS = {
    "sentence1": ["a cat sits", "a dog runs", "a cat sits", "rain falls", "the sun shines"],
    "sentence2": ["a cat is sitting", "a dog is sleeping", "a bird sings", "it is raining", "rain falls"],
    "score": [4.8, 2.0, 0.5, 4.5, 1.0],
}

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr."},
    {"_id": "d2", "title": "", "text": "Dogs bark."},
    {"_id": "d3", "title": "Birds", "text": "Birds sing."},
]
QUERIES = [{"_id": "q1", "text": "what purrs"}, {"_id": "q2", "text": "who barks"}, {"_id": "q3", "text": "silence"}]
QRELS = [
    {"query-id": "q1", "corpus-id": "d1", "score": 2},
    {"query-id": "q2", "corpus-id": "d2", "score": 1},
    {"query-id": "q2", "corpus-id": "d9", "score": 1},  # unknown document: ignored with a warning
]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A datasets cache of the test's own, so loading local files writes nothing to ~/.cache."""
    return tmp_path / "hf-cache"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_mteb_retrieval_folder(folder: Path) -> Path:
    """The MTEB (v2) retrieval layout as a local dataset folder: configs corpus, queries, default."""
    write_jsonl(folder / "corpus.jsonl", CORPUS)
    write_jsonl(folder / "queries.jsonl", QUERIES)
    write_jsonl(folder / "qrels" / "test.jsonl", QRELS)
    (folder / "README.md").write_text(textwrap.dedent("""\
        ---
        configs:
        - config_name: corpus
          data_files:
          - split: test
            path: corpus.jsonl
        - config_name: queries
          data_files:
          - split: test
            path: queries.jsonl
        - config_name: default
          data_files:
          - split: test
            path: qrels/test.jsonl
        ---
        A tiny retrieval set.
        """), encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- hf: local data


def test_sts_from_save_to_disk_dedupes_texts(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "sts"
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(STS_ROWS)}).save_to_disk(str(folder))
    data = load_hf(HFSource(str(folder), cache_dir=cache), "sts", {})
    assert data.texts == ("a cat sits", "a cat is sitting", "a dog runs", "a dog is sleeping", "a bird sings",
                          "rain falls", "it is raining", "the sun shines")
    np.testing.assert_array_equal(data.left, [0, 2, 0, 5, 7])
    np.testing.assert_array_equal(data.right, [1, 3, 4, 6, 5])
    np.testing.assert_allclose(data.gold, STS_ROWS["score"])
    assert data.source == folder
    limited = load_hf(HFSource(str(folder), cache_dir=cache), "sts", {}, limit=3)
    assert limited.pairs == 3
    assert limited.texts == data.texts[:5]
    # the fingerprint is the data's, not the format's: the same rows from a csv give the same one
    csv_folder = tmp_path / "csv"
    csv_folder.mkdir()
    datasets.Dataset.from_dict(STS_ROWS).to_csv(str(csv_folder / "test.csv"), index=False)
    assert load_hf(HFSource(str(csv_folder), cache_dir=cache), "sts", {}).fingerprint() == data.fingerprint()


def test_a_saved_single_dataset_is_its_own_split(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "one"
    datasets.Dataset.from_dict(STS_ROWS).save_to_disk(str(folder))
    assert load_hf(HFSource(str(folder), split="whatever", cache_dir=cache), "sts", {}).pairs == 5


def test_csv_folder_with_splits_and_mapped_columns(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "pairs"
    folder.mkdir()
    rows = {"left": STS_ROWS["sentence1"], "right": STS_ROWS["sentence2"], "gold": STS_ROWS["score"]}
    for split in ("train", "test"):
        datasets.Dataset.from_dict(rows).to_csv(str(folder / f"{split}.csv"), index=False)
    source = HFSource(str(folder), split="train", cache_dir=cache)
    data = load_hf(source, "sts", {"text1": "left", "text2": "right", "score": "gold"})
    assert data.pairs == 5
    assert data.texts[0] == "a cat sits"
    with pytest.raises(DataError, match=r"column 'sentence1' \(for text1\) is not in the dataset's columns") as info:
        load_hf(source, "sts", {})
    assert "columns: {text1: 'left'}" in str(info.value)


def test_missing_split_lists_the_splits(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    datasets.Dataset.from_dict(STS_ROWS).to_csv(str(folder / "pairs.csv"), index=False)
    with pytest.raises(DataError, match=r"has no split 'test'") as info:
        load_hf(HFSource(str(folder), cache_dir=cache), "sts", {})
    assert "one of: train" in str(info.value)
    assert "name them after their split" in str(info.value)


def test_bad_rows_are_data_errors(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "bad"
    rows = {**STS_ROWS, "score": ["high", "2", "3", "4", "5"]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)}).save_to_disk(str(folder))
    with pytest.raises(DataError, match=r"row 1: score 'high' is not a number"):
        load_hf(HFSource(str(folder), cache_dir=cache), "sts", {})
    with pytest.raises(DataError, match="no such file or folder"):
        load_hf(HFSource(str(tmp_path / "nope"), cache_dir=cache), "sts", {})
    with pytest.raises(DataError, match="cannot read hf: data"):
        load_hf(HFSource(str(folder), cache_dir=cache), "reranking", {})


def test_classification_trains_on_the_train_split_with_label_names(tmp_path: Path, cache: Path) -> None:
    labels = datasets.ClassLabel(names=["neg", "pos"])
    features = datasets.Features({"text": datasets.Value("string"), "label": labels})
    train = datasets.Dataset.from_dict({"text": ["good", "bad", "great"], "label": [1, 0, 1]}, features=features)
    test = datasets.Dataset.from_dict({"text": ["fine", "awful", "good"], "label": [1, 0, 1]}, features=features)
    folder = tmp_path / "cls"
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(folder))
    data = load_hf(HFSource(str(folder), cache_dir=cache), "classification", {})
    assert data.labels == ("pos", "neg", "pos", "pos", "neg", "pos")
    assert data.splits == ("train",) * 3 + ("test",) * 3
    assert data.texts == ("good", "bad", "great", "fine", "awful")  # "good" appears in both splits, once here
    np.testing.assert_array_equal(data.rows, [0, 1, 2, 3, 4, 0])
    with pytest.raises(DataError, match="also the training split"):
        load_hf(HFSource(str(folder), split="train", cache_dir=cache), "classification", {})


def test_pair_classification_and_clustering_in_mteb_list_layout(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "pairs"
    # MTEB's v1 layout: the whole split in one row of lists
    one_row = {"sentence1": [["a", "b", "c"]], "sentence2": [["a2", "b2", "c2"]], "labels": [[1, 0, 1]]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(one_row)}).save_to_disk(str(folder))
    pairs = load_hf(HFSource(str(folder), cache_dir=cache), "pair-classification", {})
    assert pairs.texts == ("a", "a2", "b", "b2", "c", "c2")
    np.testing.assert_array_equal(pairs.labels, [1, 0, 1])
    assert load_hf(HFSource(str(folder), cache_dir=cache), "pair-classification", {}, limit=2).labels.tolist() == [1, 0]

    folder = tmp_path / "clusters"
    rows = {"sentences": ["x1", "x2", "y1", "y2"], "labels": [["x", "x-a"], ["x", "x-b"], ["y", "y-a"], ["y", "y-a"]]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)}).save_to_disk(str(folder))
    clusters = load_hf(HFSource(str(folder), cache_dir=cache), "clustering", {})
    assert clusters.labels == ("x", "x", "y", "y")  # hierarchical labels count by their first level
    assert clusters.splits == ("",) * 4


def test_retrieval_from_an_mteb_layout_folder(tmp_path: Path, cache: Path) -> None:
    folder = write_mteb_retrieval_folder(tmp_path / "tiny")
    with pytest.warns(MrlcheckDataWarning, match="1 judgements name documents"):
        data = load_hf(HFSource(str(folder), cache_dir=cache), "retrieval", {})
    assert data.doc_ids == ("d1", "d2", "d3")
    assert data.documents == ("Cats Cats purr.", "Dogs bark.", "Birds Birds sing.")
    assert data.query_ids == ("q1", "q2")
    assert data.queries == ("what purrs", "who barks")
    assert data.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1}}
    assert data.unjudged_queries == 1
    with pytest.warns(MrlcheckDataWarning):
        limited = load_hf(HFSource(str(folder), cache_dir=cache), "retrieval", {}, limit=1, document="{text}")
    assert limited.query_ids == ("q1",)
    assert limited.documents[0] == "Cats purr."
    with pytest.raises(DataError, match=r"config 'default', split 'dev'\) has no split 'dev'"):
        load_hf(HFSource(str(folder), split="dev", cache_dir=cache), "retrieval", {})


def test_retrieval_beir_hub_layout_with_separate_judgements(tmp_path: Path, cache: Path) -> None:
    # BeIR/scifact on the hub: configs corpus and queries (splits named after them), judgements elsewhere
    folder = tmp_path / "beir"
    write_jsonl(folder / "corpus.jsonl", CORPUS)
    write_jsonl(folder / "queries.jsonl", QUERIES)
    (folder / "README.md").write_text(textwrap.dedent("""\
        ---
        configs:
        - config_name: corpus
          data_files:
          - split: corpus
            path: corpus.jsonl
        - config_name: queries
          data_files:
          - split: queries
            path: queries.jsonl
        ---
        """), encoding="utf-8")
    qrels = tmp_path / "beir-qrels"
    qrels.mkdir()
    datasets.Dataset.from_list(QRELS[:2]).to_csv(str(qrels / "test.tsv"), sep="\t", index=False)
    data = load_hf(HFSource(str(folder), qrels=str(qrels), cache_dir=cache), "retrieval", {})
    assert data.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1}}
    assert data.unjudged_queries == 1


def test_retrieval_from_saved_part_folders(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "parts"
    datasets.Dataset.from_list(CORPUS).save_to_disk(str(folder / "corpus"))
    datasets.Dataset.from_list(QUERIES).save_to_disk(str(folder / "queries"))
    datasets.DatasetDict({"test": datasets.Dataset.from_list(QRELS[:2])}).save_to_disk(str(folder / "qrels"))
    data = load_hf(HFSource(str(folder), cache_dir=cache), "retrieval", {})
    assert data.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1}}
    with pytest.raises(DataError, match=r"has no split 'dev'"):
        load_hf(HFSource(str(folder), split="dev", cache_dir=cache), "retrieval", {})


def test_resolve_hf_path(tmp_path: Path) -> None:
    from pytest_mrlcheck.datapaths import resolve_hf_path

    (tmp_path / "data" / "sts").mkdir(parents=True)
    assert resolve_hf_path("data/sts", tmp_path) == str(tmp_path / "data" / "sts")
    assert resolve_hf_path("./missing", tmp_path) == str(tmp_path / "missing")
    assert resolve_hf_path("mteb/stsbenchmark-sts", tmp_path) == "mteb/stsbenchmark-sts"
    assert resolve_hf_path("hf://datasets/data/sts", tmp_path) == "hf://datasets/data/sts"


# --------------------------------------------------------------------------- hub ids without a hub


def test_uncached_hub_id_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read at call time, although both libraries are imported
    before = (huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE)
    source = HFSource("mrlcheck-tests/not-cached-anywhere", revision="0123abc", cache_dir=cache)
    with pytest.raises(DataError) as info:
        load_hf(source, "sts", {})
    message = str(info.value)
    assert "dataset 'mrlcheck-tests/not-cached-anywhere' (split 'test', revision '0123abc')" in message
    assert "is not in the local Hugging Face cache, and offline mode is set" in message
    assert "run once with network access" in message
    assert str(cache) in message
    assert "save_to_disk" in message
    # the libraries' own flags are as they were
    after = (huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE)
    assert after == before


def test_offline_a_pinned_commit_must_be_the_cached_one(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    # The datasets cache layout: <owner>___<name>/<config>/<version>/<commit>/ (the newest one is read offline)
    old, pinned = "a" * 40, "b" * 40
    (cache / "someone___tiny_sts" / "default" / "0.0.0" / old).mkdir(parents=True)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match=f"would read the newest cached revision {old}, not the pinned one"):
        load_hf(HFSource("someone/TinySts", revision=pinned, cache_dir=cache), "sts", {})


def test_hub_probe_on_local_servers() -> None:
    class Answering(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(404)  # any answer but a gateway error means the hub is there
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            assert hub_reachable(f"http://127.0.0.1:{server.server_address[1]}", timeout=2.0)
        finally:
            server.shutdown()
            thread.join()
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        assert not hub_reachable(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        assert not hub_reachable(f"http://127.0.0.1:{closed.getsockname()[1]}", timeout=2.0)


# --------------------------------------------------------------------------- mteb:


@pytest.fixture(scope="module")
def mteb() -> Any:
    return pytest.importorskip("mteb")  # importing mteb takes a few seconds (scikit-learn, polars, pydantic)


def local_task(mteb: Any, base: type, name: str, task_type: str, folder: Path, **attributes: Any) -> Any:
    """An MTEB task of our own whose dataset is a local folder: MTEB's own loader reads it."""
    metadata = mteb.TaskMetadata(
        name=name, description="a local test task", type=task_type, eval_splits=["test"], eval_langs=["eng-Latn"],
        main_score="cosine_spearman", dataset={"path": str(folder), "revision": "local"},
    )
    return type(name, (base,), {"metadata": metadata, **attributes})()


def test_mteb_local_sts_task(mteb: Any, tmp_path: Path, cache: Path) -> None:
    from mteb.abstasks.sts import AbsTaskSTS

    folder = tmp_path / "mteb-sts"
    folder.mkdir()
    datasets.Dataset.from_dict(STS_ROWS).to_json(str(folder / "test.jsonl"))
    task = local_task(mteb, AbsTaskSTS, "LocalSTS", "STS", folder)
    data = load_mteb(task, "test", "sts", cache_dir=cache)
    assert data.pairs == 5
    assert data.texts[:2] == ("a cat sits", "a cat is sitting")
    np.testing.assert_allclose(data.gold, STS_ROWS["score"])
    assert str(data.source) == "mteb:LocalSTS"
    # the same rows through hf: give the same data
    assert load_hf(HFSource(str(folder), cache_dir=cache), "sts", {}).fingerprint() == data.fingerprint()

    other = local_task(mteb, AbsTaskSTS, "LocalSTS2", "STS", folder)
    with pytest.raises(DataError, match=r"'LocalSTS2' is a STS task; task.kind retrieval cannot evaluate it") as info:
        load_mteb(other, "test", "retrieval", cache_dir=cache)
    assert "set task.kind: sts" in str(info.value)


def test_mteb_local_retrieval_task(mteb: Any, tmp_path: Path, cache: Path) -> None:
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    folder = write_mteb_retrieval_folder(tmp_path / "mteb-retrieval")
    task = local_task(mteb, AbsTaskRetrieval, "LocalRetrieval", "Retrieval", folder)
    with pytest.warns(MrlcheckDataWarning, match="1 judgements name documents"):
        data = load_mteb(task, "test", "retrieval", cache_dir=cache)
    assert data.query_ids == ("q1", "q2")
    assert data.documents == ("Cats Cats purr.", "Dogs bark.", "Birds Birds sing.")
    assert data.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1}}
    assert data.unjudged_queries == 0  # MTEB's loader keeps only the judged queries


def test_mteb_names_and_offline(mteb: Any, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    with pytest.raises(DataError, match="mteb has no task 'STSBenchmarkk'") as info:
        load_mteb("STSBenchmarkk", "test", "sts")
    assert "Did you mean: 'STSBenchmark" in str(info.value)

    facts = describe_mteb("SciFact")
    assert (facts.type, facts.kind, facts.dataset, facts.eval_splits) == ("Retrieval", "retrieval", "mteb/scifact",
                                                                          ("test",))
    assert facts.revision

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        load_mteb("STSBenchmark", "test", "sts", cache_dir=cache)
    message = str(info.value)
    assert "mteb task 'STSBenchmark' (dataset 'mteb/stsbenchmark-sts', revision 'b0fddb56" in message
    assert "is not in the local Hugging Face cache, and offline mode is set" in message
    with pytest.raises(DataError, match=r"mteb task 'STS22' has \d+ subsets; choose one") as info:
        load_mteb("STS22", "test", "sts", cache_dir=cache)
    assert info.value.hint is not None
    assert info.value.hint.startswith("subsets: en, de, es")


def test_mteb_local_classification_clustering_and_pairs(mteb: Any, tmp_path: Path, cache: Path) -> None:
    from mteb.abstasks.classification import AbsTaskClassification
    from mteb.abstasks.clustering import AbsTaskClustering
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    folder = tmp_path / "cls"
    write_jsonl(folder / "train.jsonl", [{"text": t, "label": lab} for t, lab in [("good", 1), ("bad", 0)]])
    write_jsonl(folder / "test.jsonl", [{"text": t, "label": lab} for t, lab in [("fine", 1), ("awful", 0)]])
    task = local_task(mteb, AbsTaskClassification, "LocalClassification", "Classification", folder)
    data = load_mteb(task, "test", "classification", cache_dir=cache)
    assert (data.texts, data.labels, data.splits) == (("good", "bad", "fine", "awful"), ("1", "0", "1", "0"),
                                                      ("train", "train", "test", "test"))

    folder = tmp_path / "clusters"
    write_jsonl(folder / "test.jsonl", [{"sentences": t, "labels": t[0]} for t in ("x1", "x2", "y1")])
    task = local_task(mteb, AbsTaskClustering, "LocalClustering", "Clustering", folder)
    assert load_mteb(task, "test", "clustering", cache_dir=cache).labels == ("x", "x", "y")

    folder = tmp_path / "pairs"
    write_jsonl(folder / "test.jsonl", [{"sentence1": ["a", "b"], "sentence2": ["a2", "b2"], "labels": [1, 0]}])
    task = local_task(mteb, AbsTaskPairClassification, "LocalPairs", "PairClassification", folder)
    assert load_mteb(task, "test", "pair-classification", cache_dir=cache).labels.tolist() == [1, 0]
