"""Geometry metrics equal slow, plainly written references (to 1e-9) and known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_mrlcheck import geometry
from pytest_mrlcheck.geometry import (
    EFFECTIVE_RANK,
    HIGHER_IS_BETTER,
    ISOSCORE,
    MEAN_ABS_CORRELATION,
    METRICS,
    OUTLIERS,
    PARTICIPATION_RATIO,
    UNIFORMITY,
    effective_rank,
    geometry_by_prefix,
    isoscore,
    mean_abs_correlation,
    outlier_dimensions,
    participation_ratio,
    uniformity_loss,
)

TOL = {"rel": 1e-9, "abs": 1e-12}


# --------------------------------------------------------------------------- slow references


def _ref_covariance(X: np.ndarray) -> np.ndarray:
    n, d = X.shape
    means = [sum(X[:, a]) / n for a in range(d)]
    cov = np.empty((d, d))
    for a in range(d):
        for b in range(d):
            cov[a, b] = sum((X[i, a] - means[a]) * (X[i, b] - means[b]) for i in range(n)) / (n - 1)
    return cov


def _ref_isoscore(X: np.ndarray) -> float:
    """Algorithm 1 of Rudman et al. (2022), step by step, PCA by eigh."""
    k = X.shape[1]
    centred = X - X.mean(axis=0)
    _, vectors = np.linalg.eigh(_ref_covariance(X))
    reoriented = centred @ vectors  # step 1: PCA coordinates
    variances = np.array([np.var(reoriented[:, c], ddof=1) for c in range(k)])  # step 2
    normalised = math.sqrt(k) * variances / np.linalg.norm(variances)  # step 3
    defect = np.linalg.norm(normalised - np.ones(k)) / math.sqrt(2 * (k - math.sqrt(k)))  # step 4
    phi = (k - defect**2 * (k - math.sqrt(k))) ** 2 / k**2  # step 5
    return float((k * phi - 1) / (k - 1))  # step 6


def _ref_effective_rank(X: np.ndarray) -> float:
    singular = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    total = sum(singular)
    entropy = 0.0
    for s in singular:
        p = s / total
        if p > 0:
            entropy -= p * math.log(p)
    return math.exp(entropy)


def _ref_participation_ratio(X: np.ndarray) -> float:
    eigenvalues = np.linalg.eigh(_ref_covariance(X))[0]
    return float(sum(eigenvalues) ** 2 / sum(lam * lam for lam in eigenvalues))


def _ref_mean_abs_correlation(X: np.ndarray) -> float:
    columns = [X[:, j] for j in range(X.shape[1]) if not np.all(X[:, j] == X[0, j])]
    values = []
    for a in range(len(columns)):
        for b in range(a + 1, len(columns)):
            values.append(abs(np.corrcoef(columns[a], columns[b])[0, 1]))
    return sum(values) / len(values)


def _ref_uniformity(X: np.ndarray, t: float = 2.0) -> float:
    unit = [row / np.linalg.norm(row) for row in X]
    kernel = []
    for i in range(len(unit)):
        for j in range(i + 1, len(unit)):
            kernel.append(math.exp(-t * float(np.sum((unit[i] - unit[j]) ** 2))))
    return math.log(sum(kernel) / len(kernel))


def _ref_outliers(X: np.ndarray, threshold: float = 3.0) -> list[int]:
    n, d = X.shape
    magnitude = [sum(abs(X[i, j]) for i in range(n)) / n for j in range(d)]
    mean = sum(magnitude) / d
    sd = math.sqrt(sum((m - mean) ** 2 for m in magnitude) / d)
    return [j for j in range(d) if magnitude[j] > mean + threshold * sd]


def _random_matrix(seed: int, n: int = 60, d: int = 9) -> np.ndarray:
    """Anisotropic, correlated, offset data: no metric is at a trivial value."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) * rng.uniform(0.1, 2.0, size=d)
    return rng.standard_normal((n, d)) @ mixing + rng.normal(0, 3, size=d)


