"""The retrieval scorer: chunked top-k against a brute-force ranking, metrics against pytrec_eval."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mrlcheck.tasks.retrieval import (
    Relevance,
    evaluate_run,
    identical_id_exclusions,
    metric_values,
    parse_metric,
    score_views,
    top_k,
    views_from_plan,
)

pytrec_eval = pytest.importorskip("pytrec_eval")

KINDS = ("ndcg", "recall", "mrr", "map", "precision", "hit")


# ------------------------------------------------------------------------ brute-force reference


def score_matrix(queries, corpus, view, similarity="cosine"):
    """The full float64 ``Q × N`` similarity matrix under one view."""
    selector = slice(*view) if isinstance(view, tuple) else np.asarray(view)
    q = np.asarray(queries, dtype=np.float64)[:, selector]
    d = np.asarray(corpus, dtype=np.float64)[:, selector]
    if similarity == "cosine":
        q = q / np.where((qn := np.linalg.norm(q, axis=1, keepdims=True)) > 0, qn, 1.0)
        d = d / np.where((dn := np.linalg.norm(d, axis=1, keepdims=True)) > 0, dn, 1.0)
    return (q[:, None, :] * d[None, :, :]).sum(axis=2)  # per pair, so equal rows tie exactly


def brute_force(queries, corpus, view, k, similarity="cosine", exclude=None):
    return rank_scores(score_matrix(queries, corpus, view, similarity), k, exclude)


def rank_scores(scores, k, exclude=None):
    """Rank every row by (-score, document index); index -1 and score -inf past the end."""
    n_queries, n_docs = scores.shape
    indices = np.full((n_queries, k), -1)
    out = np.full((n_queries, k), -np.inf)
    for row in range(n_queries):
        allowed = [j for j in range(n_docs) if not exclude or j not in exclude[row]]
        ranked = sorted(allowed, key=lambda j: (-scores[row, j], j))[:k]
        indices[row, : len(ranked)] = ranked
        out[row, : len(ranked)] = scores[row, ranked]
    return indices, out


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(7)
    queries = rng.standard_normal((17, 24))
    corpus = rng.standard_normal((203, 24)).astype(np.float32)
    queries[3, :8] = 0.0  # zero slice under prefix 8: every document ties at 0
    corpus[5, 16:] = 0.0  # zero slice under window [16, 24)
    return queries, corpus


VIEWS = [
    (0, 8),
    (0, 24),
    (4, 12),
    (16, 24),
    np.array([0, 5, 6, 11, 23]),
    np.array([19, 2, 7]),  # unsorted indices
    [1, 3, 5, 7, 9, 10, 12],  # a plain list
]


@pytest.mark.parametrize("chunk_docs", [7, 50, 203, 1000])
@pytest.mark.parametrize("k", [1, 10])
def test_top_k_matches_brute_force(vectors, chunk_docs, k):
    queries, corpus = vectors
    indices, scores = top_k(queries, corpus, VIEWS, k, chunk_docs=chunk_docs)
    assert indices.shape == scores.shape == (len(VIEWS), 17, k)
    assert scores.dtype == np.float32
    for v, view in enumerate(VIEWS):
        want_indices, want_scores = brute_force(queries, corpus, view, k)
        np.testing.assert_array_equal(indices[v], want_indices, err_msg=f"view {view}")
        np.testing.assert_allclose(scores[v], want_scores, atol=1e-5)
    # the zero query slice ties every document at 0: lowest indices first
    np.testing.assert_array_equal(indices[0, 3], np.arange(k))
    np.testing.assert_array_equal(scores[0, 3], 0.0)


@pytest.mark.parametrize("chunk_docs", [700, 1500, 4000])
@pytest.mark.parametrize("k", [3, 40])
def test_top_k_large_chunks(chunk_docs, k):
    """Chunks of at least 2 × 256 documents take the group-maximum bound instead of a partition."""
    rng = np.random.default_rng(5)
    queries = rng.standard_normal((6, 8))
    corpus = rng.standard_normal((1500, 8))
    corpus[1000:1100] = corpus[200]  # a tied block that straddles chunk boundaries
    queries[0] = corpus[200] * 2.0  # query 0's best documents are the 101 copies of document 200
    views = [(0, 8), (2, 6), np.array([0, 3, 7])]
    indices, scores = top_k(queries, corpus, views, k, chunk_docs=chunk_docs)
    for v, view in enumerate(views):
        want_indices, want_scores = brute_force(queries, corpus, view, k)
        np.testing.assert_array_equal(indices[v], want_indices, err_msg=f"view {view}")
        np.testing.assert_allclose(scores[v], want_scores, atol=1e-5)
    np.testing.assert_array_equal(indices[0, 0], [200, *range(1000, 1000 + k - 1)])


def test_top_k_query_blocks(vectors, monkeypatch):
    """Many queries against a big chunk are scored a block of query rows at a time."""
    from pytest_mrlcheck.tasks import retrieval_topk

    monkeypatch.setattr(retrieval_topk, "_BLOCK_BYTES", 4 * 50 * 4)  # 4 query rows per block
    queries, corpus = vectors
    exclude = [{q, 2 * q} for q in range(17)]
    indices, _ = top_k(queries, corpus, VIEWS, 5, chunk_docs=50, exclude=exclude)
    for v, view in enumerate(VIEWS):
        want, _ = brute_force(queries, corpus, view, 5, exclude=exclude)
        np.testing.assert_array_equal(indices[v], want)


def test_top_k_dot_similarity(vectors):
    queries, corpus = vectors
    indices, scores = top_k(queries, corpus, VIEWS[:3], 5, similarity="dot", chunk_docs=64)
    for v, view in enumerate(VIEWS[:3]):
        want_indices, want_scores = brute_force(queries, corpus, view, 5, similarity="dot")
        np.testing.assert_array_equal(indices[v], want_indices)
        np.testing.assert_allclose(scores[v], want_scores, rtol=1e-5, atol=1e-4)


def test_top_k_pads_when_k_exceeds_corpus(vectors):
    queries, corpus = vectors
    indices, scores = top_k(queries[:2], corpus[:4], [(0, 24)], 6, chunk_docs=3)
    want, _ = brute_force(queries[:2], corpus[:4], (0, 24), 6)
    np.testing.assert_array_equal(indices[0], want)
    assert (indices[0, :, 4:] == -1).all()
    assert np.isneginf(scores[0, :, 4:]).all()
    assert np.isfinite(scores[0, :, :4]).all()


@pytest.mark.parametrize("chunk_docs", [5, 32, 120])
def test_ties_break_by_lower_document_index(chunk_docs):
    """Exact duplicates of documents, scattered across chunks, come out in ascending index order."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((40, 16)).astype(np.float32)
    origin = rng.permutation(np.repeat(np.arange(40), 3))  # every base document three times
    corpus = base[origin]
    queries = rng.standard_normal((9, 16)).astype(np.float32)
    views = [(0, 16), (2, 10), np.array([1, 4, 9, 15])]
    indices, scores = top_k(queries, corpus, views, 12, chunk_docs=chunk_docs)
    again, _ = top_k(queries, corpus, views, 12, chunk_docs=chunk_docs)
    np.testing.assert_array_equal(indices, again)
    for v, view in enumerate(views):
        exact = score_matrix(queries, base, view)[:, origin]  # duplicates tie exactly here
        want, _ = rank_scores(exact, 12)
        np.testing.assert_array_equal(indices[v], want, err_msg=f"view {view}")
        # within each tied group the scores are identical and the indices ascend
        same = origin[indices[v][:, 1:]] == origin[indices[v][:, :-1]]
        assert same.any()
        assert (indices[v][:, 1:][same] > indices[v][:, :-1][same]).all()
        assert (scores[v][:, 1:][same] == scores[v][:, :-1][same]).all()


