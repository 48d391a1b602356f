"""Retrieval specs through the plugin: BEIR data, roles, metrics and bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.tasks.retrieval import Relevance, evaluate_run, top_k
from tests.support.beir import RETRIEVAL_SPEC, write_beir
from tests.support.helpers import assert_clean_output


def test_retrieval_spec_runs_and_reports_queries(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_beir(fake_project.path / "beir")
    write_spec(RETRIEVAL_SPEC)
    result = fake_project.runpytest("--color=no", "--mrlcheck-json", "report.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*fake-search*retrieval ndcg@10*", "*30 judged queries, 90 texts, 64 dims*"])
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert spec["task"]["documents"] == 60
    assert spec["task"]["unjudged_queries"] == 1
    roles = {line.split("\t")[0] for line in (fake_project.path / "encoded.log").read_text().splitlines()}
    assert roles == {"query", "document"}
    queries_logged = [line for line in (fake_project.path / "encoded.log").read_text().splitlines()
                      if line.startswith("query\t")]
    assert all(line.startswith("query\tfind: ") for line in queries_logged), "the query prompt is applied"


def test_retrieval_score_equals_pytrec_style_reference(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    """The full-dimension nDCG@10 from the plugin equals ranking by cosine and scoring the run."""
    doc_ids, texts, qrels = write_beir(fake_project.path / "beir")
    write_spec(RETRIEVAL_SPEC)
    fake_project.runpytest("--mrlcheck-json", "report.json").assert_outcomes(passed=3)
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    namespace: dict[str, object] = {}
    exec((fake_project.path / "fake_encoder.py").read_text(), namespace)  # the same deterministic encoder
    encode = namespace["encode"]
    assert callable(encode)
    query_ids = list(qrels)
    query_texts = ["find: " + " ".join(texts[int(q[1:])].split()[:4]) for q in query_ids]
    documents = [f"{identifier.upper()} {text}" for identifier, text in zip(doc_ids, texts, strict=True)]
    q = np.asarray(encode(query_texts, "query"), dtype=np.float32)
    d = np.asarray(encode(documents, "document"), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    sims = q.astype(np.float64) @ d.astype(np.float64).T
    run = {query: [doc_ids[j] for j in np.argsort(-sims[i], kind="stable")[:10]] for i, query in enumerate(query_ids)}
    expected = evaluate_run(qrels, run, ["ndcg@10"])["ndcg@10"]
    assert spec["full_score"] == pytest.approx(expected, abs=1e-6)
    indices, _ = top_k(q, d, [(0, 64)], 10)
    relevance = Relevance.from_qrels(qrels, query_ids, doc_ids)
    assert relevance.n_queries == len(query_ids)
    assert indices.shape == (1, len(query_ids), 10)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda p: (p / "beir" / "corpus.jsonl").unlink(), "corpus file not found: */beir/corpus.jsonl",
                     id="missing-corpus"),
        pytest.param(lambda p: (p / "beir" / "corpus.jsonl").write_text(""), "*corpus.jsonl: the corpus is empty",
                     id="empty-corpus"),
        pytest.param(lambda p: (p / "beir" / "corpus.jsonl").write_text(
            '{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n'),
            "*corpus.jsonl:2: duplicate id 'd1' (first on line 1)", id="duplicate-id"),
        pytest.param(lambda p: (p / "beir" / "qrels" / "test.tsv").unlink(),
                     "judgements file not found: */beir/qrels/test.tsv", id="missing-qrels"),
        pytest.param(lambda p: (p / "beir" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"),
                     "*test.tsv: no query in the queries has a judgement", id="no-judged-query"),
    ],
)
def test_bad_retrieval_data_is_a_clear_failure(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], damage: Callable[[Path], None], message: str
) -> None:
    write_beir(fake_project.path / "beir")
    write_spec(RETRIEVAL_SPEC)
    damage(fake_project.path)
    result = fake_project.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([message])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_unknown_ids_in_qrels_are_counted_and_warned(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_beir(fake_project.path / "beir")
    with (fake_project.path / "beir" / "qrels" / "test.tsv").open("a") as handle:
        handle.write("q0\tno-such-doc\t1\nno-such-query\td1\t1\n")
    write_spec(RETRIEVAL_SPEC)
    result = fake_project.runpytest("-W", "default")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*1 judgements name documents and 1 name queries that are not in the corpus*"])


def test_cut_off_larger_than_the_corpus(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_beir(fake_project.path / "beir", docs=8)
    write_spec(RETRIEVAL_SPEC.replace("ndcg@10", "recall@20"))
    result = fake_project.runpytest()
    result.assert_outcomes(failed=3)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["*task.metric: recall@20 looks at 20 documents but the corpus has 8"])


def test_bad_metric_is_a_spec_error(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(RETRIEVAL_SPEC.replace("ndcg@10", "ndcg10"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*demo.mrl.yaml:10: task.metric: expected a retrieval metric like ndcg@10*"])


def test_a_warning_turned_into_an_error_fails_cleanly(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_beir(fake_project.path / "beir")
    with (fake_project.path / "beir" / "qrels" / "test.tsv").open("a") as handle:
        handle.write("q0\tno-such-doc\t1\n")
    write_spec(RETRIEVAL_SPEC)
    result = fake_project.runpytest("-W", "error::pytest_mrlcheck.errors.MrlcheckWarning")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*a warning, raised as an error by the warning filters in effect*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_funnel_and_cost_per_size(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_beir(fake_project.path / "beir")
    funnel = "\n  funnel: {shortlist_dims: 16, shortlist: 60, rerank_dims: full, min_ratio: 1.0}"
    write_spec(RETRIEVAL_SPEC.replace("  metric: ndcg@10", "  metric: ndcg@10" + funnel))
    result = fake_project.runpytest("--mrlcheck-json", "report.json", "--color=no")
    result.assert_outcomes(passed=4)  # the shortlist is the whole corpus: the funnel equals full search
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert spec["funnel"]["score"] == pytest.approx(spec["full_score"], abs=1e-12)
    assert spec["funnel"]["overlap@10"] == pytest.approx(1.0)
    assert spec["funnel"]["relative_cost"] == pytest.approx((60 * 16 + 60 * 64) / (60 * 64))
    cost = spec["cost"]["16"]
    assert cost["bytes_per_vector"] == {"float32": 64, "float16": 32, "int8": 16, "binary": 2}
    assert cost["index_bytes"]["float32"] == 64 * 60
    assert spec["cost"]["64"]["relative_search_time"] == pytest.approx(1.0)
    result.stdout.fnmatch_lines(["*cost per size*"])


def test_a_small_shortlist_loses_quality(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_beir(fake_project.path / "beir")
    funnel = "\n  funnel: {shortlist_dims: 4, shortlist: 10, rerank_dims: 64, min: 0.0}"
    write_spec(RETRIEVAL_SPEC.replace("  metric: ndcg@10", "  metric: ndcg@10" + funnel))
    fake_project.runpytest("--mrlcheck-json", "report.json").assert_outcomes(passed=4)
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert spec["funnel"]["score"] < spec["full_score"]
    assert spec["funnel"]["overlap@10"] < 1.0