# --------------------------------------------------------------------------- cross-checks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectral_metrics_match_references(seed: int) -> None:
    X = _random_matrix(seed)
    assert isoscore(X) == pytest.approx(_ref_isoscore(X), **TOL)
    assert effective_rank(X) == pytest.approx(_ref_effective_rank(X), **TOL)
    assert participation_ratio(X) == pytest.approx(_ref_participation_ratio(X), **TOL)
    assert mean_abs_correlation(X) == pytest.approx(_ref_mean_abs_correlation(X), **TOL)
    assert 0 < isoscore(X) < 1


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("t", [2.0, 0.5])
def test_uniformity_matches_all_pairs_reference(seed: int, t: float) -> None:
    X = _random_matrix(seed, n=30, d=7)
    assert uniformity_loss(X, t=t) == pytest.approx(_ref_uniformity(X, t), **TOL)
    single = X.astype(np.float32)  # float32 input is computed in float64: same values, same answer
    assert uniformity_loss(single, t=t) == pytest.approx(_ref_uniformity(single.astype(np.float64), t), **TOL)


@pytest.mark.parametrize("seed", [0, 1])
def test_outliers_match_reference(seed: int) -> None:
    X = _random_matrix(seed, n=40, d=24)
    X[:, 5] += 40.0
    X[:, 17] *= 30.0
    expected = _ref_outliers(X)
    assert expected  # the planted dimensions make the comparison non-trivial
    assert outlier_dimensions(X) == expected
    assert outlier_dimensions(X, threshold=1.0) == _ref_outliers(X, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isoscore_is_an_affine_function_of_participation_ratio(seed: int) -> None:
    X = _random_matrix(seed, d=12)
    k = X.shape[1]
    assert isoscore(X) == pytest.approx((participation_ratio(X) - 1) / (k - 1), **TOL)


# --------------------------------------------------------------------------- known answers


def test_isotropic_gaussian_scores_near_one() -> None:
    X = np.random.default_rng(3).standard_normal((20_000, 8))
    assert isoscore(X) > 0.99
    assert effective_rank(X) > 7.9
    assert participation_ratio(X) > 7.9
    assert mean_abs_correlation(X) < 0.02


def test_points_on_a_line() -> None:
    rng = np.random.default_rng(4)
    direction, offset = rng.standard_normal(16), rng.standard_normal(16)
    X = rng.standard_normal((200, 1)) * direction + offset
    assert isoscore(X) == pytest.approx(0.0, abs=1e-9)
    assert effective_rank(X) == pytest.approx(1.0, abs=1e-9)
    assert participation_ratio(X) == pytest.approx(1.0, abs=1e-9)
    assert mean_abs_correlation(X) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("k", "d"), [(1, 6), (4, 10), (10, 10)])
def test_points_spread_evenly_over_k_of_d_dimensions(k: int, d: int) -> None:
    """±e_1 … ±e_k: k equal variances, d − k zero ones; IsoScore's (k − 1)/(d − 1) by construction."""
    X = np.zeros((2 * k, d))
    for j in range(k):
        X[2 * j, j], X[2 * j + 1, j] = 1.0, -1.0
    assert isoscore(X) == pytest.approx((k - 1) / (d - 1), abs=1e-12)
    assert participation_ratio(X) == pytest.approx(k, abs=1e-12)
    assert effective_rank(X) == pytest.approx(k, abs=1e-12)


def test_one_huge_dimension_is_the_only_outlier() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2_000, 32))
    assert outlier_dimensions(X) == []
    scaled, shifted = X.copy(), X.copy()
    scaled[:, 7] *= 50.0
    shifted[:, 20] += 30.0
    assert outlier_dimensions(scaled) == [7]
    assert outlier_dimensions(shifted) == [20]
    shrunk = X.copy()
    shrunk[:, 4] *= 1e-3  # one-sided: an unusually small dimension is not an outlier
    assert outlier_dimensions(shrunk) == []
    # With k dimensions no z-score exceeds √(k − 1): 3σ is out of reach below 11 dimensions.
    assert outlier_dimensions(scaled[:, :10] * np.r_[1e6, np.ones(9)]) == []
    assert outlier_dimensions(scaled[:, :11] * np.r_[1e6, np.ones(10)]) == [0]


def test_perfectly_correlated_dimensions() -> None:
    base = np.random.default_rng(6).standard_normal(100)
    X = np.column_stack([base, 2 * base + 1, -3 * base, 0.5 * base - 4, np.full(100, 7.0)])
    assert mean_abs_correlation(X) == pytest.approx(1.0, abs=1e-12)  # the constant column is left out
    assert math.isnan(mean_abs_correlation(X[:, [0, 4]]))  # one non-constant dimension: no pair
    assert math.isnan(mean_abs_correlation(np.ones((5, 3))))


