"""Dimension selections ("views") of a full-dimension embedding, and the plan of which to score.

A view is a set of dimensions. Contiguous ones (prefixes, sliding windows) are scored from
cumulative sums; arbitrary ones (random subsets, explicit lists) through a 0/1 mask matrix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import EvaluationError

if TYPE_CHECKING:  # the spec layer imports views (PRECISIONS, parse_size); views only reads specs
    from .spec import Spec

PRECISIONS = ("float32", "float16", "int8", "uint8", "binary", "ubinary")
"""Storage precisions a view can be scored at, widest first (sentence-transformers' names plus float16)."""

_BITS = {"float32": 32, "float16": 16, "int8": 8, "uint8": 8, "binary": 1, "ubinary": 1}

_LABEL = re.compile(r"(prefix|window|random|dims|informed|pca)\[([^\]]*)\](?:@([a-z0-9]+))?(?:#([a-z_]+))?")


@dataclass(frozen=True)
class View:
    """A named selection of dimensions at a storage precision: the one place labels are made and read.

    ``prefix`` and ``window`` are the range ``[start, end)``; ``random`` is the family of ``end``-dim
    subsets; ``dims`` is a named list; ``informed`` is the best ``end`` dims an informed search chose;
    ``pca`` is the ``end``-dim PCA projection of the full vectors (float32 only). ``precision`` is
    ``float32`` unless quantized; a float32 view's label has no suffix (``prefix[128]``), others carry
    it (``prefix[128]@int8``). ``index`` names the
    ANN index a prefix is searched through (``prefix[128]@int8#hnsw``; see ``index_views``).
    """

    kind: str
    start: int = 0
    end: int = 0
    name: str = ""
    precision: str = "float32"
    index: str = ""  # an ANN index kind (``hnsw``…) the view is searched through; "" for exact search

    @classmethod
    def prefix(cls, k: int, precision: str = "float32") -> View:
        return cls("prefix", 0, k, precision=precision)

    @classmethod
    def window(cls, start: int, end: int, precision: str = "float32") -> View:
        return cls("window", start, end, precision=precision)

    @classmethod
    def pca(cls, k: int) -> View:
        return cls("pca", 0, k)

    @property
    def dims(self) -> int:
        """How many dimensions the view keeps (``0`` for a named list, whose size the plan knows)."""
        return self.end - self.start

    @property
    def base(self) -> str:
        """The label without the precision: ``prefix[128]``."""
        if self.kind == "window":
            return f"window[{self.start}:{self.end}]"
        if self.kind == "dims":
            return f"dims[{self.name}]"
        return f"{self.kind}[{self.end}]"

    @property
    def label(self) -> str:
        """``prefix[128]``, ``prefix[128]@int8``, ``window[0:64]@binary``, ``prefix[128]@int8#hnsw``."""
        label = self.base if self.precision == "float32" else f"{self.base}@{self.precision}"
        return f"{label}#{self.index}" if self.index else label

    @property
    def item(self) -> str:
        """The size as a check item writes it: ``128`` or ``128@int8`` (``prefix[128@int8]``)."""
        size = f"{self.start}:{self.end}" if self.kind == "window" else str(self.end)
        return size if self.precision == "float32" else f"{size}@{self.precision}"

    def item_id(self, check: str) -> str:
        """The id of the ``check`` item judging this view: ``prefix[128]``, ``relative[256@binary]``."""
        return item_name(check, self.item)

    def at(self, precision: str) -> View:
        """The same dimensions at another precision."""
        return View(self.kind, self.start, self.end, self.name, precision, self.index)

    def bytes_per_vector(self) -> int:
        """Storage of one vector of this view (bits rounded up to whole bytes, as packed codes are)."""
        return math.ceil(self.dims * _BITS[self.precision] / 8)

    @classmethod
    def parse(cls, label: str) -> View:
        """The view a label names; ``ValueError`` for anything :attr:`label` does not produce."""
        match = _LABEL.fullmatch(label)
        if not match:
            raise ValueError(f"not a view label: {label!r}")
        kind, inside, precision = match.group(1), match.group(2), match.group(3) or "float32"
        index = match.group(4) or ""
        if precision not in PRECISIONS or (match.group(3) == "float32") or (kind == "pca" and match.group(3)) \
                or (index and kind != "prefix"):
            raise ValueError(f"not a view label: {label!r}")
        if kind == "dims":
            return cls("dims", name=inside, precision=precision)
        parts = inside.split(":")
        if not all(part.isdigit() for part in parts) or len(parts) != (2 if kind == "window" else 1):
            raise ValueError(f"not a view label: {label!r}")
        if kind == "window":
            return cls("window", int(parts[0]), int(parts[1]), precision=precision)
        return cls(kind, 0, int(parts[0]), precision=precision, index=index)


def item_name(check: str, subject: str) -> str:
    """A test item's name: the check and what it judges, ``geometry[effective_rank]``, ``index[hnsw@128]``."""
    return f"{check}[{subject}]"


def item_subject(name: str, check: str) -> str | None:
    """What an item of ``check`` judges (``item_name``'s ``subject``), or ``None`` for another check's item."""
    head = f"{check}["
    return name[len(head):-1] if name.startswith(head) and name.endswith("]") and len(name) > len(head) + 1 else None


def bytes_per_vector(dims: int, precision: str) -> int:
    """Bytes one ``dims``-dimensional vector takes at ``precision``."""
    return View.prefix(dims, precision).bytes_per_vector()


def parse_size(text: str) -> tuple[int, str]:
    """A check key ``"128"`` or ``"128@int8"`` → ``(128, "int8")``; ``ValueError`` when malformed."""
    size, at, precision = text.strip().partition("@")
    if not size.strip().isdigit():
        raise ValueError(f"{text!r} is not a size (write 128 or 128@int8)")
    if at and precision.strip() not in PRECISIONS:
        raise ValueError(f"unknown precision {precision.strip()!r}")
    return int(size), precision.strip() if at else "float32"


def prefix_label(k: int, precision: str = "float32") -> str:
    return View.prefix(k, precision).label


def window_label(start: int, end: int, precision: str = "float32") -> str:
    return View.window(start, end, precision).label


def random_label(k: int) -> str:
    return View("random", 0, k).label


def dims_label(name: str) -> str:
    return View("dims", name=name).label


def informed_label(k: int) -> str:
    return View("informed", 0, k).label


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
    quantized: tuple[View, ...] = ()  # prefixes and windows at a precision other than float32
    precisions: tuple[str, ...] = ("float32",)  # the columns of the precision grid

    @property
    def has_precision(self) -> bool:
        return bool(self.quantized)

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


def window_ranges(full_dim: int, width: int, step: int) -> list[tuple[int, int]]:
    """The half-open ranges ``[start, start + width)`` every ``step`` dims that fit in ``full_dim``:
    the windows of ``views.windows`` and of ``checks.segments`` (planned and judged from this one rule)."""
    return [(start, start + width) for start in range(0, full_dim - width + 1, step)]


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
        prefixes.update(fits(t.dims, f"checks.prefix.{t.key}", t.line) for t in checks.prefix.thresholds)
    if checks.relative:
        prefixes.update(fits(t.dims, f"checks.relative.{t.key}", t.line) for t in checks.relative.thresholds)
    if checks.geometry:
        for metric, thresholds in checks.geometry.bounds.items():
            prefixes.update(fits(t.dims, f"checks.geometry.{metric}.{t.dims}", t.line) for t in thresholds)
    if spec.task.informed:
        prefixes.add(fits(spec.task.informed.dims, "task.informed.dims", spec.task.informed.line))
    if spec.compare and spec.compare.pairs:
        prefixes.update(fits(mine, f"compare.pairs.{mine}", spec.compare.line) for mine, _ in spec.compare.pairs)
    if spec.views.pca:  # pca[k] is reported beside prefix[k]
        prefixes.update(fits(size.dims, size.key, size.line) for size in spec.views.pca.sizes)
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
        windows.update(dict.fromkeys(window_ranges(full_dim, cfg.width, cfg.step)))

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

    quantized, precisions = _precision_views(spec, full_dim, prefixes, tuple(windows), sweep, fits)
    return ViewPlan(
        full_dim=full_dim,
        prefixes=tuple(sorted(prefixes)),
        sweep=sweep,
        windows=tuple(windows),
        random=tuple(randoms[k] for k in sorted(randoms)),
        dims=dims,
        quantized=quantized,
        precisions=precisions,
    )


def grid_precisions(spec: Spec) -> tuple[str, ...]:
    """Precisions every prefix is scored at: float32, ``views.precision``, and all six for ``cheapest``."""
    listed = set(spec.views.precision)
    if spec.checks.cheapest is not None and not listed:
        listed = set(PRECISIONS)
    return tuple(p for p in PRECISIONS if p == "float32" or p in listed)


def _precision_views(
    spec: Spec, full_dim: int, prefixes: set[int], windows: tuple[tuple[int, int], ...], sweep: tuple[int, ...],
    fits: Callable[[int, str, int], int],
) -> tuple[tuple[View, ...], tuple[str, ...]]:
    """Every (prefix or window, precision) view the spec scores besides float32, in a stable order."""
    checks = spec.checks
    grid = grid_precisions(spec)
    wanted: dict[View, None] = {}
    for name, check in (("prefix", checks.prefix), ("relative", checks.relative)):
        for t in check.thresholds if check else ():
            if t.precision != "float32":
                prefixes.add(fits(t.dims, f"checks.{name}.{t.key}", t.line))
    for precision in grid[1:]:
        for k in sorted(prefixes):
            wanted[View.prefix(k, precision)] = None
        if spec.views.precision:
            for start, end in windows:
                wanted[View.window(start, end, precision)] = None
    for check in (checks.prefix, checks.relative):
        for t in check.thresholds if check else ():
            if t.precision != "float32":
                wanted[View.prefix(t.dims, t.precision)] = None
    if checks.min_dims and checks.min_dims.precision != "float32":
        for k in sorted({*sweep, *prefixes}):
            wanted[View.prefix(k, checks.min_dims.precision)] = None
    used = {view.precision for view in wanted}
    columns = tuple(p for p in PRECISIONS if p == "float32" or p in used)
    return tuple(wanted), columns
