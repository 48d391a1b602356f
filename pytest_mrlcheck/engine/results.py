"""The typed result of one spec: every view's score (``SpecResult``) and random-subset statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..canary import CanaryResult
from ..result_types import CostPayload, FunnelPayload, GeometryPayload, InformedPayload, ServerTruncationPayload
from ..spec import Spec
from ..views import ViewPlan, prefix_label

if TYPE_CHECKING:
    from ..index_views import IndexResult
    from ..pca import PcaResult


@dataclass(frozen=True)
class RandomStats:
    """Scores of random subsets of ``k`` dimensions, and where the prefix of size ``k`` falls."""

    k: int
    scores: tuple[float, ...]
    prefix: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def sd(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    @property
    def percentile(self) -> float:
        """Share (in %) of random subsets scoring below the prefix (ties count half)."""
        values = np.asarray(self.scores)
        return float(100.0 * (np.sum(values < self.prefix) + 0.5 * np.sum(values == self.prefix)) / len(values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "sd": self.sd,
            "min": float(np.min(self.scores)),
            "max": float(np.max(self.scores)),
            "samples": len(self.scores),
            "prefix": self.prefix,
            "prefix_percentile": self.percentile,
        }


@dataclass(frozen=True)
class SpecResult:
    """Every score of one spec's views."""

    spec: Spec
    plan: ViewPlan
    scores: dict[str, float]
    sweep: dict[int, float]
    random: dict[int, RandomStats]
    units: int
    texts: int
    dataset_fingerprint: str
    details: dict[str, Any]
    model_identity: dict[str, Any]
    replicates: dict[str, np.ndarray]
    splits: dict[str, dict[str, float]]
    split_correlations: dict[str, float]
    informed: InformedPayload | None
    geometry: dict[int, GeometryPayload]
    server_truncation: dict[int, ServerTruncationPayload]
    funnel: FunnelPayload | None
    cost: dict[int, CostPayload]
    encoding: dict[str, float]
    seconds: dict[str, float]
    quantized_sweep: dict[int, float] = field(default_factory=dict)  # min_dims at its precision
    calibration: str = ""  # where int8/uint8 ranges came from ("" when no scalar precision is scored)
    canaries: tuple[CanaryResult, ...] = ()
    server_contract: dict[str, Any] | None = None
    pca: PcaResult | None = None  # prefix vs PCA projection per size (views.pca / checks.pca)
    index: tuple[IndexResult, ...] = ()  # ANN index views (views.index)

    @property
    def stale(self) -> tuple[CanaryResult, ...]:
        """The canaries that found this spec's cached vectors stale."""
        return tuple(c for c in self.canaries if c.failed)

    @property
    def full_dim(self) -> int:
        return self.plan.full_dim

    @property
    def full_score(self) -> float:
        return self.scores[prefix_label(self.plan.full_dim)]

    def interval(self, label: str, confidence: float) -> tuple[float, float] | None:
        """Percentile bootstrap interval of a view's score, if replicates were computed."""
        from ..bootstrap import intervals_from_replicates

        reps = self.replicates.get(label)
        if reps is None:
            return None
        score = self.scores.get(label)
        point = float(score) if isinstance(score, (int, float)) else np.nan
        found = intervals_from_replicates(np.array([point]), reps[:, None], confidence)
        if not np.isfinite(found.low[0]):
            return None
        return float(found.low[0]), float(found.high[0])

    def prefix(self, k: int, precision: str = "float32") -> float:
        if precision != "float32":
            label = prefix_label(k, precision)
            return self.scores[label] if label in self.scores else self.quantized_sweep[k]
        if k in self.sweep:
            return self.sweep[k]
        return self.scores[prefix_label(k)]