def test_uniformity_known_values() -> None:
    x = np.random.default_rng(7).standard_normal(12)
    assert uniformity_loss(np.stack([x, -x])) == pytest.approx(-8.0, abs=1e-12)  # ‖x̂ − ŷ‖² = 4, t = 2
    assert uniformity_loss(np.stack([x, -x]), t=0.5) == pytest.approx(-2.0, abs=1e-12)
    assert uniformity_loss(np.stack([x, 3 * x, 0.1 * x])) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="all zero"):
        uniformity_loss(np.stack([x, np.zeros(12)]))


def test_undefined_cases_are_nan() -> None:
    same = np.ones((4, 3))
    for metric in (isoscore, effective_rank, participation_ratio):
        assert math.isnan(metric(same))
    assert math.isnan(isoscore(np.random.default_rng(8).standard_normal((10, 1))))
    assert outlier_dimensions(same) == []


# --------------------------------------------------------------------------- pair sampling


def test_pair_sampler_is_uniform_over_distinct_pairs() -> None:
    first, second = geometry._sample_pairs(5, 200_000, seed=9)
    assert np.all(first != second)
    low, high = np.minimum(first, second), np.maximum(first, second)
    counts = np.bincount(low * 5 + high, minlength=25).reshape(5, 5)
    upper = counts[np.triu_indices(5, 1)]
    assert counts[np.tril_indices(5)].sum() == 0
    np.testing.assert_allclose(upper / upper.sum(), 0.1, atol=0.004)  # σ ≈ 0.0007


def _two_clusters() -> np.ndarray:
    # Two tight clusters: the kernel is ~1 within a cluster and ~e^-8 across, so a sampler that
    # favoured (or excluded) same-cluster or self pairs would be far off.
    rng = np.random.default_rng(10)
    centre = rng.standard_normal(8)
    return np.vstack([centre + 0.05 * rng.standard_normal((20, 8)), -centre + 0.05 * rng.standard_normal((20, 8))])


# 40 rows: 100 pairs are scored from the sampled rows, 300 from blocks of the Gram matrix.
@pytest.mark.parametrize("max_pairs", [100, 300])
def test_uniformity_subsample_is_unbiased_and_deterministic(max_pairs: int) -> None:
    X = _two_clusters()
    exact = math.exp(uniformity_loss(X))  # 780 pairs ≤ default max_pairs: all pairs
    assert exact == pytest.approx(math.exp(_ref_uniformity(X)), rel=1e-9)

    estimates = np.array([math.exp(uniformity_loss(X, max_pairs=max_pairs, seed=s)) for s in range(400)])
    assert len(set(estimates.tolist())) > 300  # really sampled, and the seed matters
    standard_error = estimates.std(ddof=1) / math.sqrt(estimates.size)
    assert abs(estimates.mean() - exact) < 4 * standard_error

    assert uniformity_loss(X, max_pairs=max_pairs, seed=3) == uniformity_loss(X, max_pairs=max_pairs, seed=3)
    assert uniformity_loss(X, max_pairs=None) == uniformity_loss(X)


@pytest.mark.parametrize("max_pairs", [100, 300])
def test_uniformity_subsample_is_the_mean_over_the_drawn_pairs(max_pairs: int) -> None:
    X = _two_clusters()[:, :5]
    unit = [row / np.linalg.norm(row) for row in X]
    first, second = geometry._sample_pairs(len(unit), max_pairs, seed=12)
    kernel = [math.exp(-1.5 * float(np.sum((unit[i] - unit[j]) ** 2))) for i, j in zip(first, second, strict=True)]
    expected = math.log(sum(kernel) / len(kernel))
    assert uniformity_loss(X, t=1.5, max_pairs=max_pairs, seed=12) == pytest.approx(expected, **TOL)


# --------------------------------------------------------------------------- per prefix


def _structured(n: int = 150, d: int = 40) -> np.ndarray:
    X = _random_matrix(11, n=n, d=d)
    X[:, 3] += 25.0  # an outlier dimension inside every prefix but the smallest
    X[:, min(12, d - 1)] = 2.0  # a constant one
    return X


