"""Noise-aware statistics: paired bootstrap intervals and p-values for view scores.

Every score a check compares is computed on a finite sample of units (STS pairs, retrieval
queries), so two views that differ by less than the sampling noise cannot be told apart. This
module puts a percentile bootstrap interval on every view's score and on differences between
scores, without re-encoding anything: it works from the per-pair similarities
(``n_pairs × V``, as :func:`pytest_mrlcheck.tasks.sts.pair_similarities` returns them) or from
per-unit scores (``V × Q``, e.g. per-query nDCG).

Conventions, shared by every function here:

* Replicate ``r`` is computed on the units ``bootstrap_indices(n_units, resamples, seed)[r]``:
  ``n_units`` draws with replacement. The same resamples are used for every view and for the
  candidate and baseline, so differences are *paired*.
* The interval is the percentile interval of the finite replicates (``numpy.quantile``'s default
  linear interpolation at ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``). Replicates where
  the statistic is undefined (a resample whose values are all equal) are left out; an interval
  with no finite replicate is ``nan``.
* The point estimate is the statistic on the original units (for STS exactly what
  :func:`pytest_mrlcheck.tasks.sts.correlate` returns).

How the STS replicates are fast: a resample is a vector of counts ``w`` (how often each unit was
drawn). Pearson on a resample is a weighted Pearson, so every replicate of every view comes from
one matrix product ``counts @ [x, x², x·y, y, y²]``. Spearman needs the ranks *within the resample* (ties
averaged, a repeated unit ties with itself): after sorting the units of a view once, the rank of
a unit in resample ``r`` is a prefix sum of ``w`` in that order (``cumsum`` of the counts before
it, plus half its own tie group). With ``A = w · 2·rank_gold`` the Spearman numerator is
``Σ A · 2·rank_view``; the denominators follow from the tie sizes (``Σ G³ − G``). All of these
are integers, held exactly, so replicates match ``scipy.stats.spearmanr`` on the materialised
resample to rounding (about 1e-15). The cost is a few passes over a ``n_pairs × resamples``
array per view.

Every judge works the same way: the replicates of a spec's views are computed once
(:func:`sts_replicates`, :func:`mean_replicates`), and intervals and p-values are derived from them
with :func:`intervals_from_replicates` and :func:`delta_from_replicates` (a one-sample test
against a recorded number is a difference with that number subtracted). No other module computes a
bootstrap quantile or p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np

__all__ = [
    "Delta",
    "Intervals",
    "bootstrap_indices",
    "delta_from_replicates",
    "intervals_from_replicates",
    "mean_replicates",
    "sts_replicates",
]

Alternative = Literal["greater", "less"]

# Resamples are processed in chunks of about this many bytes per (units × resamples) array.
_CHUNK_BYTES = 8 * 2**20
# Rows per block of the blocked prefix sum (one vectorised add per row of a block).
_BLOCK = 32


@dataclass(frozen=True, eq=False)
class Intervals:
    """Point estimate and percentile bootstrap interval of one score per view.

    ``point``, ``low`` and ``high`` are read-only float arrays of shape ``(V,)``.
    """

    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    confidence: float
    resamples: int
    seed: int


@dataclass(frozen=True, eq=False)
class Delta:
    """A paired difference ``candidate − baseline`` per view, with interval and one-sided p-value.

    The hypotheses are about the true difference ``d``; small p-values reject the null:

    * ``alternative="less"`` (what the judges use: "did the score drop below ``margin``?"):
      H0 ``d ≥ margin``, H1 ``d < margin``; ``p = (1 + #replicates ≥ margin) / (1 + #finite)``.
    * ``alternative="greater"``: H0 ``d ≤ margin``, H1 ``d > margin``;
      ``p = (1 + #replicates ≤ margin) / (1 + #finite)``.

    Ties with ``margin`` count for the null, so ``p`` is never below ``1 / (resamples + 1)`` and is 1
    when every replicate equals ``margin``.
    """

    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray
    alternative: Alternative
    margin: float
    confidence: float
    resamples: int
    seed: int


def bootstrap_indices(n_units: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples × n_units`` unit indices drawn with replacement; the same for the same seed."""
    _check_counts(n_units, resamples)
    return np.random.default_rng(seed).integers(0, n_units, size=(resamples, n_units))


# --------------------------------------------------------------------------------------- STS


def sts_replicates(
    similarities: np.ndarray, gold: np.ndarray, metric: str, resamples: int = 1000, seed: int = 0
) -> np.ndarray:
    """``resamples × V`` correlations: replicate ``r`` on the pairs ``bootstrap_indices(...)[r]``.

    ``similarities`` is ``n_pairs × V`` (one column per view), ``gold`` has ``n_pairs`` scores;
    ``metric`` is ``"spearman"`` or ``"pearson"``. Undefined replicates are ``nan``.
    """
    sims, target = _check_sts(similarities, gold, metric)
    n = sims.shape[0]
    _check_counts(n, resamples)
    compute: Callable[[np.ndarray], np.ndarray]
    if metric == "pearson":
        centred = sims - sims.mean(axis=0, keepdims=True)
        compute = partial(_pearson_replicates, centred, target - target.mean())
    else:
        compute = _SpearmanLayout(sims, target).replicates
    out = np.empty((resamples, sims.shape[1]), dtype=np.float64)
    start = 0
    for counts in _resample_counts(n, resamples, seed, _chunk_rows(n, resamples)):
        stop = start + counts.shape[0]
        out[start:stop] = compute(counts)
        start = stop
    return out


# ------------------------------------------------------------------- means over units (V × Q)


def mean_replicates(per_unit: np.ndarray, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """``resamples × V`` means of ``per_unit`` (``V × Q``) over resampled units (columns)."""
    values = _check_per_unit(per_unit, "per_unit")
    q = values.shape[1]
    _check_counts(q, resamples)
    out = np.empty((resamples, values.shape[0]), dtype=np.float64)
    start = 0
    for counts in _resample_counts(q, resamples, seed, _chunk_rows(q, resamples)):
        stop = start + counts.shape[0]
        out[start:stop] = counts @ values.T / q
        start = stop
    return out


# ------------------------------------------------------------------------ from replicates


def intervals_from_replicates(
    point: np.ndarray, replicates: np.ndarray, confidence: float = 0.95, seed: int = 0
) -> Intervals:
    """Percentile intervals from ``resamples × V`` replicates (``seed`` is only recorded)."""
    _check_confidence(confidence)
    point, replicates = _check_replicates(point, replicates)
    low, high = _percentile_interval(replicates, confidence)
    return Intervals(
        _frozen(point), _frozen(low), _frozen(high), confidence, replicates.shape[0], seed
    )


def delta_from_replicates(
    point: np.ndarray,
    replicates: np.ndarray,
    confidence: float = 0.95,
    seed: int = 0,
    alternative: Alternative = "greater",
    margin: float = 0.0,
) -> Delta:
    """Interval and one-sided p-value from paired differences: ``V`` points, ``resamples × V``.

    E.g. ``reps = sts_replicates(sims, gold, "spearman")`` then
    ``delta_from_replicates(point - point[full], reps - reps[:, [full]])`` compares every view
    with the full-dimension one on the same resamples.
    """
    _check_confidence(confidence)
    _check_alternative(alternative)
    point, replicates = _check_replicates(point, replicates)
    low, high = _percentile_interval(replicates, confidence)
    finite = np.isfinite(replicates)
    wrong = replicates <= margin if alternative == "greater" else replicates >= margin
    against = (wrong & finite).sum(axis=0)
    p_value = (1.0 + against) / (1.0 + finite.sum(axis=0))
    p_value = np.where(np.isfinite(point), p_value, np.nan)
    return Delta(
        _frozen(point),
        _frozen(low),
        _frozen(high),
        _frozen(p_value),
        alternative,
        margin,
        confidence,
        replicates.shape[0],
        seed,
    )


# ------------------------------------------------------------------------------ internals


def _check_counts(n_units: int, resamples: int) -> None:
    if n_units < 1:
        raise ValueError(f"need at least one unit to resample, got {n_units}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def _check_alternative(alternative: str) -> None:
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")


def _check_sts(
    similarities: np.ndarray, gold: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    if metric not in ("spearman", "pearson"):
        raise ValueError(f"unknown STS metric {metric!r}")
    sims = np.asarray(similarities, dtype=np.float64)
    target = np.asarray(gold, dtype=np.float64)
    if sims.ndim != 2:
        raise ValueError(f"similarities must be n_pairs × views, got shape {sims.shape}")
    if target.ndim != 1 or target.shape[0] != sims.shape[0]:
        raise ValueError(
            f"gold must have one score per pair ({sims.shape[0]}), got shape {target.shape}"
        )
    if sims.shape[0] < 2:
        raise ValueError(f"a correlation needs at least 2 pairs, got {sims.shape[0]}")
    if not (np.isfinite(sims).all() and np.isfinite(target).all()):
        raise ValueError("similarities and gold must be finite")
    return sims, target


def _check_per_unit(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be views × units, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def _check_replicates(
    point: np.ndarray, replicates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(point, dtype=np.float64)
    values = np.asarray(replicates, dtype=np.float64)
    if points.ndim != 1 or values.ndim != 2 or values.shape[1] != points.shape[0]:
        raise ValueError(
            f"expected V points and resamples × V replicates, got shapes {points.shape} "
            f"and {values.shape}"
        )
    return points, values


def _chunk_rows(n_units: int, resamples: int) -> int:
    return max(1, min(resamples, _CHUNK_BYTES // (8 * n_units)))


def _resample_counts(n_units: int, resamples: int, seed: int, chunk: int) -> Iterator[np.ndarray]:
    """Counts (float64, ``rows × n_units``) of the rows of ``bootstrap_indices``, chunk by chunk.

    Drawing the rows in consecutive chunks from one generator gives exactly the rows of one
    ``integers`` call (asserted by the tests), so memory stays bounded for many units.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        indices = rng.integers(0, n_units, size=(rows, n_units))
        flat = (indices + (np.arange(rows) * n_units)[:, None]).ravel()
        counts = np.bincount(flat, minlength=rows * n_units).reshape(rows, n_units)
        yield counts.astype(np.float64)


def _pearson_replicates(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Weighted Pearson of every column of centred ``x`` with centred ``y``, per count row."""
    n, views = x.shape
    # One matrix product for every weighted moment: Σw·x, Σw·x², Σw·x·y, Σw·y, Σw·y².
    moments = counts @ np.concatenate(
        [x, x * x, x * y[:, None], y[:, None], (y * y)[:, None]], axis=1
    )
    moments /= n
    mean_x = moments[:, :views]
    second_x = moments[:, views : 2 * views]
    cross = moments[:, 2 * views : 3 * views]
    mean_y = moments[:, 3 * views : 3 * views + 1]
    second_y = moments[:, 3 * views + 1 :]
    cov = cross - mean_x * mean_y
    var_x = second_x - mean_x * mean_x
    var_y = second_y - mean_y * mean_y
    # A resample of identical values has zero variance up to rounding: undefined, like scipy.
    tiny = 1e-12
    defined = (var_x > tiny * second_x) & (var_y > tiny * second_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = cov / np.sqrt(var_x * var_y)
    return np.where(defined, np.clip(result, -1.0, 1.0), np.nan)


class _Ties:
    """Sort order of one column and its groups of equal values.

    Prefix sums are taken over ``weights[padded_order]``: row 0 is a zero row (index ``n`` of
    the weights), row ``p + 1`` is the unit at sorted position ``p``, and trailing zero rows pad
    to a whole number of blocks. So row ``p + 1`` of the prefix counts the resampled values up
    to and including position ``p``, and row ``start`` of a group counts those before it.
    """

    def __init__(self, values: np.ndarray, blocks: int) -> None:
        n = values.shape[0]
        self.order = np.argsort(values, kind="stable")
        ordered = values[self.order]
        first = np.ones(n, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        starts = np.flatnonzero(first)
        ends = np.append(starts[1:], n) - 1
        group_of = np.cumsum(first) - 1
        self.padded_order = np.full(blocks * _BLOCK, n, dtype=np.intp)
        self.padded_order[1 : n + 1] = self.order
        # Per position: the prefix rows at the end of its group and just before the group.
        self.end_rows = ends[group_of] + 1
        self.before_rows = starts[group_of]
        # Positions (as rows) in groups of two or more units, and the end and before rows of
        # every group and of those groups.
        multiple = (ends - starts)[group_of] > 0
        self.tied = bool(multiple.any())
        self.tied_rows = np.flatnonzero(multiple) + 1
        self.tied_end_rows = self.end_rows[multiple]
        self.tied_before_rows = self.before_rows[multiple]
        self.group_end_rows = ends + 1
        self.group_before_rows = starts
        multiple_groups = ends > starts
        self.multiple_end_rows = self.group_end_rows[multiple_groups]
        self.multiple_before_rows = starts[multiple_groups]
        # Few tied positions: correct the untied formulas there. Many: work per group.
        self.by_group = self.tied_rows.shape[0] > n // 4

    def twice_ranks(self, prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Twice the average rank at every sorted position, and ``Σ G³ − G`` per column.

        A group of ``G`` resampled values after ``C`` smaller ones has ranks ``C+1 … C+G``,
        whose average is ``(C + (C + G) + 1) / 2``.
        """
        twice = prefix[self.end_rows].astype(np.float64)
        twice += prefix[self.before_rows]
        twice += 1.0
        return twice, _tie_term(prefix, self.group_end_rows, self.group_before_rows)

    def tie_corrections(
        self, prefix: np.ndarray, products: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """What ties change in ``Σ A·2·rank`` and in ``Σ G³ − G`` against the untied formulas.

        The untied formulas treat every position as its own group (``2·rank = S_p + S_{p−1} + 1``
        and ``G = w``); only positions in groups of two or more differ.
        """
        rows = self.tied_rows
        at = prefix[rows].astype(np.float64)
        previous = prefix[rows - 1].astype(np.float64)
        change = prefix[self.tied_end_rows] + prefix[self.tied_before_rows].astype(np.float64)
        change -= at
        change -= previous
        numerator = np.einsum("ir,ir->r", products[rows], change)
        own = at - previous
        ties = _tie_term(prefix, self.multiple_end_rows, self.multiple_before_rows)
        ties -= ((own * own - 1.0) * own).sum(axis=0)
        return numerator, ties

    def grouped(self, prefix: np.ndarray, products: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``Σ A·2·rank`` and ``Σ G³ − G`` group by group; ``products`` is overwritten.

        With ``S_A`` the prefix sums of ``A``, a group's ``Σ A`` is a difference of two rows, so
        a view with few distinct values costs one more prefix sum and little else.
        """
        _prefix_sum_blocks(products, products.shape[0] // _BLOCK)
        ends, befores = self.group_end_rows, self.group_before_rows
        at_end = prefix[ends].astype(np.float64)
        before = prefix[befores].astype(np.float64)
        twice_rank = at_end + before + 1.0
        group_products = products[ends] - products[befores]
        size = at_end - before
        numerator = np.einsum("gr,gr->r", group_products, twice_rank)
        return numerator, ((size * size - 1.0) * size).sum(axis=0)


def _tie_term(prefix: np.ndarray, end_rows: np.ndarray, before_rows: np.ndarray) -> np.ndarray:
    """``Σ G³ − G`` per column over the groups given by their end and before prefix rows."""
    size = prefix[end_rows].astype(np.float64)
    size -= prefix[before_rows]
    ties: np.ndarray = ((size * size - 1.0) * size).sum(axis=0)
    return ties


class _SpearmanLayout:
    """Per-view sort orders, prepared once for all resample chunks."""

    def __init__(self, sims: np.ndarray, gold: np.ndarray) -> None:
        self.n = sims.shape[0]
        self.blocks = math.ceil((self.n + 1) / _BLOCK)
        self.gold = _Ties(gold, self.blocks)
        self.views = [_Ties(sims[:, v], self.blocks) for v in range(sims.shape[1])]
        # float32 holds counts and their prefix sums (integers ≤ n) exactly and halves the
        # memory traffic of the per-view gathers.
        self.dtype = np.float32 if self.n < 2**23 else np.float64

    def replicates(self, counts: np.ndarray) -> np.ndarray:
        n = self.n
        rows = counts.shape[0]
        # Units × resamples, with a trailing zero row that the padded orders point at.
        weights = np.zeros((n + 1, rows), dtype=self.dtype)
        weights[:n] = counts.T
        weights64 = weights[:n].astype(np.float64)
        # Twice the gold rank of every unit within every resample, and the gold tie term.
        gold_prefix = weights[self.gold.padded_order]
        _prefix_sum_blocks(gold_prefix, self.blocks)
        gold_twice, gold_ties = self.gold.twice_ranks(gold_prefix)
        # A = w · 2·rank_gold per unit (row n: zero); every view's numerator is Σ A · 2·rank.
        products = np.zeros((n + 1, rows), dtype=np.float64)
        products[self.gold.order] = gold_twice
        products[:n] *= weights64
        # Without ties in the view, 2·rank = 2S − w + 1 (S the prefix count up to the unit), so
        # Σ A·2·rank = 2·Σ A·S + Σ A·(1 − w), and the last sum does not depend on the view.
        invariant = (products[:n] * (1.0 - weights64)).sum(axis=0)
        multiplicity_ties = ((weights64 * weights64 - 1.0) * weights64).sum(axis=0)
        full = float(n) ** 3 - n
        offset = float(n) * (n + 1.0) ** 2
        gold_spread = full - gold_ties
        out = np.empty((rows, len(self.views)), dtype=np.float64)
        for v, view in enumerate(self.views):
            prefix = weights[view.padded_order]
            _prefix_sum_blocks(prefix, self.blocks)
            a = products[view.padded_order]
            if view.by_group:
                numerator, ties = view.grouped(prefix, a)
            else:
                numerator = 2.0 * np.einsum("ir,ir->r", a, prefix) + invariant
                ties = multiplicity_ties
                if view.tied:
                    numerator_change, ties_change = view.tie_corrections(prefix, a)
                    numerator += numerator_change
                    ties = ties + ties_change
            # 12·Σw(r − m)² = n³ − n − Σ(G³ − G) for each side; 4·Σw(rx − m)(ry − m) is the
            # numerator minus n(n + 1)².
            spread = (full - ties) * gold_spread
            with np.errstate(invalid="ignore", divide="ignore"):
                rho = 3.0 * (numerator - offset) / np.sqrt(spread)
            out[:, v] = np.where(spread > 0, np.clip(rho, -1.0, 1.0), np.nan)
        return out


def _prefix_sum_blocks(values: np.ndarray, blocks: int) -> None:
    """In-place cumulative sum along axis 0 of a ``(blocks·_BLOCK) × columns`` array.

    ``numpy.cumsum`` along the rows runs at several ns per element; a vectorised add per row of
    a block, then one add of the block offsets, is several times faster.
    """
    grid = values.reshape(blocks, _BLOCK, values.shape[1])
    for k in range(1, _BLOCK):
        np.add(grid[:, k - 1], grid[:, k], out=grid[:, k])
    if blocks > 1:
        offsets = np.cumsum(grid[:-1, -1], axis=0)
        grid[1:] += offsets[:, None, :]


def _percentile_interval(
    replicates: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - confidence) / 2.0
    views = replicates.shape[1]
    low = np.full(views, np.nan)
    high = np.full(views, np.nan)
    for v in range(views):
        column = replicates[:, v]
        finite = column[np.isfinite(column)]
        if finite.size:
            low[v], high[v] = np.quantile(finite, [tail, 1.0 - tail])
    return low, high


def _frozen(values: np.ndarray) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array
