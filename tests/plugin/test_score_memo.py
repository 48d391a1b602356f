"""The score memo: a warm run reads the cold run's numbers back, bit for bit, and recomputes as
soon as any input changes (data, task option, vectors, refresh); damaged rows are recomputed,
a read-only cache is read and not written, ``--mrlcheck-no-cache`` keeps no memo."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck import memo_table, pca, precision_eval, score_memo
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import SqliteStore, text_key
from pytest_mrlcheck.tasks import (
    agreement,
    classification,
    clustering,
    funnel,
    pair_classification,
    reranking,
    retrieval,
    sts,
)
from tests.support.beir import write_beir
from tests.support.fault_helpers import remount_read_only, tmpfs
from tests.support.helpers import FAKE_ENCODER, WORDS, write_sts_csv

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]
TOPICS = [WORDS[i : i + 6] for i in range(0, 36, 6)]
CHECKS = "checks:\n  prefix: {8: -1}\n  random: {dims: [8], samples: 4, margin: -1}\n"
BOOT = "bootstrap: {resamples: 60, seed: 2}\n"
TASKS = {
    "sts": "task: {kind: sts, data: {path: data/pairs.csv}}\n" + BOOT,
    "retrieval": "task: {kind: retrieval, data: {path: beir}, metric: ndcg@10}\n" + BOOT,
    "classification": "task: {kind: classification, method: logreg, data: {path: data/labels.csv}, "
                      "metric: accuracy}\n" + BOOT,
    "clustering": "task: {kind: clustering, data: {path: data/topics.csv}, seed: 3}\n",
    "pair-classification": "task: {kind: pair-classification, data: {path: data/pairs01.csv}}\n",
    "reranking": "task: {kind: reranking, data: {path: data/rerank.jsonl}, metric: mrr@3}\n" + BOOT,
    "agreement": "task: {kind: agreement, data: {path: data/corpus.jsonl}, queries: {count: 10, seed: 5}, "
                 "metric: overlap@5}\n",
    "pca": "task: {kind: retrieval, data: {path: beir}, metric: ndcg@10}\n"
           "views: {pca: {fit: corpus, sizes: [8, 16]}}\n",
    "precision-sts": "task: {kind: sts, data: {path: data/pairs.csv}}\n" + BOOT
                     + "views: {prefix: [8, 16], precision: [int8, binary]}\n",
    "precision-retrieval": "task: {kind: retrieval, data: {path: beir}, metric: ndcg@10}\n" + BOOT
                           + "views: {prefix: [8, 16], precision: [uint8, float16, ubinary]}\n",
    "funnel": "task: {kind: retrieval, data: {path: beir}, metric: ndcg@10, funnel: {shortlist_dims: 8, "
              "shortlist: 20, shortlist_precision: binary, rerank_precision: int8}}\n",
}
SCORERS = [(sts, "score_views"), (sts, "pair_similarities"), (retrieval, "score_views"),
           (classification, "score_views"), (classification, "predict_views"), (clustering, "score_views"),
           (pair_classification, "score_views"), (reranking, "score_views"), (reranking, "candidate_scores"),
           (agreement, "score_views"), (pca, "fit_projection"), (pca, "_score_projections"),
           (funnel, "_search_quality"),
           (precision_eval, "score_quantized"), (precision_eval, "quantized_replicates")]


def _sentence(rng: np.random.Generator, topic: int) -> str:
    return " ".join([*rng.choice(TOPICS[topic], 4, replace=False), *rng.choice(WORDS, 2, replace=False)])


def write_data(folder: Path) -> None:
    """Small data for every task kind in ``folder/data`` (and a BEIR folder ``folder/beir``)."""
    data = folder / "data"
    data.mkdir(exist_ok=True)
    write_sts_csv(data / "pairs.csv")
    write_beir(folder / "beir", docs=40)
    rng = np.random.default_rng(0)
    with (data / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label", "split"), *(
            (_sentence(rng, t), f"topic{t}", split) for split, n in (("train", 8), ("test", 4)) for t in range(4)
            for _ in range(n))])
    with (data / "topics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *((_sentence(rng, t), f"topic{t}") for t in range(5)
                                                           for _ in range(8))])
    with (data / "pairs01.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text1", "text2", "label"), *(
            (_sentence(rng, i % 6), _sentence(rng, i % 6 if i % 2 else (i + 1) % 6), i % 2) for i in range(30))])
    with (data / "rerank.jsonl").open("w") as handle:
        for q in range(10):
            handle.write(json.dumps({"query": _sentence(rng, q % 6), "positive": [_sentence(rng, q % 6)],
                                     "negative": [_sentence(rng, (q + k) % 6) for k in range(1, 4)]}) + "\n")
    with (data / "corpus.jsonl").open("w") as handle:
        for text in dict.fromkeys(_sentence(rng, t % 6) for t in range(50)):
            handle.write(json.dumps({"text": text}) + "\n")


def _spec(kind: str, task: str | None = None) -> str:
    return (f"name: {kind}\nmodel: {{provider: python, callable: 'fake_encoder:encode'}}\n"
            f"{task or TASKS[kind]}{CHECKS}")


VOLATILE = ("seconds", "encoding", "search_seconds", "relative_search_time")


def _numbers(report: Path) -> list[dict[str, Any]]:
    """Every spec of a JSON report without what may differ between runs (timings, cache hits)."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    specs = json.loads(report.read_text())["specs"]
    assert all(spec["error"] is None for spec in specs), [spec["error"] for spec in specs]
    return [clean(spec) for spec in specs]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the task scorers called (each scorer function records itself, then runs)."""
    calls: list[str] = []
    for module, name in SCORERS:
        original = getattr(module, name)

        def wrapper(*args: Any, _original: Any = original, _name: str = f"{module.__name__}.{name}",
                    **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)
    return calls


def _run(project: pytest.Pytester, report: str, *args: str) -> None:
    result = project.runpytest("--mrlcheck-cache-dir", "cache", "--mrlcheck-json", report, *args)
    result.assert_outcomes(passed=2 * len(list(project.path.glob("*.mrl.yaml"))))


def _memo_rows(project: pytest.Pytester) -> int:
    store = SqliteStore(project.path / "cache")
    try:
        return store.memo_summary().entries
    finally:
        store.close()


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_a_warm_run_reads_the_cold_numbers_back_without_scoring(
    kind: str, fake_project: pytest.Pytester, write_spec: Callable[..., Path], counted: list[str]
) -> None:
    write_data(fake_project.path)
    write_spec(_spec(kind))
    _run(fake_project, "cold.json")
    assert counted, "the cold run scores"
    rows = _memo_rows(fake_project)
    # views, and bootstrap replicates or the funnel's searches when asked; PCA adds its fit and its
    # projected views' scores; precision views add their scores and their replicates
    assert rows == (4 if kind.startswith("precision") else 3 if kind == "pca"
                    else 2 if "bootstrap" in TASKS[kind] or kind == "funnel" else 1)
    counted.clear()
    _run(fake_project, "warm.json")
    assert counted == []  # the warm run scores nothing (PCA: neither fits nor projects)
    assert _numbers(fake_project.path / "warm.json") == _numbers(fake_project.path / "cold.json")
    assert _memo_rows(fake_project) == rows


def test_a_changed_label_option_or_vector_is_scored_again(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], counted: list[str]
) -> None:
    write_data(fake_project.path)
    spec = write_spec(_spec("clustering"))
    _run(fake_project, "a.json")
    labels = fake_project.path / "data" / "topics.csv"
    rows = labels.read_text().splitlines()
    labels.write_text("\n".join([*rows[:-1], rows[-1].replace(rows[-1].rsplit(",", 1)[1], "topic0")]) + "\n")
    for change in ("label", "option", "refresh", "none"):
        counted.clear()
        if change == "option":
            spec.write_text(spec.read_text().replace("seed: 3", "seed: 4"))
        _run(fake_project, f"{change}.json", *(["--mrlcheck-refresh"] if change == "refresh" else []))
        assert bool(counted) == (change != "none"), change
    assert _numbers(fake_project.path / "refresh.json") == _numbers(fake_project.path / "none.json")


def test_a_changed_pca_fit_file_is_fitted_and_projected_again(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], counted: list[str]
) -> None:
    """The fit file's texts are not evaluation inputs: the projected views' key carries the fit vectors."""
    write_data(fake_project.path)
    fit = fake_project.path / "data" / "fit.csv"
    rng = np.random.default_rng(7)
    fit.write_text("text\n" + "\n".join(_sentence(rng, t % 6) for t in range(30)) + "\n")
    write_spec(_spec("pca", "task: {kind: retrieval, data: {path: beir}, metric: ndcg@10}\n"
                            "views: {pca: {fit: data/fit.csv, sizes: [8, 16]}}\n"))
    _run(fake_project, "a.json")
    counted.clear()
    _run(fake_project, "b.json")
    assert counted == []
    fit.write_text("text\n" + "\n".join(_sentence(rng, 0) for _ in range(30)) + "\n")  # other texts
    _run(fake_project, "c.json")
    assert "pytest_mrlcheck.pca.fit_projection" in counted and "pytest_mrlcheck.pca._score_projections" in counted

    def pca_scores(name: str) -> dict[str, float]:
        spec = json.loads((fake_project.path / name).read_text())["specs"][0]
        return {view: value for view, value in spec["scores"].items() if view.startswith("pca[")}

    assert pca_scores("a.json") == pca_scores("b.json") != pca_scores("c.json")
    assert len(pca_scores("a.json")) == 2


def test_no_cache_keeps_no_memo(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                counted: list[str]) -> None:
    write_data(fake_project.path)
    write_spec(_spec("clustering"))
    for _ in range(2):
        counted.clear()
        fake_project.runpytest("--mrlcheck-no-cache").assert_outcomes(passed=2)
        assert counted
    assert not (fake_project.path / "cache").exists()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """An on-disk cache in a folder with every kind's data."""
    write_data(tmp_path)
    cache = SqliteStore(tmp_path / "cache")
    yield cache
    cache.close()