# 150 rows: all 11,175 pairs; a sample scored from Gram blocks; a sample scored from the sampled rows.
@pytest.mark.parametrize("max_pairs", [geometry.DEFAULT_MAX_PAIRS, 3_000, 500])
def test_geometry_by_prefix_equals_direct_computation(max_pairs: int) -> None:
    X = _structured()
    sizes = [40, 1, 16, 4, 16, 33]
    table = geometry_by_prefix(X, sizes, seed=5, max_pairs=max_pairs, t=1.5, outlier_threshold=2.5)
    assert list(table) == [40, 1, 16, 4, 33]
    for k, row in table.items():
        part = X[:, :k]
        assert list(row) == list(METRICS)
        direct = {
            ISOSCORE: isoscore(part),
            UNIFORMITY: uniformity_loss(part, t=1.5, max_pairs=max_pairs, seed=5),
            MEAN_ABS_CORRELATION: mean_abs_correlation(part),
            EFFECTIVE_RANK: effective_rank(part),
            PARTICIPATION_RATIO: participation_ratio(part),
        }
        for name, value in direct.items():
            got = row[name]
            assert isinstance(got, float)
            if math.isnan(value):
                assert math.isnan(got), (k, name)
            else:
                assert got == pytest.approx(value, **TOL), (k, name)
        assert row[OUTLIERS] == outlier_dimensions(part, threshold=2.5)
    assert table[16][OUTLIERS] == [3]
    assert math.isnan(float(table[1][ISOSCORE])) and table[1][EFFECTIVE_RANK] == pytest.approx(1.0)


def test_geometry_by_prefix_selects_metrics_and_validates() -> None:
    X = _structured(n=30, d=8)
    table = geometry_by_prefix(X, [8, 2], metrics=[UNIFORMITY, OUTLIERS])
    assert {k: list(row) for k, row in table.items()} == {8: [UNIFORMITY, OUTLIERS], 2: [UNIFORMITY, OUTLIERS]}
    assert set(HIGHER_IS_BETTER) == set(METRICS)
    assert [name for name in METRICS if HIGHER_IS_BETTER[name]] == [ISOSCORE, EFFECTIVE_RANK, PARTICIPATION_RATIO]
    with pytest.raises(ValueError, match="outside"):
        geometry_by_prefix(X, [9])
    with pytest.raises(ValueError, match="outside"):
        geometry_by_prefix(X, [0])
    with pytest.raises(ValueError, match="unknown metric"):
        geometry_by_prefix(X, [4], metrics=["isotropy"])
    with pytest.raises(TypeError):
        geometry_by_prefix(X, [True])


@pytest.mark.parametrize("max_pairs", [None, 200, 50])  # 25 rows: all 300 pairs; Gram; rows
def test_small_blocks_give_the_same_answers(monkeypatch: pytest.MonkeyPatch, max_pairs: int | None) -> None:
    """Blocks of a few rows (covariance, Gram rows, pair chunks) change nothing."""
    X = _random_matrix(13, n=25, d=6)
    whole = geometry_by_prefix(X, [2, 6], max_pairs=max_pairs, seed=1)
    monkeypatch.setattr(geometry, "_BLOCK_ELEMENTS", 40)
    blocked = geometry_by_prefix(X, [2, 6], max_pairs=max_pairs, seed=1)
    for k in (2, 6):
        for name in METRICS:
            if name == OUTLIERS:
                assert blocked[k][name] == whole[k][name]
            else:
                assert blocked[k][name] == pytest.approx(whole[k][name], **TOL), (k, name)
    assert blocked[6][UNIFORMITY] == pytest.approx(uniformity_loss(X, max_pairs=max_pairs, seed=1), **TOL)
    if max_pairs is None:
        assert blocked[2][UNIFORMITY] == pytest.approx(_ref_uniformity(X[:, :2]), **TOL)
        assert blocked[6][PARTICIPATION_RATIO] == pytest.approx(_ref_participation_ratio(X), **TOL)


@pytest.mark.parametrize(
    "bad",
    [np.zeros(5), np.zeros((1, 4)), np.zeros((3, 0)), np.array([[1.0, np.nan], [0.0, 1.0]]), np.array([["a"], ["b"]])],
)
def test_bad_matrices_are_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="X "):
        isoscore(bad)
