"""Canaries: a cached vector is trusted only while the provider still produces it.

The first time a run reads cached vectors of a model key (one model setting and role), a small
seeded sample of those texts is encoded again, bypassing the cache, and compared with the cached
vectors by cosine. A provider that now answers differently under the same settings (a silent
model update, a re-deployment, a proxy switching backends; for local models a new torch,
transformers or sentence-transformers version, dtype or device) fails the check instead of
hiding behind the cache. ``--mrlcheck-refresh`` re-encodes and replaces the cached vectors.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import EvaluationError
from .spec import CanarySpec

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class CanaryResult:
    """One model key's canary in this run: how many cached texts were re-encoded and how close they came."""

    model: str
    role: str
    status: str  # passed | failed | skipped
    texts: int
    threshold: float
    reason: str  # why it ran: "canary", or the runtime change that triggered it
    mean_cosine: float | None = None
    min_cosine: float | None = None
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CanaryBook:
    """Per process: canary results by model key, texts encoded in this run, keys touched by a spec."""

    results: dict[str, CanaryResult] = field(default_factory=dict)
    encoded: set[tuple[str, bytes]] = field(default_factory=set)
    used: list[str] = field(default_factory=list)

    def begin(self) -> None:
        """Start recording the model keys one evaluation reads."""
        self.used = []

    def touched(self) -> tuple[CanaryResult, ...]:
        """The canaries of the keys read since :meth:`begin`, in first-use order."""
        return tuple(self.results[key] for key in dict.fromkeys(self.used) if key in self.results)


@dataclass(frozen=True)
class Trust:
    """What ``embed_texts`` needs to check cached vectors: the model's canary setting and the run's book."""

    canary: CanarySpec | None
    book: CanaryBook


def sample_keys(keys: Sequence[bytes], count: int) -> list[bytes]:
    """A seeded sample (the same texts every run for the same cache content) of at most ``count`` keys."""
    ordered = sorted(keys)
    if len(ordered) <= count:
        return ordered
    return random.Random(0).sample(ordered, count)


def row_cosines(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``first`` with the same row of ``second`` (0 for a zero vector)."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if a.shape != b.shape:
        return np.zeros(len(a))
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = (a * b).sum(axis=1)
    return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)


def runtime_changes(recorded: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> list[str]:
    """``name old → new`` for every runtime entry known on both sides that differs."""
    if not recorded or not current:
        return []
    return [f"{name} {recorded[name]} → {current[name]}" for name in sorted(current)
            if name in recorded and current[name] is not None and recorded[name] != current[name]]


class StaleVectorsError(EvaluationError):
    """A spec's items are not judged: a canary found its cached vectors stale."""


def stale_error(spec_name: str, stale: Sequence[CanaryResult], has_item: bool) -> StaleVectorsError:
    where = f"see {spec_name}::canary" if has_item else "a runtime-change canary of a local model"
    return StaleVectorsError(
        f"not judged on stale vectors ({where}): " + " | ".join(verdict_text(c) for c in stale),
        hint="re-run with --mrlcheck-refresh to re-encode and replace the cached vectors of the models this run uses",
    )


def verdict_text(result: CanaryResult) -> str:
    """One sentence for a canary: its figures, and what a drift means."""
    if result.status == SKIPPED:
        return f"{result.model} ({result.role} role): canary skipped: {result.note}"
    figures = (f"{result.texts} cached {result.role} texts re-encoded, mean cosine {result.mean_cosine:.6f}, "
               f"min {result.min_cosine:.6f} (min_cosine {result.threshold:g})")
    why = "" if result.reason == "canary" else f"; triggered by a runtime change: {result.reason}"
    if result.failed:
        return (f"{result.model}: the provider returned different vectors for the same settings: {figures}{why}; "
                "the cached vectors are stale — re-encode and replace them with --mrlcheck-refresh")
    return f"{result.model}: {figures}{why}"


__all__ = ["CanaryBook", "CanaryResult", "StaleVectorsError", "Trust", "row_cosines", "runtime_changes",
           "sample_keys", "stale_error", "verdict_text"]
