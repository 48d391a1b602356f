"""PCA references scored by the engine equal a direct scikit-learn computation on the same vectors."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.data import load_sts
from pytest_mrlcheck.evaluation import _PREPARERS, RunContext, SpecResult, evaluate
from pytest_mrlcheck.pca import fit_projection, solver_for
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import MemoryStore
from pytest_mrlcheck.tasks import classification, retrieval
from tests.support.helpers import WORDS, write_sts_csv

decomposition = pytest.importorskip("sklearn.decomposition")
stats = pytest.importorskip("scipy.stats")


@pytest.fixture
def folder(encoder_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_DIM", "48")
    return encoder_folder


def _evaluate(folder: Path, body: str) -> tuple[SpecResult, Any, RunContext]:
    path = folder / "p.mrl.yaml"
    path.write_text("name: p\nmodel: {provider: python, callable: 'fake_encoder:encode'}\n" + body, encoding="utf-8")
    spec = load_specs(path)[0]
    run = RunContext(store=MemoryStore(), rootdir=folder)
    result = evaluate(spec, run)
    return result, _PREPARERS[spec.task.kind](spec, run, run.encoder_for(spec)), run


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _sklearn(fit: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """scikit-learn's own PCA of size k (exact solver), applied with its transform, renormalised (cosine)."""
    model = decomposition.PCA(n_components=k, svd_solver="full").fit(np.asarray(fit, dtype=np.float64))
    return _unit(model.transform(np.asarray(rows, dtype=np.float64)))


def _without_identical_bags(path: Path) -> None:
    """Drop pairs whose two sentences hold the same words: their cosine is 1 up to rounding, and the
    order of such ties (not PCA) would decide the reference's Spearman."""
    with path.open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *(r for r in rows if sorted(r[0].split()) != sorted(r[1].split()))])


def test_sts_pca_equals_sklearn_and_scipy(folder: Path) -> None:
    write_sts_csv(folder / "data" / "pairs.csv", pairs=80)
    _without_identical_bags(folder / "data" / "pairs.csv")
    write_sts_csv(folder / "data" / "other.csv", pairs=50, seed=7)
    with (folder / "data" / "other.csv").open(newline="") as handle:
        fit_texts = sorted({text for row in list(csv.reader(handle))[1:] for text in row[:2]})
    (folder / "data" / "fit.csv").write_text("text\n" + "\n".join(fit_texts) + "\n", encoding="utf-8")
    result, _, run = _evaluate(folder, "task: {kind: sts, data: {path: data/pairs.csv}}\n"
                                       "views: {pca: {fit: data/fit.csv, sizes: [4, 8, 24]}}\n"
                                       "checks: {prefix: {8: -1}}\n")
    spec = result.spec
    data = load_sts(spec.task.data)
    encoder = run.encoder_for(spec)
    vectors, fit = encoder.encode(list(data.texts), "query"), encoder.encode(fit_texts, "query")
    assert result.pca is not None and result.pca.texts == len(fit_texts) and result.pca.note is None
    for k in (4, 8, 24):
        mapped = _sklearn(fit, vectors, k)
        cosines = (mapped[data.left] * mapped[data.right]).sum(axis=1)
        expected = stats.spearmanr(cosines, data.gold).statistic
        assert result.scores[f"pca[{k}]"] == pytest.approx(expected, abs=1e-9), k
        assert result.pca.prefix[k] == result.scores[f"prefix[{k}]"]
        own = decomposition.PCA(n_components=k, svd_solver="full").fit(fit.astype(np.float64))
        explained = own.explained_variance_ratio_.sum()
        assert result.pca.explained[k] == pytest.approx(explained, abs=1e-9)


def _write_beir(folder: Path) -> None:
    from tests.support.beir import write_beir

    write_beir(folder / "data" / "beir", docs=60)


