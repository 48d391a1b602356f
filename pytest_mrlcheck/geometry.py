"""Geometry diagnostics of an embedding matrix, per truncation size.

Every function takes ``X``, an ``n × d`` matrix (one row per vector a spec uses), already sliced to
the dimensions of interest (a prefix ``X[:, :k]`` or any other selection), and returns one number
(or, for :func:`outlier_dimensions`, a list of column positions of ``X``).
:func:`geometry_by_prefix` computes all of them for several prefix sizes of one matrix, sharing the
work, and returns exactly what the single-matrix functions return on ``X[:, :k]`` (up to rounding).

The metrics, by name (the keys of :func:`geometry_by_prefix`'s per-size dicts):

``isoscore`` (:func:`isoscore`, higher is better, in [0, 1])
    IsoScore of Rudman, Gillman, Rayne & Eickhoff, "IsoScore: Measuring the Uniformity of
    Embedding Space Utilization" (Findings of ACL 2022), Algorithm 1. With ``k`` dimensions:

    1-2. reorient the centred points by PCA and take the variance vector ``Σ_D`` of the
         reoriented coordinates. The covariance in the PCA basis is diagonal with the
         eigenvalues of the covariance matrix on it, so ``Σ_D`` is the vector of those
         eigenvalues (computed with ``numpy.linalg.eigvalsh``; the variances are taken with
         ``n - 1`` in the denominator, which cancels in step 3);
    3.   ``Σ̂ = √k · Σ_D / ‖Σ_D‖`` (the norm of the all-ones vector ``1``);
    4.   isotropy defect ``δ = ‖Σ̂ − 1‖ / √(2(k − √k))``;
    5.   fraction of dimensions used ``φ = (k − δ²(k − √k))² / k²``;
    6.   ``ι = (k·φ − 1) / (k − 1)``, which is 1 for isotropic points and 0 for points on a line.

    Algebra on steps 3-6 gives ``φ = PR / k`` and ``ι = (PR − 1) / (k − 1)`` with ``PR`` the
    participation ratio below, so for a fixed ``k`` the two metrics carry the same information
    (the tests check the identity). Undefined, hence ``nan``, for ``k = 1`` or zero variance.

``uniformity`` (:func:`uniformity_loss`, lower is better, in [−4t, 0])
    Wang & Isola, "Understanding Contrastive Representation Learning through Alignment and
    Uniformity on the Hypersphere" (ICML 2020): ``log mean exp(−t‖x̂ − ŷ‖²)`` over the distinct
    pairs of rows, on rows L2-normalised *within the selected dimensions* (so a prefix is
    re-normalised, as a truncated embedding is before cosine scoring). Computed as a log-sum-exp.
    When ``n(n−1)/2 > max_pairs`` the mean is taken over ``max_pairs`` pairs drawn uniformly,
    with replacement, from the distinct pairs by ``numpy.random.default_rng(seed)``: the sample
    mean of ``exp(−t‖x̂ − ŷ‖²)`` is then an unbiased estimate of the all-pairs mean (its log, the
    returned value, is consistent but biased low by O(1/max_pairs), Jensen's inequality). The pairs
    depend only on ``(n, max_pairs, seed)``, so the result is deterministic and every prefix is
    scored on the same pairs. ``max_pairs=None`` always uses all pairs.

``mean_abs_correlation`` (:func:`mean_abs_correlation`, lower is better, in [0, 1])
    Mean of ``|Pearson r|`` over the distinct pairs of dimensions: how redundant the dimensions
    are. Constant dimensions (all values equal) have no correlation and are left out; ``nan`` when
    fewer than two non-constant dimensions remain.

``effective_rank`` (:func:`effective_rank`, higher is better, in [1, k])
    Roy & Vetterli, "The effective rank: a measure of effective dimensionality" (EUSIPCO 2007):
    ``exp(H(p))`` with ``p_i = σ_i / Σσ`` the normalised singular values of the centred matrix.
    The singular values are taken as ``√((n−1)·λ_i)`` from the covariance eigenvalues (shared
    with the other spectral metrics); eigenvalues below ``k · ε · λ_max`` (ε the float64
    machine epsilon) are below the rounding error of that route and count as 0, so points on a
    line get exactly 1. ``nan`` for zero variance.

``participation_ratio`` (:func:`participation_ratio`, higher is better, in [1, k])
    ``(Σλ)² / Σλ²`` of the covariance eigenvalues. ``nan`` for zero variance.

``outliers`` (:func:`outlier_dimensions`, fewer is better: ``HIGHER_IS_BETTER`` is ``False``)
    Outlier ("rogue") dimensions by magnitude: the positions ``j`` whose mean absolute value
    ``mean_i |X_ij|`` is more than ``threshold`` standard deviations (population, across the
    selected dimensions) above the mean of that statistic across the selected dimensions. This
    is the "> 3σ from the mean across dimensions" rule of the outlier-dimension literature
    (Kovaleva et al., "BERT Busters: Outlier Dimensions that Disrupt Transformers", Findings of
    ACL 2021, applied it to LayerNorm weights; Puccetti et al., "Outlier Dimensions that Disrupt
    Transformers Are Driven by Frequency", Findings of EMNLP 2022, to mean activations), applied
    to the magnitude so that both a large offset and a large spread are caught (Timkey & van
    Schijndel 2021 show either dominates cosine similarity). One-sided: unusually *small*
    dimensions are not flagged. With ``k`` dimensions no z-score can exceed ``√(k − 1)``, so for
    ``threshold = 3`` nothing is flagged below ``k = 11``.

Input conventions: ``X`` is converted to float64; it must be 2-D with at least 2 rows and 1
column, real and finite, else ``ValueError``. :func:`uniformity_loss` also rejects rows whose
selected part is all zero (they have no direction).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MAX_PAIRS",
    "EFFECTIVE_RANK",
    "HIGHER_IS_BETTER",
    "ISOSCORE",
    "MEAN_ABS_CORRELATION",
    "METRICS",
    "OUTLIERS",
    "PARTICIPATION_RATIO",
    "UNIFORMITY",
    "MetricValue",
    "effective_rank",
    "geometry_by_prefix",
    "isoscore",
    "mean_abs_correlation",
    "outlier_dimensions",
    "participation_ratio",
    "uniformity_loss",
]

FloatArray = npt.NDArray[np.float64]
#: A value of one metric: a float, or for ``outliers`` a list of dimension indices.
MetricValue = float | list[int]

ISOSCORE = "isoscore"
UNIFORMITY = "uniformity"
MEAN_ABS_CORRELATION = "mean_abs_correlation"
EFFECTIVE_RANK = "effective_rank"
PARTICIPATION_RATIO = "participation_ratio"
OUTLIERS = "outliers"

#: Every metric :func:`geometry_by_prefix` knows, in its default order.
METRICS: tuple[str, ...] = (ISOSCORE, UNIFORMITY, MEAN_ABS_CORRELATION, EFFECTIVE_RANK, PARTICIPATION_RATIO, OUTLIERS)

#: Direction of each metric, for bounds in checks: ``True`` when a higher value is better. For
#: ``outliers`` (a list) it is about the number of outlier dimensions.
HIGHER_IS_BETTER: Mapping[str, bool] = MappingProxyType(
    {
        ISOSCORE: True,
        UNIFORMITY: False,
        MEAN_ABS_CORRELATION: False,
        EFFECTIVE_RANK: True,
        PARTICIPATION_RATIO: True,
        OUTLIERS: False,
    }
)

#: Default number of sampled pairs for the uniformity loss (all pairs when there are no more).
DEFAULT_MAX_PAIRS = 200_000

_SPECTRAL = frozenset({ISOSCORE, EFFECTIVE_RANK, PARTICIPATION_RATIO})
# Elements (float64) of the temporary blocks: about 16 MiB each.
_BLOCK_ELEMENTS = 2**21


# --------------------------------------------------------------------------- input


def _as_matrix(X: npt.ArrayLike) -> FloatArray:
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be a 2-D matrix (n vectors × d dimensions), got shape {array.shape}")
    if array.dtype.kind not in "fiu":
        raise ValueError(f"X must hold real numbers, got dtype {array.dtype}")
    n, d = array.shape
    if n < 2 or d < 1:
        raise ValueError(f"X needs at least 2 rows and 1 column, got shape {array.shape}")
    matrix = np.asarray(array, dtype=np.float64)
    if not np.isfinite(matrix).all():
        raise ValueError("X has non-finite values (nan or inf)")
    return matrix


# --------------------------------------------------------------------------- shared statistics


@dataclass(frozen=True)
class _Moments:
    """What the covariance-based metrics need, for every column of one matrix."""

    cov: FloatArray  # d × d sample covariance (n − 1 in the denominator)
    mean_abs: FloatArray  # d, mean absolute value of each column
    constant: npt.NDArray[np.bool_]  # d, all values of the column equal


def _moments(X: FloatArray) -> _Moments:
    n, d = X.shape
    constant = X.max(axis=0) == X.min(axis=0)
    mean = X.mean(axis=0)
    mean[constant] = X[0, constant]  # their centred values are then exactly 0
    cov = np.zeros((d, d))
    rows = max(1, _BLOCK_ELEMENTS // d)
    for start in range(0, n, rows):
        centred = X[start : start + rows] - mean
        cov += centred.T @ centred
    cov /= n - 1
    return _Moments(cov=cov, mean_abs=np.abs(X).mean(axis=0), constant=constant)


def _spectrum(cov: FloatArray) -> FloatArray:
    """Eigenvalues of a covariance matrix, descending, with rounding-level ones set to 0."""
    eigenvalues: FloatArray = np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)
    if eigenvalues[0] > 0:
        eigenvalues[eigenvalues <= eigenvalues.size * np.finfo(np.float64).eps * eigenvalues[0]] = 0.0
    return eigenvalues


def _isoscore_from_variances(variances: FloatArray) -> float:
    """Steps 3-6 of IsoScore's Algorithm 1 on the variance vector of the PCA coordinates."""
    k = variances.size
    if k < 2 or not variances.max() > 0:
        return math.nan
    variances = variances / variances.max()  # scale-free; guards the norm against overflow
    root_k = math.sqrt(k)
    normalised = variances * (root_k / np.linalg.norm(variances))  # step 3
    defect = float(np.linalg.norm(normalised - 1.0)) / math.sqrt(2.0 * (k - root_k))  # step 4
    fraction_used = (k - defect**2 * (k - root_k)) ** 2 / k**2  # step 5
    score = (k * fraction_used - 1.0) / (k - 1.0)  # step 6
    return min(1.0, max(0.0, score))


