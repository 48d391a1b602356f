"""Classification, clustering, pair classification, reranking and agreement scorers.

Each vectorised scorer is checked against a slow, independent reference on sliced vectors
(scikit-learn / scipy calls or plain loops) for prefix ranges, windows and mask views.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.cluster import MiniBatchKMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, v_measure_score
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from pytest_mrlcheck.tasks import agreement, classification, clustering, pair_classification, reranking

DIM = 24
RANGES = [(0, 8), (0, 24), (4, 12), (16, 24), (0, 2)]


def make_masks() -> np.ndarray:
    masks = np.zeros((DIM, 3))
    masks[[0, 5, 6, 11, 23], 0] = 1
    masks[[19, 2, 7], 1] = 1
    masks[1::2, 2] = 1
    return masks


MASKS = make_masks()


def all_views(ranges=RANGES, masks=MASKS):
    """The views in scorer order, as column selectors built independently of the scorers."""
    return [slice(start, end) for start, end in ranges] + [np.nonzero(masks[:, j])[0] for j in range(masks.shape[1])]


def unit(vectors, view):
    x = np.asarray(vectors, dtype=np.float64)[:, view]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, x / np.where(norms > 0, norms, 1.0), 0.0)


def clustered(rng, n, n_classes, spread=0.25, dim=DIM):
    labels = rng.integers(0, n_classes, n)
    centres = rng.standard_normal((n_classes, dim))
    return centres[labels] * spread + rng.standard_normal((n, dim)), labels


# ------------------------------------------------------------------------------ classification


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(3)
    train, train_labels = clustered(rng, 90, 4)
    test, test_labels = clustered(rng, 60, 4)
    return train.astype(np.float32), train_labels, test.astype(np.float32), test_labels


def reference_knn(train, train_labels, test, view, k):
    """Plain loop: sort by (-similarity, row), majority vote, ties to the label seen first."""
    a, b = unit(train, view), unit(test, view)
    predictions = []
    for row in b:
        sims = [float(np.dot(row, other)) for other in a]
        ranked = sorted(range(len(a)), key=lambda j: (-sims[j], j))[:k]
        votes = Counter(train_labels[j] for j in ranked)
        best = max(votes.values())
        predictions.append(next(train_labels[j] for j in ranked if votes[train_labels[j]] == best))
    return np.array(predictions)


def test_knn_1nn_matches_sklearn(split):
    train, train_labels, test, test_labels = split
    predicted = classification.predict_views(train, train_labels, test, RANGES, MASKS)
    accuracy = classification.score_views(train, train_labels, test, test_labels, RANGES, MASKS)
    assert predicted.shape == (len(RANGES) + MASKS.shape[1], len(test))
    for v, view in enumerate(all_views()):
        knn = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
        expected = knn.fit(np.asarray(train, np.float64)[:, view], train_labels).predict(
            np.asarray(test, np.float64)[:, view])
        np.testing.assert_array_equal(predicted[v], expected)
        assert accuracy[v] == accuracy_score(test_labels, expected)


@pytest.mark.parametrize("k", [2, 3, 6, 200])
def test_knn_vote_matches_loop(split, k):
    train, train_labels, test, _ = split
    predicted = classification.predict_views(train, train_labels, test, RANGES, MASKS, k=k)
    for v, view in enumerate(all_views()):
        np.testing.assert_array_equal(predicted[v], reference_knn(train, train_labels, test, view, k))


def test_knn_binary_odd_k_matches_sklearn(split):
    train, train_labels, test, _ = split
    binary = train_labels % 2
    predicted = classification.predict_views(train, binary, test, RANGES, MASKS, k=5)
    for v, view in enumerate(all_views()):
        knn = KNeighborsClassifier(n_neighbors=5, metric="cosine", algorithm="brute")
        knn.fit(np.asarray(train, np.float64)[:, view], binary)
        expected = knn.predict(np.asarray(test, np.float64)[:, view])
        np.testing.assert_array_equal(predicted[v], expected)


def test_knn_chunks_do_not_change_predictions(split, monkeypatch):
    train, train_labels, test, _ = split
    whole = classification.predict_views(train, train_labels, test, RANGES, MASKS, k=3)
    monkeypatch.setattr(classification, "_BLOCK_BYTES", 8 * 90 * 7)  # 7 test rows per block
    np.testing.assert_array_equal(classification.predict_views(train, train_labels, test, RANGES, MASKS, k=3), whole)


def test_knn_ties():
    train = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    test = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    no_masks = np.zeros((2, 0))
    labels = ["b", "a", "c", "a", "d"]
    one = classification.predict_views(train, labels, test, [(0, 2)], no_masks, k=1)[0]
    # equal similarity: the lower training row wins; a zero vector has similarity 0 to everything
    assert one.tolist() == ["b", "b", "b"]
    two = classification.predict_views(train, labels, test, [(0, 2)], no_masks, k=2)[0]
    # row 1: 'b' (row 0) and 'a' (row 1) tie 1-1: the nearer neighbour, row 0, decides
    assert two.tolist() == ["b", "b", "b"]
    three = classification.predict_views(train, labels, test, [(0, 2)], no_masks, k=3)[0]
    assert three.tolist() == ["a", "b", "b"]
    # k ≥ training rows, equal similarities and a 1-1 vote: the lower row still decides
    pair = classification.predict_views(train[:2], ["y", "x"], test[:1], [(0, 2)], no_masks, k=2)[0]
    assert pair.tolist() == ["y"]
    for k in (1, 2, 3, 5, 9):
        expected = reference_knn(train, np.array(labels), test, slice(0, 2), k)
        np.testing.assert_array_equal(classification.predict_views(train, labels, test, [(0, 2)], no_masks, k=k)[0],
                                      expected)


def test_logreg_matches_sklearn_loop(split):
    train, train_labels, test, test_labels = split
    predicted = classification.predict_views(train, train_labels, test, RANGES, MASKS, method="logreg", seed=4)
    f1 = classification.score_views(train, train_labels, test, test_labels, RANGES, MASKS, method="logreg",
                                    metric="f1", seed=4)
    for v, view in enumerate(all_views()):
        with threadpool_limits(limits=1):
            model = LogisticRegression(max_iter=100, random_state=4).fit(unit(train, view), train_labels)
        expected = model.predict(unit(test, view))
        np.testing.assert_array_equal(predicted[v], expected)
        assert abs(f1[v] - f1_score(test_labels, expected, average="macro")) < 1e-12


def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(0)
    truth = rng.choice(["x", "y", "z", "w"], 50)
    predicted = rng.choice(["x", "y", "v"], (4, 50))  # 'v' never true, 'w' never predicted
    predicted[3] = truth
    got = classification.metric_values(predicted, truth, "f1")
    for v in range(4):
        assert abs(got[v] - f1_score(truth, predicted[v], average="macro")) < 1e-12
    accuracy = classification.metric_values(predicted, truth, "accuracy")
    np.testing.assert_allclose(accuracy, [accuracy_score(truth, p) for p in predicted], rtol=0, atol=1e-15)


@pytest.mark.parametrize("method", ["knn", "logreg"])
def test_single_training_class(split, method):
    train, _, test, test_labels = split
    labels = np.full(len(train), 2)
    scores = classification.score_views(train, labels, test, test_labels, RANGES, MASKS, method=method)
    np.testing.assert_array_equal(scores, np.full(len(RANGES) + 3, np.mean(test_labels == 2)))


def test_classification_rejects_bad_arguments(split):
    train, train_labels, test, test_labels = split
    with pytest.raises(ValueError, match="method"):
        classification.score_views(train, train_labels, test, test_labels, RANGES, MASKS, method="svm")
    with pytest.raises(ValueError, match="metric"):
        classification.score_views(train, train_labels, test, test_labels, RANGES, MASKS, metric="ap")
    with pytest.raises(ValueError, match="labels"):
        classification.score_views(train, train_labels[:-1], test, test_labels, RANGES, MASKS)


# ---------------------------------------------------------------------------------- clustering


def test_clustering_matches_sklearn_loop():
    rng = np.random.default_rng(5)
    vectors, labels = clustered(rng, 120, 5, spread=0.8)
    scores = clustering.score_views(vectors, labels, RANGES, MASKS, seed=11)
    assert scores.shape == (len(RANGES) + 3,)
    for v, view in enumerate(all_views()):
        model = MiniBatchKMeans(n_clusters=5, batch_size=500, n_init="auto", random_state=11)
        with threadpool_limits(limits=1):  # speed only: results do not depend on the thread count
            expected = v_measure_score(labels, model.fit(unit(vectors, view)).labels_)
        assert abs(scores[v] - expected) < 1e-12
    np.testing.assert_array_equal(clustering.score_views(vectors, labels, RANGES, MASKS, seed=11), scores)


def test_clustering_separated_clusters_score_one():
    rng = np.random.default_rng(6)
    vectors, labels = clustered(rng, 60, 3, spread=50.0)
    np.testing.assert_allclose(clustering.score_views(vectors, labels, [(0, DIM)], np.zeros((DIM, 0))), [1.0])


def test_clustering_single_label_and_errors():
    vectors = np.random.default_rng(1).standard_normal((10, DIM))
    np.testing.assert_array_equal(clustering.score_views(vectors, ["x"] * 10, RANGES, MASKS), np.ones(len(RANGES) + 3))
    with pytest.raises(ValueError, match="metric"):
        clustering.score_views(vectors, ["x"] * 10, RANGES, MASKS, metric="ari")
    with pytest.raises(ValueError, match="labels"):
        clustering.score_views(vectors, ["x"] * 9, RANGES, MASKS)


# ------------------------------------------------------------------------- pair classification


def reference_similarities(left, right, view, similarity="cosine"):
    if similarity == "cosine":
        a, b = unit(left, view), unit(right, view)
    else:
        a, b = np.asarray(left, np.float64)[:, view], np.asarray(right, np.float64)[:, view]
    return np.array([float(np.dot(x, y)) for x, y in zip(a, b, strict=True)])


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_pair_ap_matches_sklearn(similarity):
    rng = np.random.default_rng(8)
    left = rng.standard_normal((150, DIM)).astype(np.float32)
    labels = rng.integers(0, 2, 150)
    right = np.where(labels[:, None] == 1, left + rng.standard_normal((150, DIM)), rng.standard_normal((150, DIM)))
    left[4, :8] = 0.0  # zero slice: similarity 0
    scores = pair_classification.score_views(left, right, labels, RANGES, MASKS, similarity=similarity)
    for v, view in enumerate(all_views()):
        expected = average_precision_score(labels, reference_similarities(left, right, view, similarity))
        assert abs(scores[v] - expected) < 1e-9


def test_average_precision_handles_ties_like_sklearn():
    rng = np.random.default_rng(9)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        scores = rng.integers(0, 4, (n, 6)).astype(np.float64)
        labels = rng.integers(0, 2, (n, 6))
        labels[0] = 1
        got = pair_classification.average_precision_columns(scores, labels)
        for j in range(6):
            assert abs(got[j] - average_precision_score(labels[:, j], scores[:, j])) < 1e-12
    # the same pair four times with mixed labels: one tie group
    left = np.tile(rng.standard_normal((1, DIM)), (4, 1))
    right = np.tile(rng.standard_normal((1, DIM)), (4, 1))
    labels = np.array([1, 0, 0, 1])
    left = np.vstack([left, rng.standard_normal((1, DIM))])
    right = np.vstack([right, left[-1:]])
    labels = np.append(labels, 0)
    scores = pair_classification.score_views(left, right, labels, RANGES, MASKS)
    for v, view in enumerate(all_views()):
        assert abs(scores[v] - average_precision_score(labels, reference_similarities(left, right, view))) < 1e-9


def test_pair_ap_edge_cases():
    rng = np.random.default_rng(10)
    left, right = rng.standard_normal((5, DIM)), rng.standard_normal((5, DIM))
    assert np.isnan(pair_classification.score_views(left, right, [0] * 5, RANGES, MASKS)).all()
    np.testing.assert_array_equal(pair_classification.score_views(left, right, [1] * 5, RANGES, MASKS),
                                  np.ones(len(RANGES) + 3))
    with pytest.raises(ValueError, match="0 or 1"):
        pair_classification.score_views(left, right, [0, 1, 2, 1, 0], RANGES, MASKS)
    with pytest.raises(ValueError, match="metric"):
        pair_classification.score_views(left, right, [0, 1, 1, 1, 0], RANGES, MASKS, metric="f1")


# --------------------------------------------------------------------------------- reranking


@pytest.fixture(scope="module")
def rerank_data():
    rng = np.random.default_rng(12)
    queries = rng.standard_normal((30, DIM)).astype(np.float32)
    pool = rng.standard_normal((80, DIM)).astype(np.float32)
    pool[7] = pool[3]  # identical candidates: tied scores
    pool[11, 16:] = 0.0  # zero slice under the last window
    candidates, labels = [], []
    for q in range(30):
        size = int(rng.integers(6, 14))
        rows = rng.choice(80, size, replace=False).tolist()
        if q % 5 == 0:
            rows[:2] = [3, 7]
        marks = (rng.random(size) < 0.3).astype(int).tolist()
        if q == 1:
            marks = [0] * size  # no positive: dropped
        if q == 2:
            marks = [1] * size  # no negative: dropped
        if q == 5:
            marks[:2] = [0, 1]  # the tied pair disagrees
        candidates.append(rows)
        labels.append(marks)
        pool[rows[0]] += 0.5 * queries[q]
    return queries, pool, candidates, labels


def reference_rerank(queries, pool, candidates, labels, view, metric):
    values = []
    for q, (rows, marks) in enumerate(zip(candidates, labels, strict=True)):
        if sum(marks) in (0, len(marks)):
            continue
        sims = reference_similarities(np.repeat(queries[q : q + 1], len(rows), axis=0), pool[rows], view)
        if metric == "map":
            values.append(average_precision_score(marks, sims))
        else:
            cut = int(metric.split("@")[1])
            ranked = sorted(range(len(rows)), key=lambda i: (-sims[i], i))[:cut]
            values.append(next((1.0 / (r + 1) for r, i in enumerate(ranked) if marks[i]), 0.0))
    return float(np.mean(values))


@pytest.mark.parametrize("metric", ["map", "mrr@10", "mrr@1", "mrr@3", "mrr@50"])
def test_reranking_matches_loop(rerank_data, metric):
    queries, pool, candidates, labels = rerank_data
    scores = reranking.score_views(queries, pool, candidates, labels, RANGES, MASKS, metric)
    for v, view in enumerate(all_views()):
        assert abs(scores[v] - reference_rerank(queries, pool, candidates, labels, view, metric)) < 1e-9


def test_reranking_chunks_and_edge_cases(rerank_data, monkeypatch):
    queries, pool, candidates, labels = rerank_data
    whole = reranking.score_views(queries, pool, candidates, labels, RANGES, MASKS, "map")
    monkeypatch.setattr(reranking, "_PAIRS_PER_CHUNK", 13)
    np.testing.assert_array_equal(reranking.score_views(queries, pool, candidates, labels, RANGES, MASKS, "map"),
                                  whole)
    assert np.isnan(reranking.score_views(queries[:2], pool, candidates[1:3], labels[1:3], RANGES, MASKS)).all()
    for bad in ("mrr", "mrr@0", "ndcg@10", "map@10"):
        with pytest.raises(ValueError, match="reranking metric"):
            reranking.score_views(queries, pool, candidates, labels, RANGES, MASKS, bad)
    with pytest.raises(ValueError, match="labels"):
        reranking.score_views(queries, pool, candidates, [m[:-1] for m in labels], RANGES, MASKS)


# --------------------------------------------------------------------------------- agreement


def reference_rankings(queries, corpus, view, query_rows, similarity="cosine"):
    if similarity == "cosine":
        q, d = unit(queries, view), unit(corpus, view)
    else:
        q, d = np.asarray(queries, np.float64)[:, view], np.asarray(corpus, np.float64)[:, view]
    rankings, scores = [], q @ d.T
    for i in range(len(q)):
        allowed = [j for j in range(len(d)) if query_rows is None or j != query_rows[i]]
        rankings.append(sorted(allowed, key=lambda j: (-scores[i, j], j)))
    return rankings, scores


def reference_agreement(queries, corpus, view, full_dim, metric, query_rows, similarity="cosine"):
    kind, cut = metric.split("@")
    cut = int(cut)
    ranked, scores = reference_rankings(queries, corpus, view, query_rows, similarity)
    full_ranked, full_scores = reference_rankings(queries, corpus, slice(0, full_dim), query_rows, similarity)
    values = []
    for i in range(len(queries)):
        if not full_ranked[i]:
            continue
        if kind == "overlap":
            top = full_ranked[i][:cut]
            values.append(len(set(ranked[i][:cut]) & set(top)) / len(top))
        else:
            docs = full_ranked[i][:cut]
            x, y = scores[i, docs], full_scores[i, docs]
            constant = len(docs) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0
            values.append(0.0 if constant else float(spearmanr(x, y).statistic))
    return float(np.mean(values))


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(21)
    docs = rng.standard_normal((70, DIM)).astype(np.float32)
    docs[9, :8] = 0.0
    rows = agreement.sample_queries(len(docs), 15, seed=2)
    queries = docs[rows].copy()
    extra = rng.standard_normal((3, DIM)).astype(np.float32)  # queries not in the corpus
    extra[0, :8] = 0.0  # all its similarities tie under (0, 8): no rank correlation there
    return np.vstack([queries, extra]), docs, np.concatenate([rows, [-1, -1, -1]])


@pytest.mark.parametrize("metric", ["overlap@1", "overlap@10", "rank_correlation@5", "rank_correlation@30"])
@pytest.mark.parametrize("full_dim", [DIM, 16])
def test_agreement_matches_loop(corpus, metric, full_dim):
    queries, docs, rows = corpus
    scores = agreement.score_views(queries, docs, RANGES, MASKS, full_dim, metric, rows)
    for v, view in enumerate(all_views()):
        assert abs(scores[v] - reference_agreement(queries, docs, view, full_dim, metric, rows)) < 1e-9


@pytest.mark.parametrize("metric", ["overlap@200", "rank_correlation@200"])
def test_agreement_cut_beyond_corpus_and_full_view(corpus, metric):
    queries, docs, rows = corpus
    scores = agreement.score_views(queries, docs, RANGES, MASKS, DIM, metric, rows)
    assert scores[1] == pytest.approx(1.0, abs=1e-12)  # (0, DIM) is the full view itself
    if metric.startswith("overlap"):
        np.testing.assert_allclose(scores, 1.0, rtol=0, atol=1e-12)  # every view retrieves the whole corpus
    for v, view in enumerate(all_views()):
        assert abs(scores[v] - reference_agreement(queries, docs, view, DIM, metric, rows)) < 1e-9


@pytest.mark.parametrize("metric", ["overlap@3", "rank_correlation@6"])
def test_agreement_ties_with_dot(metric):
    rng = np.random.default_rng(4)
    docs = rng.integers(-2, 3, (40, DIM)).astype(np.float32)  # exact float32 dot products, many ties
    queries = rng.integers(-2, 3, (9, DIM)).astype(np.float32)
    scores = agreement.score_views(queries, docs, RANGES, MASKS, DIM, metric, None, similarity="dot")
    for v, view in enumerate(all_views()):
        assert abs(scores[v] - reference_agreement(queries, docs, view, DIM, metric, None, "dot")) < 1e-9


def test_agreement_without_documents_and_errors():
    one = np.ones((1, DIM))
    assert np.isnan(agreement.score_views(one, one, RANGES, MASKS, DIM, "overlap@5", [0])).all()
    assert np.isnan(agreement.score_views(one, one, RANGES, MASKS, DIM, "rank_correlation@5", [0])).all()
    for bad in ("overlap", "overlap@0", "ndcg@10", "spearman@5"):
        with pytest.raises(ValueError, match="agreement metric"):
            agreement.score_views(one, one, RANGES, MASKS, DIM, bad)
    with pytest.raises(ValueError, match="full_dim"):
        agreement.score_views(one, one, RANGES, MASKS, DIM + 1)
    with pytest.raises(ValueError, match="query_rows"):
        agreement.score_views(one, one, RANGES, MASKS, DIM, "overlap@5", [0, 1])


def test_rank_correlation_block_size_does_not_matter(corpus, monkeypatch):
    queries, docs, rows = corpus
    whole = agreement.score_views(queries, docs, RANGES, MASKS, DIM, "rank_correlation@12", rows)
    monkeypatch.setattr(agreement, "_BLOCK_ELEMENTS", 1)  # one query per block
    np.testing.assert_allclose(agreement.score_views(queries, docs, RANGES, MASKS, DIM, "rank_correlation@12", rows),
                               whole, rtol=0, atol=1e-15)


def test_sample_queries():
    first = agreement.sample_queries(500, 40, seed=3)
    np.testing.assert_array_equal(first, agreement.sample_queries(500, 40, seed=3))
    assert len(set(first.tolist())) == 40
    assert (np.diff(first) > 0).all()
    assert first.min() >= 0 and first.max() < 500
    assert not np.array_equal(first, agreement.sample_queries(500, 40, seed=4))
    np.testing.assert_array_equal(agreement.sample_queries(7, 40, seed=0), np.arange(7))
    assert agreement.sample_queries(0, 5).size == 0


def test_blas_threads_limits_blas_and_restores_it() -> None:
    from threadpoolctl import threadpool_info

    from pytest_mrlcheck.tasks.retrieval_blocks import blas_threads

    def counts() -> list[int]:
        return [int(info["num_threads"]) for info in threadpool_info() if info["user_api"] == "blas"]

    before = counts()
    for _ in range(2):  # the controller found once serves every later call
        with threadpool_limits(limits=2, user_api="blas"), blas_threads(1):
            assert counts() and set(counts()) == {1}
    assert counts() == before
