"""Bootstrap replicates equal a slow scipy loop; intervals and p-values derived from them behave."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from pytest_mrlcheck import bootstrap
from pytest_mrlcheck.bootstrap import (
    Alternative,
    Delta,
    Intervals,
    bootstrap_indices,
    delta_from_replicates,
    intervals_from_replicates,
    mean_replicates,
    sts_replicates,
)
from pytest_mrlcheck.checks import drop_p_value
from pytest_mrlcheck.tasks.sts import correlate

METRICS = ["spearman", "pearson"]


# The judges' way: replicates once, then intervals and deltas derived from them.
def sts_intervals(sims: np.ndarray, gold: np.ndarray, metric: str, resamples: int = 1000,
                  confidence: float = 0.95, seed: int = 0) -> Intervals:
    point = correlate(sims, gold, metric)
    return intervals_from_replicates(point, sts_replicates(sims, gold, metric, resamples, seed), confidence, seed)


def mean_intervals(per_unit: np.ndarray, resamples: int = 1000, seed: int = 0) -> Intervals:
    return intervals_from_replicates(per_unit.mean(axis=1), mean_replicates(per_unit, resamples, seed), seed=seed)


def sts_paired_delta(candidate: np.ndarray, baseline: np.ndarray, gold: np.ndarray, metric: str,
                     resamples: int = 1000, seed: int = 0, alternative: Alternative = "greater") -> Delta:
    # As the compare judge does: each model's replicates on its own, on the same resamples.
    mine, theirs = (sts_replicates(sims, gold, metric, resamples, seed) for sims in (candidate, baseline))
    point = correlate(candidate, gold, metric) - correlate(baseline, gold, metric)
    return delta_from_replicates(point, mine - theirs, seed=seed, alternative=alternative)


def paired_delta(candidate: np.ndarray, baseline: np.ndarray, resamples: int = 1000, seed: int = 0,
                 margin: float = 0.0) -> Delta:
    difference = candidate - baseline
    return delta_from_replicates(difference.mean(axis=1), mean_replicates(difference, resamples, seed), seed=seed,
                                 margin=margin)


def _sts_data(seed: int, n: int = 120, tied_gold: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Gold with many ties (like STS) or none, and views with and without ties of their own."""
    rng = np.random.default_rng(seed)
    gold = rng.uniform(0, 5, n)
    if tied_gold:
        gold = np.round(gold * 2) / 2
    views = [
        gold + rng.normal(0, 1.5, n),  # continuous, no ties
        np.round(gold + rng.normal(0, 1.0, n)),  # heavily tied
        gold.copy(),  # identical ranks to gold
        -gold + rng.normal(0, 3.0, n),  # weak, negative
        np.where(rng.random(n) < 0.2, 0.0, rng.normal(0, 1, n)),  # one big tie group at 0
    ]
    return np.column_stack(views), gold


def _reference(sims: np.ndarray, gold: np.ndarray, metric: str, indices: np.ndarray) -> np.ndarray:
    """One scipy call per resample and view on the materialised resampled pairs."""
    correlation = stats.spearmanr if metric == "spearman" else stats.pearsonr
    return np.array(
        [
            [float(correlation(sims[rows, v], gold[rows]).statistic) for v in range(sims.shape[1])]
            for rows in indices
        ]
    )


def test_bootstrap_indices_are_deterministic_draws_with_replacement() -> None:
    first = bootstrap_indices(50, 40, seed=7)
    assert first.shape == (40, 50)
    assert first.min() >= 0
    assert first.max() < 50
    np.testing.assert_array_equal(first, bootstrap_indices(50, 40, seed=7))
    assert not np.array_equal(first, bootstrap_indices(50, 40, seed=8))
    # With replacement: some resample repeats a unit.
    assert any(len(np.unique(row)) < 50 for row in first)