def _effective_rank_from_eigenvalues(eigenvalues: FloatArray) -> float:
    singular = np.sqrt(eigenvalues)  # proportional to the singular values of the centred matrix
    total = singular.sum()
    if not total > 0:
        return math.nan
    p = singular[singular > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def _participation_ratio_from_eigenvalues(eigenvalues: FloatArray) -> float:
    if not eigenvalues.max() > 0:
        return math.nan
    scaled = eigenvalues / eigenvalues.max()
    return float(scaled.sum() ** 2 / np.sum(scaled**2))


def _mean_abs_correlation_from_cov(cov: FloatArray, constant: npt.NDArray[np.bool_]) -> float:
    keep = np.flatnonzero(~constant)
    if keep.size < 2:
        return math.nan
    sub = cov[np.ix_(keep, keep)]
    sd = np.sqrt(np.diag(sub))
    upper = np.triu_indices(keep.size, 1)
    r = sub[upper] / (sd[upper[0]] * sd[upper[1]])
    return float(np.minimum(np.abs(r), 1.0).mean())


def _outliers_from_magnitudes(magnitudes: FloatArray, threshold: float) -> list[int]:
    spread = magnitudes.std()
    if not spread > 0:
        return []
    return [int(j) for j in np.flatnonzero(magnitudes > magnitudes.mean() + threshold * spread)]


def _check_threshold(threshold: float) -> float:
    value = float(threshold)
    if not math.isfinite(value):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    return value


# --------------------------------------------------------------------------- uniformity


def _check_uniformity_args(t: float, max_pairs: int | None) -> tuple[float, int | None]:
    temperature = float(t)
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"t must be a positive number, got {t!r}")
    if max_pairs is not None:
        max_pairs = operator.index(max_pairs)
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be at least 1 (or None for all pairs), got {max_pairs}")
    return temperature, max_pairs


