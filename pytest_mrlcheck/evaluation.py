"""Evaluate one spec once: load data, get full-dimension vectors (cached), score every view."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import StsData, load_sts
from .embed import EncodeStats, embed_texts
from .errors import EvaluationError
from .providers import Encoder, ProviderContext, make_encoder
from .spec import Spec
from .store import VectorStore
from .tasks import sts
from .views import ViewPlan, dims_label, plan_views, prefix_label, random_label, window_label


@dataclass
class RunContext:
    """What every evaluation in this process shares: the cache, loaded models and counters."""

    store: VectorStore
    rootdir: Path
    device: str | None = None
    stats: EncodeStats = field(default_factory=EncodeStats)
    loaded_models: dict[Any, Any] = field(default_factory=dict)

    def encoder_for(self, spec: Spec) -> Encoder:
        return make_encoder(
            spec.model,
            ProviderContext(
                spec_dir=spec.directory,
                rootdir=self.rootdir,
                device=self.device,
                file_digest=self.store.file_digest,
                loaded_models=self.loaded_models,
            ),
        )


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
    encoding: dict[str, int]
    seconds: dict[str, float]

    @property
    def full_dim(self) -> int:
        return self.plan.full_dim

    @property
    def full_score(self) -> float:
        return self.scores[prefix_label(self.plan.full_dim)]

    def prefix(self, k: int) -> float:
        if k in self.sweep:
            return self.sweep[k]
        return self.scores[prefix_label(k)]


def _load_data(spec: Spec) -> StsData:
    if spec.task.kind == "sts":
        return load_sts(spec.task.data)
    raise EvaluationError(f"task kind {spec.task.kind!r} is not supported")  # pragma: no cover


def evaluate(spec: Spec, run: RunContext) -> SpecResult:
    """Score every view the spec's checks and report need, from one full-dimension encoding."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    data = _load_data(spec)
    timings["load_data"] = time.perf_counter() - started

    started = time.perf_counter()
    encoder = run.encoder_for(spec)
    before = (run.stats.encoded, run.stats.cache_hits)
    role = "query"
    vectors = embed_texts(
        data.texts, role, spec.model.prompts.for_role(role), encoder, run.store, run.stats, spec.model.label
    )
    timings["embed"] = time.perf_counter() - started

    started = time.perf_counter()
    plan = plan_views(spec, vectors.shape[1])
    ranges = plan.ranges()
    masks, mask_keys = plan.masks()
    values = sts.score_views(
        vectors[data.left], vectors[data.right], data.gold, ranges, masks, spec.task.metric, spec.task.similarity
    )
    if not np.isfinite(values).all():
        raise EvaluationError(
            f"{spec.path.name}: some views score NaN (constant similarities)",
            hint="the model may return identical vectors for every text; check the model and data",
        )
    by_range = dict(zip(ranges, values[: len(ranges)].tolist(), strict=True))
    scores: dict[str, float] = {}
    for k in plan.prefixes:
        scores[prefix_label(k)] = by_range[(0, k)]
    for start, end in plan.windows:
        scores[window_label(start, end)] = by_range[(start, end)]
    sweep = {k: by_range[(0, k)] for k in plan.sweep}
    random_scores: dict[str, list[float]] = {}
    for (label, _), value in zip(mask_keys, values[len(ranges) :].tolist(), strict=True):
        if label.startswith("dims["):
            scores[label] = value
        else:
            random_scores.setdefault(label, []).append(value)
    random = {
        family.k: RandomStats(family.k, tuple(random_scores[random_label(family.k)]), scores[prefix_label(family.k)])
        for family in plan.random
    }
    for name in plan.dims:
        assert dims_label(name) in scores
    timings["score"] = time.perf_counter() - started
    return SpecResult(
        spec=spec,
        plan=plan,
        scores=scores,
        sweep=sweep,
        random=random,
        units=data.pairs,
        texts=len(data.texts),
        dataset_fingerprint=data.fingerprint(),
        encoding={"encoded": run.stats.encoded - before[0], "cache_hits": run.stats.cache_hits - before[1]},
        seconds=timings,
    )
