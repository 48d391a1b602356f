"""Dimension selections ("views") of a full-dimension embedding, and the plan of which to score.

A view is a set of dimensions. Contiguous ones (prefixes, sliding windows) are scored from
cumulative sums; arbitrary ones (random subsets, explicit lists) through a 0/1 mask matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import EvaluationError
from .spec import Spec


def prefix_label(k: int) -> str:
    return f"prefix[{k}]"


def window_label(start: int, end: int) -> str:
    return f"window[{start}:{end}]"


def random_label(k: int) -> str:
    return f"random[{k}]"


def dims_label(name: str) -> str:
    return f"dims[{name}]"


@dataclass(frozen=True)
class RandomFamily:
    """``samples`` random subsets of ``k`` dimensions, drawn reproducibly from ``seed``."""

    k: int
    samples: int
    seed: int

    def subsets(self, full_dim: int) -> np.ndarray:
        """``samples × k`` sorted dimension indices; the draw for ``k`` depends only on (seed, k)."""
        rng = np.random.default_rng([self.seed, self.k])
        return np.sort(
            np.stack([rng.choice(full_dim, size=self.k, replace=False) for _ in range(self.samples)]),
            axis=1,
        )


@dataclass(frozen=True)
class ViewPlan:
    """Every view one spec needs, resolved against the model's full dimension."""

    full_dim: int
    prefixes: tuple[int, ...]
    sweep: tuple[int, ...]
    windows: tuple[tuple[int, int], ...]
    random: tuple[RandomFamily, ...]
    dims: dict[str, tuple[int, ...]]

    def ranges(self) -> list[tuple[int, int]]:
        """All contiguous ``[start, end)`` ranges (prefixes, the sweep and windows), unique."""
        seen: dict[tuple[int, int], None] = {}
        for k in (*self.prefixes, *self.sweep):
            seen[(0, k)] = None
        for window in self.windows:
            seen[window] = None
        return list(seen)

    def masks(self) -> tuple[np.ndarray, list[tuple[str, int]]]:
        """A ``full_dim × M`` 0/1 matrix for every non-contiguous view, and what each column is.

        Column keys are ``("random[k]", sample)`` or ``("dims[name]", 0)``.
        """
        columns: list[np.ndarray] = []
        keys: list[tuple[str, int]] = []
        for family in self.random:
            for sample, subset in enumerate(family.subsets(self.full_dim)):
                column = np.zeros(self.full_dim)
                column[subset] = 1.0
                columns.append(column)
                keys.append((random_label(family.k), sample))
        for name, indices in self.dims.items():
            column = np.zeros(self.full_dim)
            column[list(indices)] = 1.0
            columns.append(column)
            keys.append((dims_label(name), 0))
        if not columns:
            return np.zeros((self.full_dim, 0)), keys
        return np.stack(columns, axis=1), keys


def default_ladder(full_dim: int) -> tuple[int, ...]:
    """Powers of two from 16 below the full size, plus the full size."""
    ladder = [k for k in (2**p for p in range(4, 16)) if k < full_dim]
    return (*ladder, full_dim)


def plan_views(spec: Spec, full_dim: int) -> ViewPlan:
    """Resolve a spec's checks and report views against ``full_dim``; clear errors when they do not fit."""
    checks = spec.checks

    def fits(k: int, key: str, line: int) -> int:
        if k > full_dim:
            raise EvaluationError(
                f"{spec.path}:{line}: {key}: asks for {k} dimensions but the model gives {full_dim}",
                hint=f"use sizes up to {full_dim}",
            )
        return k

    prefixes = set(spec.views.prefix or default_ladder(full_dim))
    prefixes.add(full_dim)
    if checks.prefix:
        prefixes.update(fits(t.dims, f"checks.prefix.{t.dims}", t.line) for t in checks.prefix.thresholds)
    if checks.relative:
        prefixes.update(fits(t.dims, f"checks.relative.{t.dims}", t.line) for t in checks.relative.thresholds)
    if checks.geometry:
        for metric, thresholds in checks.geometry.bounds.items():
            prefixes.update(fits(t.dims, f"checks.geometry.{metric}.{t.dims}", t.line) for t in thresholds)
    if spec.task.informed:
        prefixes.add(fits(spec.task.informed.dims, "task.informed.dims", spec.task.informed.line))
    if spec.compare and spec.compare.pairs:
        prefixes.update(fits(mine, f"compare.pairs.{mine}", spec.compare.line) for mine, _ in spec.compare.pairs)
    for k in list(prefixes):
        fits(k, "views.prefix", spec.line)

    randoms: dict[int, RandomFamily] = {}
    if spec.views.random:
        for k in spec.views.random.dims:
            randoms[k] = RandomFamily(fits(k, "views.random.dims", spec.line), spec.views.random.samples,
                                      spec.views.random.seed)
    if checks.random:
        for k in checks.random.dims:
            randoms[k] = RandomFamily(
                fits(k, "checks.random.dims", checks.random.line), checks.random.samples, checks.random.seed
            )
    prefixes.update(randoms)

    windows: dict[tuple[int, int], None] = {}
    segments_line = checks.segments.line if checks.segments else spec.line
    for source, cfg, line in (("views.windows", spec.views.windows, spec.line),
                              ("checks.segments", checks.segments, segments_line)):
        if cfg is None:
            continue
        if cfg.width > full_dim:
            raise EvaluationError(
                f"{spec.path}:{line}: {source}.width: {cfg.width} is wider than the vector ({full_dim} dims)",
                hint=f"use a width of at most {full_dim}",
            )
        for start in range(0, full_dim - cfg.width + 1, cfg.step):
            windows[(start, start + cfg.width)] = None

    sweep: tuple[int, ...] = ()
    if checks.min_dims:
        step = checks.min_dims.step
        sweep = tuple(sorted({*range(step, full_dim + 1, step), full_dim}))

    dims: dict[str, tuple[int, ...]] = {}
    for name, indices in spec.views.dims.items():
        if indices[-1] >= full_dim:
            raise EvaluationError(
                f"{spec.path}:{spec.line}: views.dims.{name}: uses dimension index {indices[-1]} "
                f"but the model gives {full_dim} (indices 0..{full_dim - 1})",
            )
        dims[name] = indices

    return ViewPlan(
        full_dim=full_dim,
        prefixes=tuple(sorted(prefixes)),
        sweep=sweep,
        windows=tuple(windows),
        random=tuple(randoms[k] for k in sorted(randoms)),
        dims=dims,
    )