def test_retrieval_default_fit_is_the_corpus(folder: Path) -> None:
    _write_beir(folder)
    result, prepared, _ = _evaluate(folder, "task: {kind: retrieval, metric: ndcg@10, data: {path: data/beir}}\n"
                                            "checks: {pca: {16: {max_gap: 0.5}}}\n")
    from pytest_mrlcheck.data import load_beir

    data = load_beir(result.spec.task.data)
    queries = len(prepared.vectors) - len(data.doc_ids)  # queries first, then the documents
    documents = prepared.vectors[queries:]
    assert result.pca is not None and result.pca.fit == "corpus" and result.pca.texts == len(data.doc_ids)
    relevance = retrieval.Relevance.from_qrels(data.qrels, data.query_ids, data.doc_ids)
    mapped_q, mapped_d = _sklearn(documents, prepared.vectors[:queries], 16), _sklearn(documents, documents, 16)
    found = retrieval.score_views(mapped_q, mapped_d, retrieval.views_from_plan([(0, 16)], np.zeros((16, 0))),
                                  relevance, ["ndcg@10"], "dot")
    assert result.scores["pca[16]"] == pytest.approx(float(found.means["ndcg@10"][0]), abs=1e-9)


def test_classification_default_fit_is_the_train_split(folder: Path) -> None:
    rng = np.random.default_rng(0)
    topics = [WORDS[i : i + 6] for i in range(0, 24, 6)]
    rows = [(" ".join([*rng.choice(topics[t], 4, replace=False), *rng.choice(WORDS, 2, replace=False)]), f"t{t}",
             split) for split, n in (("train", 10), ("test", 5)) for t in range(4) for _ in range(n)]
    with (folder / "data" / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label", "split"), *rows])
    result, prepared, _ = _evaluate(folder, "task: {kind: classification, k: 3, data: {path: data/labels.csv}}\n"
                                            "views: {pca: {sizes: [8]}}\nchecks: {prefix: {8: -1}}\n")
    texts = list(dict.fromkeys(r[0] for r in rows))
    train = [texts.index(r[0]) for r in rows if r[2] == "train"]
    test = [texts.index(r[0]) for r in rows if r[2] == "test"]
    assert result.pca is not None and result.pca.fit == "train" and result.pca.texts == len(train)
    mapped = _sklearn(prepared.vectors[train], prepared.vectors, 8)
    expected = classification.score_views(mapped[train], [r[1] for r in rows if r[2] == "train"], mapped[test],
                                          [r[1] for r in rows if r[2] == "test"], [(0, 8)], np.zeros((8, 0)), k=3)
    assert result.scores["pca[8]"] == pytest.approx(float(expected[0]), abs=1e-9)


@pytest.mark.parametrize("shape", [(300, 48), (30, 48)])
def test_smaller_sizes_are_the_leading_rows_of_the_largest_fit(shape: tuple[int, int]) -> None:
    """One fit at the largest size serves every size: exactly what PCA(n_components=k) gives."""
    rng = np.random.default_rng(1)
    data = rng.standard_normal(shape) @ rng.standard_normal((shape[1], shape[1]))
    solver = solver_for(*shape)
    assert solver == ("covariance_eigh" if shape[0] >= shape[1] else "full")
    largest = fit_projection(data, 24, "here")
    for k in (1, 4, 16, 24):
        own = decomposition.PCA(n_components=k, svd_solver=solver).fit(data)
        np.testing.assert_array_equal(largest.components[:k], own.components_)
        np.testing.assert_allclose(largest.transform(data, k), own.transform(data), rtol=0, atol=1e-12)


def _sentence(rng: np.random.Generator, topic: int) -> str:
    topics = [WORDS[i : i + 6] for i in range(0, 36, 6)]
    return " ".join([*rng.choice(topics[topic], 4, replace=False), *rng.choice(WORDS, 2, replace=False)])


def test_pair_classification_fit_on_the_evaluation_texts_is_noted(folder: Path) -> None:
    from pytest_mrlcheck.tasks import pair_classification

    rng = np.random.default_rng(2)
    rows = [(_sentence(rng, i % 6), _sentence(rng, i % 6 if i % 2 else (i + 1) % 6), i % 2) for i in range(40)]
    with (folder / "data" / "pairs01.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text1", "text2", "label"), *rows])
    result, prepared, _ = _evaluate(folder, "task: {kind: pair-classification, data: {path: data/pairs01.csv}}\n"
                                            "views: {pca: {fit: corpus, sizes: [8]}}\nchecks: {prefix: {8: -1}}\n")
    assert result.pca is not None and result.pca.note is not None and "evaluation units" in result.pca.note
    texts = list(dict.fromkeys(t for r in rows for t in r[:2]))
    left, right = [texts.index(r[0]) for r in rows], [texts.index(r[1]) for r in rows]
    mapped = _sklearn(prepared.vectors, prepared.vectors, 8)
    expected = pair_classification.score_views(mapped[left], mapped[right], [r[2] for r in rows], [(0, 8)],
                                               np.zeros((8, 0)), similarity="dot")
    assert result.scores["pca[8]"] == pytest.approx(float(expected[0]), abs=1e-9)