@pytest.mark.parametrize("chunk_docs", [6, 203])
def test_exclude_removes_documents(vectors, chunk_docs):
    queries, corpus = vectors
    best, _ = top_k(queries, corpus, [(0, 24)], 1)
    exclude = [{int(best[0, q, 0]), q, 200} for q in range(17)]
    exclude[4] = set(range(203)) - {11, 12}  # only two documents left for query 4
    indices, scores = top_k(queries, corpus, VIEWS, 4, chunk_docs=chunk_docs, exclude=exclude)
    for v, view in enumerate(VIEWS):
        want, _ = brute_force(queries, corpus, view, 4, exclude=exclude)
        np.testing.assert_array_equal(indices[v], want)
        for q in range(17):
            assert not set(indices[v, q].tolist()) & exclude[q]
    assert sorted(indices[1, 4, :2].tolist()) == [11, 12]
    assert (indices[:, 4, 2:] == -1).all()
    assert np.isneginf(scores[:, 4, 2:]).all()


def test_identical_id_exclusions():
    assert identical_id_exclusions(["a", "x", "c"], ["c", "b", "a"]) == [{2}, set(), {0}]


@pytest.mark.parametrize(
    ("view", "message"),
    [((0, 30), "does not fit"), ((3, 3), "does not fit"), ((1, 2, 3), "range"), ([], "non-empty"),
     (np.array([0, 24]), "outside"), (np.array([0.5]), "integer")],
)
def test_bad_views_are_rejected(vectors, view, message):
    queries, corpus = vectors
    with pytest.raises(ValueError, match=message):
        top_k(queries, corpus, [view], 3)


