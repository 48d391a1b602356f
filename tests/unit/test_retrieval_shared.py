"""Contiguous views ranked from one set of block products, against one product per view and a naive loop.

The shared path (:func:`top_k` with ``shared=True``, the default) cuts the dims at every view
boundary, multiplies each block once and sums blocks per view; cosine scales the sums by slice
norms built from block sums. These tests hold it to the per-view path (``shared=False``, one
product per view, as before) and to a float64 ranking written out pair by pair, on random data
with exact ties (repeated documents, zero slices), exclusions, more slots than documents, and
tiles, stripes and chunks that do not divide the data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_mrlcheck.tasks import funnel, retrieval_blocks, retrieval_merge, retrieval_topk
from pytest_mrlcheck.tasks.retrieval import top_k


def naive_scores(queries, corpus, view, similarity):
    """The float64 ``Q × N`` similarities under one view."""
    selector = slice(*view) if isinstance(view, tuple) else np.asarray(view)
    q = np.asarray(queries, dtype=np.float64)[:, selector]
    d = np.asarray(corpus, dtype=np.float32).astype(np.float64)[:, selector]
    if similarity == "cosine":
        q = q / np.where((norm := np.linalg.norm(q, axis=1, keepdims=True)) > 0, norm, 1.0)
        d = d / np.where((norm := np.linalg.norm(d, axis=1, keepdims=True)) > 0, norm, 1.0)
    return q @ d.T


def assert_valid_ranking(indices, scores, reference, k, exclude=None, atol=2e-6):
    """``indices``/``scores`` (``Q × k``) are a top-k of the float64 ``reference`` scores.

    Equal documents in different chunks may round one float32 ulp apart (BLAS picks kernels by
    shape), so ties within ``atol`` may come in either order; everything else is exact: the
    scores are the k best, each index carries its own score, no repeats, no excluded document,
    and ``-1``/``-inf`` exactly where fewer than k documents are allowed.
    """
    for row in range(reference.shape[0]):
        allowed = [j for j in range(reference.shape[1]) if not exclude or j not in exclude[row]]
        expected = np.sort(reference[row, allowed])[::-1][:k]
        found = indices[row][indices[row] >= 0]
        assert len(found) == len(expected) and len(set(found.tolist())) == len(found)
        assert not exclude or not set(found.tolist()) & set(exclude[row])
        np.testing.assert_allclose(scores[row, : len(found)], expected, atol=atol, rtol=0)
        np.testing.assert_allclose(reference[row, found], expected, atol=atol, rtol=0)
        assert np.isneginf(scores[row, len(found) :]).all()


def naive_top_k(queries, corpus, view, k, similarity, exclude=None):
    """Rank by (-score, index) with float64 scores computed one pair at a time."""
    selector = slice(*view) if isinstance(view, tuple) else np.asarray(view)
    q = np.asarray(queries, dtype=np.float64)[:, selector]
    d = np.asarray(corpus, dtype=np.float32).astype(np.float64)[:, selector]
    if similarity == "cosine":
        q = q / np.where((norm := np.linalg.norm(q, axis=1, keepdims=True)) > 0, norm, 1.0)
        d = d / np.where((norm := np.linalg.norm(d, axis=1, keepdims=True)) > 0, norm, 1.0)
    indices = np.full((len(q), k), -1)
    scores = np.full((len(q), k), -np.inf)
    for row in range(len(q)):
        allowed = [j for j in range(len(d)) if not exclude or j not in exclude[row]]
        values = {j: float(np.dot(q[row], d[j])) for j in allowed}
        ranked = sorted(allowed, key=lambda j: (-values[j], j))[:k]
        indices[row, : len(ranked)] = ranked
        scores[row, : len(ranked)] = [values[j] for j in ranked]
    return indices, scores


def tied_data(seed: int, n_queries: int, n_docs: int, dim: int, pool: int):
    """Queries, and documents drawn from a small pool of vectors (repeats tie exactly); some pool
    vectors and one query have zero slices."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((pool, dim)).astype(np.float32)
    vectors[0, : dim // 2] = 0.0
    if pool > 2:
        vectors[1, dim // 2 :] = 0.0
    corpus = vectors[rng.integers(0, pool, n_docs)]
    queries = rng.standard_normal((n_queries, dim)).astype(np.float32)
    queries[0, : max(1, dim // 3)] = 0.0
    return queries, corpus


def random_ranges(rng: np.random.Generator, dim: int, count: int) -> list[tuple[int, int]]:
    """Prefixes, windows and arbitrary overlapping ranges (gaps between them included)."""
    out = []
    for _ in range(count):
        start = 0 if rng.random() < 0.4 else int(rng.integers(0, dim - 1))
        out.append((start, int(rng.integers(start + 1, dim + 1))))
    return out


@pytest.fixture
def small_tiles(monkeypatch: pytest.MonkeyPatch):
    """Two stripes and tiles of 3 rows × 5 columns, so every boundary is crossed."""
    monkeypatch.setattr(retrieval_topk, "tiling", lambda: (2, 4 * 15, 5))


def assert_same_ranking(shared, reference, atol=1e-6, rtol=0.0):
    (indices, scores), (ref_indices, ref_scores) = shared, reference
    np.testing.assert_array_equal(indices, ref_indices)
    finite = np.isfinite(ref_scores)
    np.testing.assert_array_equal(np.isfinite(scores), finite)
    np.testing.assert_allclose(scores[finite], ref_scores[finite], atol=atol, rtol=rtol)


@given(seed=st.integers(0, 2**32 - 1), n_queries=st.integers(1, 9), n_docs=st.integers(1, 40),
       dim=st.integers(2, 24), pool=st.integers(1, 7), k=st.integers(1, 12), n_views=st.integers(1, 7),
       similarity=st.sampled_from(["cosine", "dot"]), chunk_docs=st.integers(1, 45),
       with_exclusions=st.booleans())
def test_shared_products_rank_like_one_product_per_view_and_a_naive_loop(
    seed, n_queries, n_docs, dim, pool, k, n_views, similarity, chunk_docs, with_exclusions
):
    queries, corpus = tied_data(seed, n_queries, n_docs, dim, pool)
    rng = np.random.default_rng(seed + 1)
    views = random_ranges(rng, dim, n_views)
    exclude = ([set(rng.integers(0, n_docs + 2, rng.integers(0, 4)).tolist()) for _ in range(n_queries)]
               if with_exclusions else None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retrieval_topk, "tiling", lambda: (2, 4 * 15, 5))
        shared = top_k(queries, corpus, views, k, similarity, chunk_docs, exclude)
    separate = top_k(queries, corpus, views, k, similarity, chunk_docs, exclude, shared=False)
    for v, view in enumerate(views):
        reference = naive_scores(queries, corpus, view, similarity)
        assert_valid_ranking(shared[0][v], shared[1][v], reference, k, exclude)
        assert_valid_ranking(separate[0][v], separate[1][v], reference, k, exclude)
        np.testing.assert_allclose(shared[1][v], separate[1][v], atol=1e-6, rtol=0)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_prefixes_and_windows_at_scale_match_per_view_scores(similarity: str) -> None:
    """The benchmark's layout (5 prefixes, 11 windows of 64 at step 32) with the default tiling."""
    rng = np.random.default_rng(3)
    queries = rng.standard_normal((70, 384)).astype(np.float32)
    corpus = rng.standard_normal((5000, 384)).astype(np.float32)
    corpus[4000:4100] = corpus[10]  # a hundred repeats of one document: ties broken by index
    views = [(0, p) for p in (32, 64, 128, 256, 384)] + [(s, s + 64) for s in range(0, 321, 32)]
    shared = top_k(queries, corpus, views, 20, similarity, chunk_docs=3000)
    separate = top_k(queries, corpus, views, 20, similarity, chunk_docs=3000, shared=False)
    rtol = 2e-6 if similarity == "dot" else 0.0  # dot scores reach ~30: float32 carries 7 digits
    assert_same_ranking(shared, separate, rtol=rtol)
    naive = naive_top_k(queries[:5], corpus, (64, 128), 20, similarity)
    assert_same_ranking((shared[0][7][:5], shared[1][7][:5]), naive, atol=2e-6, rtol=rtol)


def test_index_views_and_ranges_mixed_keep_their_order(small_tiles: None) -> None:
    queries, corpus = tied_data(11, 6, 30, 16, 5)
    views = [(0, 8), np.array([1, 5, 9]), (4, 16), [0, 15], (0, 16)]
    shared = top_k(queries, corpus, views, 7)
    for v, view in enumerate(views):
        assert_same_ranking((shared[0][v], shared[1][v]), naive_top_k(queries, corpus, view, 7, "cosine"),
                            atol=2e-6)


def test_too_many_narrow_blocks_fall_back_to_one_product_per_view() -> None:
    queries, corpus = tied_data(5, 4, 25, 80, 6)
    views = [(start, start + 1) for start in range(79)]  # 79 one-dim blocks: sharing does not pay
    assert retrieval_blocks.BlockPlan.build([slice(*view) for view in views], queries, "cosine") is None
    shared = top_k(queries, corpus, views, 3)
    assert_same_ranking(shared, top_k(queries, corpus, views, 3, shared=False))


def test_plan_shares_blocks_between_prefixes_and_windows() -> None:
    views = [slice(0, 32), slice(0, 64), slice(32, 96), slice(64, 128), slice(0, 128)]
    plan = retrieval_blocks.BlockPlan.build(views, np.ones((2, 128), dtype=np.float32), "cosine")
    assert plan is not None
    assert plan.blocks == ((0, 32), (32, 64), (64, 96), (96, 128))
    assert [step.block for step in plan.steps] == [0, 1, 2, 3]  # each block multiplied once
    assert plan.slots == 3  # prefixes share one running sum; two windows overlap at most
    assert sorted(view for step in plan.steps for view, _ in step.emits) == [0, 1, 2, 3, 4]


def test_merge_fast_path_keeps_ties_with_the_earlier_document() -> None:
    best_scores = np.array([[0.9, 0.5, 0.5]], dtype=np.float32)
    best_docs = np.array([[3, 1, 2]])
    sims = np.array([[0.5, 0.7, 0.5, 0.95]], dtype=np.float32)
    retrieval_merge.merge(sims, 10, best_scores, best_docs)
    np.testing.assert_array_equal(best_docs, [[13, 3, 11]])
    np.testing.assert_array_equal(best_scores, np.array([[0.95, 0.9, 0.7]], dtype=np.float32))
    scaled = np.array([[1.0, 2.0]], dtype=np.float32)
    retrieval_merge.merge(scaled, 20, best_scores, best_docs, row_scale=np.array([0.475], dtype=np.float32))
    np.testing.assert_array_equal(best_docs, [[13, 21, 3]])  # 2 × 0.475 = 0.95 ties 13, which came first


def test_cost_by_size_times_a_bounded_sample_and_scales_it() -> None:
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((300, 64)).astype(np.float32)
    documents = rng.standard_normal((20_000, 64)).astype(np.float32)
    cost = funnel.cost_by_size(queries, documents, [16, 64])
    assert set(cost) == {16, 64}
    assert cost[64]["relative_search_time"] == pytest.approx(1.0)
    assert cost[16]["timed_on"] == {"queries": funnel.COST_SAMPLE_QUERIES, "documents": funnel.COST_SAMPLE_DOCUMENTS}
    assert cost[16]["index_bytes"]["float32"] == 16 * 4 * 20_000
    assert cost[16]["search_seconds"] > 0
    small = funnel.cost_by_size(queries[:3], documents[:50], [16])
    assert small[16]["timed_on"] == {"queries": 3, "documents": 50}
