"""Every task kind scores precision views: each equals the kind's scorer run directly on vectors
quantized by sentence-transformers' ``quantize_embeddings`` (an independent implementation)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.evaluation import _PREPARERS, RunContext, SpecResult, evaluate
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import MemoryStore
from pytest_mrlcheck.tasks import agreement, classification, clustering, pair_classification, reranking, retrieval
from pytest_mrlcheck.views import prefix_label
from tests.support.helpers import WORDS

quantization = pytest.importorskip("sentence_transformers.util.quantization")
pytest.importorskip("sklearn")

TOPICS = [WORDS[i : i + 6] for i in range(0, 36, 6)]
SIZES = (8, 32)


def _sentence(rng: np.random.Generator, topic: int) -> str:
    return " ".join([*rng.choice(TOPICS[topic], 4, replace=False), *rng.choice(WORDS, 2, replace=False)])


@pytest.fixture
def folder(encoder_folder: Path) -> Path:
    return encoder_folder


def _evaluate(folder: Path, task: str) -> tuple[SpecResult, Any]:
    path = folder / "p.mrl.yaml"
    path.write_text("name: p\nmodel: {provider: python, callable: 'fake_encoder:encode'}\n" + task
                    + f"views: {{prefix: {list(SIZES)}, precision: [int8, uint8, binary, float16]}}\n"
                    "checks: {prefix: {8: -1}}\n", encoding="utf-8")
    spec = load_specs(path)[0]
    run = RunContext(store=MemoryStore(), rootdir=folder)
    result = evaluate(spec, run)
    prepared = _PREPARERS[spec.task.kind](spec, run, run.encoder_for(spec))  # the same vectors, from the cache
    return result, prepared


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _reference(vectors: np.ndarray, calibration: np.ndarray, k: int, precision: str) -> np.ndarray:
    """What a deployment stores, via sentence-transformers: slice, renormalise, quantize; back to floats."""
    sliced, cal = _unit(vectors[:, :k]), _unit(calibration[:, :k])
    if precision == "float16":
        return sliced.astype(np.float16).astype(np.float64)
    codes = quantization.quantize_embeddings(sliced, precision, calibration_embeddings=cal)
    if precision == "binary":
        bits = np.unpackbits((codes.astype(np.int16) + 128).astype(np.uint8), axis=1)[:, :k]
        return np.where(bits == 1, 1.0, -1.0)
    return codes.astype(np.float64)


def _check(result: SpecResult, prepared: Any, score: Callable[[Callable[[np.ndarray], np.ndarray], int, str], float],
           precisions: tuple[str, ...] = ("int8", "uint8", "binary", "float16")) -> None:
    for precision in precisions:
        for k in SIZES:
            def stored(rows: np.ndarray, k: int = k, precision: str = precision) -> np.ndarray:
                return _reference(rows, prepared.vectors, k, precision)

            expected = score(stored, k, precision)
            assert result.scores[prefix_label(k, precision)] == pytest.approx(expected, abs=1e-9), (precision, k)


def _similarity(precision: str) -> str:
    return "dot" if precision == "binary" else "cosine"  # ±1 codes: dot = k − 2·Hamming


def test_classification(folder: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [(_sentence(rng, t), f"t{t}", split) for split, n in (("train", 8), ("test", 4)) for t in range(4)
            for _ in range(n)]
    with (folder / "data" / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label", "split"), *rows])
    result, prepared = _evaluate(folder, "task: {kind: classification, k: 3, data: {path: data/labels.csv}}\n")
    texts = list(dict.fromkeys(r[0] for r in rows))
    train = [texts.index(r[0]) for r in rows if r[2] == "train"]
    test = [texts.index(r[0]) for r in rows if r[2] == "test"]

    def score(stored: Callable[[np.ndarray], np.ndarray], k: int, precision: str) -> float:
        values = stored(prepared.vectors)
        return float(classification.score_views(values[train], [r[1] for r in rows if r[2] == "train"],
                                                values[test], [r[1] for r in rows if r[2] == "test"],
                                                [(0, k)], np.zeros((k, 0)), k=3)[0])

    _check(result, prepared, score, ("int8", "uint8", "float16"))  # binary kNN: ties by rounding, see README


def test_clustering(folder: Path) -> None:
    rng = np.random.default_rng(1)
    rows = [(_sentence(rng, t), f"t{t}") for t in range(5) for _ in range(12)]
    with (folder / "data" / "topics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    result, prepared = _evaluate(folder, "task: {kind: clustering, seed: 3, data: {path: data/topics.csv}}\n")
    texts = list(dict.fromkeys(r[0] for r in rows))
    order = [texts.index(r[0]) for r in rows]

    def score(stored: Callable[[np.ndarray], np.ndarray], k: int, precision: str) -> float:
        values = stored(prepared.vectors)[order]
        values = values / np.linalg.norm(values, axis=1, keepdims=True)
        return float(clustering.score_views(values, [r[1] for r in rows], [(0, k)], np.zeros((k, 0)), seed=3)[0])

    _check(result, prepared, score, ("int8", "uint8", "float16"))


def test_pair_classification(folder: Path) -> None:
    rng = np.random.default_rng(2)
    rows = [(_sentence(rng, i % 6), _sentence(rng, i % 6 if i % 2 else (i + 1) % 6), i % 2) for i in range(40)]
    with (folder / "data" / "pairs01.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text1", "text2", "label"), *rows])
    result, prepared = _evaluate(folder, "task: {kind: pair-classification, data: {path: data/pairs01.csv}}\n")
    texts = list(dict.fromkeys(t for r in rows for t in r[:2]))
    left, right = [texts.index(r[0]) for r in rows], [texts.index(r[1]) for r in rows]

    def score(stored: Callable[[np.ndarray], np.ndarray], k: int, precision: str) -> float:
        values = stored(prepared.vectors)
        return float(pair_classification.score_views(values[left], values[right], [r[2] for r in rows], [(0, k)],
                                                     np.zeros((k, 0)), similarity=_similarity(precision))[0])

    _check(result, prepared, score)


def test_reranking(folder: Path) -> None:
    rng = np.random.default_rng(3)
    items = [{"query": _sentence(rng, q % 6), "positive": [_sentence(rng, q % 6)],
              "negative": [_sentence(rng, (q + j) % 6) for j in range(1, 5)]} for q in range(12)]
    (folder / "data" / "rerank.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    result, prepared = _evaluate(folder, "task: {kind: reranking, metric: mrr@3, data: {path: data/rerank.jsonl}}\n")
    queries = [i["query"] for i in items]
    candidates = list(dict.fromkeys(t for i in items for t in i["positive"] + i["negative"]))
    rows = [[candidates.index(t) for t in i["positive"] + i["negative"]] for i in items]
    n = len(queries)

    def score(stored: Callable[[np.ndarray], np.ndarray], k: int, precision: str) -> float:
        values = stored(prepared.vectors)  # queries first, then candidates (the calibration set)
        return float(reranking.score_views(values[:n], values[n:], rows, [[1, 0, 0, 0, 0]] * n, [(0, k)],
                                           np.zeros((k, 0)), metric="mrr@3", similarity=_similarity(precision))[0])

    _check(result, prepared, score)


def test_retrieval_ranks_binary_by_hamming(folder: Path) -> None:
    from tests.support.beir import write_beir

    write_beir(folder / "data" / "beir")
    result, prepared = _evaluate(folder, "task: {kind: retrieval, metric: ndcg@10, data: {path: data/beir}}\n")
    data_queries = len(prepared.vectors) - prepared.details["documents"]
    relevance_spec = load_specs(folder / "p.mrl.yaml")[0]
    from pytest_mrlcheck.data import load_beir

    data = load_beir(relevance_spec.task.data)
    relevance = retrieval.Relevance.from_qrels(data.qrels, data.query_ids, data.doc_ids)

    def score(stored: Callable[[np.ndarray], np.ndarray], k: int, precision: str) -> float:
        values = stored(prepared.vectors)
        views = retrieval.views_from_plan([(0, k)], np.zeros((k, 0)))
        found = retrieval.score_views(values[:data_queries], values[data_queries:], views, relevance, ["ndcg@10"],
                                      _similarity(precision))
        return float(found.means["ndcg@10"][0])

    _check(result, prepared, score)


def test_agreement_against_the_full_float32_ranking(folder: Path) -> None:
    rng = np.random.default_rng(4)
    texts = list(dict.fromkeys(_sentence(rng, t % 6) for t in range(80)))
    (folder / "data" / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts),
                                                   encoding="utf-8")
    result, prepared = _evaluate(folder, "task: {kind: agreement, metric: overlap@5, queries: {count: 20, seed: 5},"
                                         " data: {path: data/corpus.jsonl}}\n")
    rows = agreement.sample_queries(len(texts), 20, 5)
    corpus = prepared.vectors  # the corpus is what the task embedded (and the default calibration)
    full = _unit(corpus).astype(np.float64)

    def score(stored: Callable[[np.ndarray], np.ndarray], k: int, precision: str) -> float:
        view = stored(corpus)
        if precision != "binary":
            view = view / np.linalg.norm(view, axis=1, keepdims=True)
        both = np.hstack([full, view])
        return float(agreement.score_views(both[rows], both, [(64, 64 + k)], np.zeros((64 + k, 0)), 64,
                                           metric="overlap@5", query_rows=rows, similarity="dot")[0])

    _check(result, prepared, score)
    assert result.scores[prefix_label(64)] == pytest.approx(1.0)
    assert result.scores[prefix_label(64, "binary")] < 1.0