def _evaluation_key(store: SqliteStore, vectors: np.ndarray, texts: list[str] | None = None,
                    fingerprint: str = "f", task: str = TASKS["clustering"]) -> bytes:
    path = store.directory.parent / "k.mrl.yaml"
    path.write_text(_spec("clustering", task))
    [spec] = load_specs(path)
    inputs = score_memo.InputDigest(True)
    inputs.add("query", texts or ["a", "b"], vectors)
    return score_memo.ScoreMemo.of(spec, store, inputs, fingerprint).base


def test_every_input_is_in_the_key(store: SqliteStore) -> None:
    vectors = np.arange(8, dtype=np.float32).reshape(2, 4)
    base = _evaluation_key(store, vectors)
    assert _evaluation_key(store, vectors.copy()) == base, "the same inputs: the same key"
    changed = vectors.copy()
    changed[1, 3] = np.nextafter(changed[1, 3], np.float32(10))
    variants = {
        "a vector": _evaluation_key(store, changed),
        "the dtype": _evaluation_key(store, vectors.astype(np.float64)),
        "the shape": _evaluation_key(store, vectors.reshape(4, 2)),
        "a text": _evaluation_key(store, vectors, ["a", "c"]),
        "the data": _evaluation_key(store, vectors, fingerprint="g"),
        "a task option": _evaluation_key(store, vectors, task=TASKS["clustering"].replace("seed: 3", "seed: 4")),
        "the data settings": _evaluation_key(store, vectors, task=TASKS["clustering"].replace(
            "topics.csv}", "topics.csv, limit: 20}")),
    }
    assert all(key != base for key in variants.values()), [name for name, key in variants.items() if key == base]
    assert len(set(variants.values())) == len(variants)
    memo = score_memo.ScoreMemo(store, base)
    masks = np.zeros((4, 1))
    calls = {memo.key("score", [(0, 2)], masks), memo.key("score", [(0, 3)], masks),
             memo.key("score", [(0, 2)], np.ones((4, 1))), memo.key("replicates", [(0, 2)], masks, 40, 2),
             memo.key("replicates", [(0, 2)], masks, 41, 2), memo.key("replicates", [(0, 2)], masks, 40, 3)}
    assert len(calls) == 6


