"""What a task adapter hands the engine: its data embedded at full dimension, and how to score views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EvaluationError
from ..result_types import FunnelPayload

if TYPE_CHECKING:
    from ..index_views import SearchTask


@dataclass(frozen=True)
class PairScoring:
    """Units that are pairs of embedded vectors, scored from one similarity per pair and view.

    Precision views of such tasks are scored from per-pair similarities of their codes (see
    ``precision_eval``), without materialising every view's transformed vectors.
    """

    left: np.ndarray  # row of each pair's first vector in ``Prepared.vectors``
    right: np.ndarray
    score: Callable[[np.ndarray], np.ndarray]  # ``n_pairs × V`` similarities → ``V`` scores
    replicates: Callable[[np.ndarray, int, int], np.ndarray]  # (similarities, resamples, seed) → ``resamples × V``


Remember = Callable[[Callable[[], np.ndarray]], np.ndarray]
"""Serves what a computation returns (e.g. from the score memo) or runs it: ``remember(compute)``."""


@dataclass(frozen=True)
class Prepared:
    """A task's data embedded at full dimension, and how to score any set of views of it."""

    full_dim: int
    units: int
    texts: int
    fingerprint: str
    score: Callable[[list[tuple[int, int]], np.ndarray], np.ndarray]
    replicates: Callable[[list[tuple[int, int]], np.ndarray, int, int], np.ndarray]
    details: dict[str, Any]
    embedded: np.ndarray | Callable[[], np.ndarray]  # every unique vector the task embedded, or how to stack them
    funnel: Callable[[dict[str, Any], Remember | None], FunnelPayload] | None = None
    cost: Callable[[list[int]], dict[int, Any]] | None = None
    coded: Coded | None = None  # scores of views of transformed vectors (precision views)
    roles: tuple[str, ...] = ("query",)  # roles the task embeds (calibration texts are embedded in each)
    fit_sets: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)  # PCA fits: corpus, split rows
    pairs: PairScoring | None = None  # pair tasks: precision views scored from per-pair similarities
    coded_replicates: CodedReplicates | None = None  # bootstrap replicates of ``coded`` views (same resamples)
    search: SearchTask | None = None  # what index views search (retrieval and agreement)

    @functools.cached_property
    def vectors(self) -> np.ndarray:
        """Every unique vector the task embedded (geometry, calibration, PCA, server truncation).

        Retrieval passes a function: stacking queries and documents copies the whole corpus, which a
        run that needs none of those never pays for (1.5 GB at a million 384-dim documents)."""
        return self.embedded() if callable(self.embedded) else self.embedded


Transform = Callable[[np.ndarray], np.ndarray]
"""Full-dimension vectors → a matrix of view blocks ready to score by dot product (see ``quantize``)."""
Coded = Callable[[Transform, list[tuple[int, int]]], np.ndarray]
"""Scores of contiguous ranges of the transformed vectors, one per range."""
CodedReplicates = Callable[[Transform, list[tuple[int, int]], int, int], np.ndarray]
"""(transform, ranges, resamples, seed) → ``resamples × len(ranges)`` bootstrap replicates of ``Coded`` scores."""


def no_masks(rows: np.ndarray) -> np.ndarray:
    """No mask columns: score the contiguous ranges alone (views of transformed ``rows``)."""
    return np.zeros((rows.shape[1], 0))


def no_replicates(kind: str) -> Callable[[list[tuple[int, int]], np.ndarray, int, int], np.ndarray]:
    """Replicates of a task kind without bootstrap intervals: asking for them is an error naming the kind."""

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        raise EvaluationError(
            f"bootstrap intervals (confidence, significance) are not available for {kind} tasks",
            hint="they work for sts, retrieval, reranking and classification accuracy",
        )

    return replicates