@pytest.mark.parametrize("tied_gold", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_sts_replicates_and_intervals_equal_scipy_loop(metric: str, tied_gold: bool) -> None:
    sims, gold = _sts_data(seed=1, tied_gold=tied_gold)
    # The data exercise both ways Spearman handles tied views (few tied pairs, many).
    tied_views = [view for view in bootstrap._SpearmanLayout(sims, gold).views if view.tied]
    assert {view.by_group for view in tied_views} == {True, False}
    resamples, seed = 200, 11
    expected = _reference(sims, gold, metric, bootstrap_indices(len(gold), resamples, seed))
    replicates = sts_replicates(sims, gold, metric, resamples, seed)
    np.testing.assert_allclose(replicates, expected, rtol=0, atol=1e-9)

    intervals = sts_intervals(sims, gold, metric, resamples, confidence=0.9, seed=seed)
    full = _reference(sims, gold, metric, np.arange(len(gold))[None, :])[0]
    np.testing.assert_allclose(intervals.point, full, rtol=0, atol=1e-9)
    low, high = np.quantile(expected, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(intervals.low, low, rtol=0, atol=1e-9)
    np.testing.assert_allclose(intervals.high, high, rtol=0, atol=1e-9)
    assert (intervals.confidence, intervals.resamples, intervals.seed) == (0.9, resamples, seed)


@pytest.mark.parametrize("metric", METRICS)
def test_resample_chunks_do_not_change_replicates(
    metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sims, gold = _sts_data(seed=2, n=97)
    whole = sts_replicates(sims, gold, metric, resamples=50, seed=3)
    # 3 resamples per chunk: 50 is not a multiple, and 97 units × 3 is an odd number of draws.
    monkeypatch.setattr(bootstrap, "_CHUNK_BYTES", 8 * 97 * 3)
    chunked = sts_replicates(sims, gold, metric, resamples=50, seed=3)
    # Same resamples; Pearson's matrix products may round differently for other chunk shapes.
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_intervals_are_deterministic_for_a_seed(metric: str) -> None:
    sims, gold = _sts_data(seed=3)
    first = sts_intervals(sims, gold, metric, resamples=100, seed=5)
    again = sts_intervals(sims, gold, metric, resamples=100, seed=5)
    other = sts_intervals(sims, gold, metric, resamples=100, seed=6)
    np.testing.assert_array_equal(first.low, again.low)
    np.testing.assert_array_equal(first.high, again.high)
    np.testing.assert_array_equal(first.point, other.point)
    assert not np.array_equal(first.low, other.low)


def test_intervals_are_immutable() -> None:
    sims, gold = _sts_data(seed=4)
    intervals = sts_intervals(sims, gold, "spearman", resamples=20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        intervals.seed = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        intervals.low[0] = 0.0


@pytest.mark.parametrize("metric", METRICS)
def test_interval_covers_the_true_correlation(metric: str) -> None:
    rho = 0.6
    truth = rho if metric == "pearson" else 6 / math.pi * math.asin(rho / 2)
    covariance = [[1.0, rho], [rho, 1.0]]
    repetitions, covered, widths = 200, 0, []
    for repetition in range(repetitions):
        rng = np.random.default_rng(1000 + repetition)
        x, y = rng.multivariate_normal([0.0, 0.0], covariance, size=150).T
        intervals = sts_intervals(x[:, None], y, metric, resamples=200, seed=repetition)
        covered += bool(intervals.low[0] <= truth <= intervals.high[0])
        widths.append(intervals.high[0] - intervals.low[0])
    # Nominal 95%: a percentile interval of a correlation at n=150 covers about 93-95%.
    assert 0.88 * repetitions <= covered <= 0.99 * repetitions
    assert 0.1 < float(np.median(widths)) < 0.35


def test_mean_interval_covers_the_true_mean() -> None:
    repetitions = 200
    rng = np.random.default_rng(0)
    covered = 0
    for repetition in range(repetitions):
        per_query = rng.exponential(0.5, size=(1, 200))  # skewed, true mean 0.5
        intervals = mean_intervals(per_query, resamples=200, seed=repetition)
        assert intervals.point[0] == pytest.approx(per_query.mean())
        covered += bool(intervals.low[0] <= 0.5 <= intervals.high[0])
    assert 0.88 * repetitions <= covered <= 0.99 * repetitions


def test_mean_replicates_equal_a_loop_over_resamples() -> None:
    rng = np.random.default_rng(5)
    per_query = rng.random((3, 40))
    indices = bootstrap_indices(40, 30, seed=9)
    expected = np.array([[per_query[v, rows].mean() for v in range(3)] for rows in indices])
    np.testing.assert_allclose(mean_replicates(per_query, 30, seed=9), expected, atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_identical_scores_are_never_significant(metric: str) -> None:
    sims, gold = _sts_data(seed=6)
    delta = sts_paired_delta(sims, sims, gold, metric, resamples=200)
    np.testing.assert_array_equal(delta.point[np.isfinite(delta.point)], 0.0)
    np.testing.assert_array_equal(delta.low, 0.0)
    np.testing.assert_array_equal(delta.high, 0.0)
    np.testing.assert_array_equal(delta.p_value, 1.0)
    per_query = np.random.default_rng(0).random((4, 60))
    generic = paired_delta(per_query, per_query, resamples=200)
    np.testing.assert_array_equal(generic.p_value, 1.0)
    np.testing.assert_array_equal(generic.high, 0.0)


@pytest.mark.parametrize("metric", METRICS)
def test_a_clear_improvement_is_significant(metric: str) -> None:
    rng = np.random.default_rng(7)
    gold = rng.uniform(0, 5, 300)
    good = (gold + rng.normal(0, 0.5, 300))[:, None]
    poor = (gold + rng.normal(0, 3.0, 300))[:, None]
    delta = sts_paired_delta(good, poor, gold, metric, resamples=500, seed=1)
    assert delta.point[0] > 0.2
    assert delta.p_value[0] < 0.01
    assert delta.low[0] > 0
    worse = sts_paired_delta(poor, good, gold, metric, resamples=500, seed=1)
    assert worse.p_value[0] > 0.99  # "greater" is the wrong direction
    assert sts_paired_delta(
        poor, good, gold, metric, resamples=500, seed=1, alternative="less"
    ).p_value[0] < 0.01


def test_a_clear_shift_in_per_query_scores_is_significant() -> None:
    rng = np.random.default_rng(8)
    baseline = rng.random((1, 200))
    candidate = np.vstack([baseline + 0.05 + rng.normal(0, 0.1, 200), baseline])
    delta = paired_delta(candidate, baseline, resamples=500, seed=2)
    assert delta.p_value[0] < 0.01
    assert delta.low[0] > 0
    assert delta.p_value[1] == 1.0  # the second row equals the (broadcast) baseline
    # Non-inferiority: "no worse than baseline - 0.01" holds for the identical row.
    margin = paired_delta(candidate, baseline, resamples=500, seed=2, margin=-0.01)
    assert margin.p_value[1] == pytest.approx(1 / 501)


@pytest.mark.parametrize("metric", METRICS)
def test_sts_delta_is_paired_over_the_same_resamples(metric: str) -> None:
    sims, gold = _sts_data(seed=9)
    replicates = sts_replicates(sims, gold, metric, resamples=300, seed=4)
    point = sts_intervals(sims, gold, metric, resamples=10).point
    differences = replicates - replicates[:, [0]]
    # Every view against the full one (column 0), derived from replicates computed once.
    derived = delta_from_replicates(point - point[0], differences, seed=4)
    low, high = np.quantile(differences, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(derived.low, low, atol=1e-12)
    np.testing.assert_allclose(derived.high, high, atol=1e-12)
    expected_p = (1 + (differences <= 0).sum(axis=0)) / 301
    np.testing.assert_array_equal(derived.p_value, expected_p)
    assert derived.p_value[0] == 1.0  # a view against itself: every difference is exactly 0
    assert (derived.resamples, derived.seed, derived.alternative) == (300, 4, "greater")
    intervals = intervals_from_replicates(point, replicates, confidence=0.5)
    np.testing.assert_allclose(intervals.high, np.quantile(replicates, 0.75, axis=0), atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_undefined_correlations_are_nan_without_warnings(metric: str) -> None:
    gold = np.array([0.0, 1.0, 3.0])
    sims = np.column_stack([np.full(3, 0.5), gold / 10])  # a constant view, a perfect one
    intervals = sts_intervals(sims, gold, metric, resamples=200, seed=0)
    assert np.isnan(intervals.point[0])
    assert np.isnan(intervals.low[0])
    assert np.isnan(intervals.high[0])
    assert intervals.point[1] == pytest.approx(1.0)
    assert intervals.low[1] == pytest.approx(1.0)
    assert intervals.high[1] == pytest.approx(1.0)
    replicates = sts_replicates(sims, gold, metric, resamples=200, seed=0)
    assert np.isnan(replicates[:, 0]).all()
    # About 1 in 9 resamples of 3 pairs draws a single pair 3 times: undefined, left out.
    undefined = np.isnan(replicates[:, 1])
    assert 5 < undefined.sum() < 50
    np.testing.assert_allclose(replicates[~undefined, 1], 1.0, atol=1e-12)
    delta = sts_paired_delta(sims, sims, gold, metric, resamples=200)
    assert np.isnan(delta.p_value[0])
    assert delta.p_value[1] == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, g: sts_replicates(s, g, "kendall"), "unknown STS metric"),
        (lambda s, g: sts_replicates(s, g[:-1], "spearman"), "one score per pair"),
        (lambda s, g: sts_replicates(s[:, 0], g, "spearman"), "n_pairs × views"),
        (lambda s, g: sts_replicates(s, g, "spearman", resamples=0), "resamples"),
        (lambda s, g: sts_replicates(np.where(s > 1, np.nan, s), g, "pearson"), "finite"),
        (lambda s, g: mean_replicates(s.T, resamples=0), "resamples"),
        (lambda s, g: intervals_from_replicates(s[0], s, confidence=1.0), "confidence"),
        (lambda s, g: delta_from_replicates(s[0], s, alternative="two"), "alternative"),  # type: ignore[arg-type]
        (lambda s, g: delta_from_replicates(s[0], s[:, :-1]), "resamples × V"),
    ],
)
def test_bad_arguments_are_rejected(
    call: Callable[[np.ndarray, np.ndarray], object], message: str
) -> None:
    sims, gold = _sts_data(seed=10, n=30)
    with pytest.raises(ValueError, match=message):
        call(sims, gold)


def test_the_drop_p_value_of_the_judges_is_the_one_sided_delta() -> None:
    """Baseline and compare judges: H0 "no drop below the floor"; small p only for a clear drop."""
    rng = np.random.default_rng(12)
    replicates = rng.normal(0.70, 0.01, 999)
    assert drop_p_value(0.70, replicates, 0.75) == pytest.approx(1 / 1000)  # clearly below 0.75
    assert drop_p_value(0.70, replicates, 0.65) == pytest.approx(1.0)  # clearly above 0.65
    expected = (1 + np.sum(replicates >= 0.70)) / 1000
    assert drop_p_value(0.70, replicates, 0.70) == pytest.approx(expected)
    with_nan = np.concatenate([replicates, [np.nan]])
    assert drop_p_value(0.70, with_nan, 0.70) == pytest.approx(expected)  # undefined replicates left out