def test_code_and_library_versions_are_in_the_key(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = np.ones((2, 4), dtype=np.float32)
    base = _evaluation_key(store, vectors)
    monkeypatch.setattr(score_memo, "code_digest", lambda: b"other source")
    assert _evaluation_key(store, vectors) != base
    monkeypatch.undo()
    monkeypatch.setattr(score_memo, "library_versions", lambda: b'{"scikit-learn": "0.1"}')
    assert _evaluation_key(store, vectors) != base
    monkeypatch.undo()
    assert json.loads(score_memo.library_versions())["numpy"] == np.__version__


def test_calibration_vectors_stand_in_the_key_by_their_digest(store: SqliteStore) -> None:
    memo = _memo(store)
    vectors = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    same = memo.digest_of(vectors.copy())
    assert np.array_equal(memo.digest_of(vectors), same) and same.shape == (32,)
    changed = vectors.copy()
    changed[3, 4] += 1e-3
    assert not np.array_equal(memo.digest_of(changed), same)
    assert not np.array_equal(memo.digest_of(vectors.astype(np.float64)), same)
    assert not np.array_equal(memo.digest_of(None), same)
    assert memo.key("quantized", [(0, 8)], same, 2) != memo.key("quantized", [(0, 8)], memo.digest_of(changed), 2)
    inactive = score_memo.ScoreMemo(None, b"", False)  # no memo: nothing is hashed
    assert np.array_equal(inactive.digest_of(vectors), inactive.digest_of(changed))


def test_only_the_on_disk_cache_memoises(store: SqliteStore) -> None:
    from pytest_mrlcheck.store import MemoryStore

    path = store.directory.parent / "k.mrl.yaml"
    path.write_text(_spec("clustering"))
    memo = score_memo.ScoreMemo.of(load_specs(path)[0], MemoryStore(), score_memo.InputDigest(False), "f")
    assert memo.store is None
    assert memo.scored("score", lambda: np.ones(2), [(0, 1)], np.zeros((1, 0))).tolist() == [1.0, 1.0]


def _memo(store: SqliteStore) -> score_memo.ScoreMemo:
    store.put_many("m", "{}", {text_key("t"): np.ones(4, dtype=np.float32)})  # a cache file exists
    return score_memo.ScoreMemo(store, b"base")


def test_a_damaged_row_is_ignored_and_rewritten(store: SqliteStore) -> None:
    memo = _memo(store)
    values = np.array([[0.25, 1 / 3], [np.pi, -0.0]])
    assert memo.scored("score", lambda: values, [(0, 1)], np.zeros((1, 0))) is values
    again = memo.scored("score", lambda: pytest.fail("scored again"), [(0, 1)], np.zeros((1, 0)))
    assert again.tobytes() == values.tobytes() and again.shape == (2, 2) and again.flags.writeable
    with sqlite3.connect(store.path) as conn:
        [data] = conn.execute("SELECT data FROM score_memo").fetchone()
        conn.execute("UPDATE score_memo SET data=?", (bytes([data[0] ^ 1]) + data[1:],))
    with pytest.warns(Warning, match="damaged score memo entry"):
        fresh = memo.scored("score", lambda: values * 2, [(0, 1)], np.zeros((1, 0)))
    assert fresh.tolist() == (values * 2).tolist()
    assert memo.scored("score", lambda: pytest.fail("scored again"), [(0, 1)],
                       np.zeros((1, 0))).tolist() == (values * 2).tolist(), "the damaged row was replaced"
    assert store.memo_summary() == memo_table.MemoSummary(1, 32)


def test_a_read_only_cache_reads_the_memo_and_writes_none(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        store = SqliteStore(disk / "cache")
        memo = _memo(store)
        memo.scored("score", lambda: np.ones(3), [(0, 1)], np.zeros((1, 0)))
        store.close()
        remount_read_only(disk)
        reader = SqliteStore(disk / "cache")
        memo = score_memo.ScoreMemo(reader, b"base")
        with pytest.warns(Warning, match="read-only"):
            assert reader.memo_get(memo.key("score", [(0, 1)], np.zeros((1, 0)))) is not None
        assert memo.scored("score", lambda: np.ones(3), [(0, 1)], np.zeros((1, 0))).tolist() == [1.0] * 3
        assert memo.scored("score", lambda: np.zeros(2), [(0, 2)], np.zeros((1, 0))).tolist() == [0.0] * 2
        assert reader.memo_summary().entries == 1, "nothing new stored"
        reader.close()


RECORDER = textwrap.dedent(
    """
    import json, os, sys
    import pytest

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(config):
        with open(os.environ["MODULES_OUT"], "w", encoding="utf-8") as handle:
            json.dump(sorted(sys.modules), handle)
    """
)


def test_a_warm_clustering_classification_and_pca_run_does_not_import_sklearn(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "fake_encoder.py").write_text(FAKE_ENCODER, encoding="utf-8")
    (folder / "conftest.py").write_text(RECORDER, encoding="utf-8")
    write_data(folder)
    for kind in ("clustering", "classification", "pca"):
        (folder / f"{kind}.mrl.yaml").write_text(_spec(kind), encoding="utf-8")
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(folder), os.environ.get("PYTHONPATH")]))}
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.pop("FAKE_DIM", None)
    loaded = []
    for run in ("cold", "warm"):
        env["MODULES_OUT"] = str(tmp_path / f"{run}.json")
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "pytest_mrlcheck.plugin", "-p",
                               "no:cacheprovider", "-q", "--mrlcheck-cache-dir", "cache", "--mrlcheck-json",
                               f"{run}-report.json"], cwd=folder, env=env, capture_output=True, text=True,
                              check=False, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        loaded.append(set(json.loads((tmp_path / f"{run}.json").read_text())))
    assert "sklearn" in loaded[0], "the cold run fits with scikit-learn"
    assert [name for name in ("sklearn", "scipy") if name in loaded[1]] == []
    assert _numbers(folder / "warm-report.json") == _numbers(folder / "cold-report.json")


def test_one_array_is_hashed_once_per_evaluation(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PCA fit and its projected views key on the same fit vectors: one hash, one digest."""
    memo = score_memo.ScoreMemo(store, b"base")
    hashed: list[int] = []
    original = score_memo._add_array

    def counting(digest: Any, values: np.ndarray) -> None:
        hashed.append(values.size)
        original(digest, values)

    monkeypatch.setattr(score_memo, "_add_array", counting)
    vectors = np.arange(12.0).reshape(3, 4)
    first = memo.digest_of(vectors)
    assert np.array_equal(memo.digest_of(vectors), first) and hashed == [12]
    other = vectors.copy()  # equal content, another array: hashed, same digest
    assert np.array_equal(memo.digest_of(other), first) and hashed == [12, 12]
    assert not np.array_equal(memo.digest_of(vectors + 1), first)