def test_bad_arguments_are_rejected(vectors):
    queries, corpus = vectors
    with pytest.raises(ValueError, match="similarity"):
        top_k(queries, corpus, [(0, 4)], 3, similarity="l2")
    with pytest.raises(ValueError, match="exclude"):
        top_k(queries, corpus, [(0, 4)], 3, exclude=[set()])
    bad = corpus.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        top_k(queries, bad, [(0, 4)], 3)
    for name in ("ndcg", "ndcg@0", "ndcg@x", "f1@3", "NDCG@3"):
        with pytest.raises(ValueError, match="metric"):
            parse_metric(name)
    assert parse_metric("map@100") == ("map", 100)


def test_views_from_plan():
    masks = np.zeros((6, 2))
    masks[[1, 4], 0] = 1
    masks[[0], 1] = 1
    views = views_from_plan([(0, 3), (2, 6)], masks)
    assert views[:2] == [(0, 3), (2, 6)]
    np.testing.assert_array_equal(views[2], [1, 4])
    np.testing.assert_array_equal(views[3], [0])


# ------------------------------------------------------------------------- metrics vs pytrec_eval


def random_judgements(seed):
    """Graded qrels and ranked runs with the awkward cases: no qrels, empty qrels, all-zero grades,
    negative grades, nothing relevant retrieved, runs shorter than k (or empty), relevant
    documents never retrieved."""
    rng = np.random.default_rng(seed)
    docs = [f"d{j}" for j in range(40)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, list[str]] = {}
    for q in range(40):
        query = f"q{q}"
        case = q % 8
        if case != 0:  # q0, q8, ... have no qrels at all
            judged = rng.choice(docs, size=rng.integers(1, 9), replace=False)
            grades = rng.integers(-1, 4, size=judged.size) if case != 1 else np.zeros(judged.size)
            qrels[query] = {str(doc): int(grade) for doc, grade in zip(judged, grades, strict=True)}
        length = 0 if case == 2 else int(rng.integers(1, 16))
        run[query] = [str(doc) for doc in rng.choice(docs, size=length, replace=False)]
        if case == 3:  # retrieves only unjudged documents
            run[query] = [doc for doc in run[query] if doc not in qrels[query]]
    qrels["q9"] = {}  # an empty judgement dict: skipped like a query without qrels
    qrels["missing"] = {"d1": 1}  # judged but not in the run: pytrec_eval skips it
    return qrels, run


def pytrec_per_query(qrels, run, kind, cut):
    """Per-query values from pytrec_eval; MRR@k and hit@k on the run truncated to k."""
    if kind in ("mrr", "hit"):
        run = {query: ranking[:cut] for query, ranking in run.items()}
    scored = {query: {doc: float(len(ranking) - r) for r, doc in enumerate(ranking)}
              for query, ranking in run.items()}
    measure, key = {
        "ndcg": ("ndcg_cut", f"ndcg_cut_{cut}"),
        "recall": ("recall", f"recall_{cut}"),
        "map": ("map_cut", f"map_cut_{cut}"),
        "precision": ("P", f"P_{cut}"),
        "mrr": ("recip_rank", "recip_rank"),
        "hit": ("recip_rank", "recip_rank"),
    }[kind]
    if measure != "recip_rank":
        measure = f"{measure}.{cut}"
    results = pytrec_eval.RelevanceEvaluator(qrels, {measure}).evaluate(scored)
    values = {query: result[key] for query, result in results.items()}
    if kind == "hit":
        values = {query: float(value > 0) for query, value in values.items()}
    return values


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cut", [1, 3, 10])
def test_metrics_match_pytrec_eval(seed, cut):
    qrels, run = random_judgements(seed)
    metrics = [f"{kind}@{cut}" for kind in KINDS]
    means = evaluate_run(qrels, run, metrics)

    # the vectorised path, two "views" (the run and its reverse) at once, per query
    queries = list(run)
    doc_ids = [f"d{j}" for j in range(40)]
    relevance = Relevance.from_qrels(qrels, queries, doc_ids)
    rankings = [run, {query: ranking[::-1] for query, ranking in run.items()}]
    indices = np.full((2, len(queries), 12), -1)
    for v, ranking in enumerate(rankings):
        for q, query in enumerate(queries):
            docs = [int(doc[1:]) for doc in ranking[query][:12]]
            indices[v, q, : len(docs)] = docs
    per_query = metric_values(indices, relevance, metrics)
    judged = [query for query in queries if qrels.get(query)]
    assert [queries[row] for row in np.flatnonzero(relevance.judged)] == judged

    for kind, name in zip(KINDS, metrics, strict=True):
        want = pytrec_per_query(qrels, run, kind, cut)
        assert sorted(want) == sorted(judged)
        assert means[name] == pytest.approx(np.mean(list(want.values())), abs=1e-6), name
        for v, ranking in enumerate(rankings):
            want = pytrec_per_query(qrels, ranking, kind, cut)
            got = dict(zip(judged, per_query[name][v], strict=True))
            for query in judged:
                assert got[query] == pytest.approx(want[query], abs=1e-6), (name, v, query)