def test_clustering_pca(folder: Path) -> None:
    from pytest_mrlcheck.tasks import clustering

    rng = np.random.default_rng(1)
    rows = [(_sentence(rng, t), f"t{t}") for t in range(5) for _ in range(12)]
    with (folder / "data" / "topics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    result, prepared, _ = _evaluate(folder, "task: {kind: clustering, seed: 3, data: {path: data/topics.csv}}\n"
                                            "views: {pca: {fit: corpus, sizes: [8]}}\nchecks: {prefix: {8: -1}}\n")
    texts = list(dict.fromkeys(r[0] for r in rows))
    mapped = _sklearn(prepared.vectors, prepared.vectors, 8)[[texts.index(r[0]) for r in rows]]
    expected = clustering.score_views(mapped, [r[1] for r in rows], [(0, 8)], np.zeros((8, 0)), seed=3)
    assert result.scores["pca[8]"] == pytest.approx(float(expected[0]), abs=1e-9)


def test_reranking_default_fit_is_the_candidates(folder: Path) -> None:
    import json

    from pytest_mrlcheck.tasks import reranking

    rng = np.random.default_rng(3)
    items = [{"query": _sentence(rng, q % 6), "positive": [_sentence(rng, q % 6)],
              "negative": [_sentence(rng, (q + j) % 6) for j in range(1, 5)]} for q in range(12)]
    (folder / "data" / "rerank.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    result, prepared, _ = _evaluate(folder, "task: {kind: reranking, metric: mrr@3, data: {path: data/rerank.jsonl}}\n"
                                            "checks: {pca: {8: {max_gap: 1.0}}}\n")
    n = len(items)
    candidates = list(dict.fromkeys(t for i in items for t in i["positive"] + i["negative"]))
    assert result.pca is not None and result.pca.fit == "corpus" and result.pca.texts == len(candidates)
    rows = [[candidates.index(t) for t in i["positive"] + i["negative"]] for i in items]
    fit = prepared.vectors[n:]  # queries first, then the candidates
    expected = reranking.score_views(_sklearn(fit, prepared.vectors[:n], 8), _sklearn(fit, fit, 8), rows,
                                     [[1, 0, 0, 0, 0]] * n, [(0, 8)], np.zeros((8, 0)), metric="mrr@3",
                                     similarity="dot")
    assert result.scores["pca[8]"] == pytest.approx(float(expected[0]), abs=1e-9)


def test_agreement_compares_pca_with_the_full_ranking(folder: Path) -> None:
    import json

    from pytest_mrlcheck.tasks import agreement

    rng = np.random.default_rng(4)
    texts = list(dict.fromkeys(_sentence(rng, t % 6) for t in range(80)))
    (folder / "data" / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts),
                                                   encoding="utf-8")
    result, prepared, _ = _evaluate(folder, "task: {kind: agreement, metric: overlap@5, queries: {count: 20, seed: 5},"
                                            " data: {path: data/corpus.jsonl}}\nviews: {pca: {sizes: [8, 48]}}\n"
                                            "checks: {prefix: {8: -1}}\n")
    rows = agreement.sample_queries(len(texts), 20, 5)
    corpus = prepared.vectors
    full = _unit(corpus.astype(np.float64))
    for k in (8, 48):
        both = np.hstack([full, _sklearn(corpus, corpus, k)])
        expected = agreement.score_views(both[rows], both, [(48, 48 + k)], np.zeros((48 + k, 0)), 48,
                                         metric="overlap@5", query_rows=rows, similarity="dot")
        assert result.scores[f"pca[{k}]"] == pytest.approx(float(expected[0]), abs=1e-9), k


def test_pca_labels_round_trip_and_take_no_precision() -> None:
    from pytest_mrlcheck.views import View

    assert View.pca(64).label == "pca[64]" and View.pca(64).item == "64" and View.pca(64).dims == 64
    assert View.parse("pca[64]") == View.pca(64)
    for bad in ("pca[64]@int8", "pca[6:4]", "pca[x]"):
        with pytest.raises(ValueError, match="not a view label"):
            View.parse(bad)