def _sample_pairs(n: int, count: int, seed: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """``count`` pairs ``(i, j)``, ``i ≠ j``, uniform over the distinct unordered pairs, with replacement.

    ``i`` is uniform on ``0..n-1`` and ``j`` uniform on the other ``n - 1`` rows, so every ordered
    pair of distinct rows has probability ``1 / (n(n-1))`` and every unordered one ``2 / (n(n-1))``.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=count).astype(np.intp)
    second = rng.integers(0, n - 1, size=count).astype(np.intp)
    second += second >= first
    return first, second


def _logsumexp(values: FloatArray) -> float:
    if values.size == 0:
        return -math.inf
    top = float(values.max())
    if top == -math.inf:
        return -math.inf
    return top + math.log(float(np.exp(values - top).sum()))


def _uniformity_by_prefix(
    X: FloatArray, sizes: Sequence[int], t: float, max_pairs: int | None, seed: int
) -> dict[int, float]:
    """Uniformity loss of ``X[:, :k]`` for every ``k`` in ``sizes`` (ascending, distinct), one pass over dims.

    Cosines of the prefixes are accumulated segment by segment (dims ``[k_{p-1}, k_p)``), from
    blocks of the Gram matrix when that costs at most a few times the pairs needed (all pairs, or
    a sample of at most ``n² / 8`` pairs), else from the sampled rows themselves.
    """
    n = X.shape[0]
    bounds = list(sizes)
    starts = [0, *bounds[:-1]]
    segments = list(zip(starts, bounds, strict=True))
    width = bounds[-1]

    # Row norms within every prefix (n × P).
    norms = np.sqrt(np.cumsum(np.add.reduceat(X[:, :width] ** 2, starts, axis=1), axis=1))
    empty_rows, empty_prefixes = np.nonzero(norms == 0)
    if empty_rows.size:
        raise ValueError(
            f"row {int(empty_rows[0])} is all zero in its first {bounds[int(empty_prefixes[0])]} dimensions: "
            "it cannot be L2-normalised"
        )

    total_pairs = n * (n - 1) // 2
    parts: list[list[float]] = [[] for _ in bounds]

    def add(p: int, cosines: FloatArray) -> None:
        # ‖x̂ − ŷ‖² = 2 − 2cos for unit vectors; the clip removes rounding above cos = 1.
        parts[p].append(_logsumexp(2.0 * t * (np.minimum(cosines, 1.0) - 1.0)))

    if max_pairs is None or total_pairs <= max_pairs:
        count, sampled = total_pairs, False
        first = second = np.empty(0, dtype=np.intp)
    else:
        count, sampled = max_pairs, True
        first, second = _sample_pairs(n, count, seed)

    if sampled and n * n > 8 * count:
        # Few pairs for many rows: dot products of the sampled rows themselves.
        chunk = max(1, _BLOCK_ELEMENTS // width)
        for start in range(0, count, chunk):
            i, j = first[start : start + chunk], second[start : start + chunk]
            dots = np.cumsum(np.add.reduceat(X[i, :width] * X[j, :width], starts, axis=1), axis=1)
            cosines = dots / (norms[i] * norms[j])
            for p in range(len(bounds)):
                add(p, cosines[:, p])
    else:
        # Blocks of Gram rows [start, stop) × columns [offset, n): the upper triangle (j > i, so
        # columns from `start` on), or the sampled pairs whose first row is in the block.
        if sampled:
            order = np.argsort(first, kind="stable")
            first, second = first[order], second[order]
        last_row = n if sampled else n - 1
        rows = max(1, _BLOCK_ELEMENTS // n)
        for start in range(0, last_row, rows):
            stop = min(last_row, start + rows)
            if sampled:
                offset = 0
                low, high = np.searchsorted(first, [start, stop])
                block_rows, block_cols = first[low:high] - start, second[low:high]
            else:
                offset = start
                block_rows, block_cols = np.nonzero(np.arange(start, n)[None, :] > np.arange(start, stop)[:, None])
            if block_rows.size == 0:
                continue
            gram = np.zeros((stop - start, n - offset))
            for p, (low_dim, high_dim) in enumerate(segments):
                gram += X[start:stop, low_dim:high_dim] @ X[offset:, low_dim:high_dim].T
                scale = norms[start + block_rows, p] * norms[offset + block_cols, p]
                add(p, gram[block_rows, block_cols] / scale)
    return {k: _logsumexp(np.asarray(parts[p])) - math.log(count) for p, k in enumerate(bounds)}


# --------------------------------------------------------------------------- public metrics


def isoscore(X: npt.ArrayLike) -> float:
    """IsoScore (Rudman et al. 2022) of the rows of ``X``: 1 isotropic, 0 on a line; ``nan`` if undefined."""
    matrix = _as_matrix(X)
    return _isoscore_from_variances(_spectrum(_moments(matrix).cov))


def uniformity_loss(
    X: npt.ArrayLike, t: float = 2.0, max_pairs: int | None = DEFAULT_MAX_PAIRS, seed: int = 0
) -> float:
    """Wang & Isola (2020) uniformity loss ``log mean exp(−t‖x̂ − ŷ‖²)`` over distinct pairs of normalised rows.

    All pairs when there are at most ``max_pairs`` of them (or ``max_pairs`` is None), else an
    unbiased uniform sample of ``max_pairs`` pairs drawn with ``seed``; see the module docstring.
    """
    matrix = _as_matrix(X)
    temperature, pairs = _check_uniformity_args(t, max_pairs)
    d = matrix.shape[1]
    return _uniformity_by_prefix(matrix, [d], temperature, pairs, operator.index(seed))[d]


def mean_abs_correlation(X: npt.ArrayLike) -> float:
    """Mean ``|Pearson r|`` over distinct pairs of non-constant dimensions; ``nan`` with fewer than two."""
    moments = _moments(_as_matrix(X))
    return _mean_abs_correlation_from_cov(moments.cov, moments.constant)


def effective_rank(X: npt.ArrayLike) -> float:
    """Roy & Vetterli (2007) effective rank of the centred ``X``; ``nan`` for zero variance."""
    return _effective_rank_from_eigenvalues(_spectrum(_moments(_as_matrix(X)).cov))


def participation_ratio(X: npt.ArrayLike) -> float:
    """``(Σλ)² / Σλ²`` of the covariance eigenvalues of ``X``; ``nan`` for zero variance."""
    return _participation_ratio_from_eigenvalues(_spectrum(_moments(_as_matrix(X)).cov))


def outlier_dimensions(X: npt.ArrayLike, threshold: float = 3.0) -> list[int]:
    """Column positions (ascending) whose mean ``|value|`` is over ``threshold`` σ above the mean across columns."""
    limit = _check_threshold(threshold)
    return _outliers_from_magnitudes(np.abs(_as_matrix(X)).mean(axis=0), limit)


# --------------------------------------------------------------------------- per prefix


def _check_sizes(sizes: Sequence[int], d: int) -> list[int]:
    if isinstance(sizes, (str, bytes)):
        raise TypeError("sizes must be a sequence of integers")
    checked: list[int] = []
    for size in sizes:
        if isinstance(size, (bool, np.bool_)):
            raise TypeError(f"prefix sizes must be integers, got {size!r}")
        k = operator.index(size)
        if not 1 <= k <= d:
            raise ValueError(f"prefix size {k} is outside 1..{d} (the number of columns of X)")
        if k not in checked:
            checked.append(k)
    if not checked:
        raise ValueError("sizes is empty")
    return checked


def _check_metrics(metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(METRICS)
    if isinstance(metrics, str):
        raise TypeError("metrics must be a sequence of metric names, not one string")
    unknown = [m for m in metrics if m not in HIGHER_IS_BETTER]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    chosen = list(dict.fromkeys(metrics))
    if not chosen:
        raise ValueError("metrics is empty")
    return chosen


def geometry_by_prefix(
    X: npt.ArrayLike,
    sizes: Sequence[int],
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    *,
    t: float = 2.0,
    max_pairs: int | None = DEFAULT_MAX_PAIRS,
    outlier_threshold: float = 3.0,
) -> dict[int, dict[str, MetricValue]]:
    """Every requested metric of ``X[:, :k]`` for every ``k`` in ``sizes``.

    Returns ``{k: {metric: value}}`` in the order of ``sizes`` (repeats dropped) and ``metrics``
    (default: all of :data:`METRICS`); values are floats, except ``outliers``, a ``list[int]`` of
    dimension indices below ``k``. Each value equals the single-matrix function on ``X[:, :k]``
    with the same ``t``, ``max_pairs``, ``seed`` and ``outlier_threshold`` (up to rounding).

    Shared work: one float64 conversion, one centring, one covariance of the full matrix (each
    prefix's covariance is its top-left block), one eigendecomposition per prefix for the three
    spectral metrics, and one pass over the dimensions for the uniformity loss of all prefixes
    (prefix dot products and norms are accumulated segment by segment, on the same pairs).
    """
    matrix = _as_matrix(X)
    checked_sizes = _check_sizes(sizes, matrix.shape[1])
    chosen = _check_metrics(metrics)
    limit = _check_threshold(outlier_threshold)
    temperature, pairs = _check_uniformity_args(t, max_pairs)
    seed = operator.index(seed)

    results: dict[int, dict[str, MetricValue]] = {k: {} for k in checked_sizes}
    uniformity = (
        _uniformity_by_prefix(matrix, sorted(checked_sizes), temperature, pairs, seed) if UNIFORMITY in chosen else {}
    )
    moments = _moments(matrix) if set(chosen) - {UNIFORMITY} else None
    for k in checked_sizes:
        eigenvalues = _spectrum(moments.cov[:k, :k]) if moments is not None and _SPECTRAL & set(chosen) else None
        row = results[k]
        for metric in chosen:
            if metric == UNIFORMITY:
                row[metric] = uniformity[k]
                continue
            assert moments is not None
            if metric == ISOSCORE:
                assert eigenvalues is not None
                row[metric] = _isoscore_from_variances(eigenvalues)
            elif metric == EFFECTIVE_RANK:
                assert eigenvalues is not None
                row[metric] = _effective_rank_from_eigenvalues(eigenvalues)
            elif metric == PARTICIPATION_RATIO:
                assert eigenvalues is not None
                row[metric] = _participation_ratio_from_eigenvalues(eigenvalues)
            elif metric == MEAN_ABS_CORRELATION:
                row[metric] = _mean_abs_correlation_from_cov(moments.cov[:k, :k], moments.constant[:k])
            else:  # OUTLIERS
                row[metric] = _outliers_from_magnitudes(moments.mean_abs[:k], limit)
    return results