def test_metric_definitions_by_hand():
    """One query, grades {a: 3, b: 1, c: 0, n: -1, z: 2} (z never retrieved), ranking c, b, a."""
    qrels = {"q": {"a": 3, "b": 1, "c": 0, "n": -1, "z": 2}}
    run = {"q": ["c", "b", "a", "n"]}
    got = evaluate_run(qrels, run, ["ndcg@3", "recall@3", "map@3", "mrr@3", "precision@10", "hit@1"])
    dcg = 1 / np.log2(3) + 3 / np.log2(4)
    ideal = 3 + 2 / np.log2(3) + 1 / np.log2(4)
    assert got["ndcg@3"] == pytest.approx(dcg / ideal)
    assert got["recall@3"] == pytest.approx(2 / 3)
    assert got["map@3"] == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert got["mrr@3"] == pytest.approx(1 / 2)
    assert got["precision@10"] == pytest.approx(2 / 10)
    assert got["hit@1"] == 0.0
    assert np.isnan(evaluate_run({}, run, ["ndcg@3"])["ndcg@3"])


# ---------------------------------------------------------------------------------- end to end


def test_score_views_matches_brute_force_and_pytrec_eval(vectors):
    queries, corpus = vectors
    rng = np.random.default_rng(11)
    query_ids = [f"q{q}" for q in range(17)]
    doc_ids = [f"d{j}" for j in range(203)]
    doc_ids[9] = "q2"  # query q2's own document: excluded
    qrels = {
        query: {doc_ids[j]: int(rng.integers(0, 3)) for j in rng.choice(203, 5, replace=False)}
        for query in query_ids[2:]  # q0, q1 unjudged
    }
    best, _ = top_k(queries, corpus, [(0, 24)], 1)
    qrels["q2"][doc_ids[int(best[0, 2, 0])]] = 2
    qrels["q2"]["q2"] = 2
    exclude = identical_id_exclusions(query_ids, doc_ids)
    relevance = Relevance.from_qrels(qrels, query_ids, doc_ids)
    metrics = ["ndcg@10", "recall@5", "mrr@3", "map@10", "precision@3", "hit@1"]
    result = score_views(
        queries, corpus, VIEWS, relevance, metrics, chunk_docs=60, exclude=exclude
    )
    assert result.skipped == 2
    np.testing.assert_array_equal(result.queries, np.arange(2, 17))
    for v, view in enumerate(VIEWS):
        ranked, _ = brute_force(queries, corpus, view, 10, exclude=exclude)
        run = {query: [doc_ids[j] for j in ranked[q]] for q, query in enumerate(query_ids)}
        for name in metrics:
            kind, cut = parse_metric(name)
            want = pytrec_per_query(qrels, run, kind, cut)
            got = result.per_query[name][v]
            assert got.shape == (15,)
            np.testing.assert_allclose(got, [want[query] for query in query_ids[2:]], atol=1e-6)
            assert result.means[name][v] == pytest.approx(np.mean(got))

    dense = np.zeros((17, 203))
    for query, judged in qrels.items():
        for doc, grade in judged.items():
            dense[query_ids.index(query), doc_ids.index(doc)] = grade
    from_matrix = score_views(
        queries, corpus, VIEWS, Relevance.from_matrix(dense, np.ones(17, dtype=bool)),
        ["ndcg@10"], exclude=exclude,
    )
    assert from_matrix.skipped == 0
    np.testing.assert_allclose(from_matrix.per_query["ndcg@10"][:, 2:], result.per_query["ndcg@10"])
