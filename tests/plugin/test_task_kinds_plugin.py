"""Every task kind through the plugin, on small data and the deterministic encoder; the plugin's
full-dimension score equals the scorer called directly on the same vectors."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.tasks import agreement, classification, clustering, pair_classification, reranking
from tests.support.helpers import WORDS, assert_clean_output

pytest.importorskip("sklearn")

TOPICS = [WORDS[i : i + 6] for i in range(0, 36, 6)]


def _encoder(project: pytest.Pytester) -> Callable[[list[str]], np.ndarray]:
    namespace: dict[str, Any] = {}
    exec((project.path / "fake_encoder.py").read_text(), namespace)
    encode = namespace["encode"]

    def run(texts: list[str]) -> np.ndarray:
        vectors = np.asarray(encode(texts, "query"), dtype=np.float32).astype(np.float64)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return run


def _sentence(rng: np.random.Generator, topic: int) -> str:
    own = list(rng.choice(TOPICS[topic], 4, replace=False))
    noise = list(rng.choice(WORDS, 2, replace=False))
    return " ".join(own + noise)


def _full_score(project: pytest.Pytester) -> float:
    (spec,) = json.loads((project.path / "report.json").read_text())["specs"]
    assert spec["error"] is None, spec["error"]
    return float(spec["full_score"])


def _run(project: pytest.Pytester, write_spec: Callable[..., Path], task: str) -> None:
    write_spec(f"name: kind\nmodel: {{provider: python, callable: 'fake_encoder:encode'}}\n{task}"
               "checks:\n  prefix: {8: -1}\n  random: {dims: [8], samples: 4, margin: -1}\n")
    project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=2)


def test_classification(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    rng = np.random.default_rng(0)
    rows = [(_sentence(rng, t), f"topic{t}", split) for split, n in (("train", 8), ("test", 4)) for t in range(4)
            for _ in range(n)]
    with (fake_project.path / "data" / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label", "split"), *rows])
    _run(fake_project, write_spec, "task:\n  kind: classification\n  method: knn\n  k: 3\n"
         "  data: {path: data/labels.csv}\n  metric: f1\n")
    encode = _encoder(fake_project)
    train = [r for r in rows if r[2] == "train"]
    test = [r for r in rows if r[2] == "test"]
    expected = classification.score_views(encode([r[0] for r in train]), [r[1] for r in train],
                                          encode([r[0] for r in test]), [r[1] for r in test],
                                          [(0, 64)], np.zeros((64, 0)), method="knn", k=3, metric="f1")
    assert _full_score(fake_project) == pytest.approx(float(expected[0]), abs=1e-9)


def test_clustering(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    rng = np.random.default_rng(1)
    rows = [(_sentence(rng, t), f"topic{t}") for t in range(5) for _ in range(12)]
    with (fake_project.path / "data" / "topics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    _run(fake_project, write_spec, "task:\n  kind: clustering\n  data: {path: data/topics.csv}\n  seed: 3\n")
    texts = list(dict.fromkeys(r[0] for r in rows))
    vectors = _encoder(fake_project)(texts)
    row_vectors = vectors[[texts.index(r[0]) for r in rows]]
    expected = clustering.score_views(row_vectors, [r[1] for r in rows], [(0, 64)], np.zeros((64, 0)), seed=3)
    assert _full_score(fake_project) == pytest.approx(float(expected[0]), abs=1e-9)


def test_pair_classification(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    rng = np.random.default_rng(2)
    rows = []
    for i in range(40):
        topic = i % 6
        same = i % 2
        rows.append((_sentence(rng, topic), _sentence(rng, topic if same else (topic + 1) % 6), same))
    with (fake_project.path / "data" / "pairs01.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text1", "text2", "label"), *rows])
    _run(fake_project, write_spec, "task:\n  kind: pair-classification\n  data: {path: data/pairs01.csv}\n")
    encode = _encoder(fake_project)
    expected = pair_classification.score_views(encode([r[0] for r in rows]), encode([r[1] for r in rows]),
                                               [r[2] for r in rows], [(0, 64)], np.zeros((64, 0)))
    assert _full_score(fake_project) == pytest.approx(float(expected[0]), abs=1e-9)


def test_reranking(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    rng = np.random.default_rng(3)
    items = []
    with (fake_project.path / "data" / "rerank.jsonl").open("w") as handle:
        for q in range(12):
            topic = q % 6
            item = {"query": _sentence(rng, topic), "positive": [_sentence(rng, topic)],
                    "negative": [_sentence(rng, (topic + k) % 6) for k in range(1, 5)]}
            items.append(item)
            handle.write(json.dumps(item) + "\n")
    _run(fake_project, write_spec, "task:\n  kind: reranking\n  data: {path: data/rerank.jsonl}\n"
         "  metric: mrr@3\n")
    encode = _encoder(fake_project)
    candidates = list(dict.fromkeys(t for item in items for t in item["positive"] + item["negative"]))
    rows = [[candidates.index(t) for t in item["positive"] + item["negative"]] for item in items]
    labels = [[1] + [0] * 4 for _ in items]
    expected = reranking.score_views(encode([i["query"] for i in items]), encode(candidates), rows, labels,
                                     [(0, 64)], np.zeros((64, 0)), metric="mrr@3")
    assert _full_score(fake_project) == pytest.approx(float(expected[0]), abs=1e-9)


def test_agreement_is_perfect_at_full_size_and_lower_when_truncated(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    rng = np.random.default_rng(4)
    texts = list(dict.fromkeys(_sentence(rng, t % 6) for t in range(80)))
    with (fake_project.path / "data" / "corpus.jsonl").open("w") as handle:
        for text in texts:
            handle.write(json.dumps({"text": text}) + "\n")
    _run(fake_project, write_spec, "task:\n  kind: agreement\n  data: {path: data/corpus.jsonl}\n"
         "  queries: {count: 20, seed: 5}\n  metric: overlap@5\n")
    assert _full_score(fake_project) == pytest.approx(1.0)
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    rows = agreement.sample_queries(len(texts), 20, 5)
    vectors = _encoder(fake_project)(texts)
    expected = agreement.score_views(vectors[rows], vectors, [(0, 8)], np.zeros((64, 0)), 64, metric="overlap@5",
                                     query_rows=rows)
    assert spec["scores"]["prefix[8]"] == pytest.approx(float(expected[0]), abs=1e-9)
    assert spec["scores"]["prefix[8]"] < 1.0


def test_kind_specific_settings_are_checked(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("model: {provider: python, callable: 'fake_encoder:encode'}\n"
               "task:\n  kind: clustering\n  method: knn\n  data: {path: data/pairs.csv}\n"
               "checks: {prefix: {8: 0}}\n")
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*task.method: 'method' is not a setting of task kind clustering",
                                 "  hint: it belongs to kind: classification"])


def test_bootstrap_is_refused_where_it_is_not_defined(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    rng = np.random.default_rng(1)
    rows = [(_sentence(rng, t), f"topic{t}") for t in range(3) for _ in range(6)]
    with (fake_project.path / "data" / "topics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    write_spec("model: {provider: python, callable: 'fake_encoder:encode'}\n"
               "task: {kind: clustering, data: {path: data/topics.csv}}\n"
               "checks:\n  prefix: {8: 0.0, confidence: 0.9}\n")
    result = fake_project.runpytest()
    result.assert_outcomes(failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["bootstrap intervals (confidence, significance) are not available for clustering*"])
