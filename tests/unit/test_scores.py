"""STS scores for every view equal an independent computation (scipy on sliced cosines) to 1e-6."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pytest_mrlcheck.tasks import sts
from pytest_mrlcheck.tasks.ranking import pearson_columns, rank_columns, spearman_columns
from pytest_mrlcheck.views import RandomFamily


def _pairs(seed: int, n: int = 300, d: int = 48) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    left = rng.standard_normal((n, d)).astype(np.float32)
    right = (left * rng.uniform(0.2, 1.0, size=(n, 1)) + rng.standard_normal((n, d))).astype(np.float32)
    gold = np.round(rng.uniform(0, 5, n), 1)  # rounded: many ties, like real STS gold scores
    return left, right, gold


def _reference(left: np.ndarray, right: np.ndarray, gold: np.ndarray, dims: np.ndarray, metric: str,
               similarity: str = "cosine") -> float:
    a, b = left[:, dims].astype(np.float64), right[:, dims].astype(np.float64)
    if similarity == "cosine":
        sims = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    else:
        sims = (a * b).sum(1)
    if metric == "spearman":
        return float(stats.spearmanr(sims, gold).statistic)
    return float(stats.pearsonr(sims, gold).statistic)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_columns_matches_scipy_with_ties(seed: int) -> None:
    values = np.random.default_rng(seed).integers(0, 7, size=(200, 5)).astype(float)
    np.testing.assert_allclose(rank_columns(values), stats.rankdata(values, axis=0))


def test_correlations_match_scipy() -> None:
    rng = np.random.default_rng(3)
    values, target = rng.standard_normal((150, 4)), np.round(rng.uniform(0, 5, 150))
    for column in range(4):
        assert spearman_columns(values, target)[column] == pytest.approx(
            stats.spearmanr(values[:, column], target).statistic, abs=1e-12)
        assert pearson_columns(values, target)[column] == pytest.approx(
            stats.pearsonr(values[:, column], target).statistic, abs=1e-12)


def test_constant_column_gives_nan_not_a_crash() -> None:
    values = np.ones((10, 1))
    assert np.isnan(pearson_columns(values, np.arange(10.0))[0])


@pytest.mark.parametrize("metric", ["spearman", "pearson"])
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_every_view_matches_scipy(metric: str, similarity: str) -> None:
    left, right, gold = _pairs(seed=4)
    d = left.shape[1]
    ranges = [(0, 4), (0, 16), (0, d), (8, 24), (20, 36), (32, 48)]
    family = RandomFamily(k=12, samples=5, seed=7)
    subsets = family.subsets(d)
    masks = np.zeros((d, len(subsets)))
    for column, subset in enumerate(subsets):
        masks[subset, column] = 1.0
    got = sts.score_views(left, right, gold, ranges, masks, metric, similarity)
    expected = [_reference(left, right, gold, np.arange(s, e), metric, similarity) for s, e in ranges]
    expected += [_reference(left, right, gold, subset, metric, similarity) for subset in subsets]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_chunked_rows_give_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    left, right, gold = _pairs(seed=5, n=97)
    ranges, masks = [(0, 8), (4, 40)], np.eye(48)[:, :3]
    whole = sts.score_views(left, right, gold, ranges, masks)
    monkeypatch.setattr(sts, "_CHUNK_BYTES", 24 * 49 * 10)  # 10 rows per chunk, last one partial
    np.testing.assert_allclose(sts.score_views(left, right, gold, ranges, masks), whole, atol=1e-12)


def test_random_subsets_are_reproducible_and_distinct() -> None:
    first = RandomFamily(16, 8, seed=0).subsets(64)
    assert np.array_equal(first, RandomFamily(16, 8, seed=0).subsets(64))
    assert not np.array_equal(first, RandomFamily(16, 8, seed=1).subsets(64))
    assert all(len(set(row)) == 16 for row in first.tolist())
    assert len({tuple(row) for row in first.tolist()}) == 8


def test_zero_vectors_score_zero_similarity() -> None:
    left = np.zeros((4, 6), dtype=np.float32)
    right = np.ones((4, 6), dtype=np.float32)
    sims = sts.pair_similarities(left, right, [(0, 6)], np.zeros((6, 0)))
    assert np.array_equal(sims, np.zeros((4, 1)))
