"""The server's truncation contract, probed on the live endpoint (never the cache), once per run.

- norms: vectors requested with ``dimensions: k`` must be unit vectors when ``normalize`` is on
  (a cosine with the client-side prefix cannot see a missing renormalisation);
- reject: impossible sizes must be refused with a 4xx, not answered with some vector;
- order and batch invariance: the same texts shuffled, or sent in batches of other sizes, must
  give the same vectors.

A probe uses a small seeded sample of the spec's texts and its own encoder (same settings, its
own request counters), so the request count of the contract is reported on its own.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .canary import row_cosines
from .errors import ProviderStatusError
from .spec import ServerTruncationCheck

PROBE_TEXTS = 32  # texts per probe (fewer when the spec has fewer)
REJECT_TEXTS = 2  # texts sent with an impossible size


def probe_texts(texts: Sequence[str], count: int = PROBE_TEXTS) -> list[str]:
    """A seeded sample of distinct texts, the same every run for the same data."""
    unique = sorted(set(texts))
    return unique if len(unique) <= count else random.Random(0).sample(unique, count)


def needs_contract(check: ServerTruncationCheck) -> bool:
    return bool(check.max_norm_error is not None or check.reject or check.order_invariance
                or check.batch_invariance)


@dataclass
class _Probes:
    """Probe encoders made from one encoder; their counters add up to the contract's API use."""

    encoder: Any  # an OpenAIEncoder (anything with ``variant``, ``encode``, ``requests`` and ``tokens``)
    made: list[Any]

    def __call__(self, **changes: Any) -> Any:
        probe = self.encoder.variant(**changes)
        self.made.append(probe)
        return probe


def _agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    cosines = row_cosines(reference, other)
    return {"texts": len(cosines), "mean_cosine": float(cosines.mean()), "min_cosine": float(cosines.min())}


def run_contract(check: ServerTruncationCheck, encoder: Any, texts: Sequence[str], role: str,
                 normalize: bool) -> dict[str, Any]:
    """Every contract probe the check asks for → plain data (JSON-ready), with ``requests`` and ``tokens``."""
    probe = _Probes(encoder, [])
    out: dict[str, Any] = {"texts": len(texts), "role": role}
    if check.max_norm_error is not None and normalize:
        norms = {}
        for k in check.dims:
            vectors = probe(dimensions=k, normalize=False).encode(texts, role)
            values = np.linalg.norm(vectors.astype(np.float64), axis=1)
            norms[str(k)] = {"min": float(values.min()), "max": float(values.max()),
                             "max_error": float(np.abs(values - 1.0).max())}
        out["norms"] = norms
    if check.reject:
        answers: dict[str, Any] = {}
        for size in check.reject:
            try:
                vectors = probe(dimensions=size, normalize=False, expect_dimensions=False).encode(
                    list(texts[:REJECT_TEXTS]), role)
            except ProviderStatusError as exc:
                if not 400 <= exc.status < 500:
                    raise
                answers[str(size)] = {"refused": True, "status": exc.status}
            else:
                answers[str(size)] = {"refused": False, "returned_dims": int(vectors.shape[1]),
                                      "norm": float(np.linalg.norm(vectors[0].astype(np.float64)))}
        out["reject"] = answers
    if check.order_invariance or check.batch_invariance:
        reference = probe(normalize=False).encode(texts, role)
        if check.order_invariance:
            order = list(range(len(texts)))
            random.Random(1).shuffle(order)
            shuffled = probe(normalize=False).encode([texts[i] for i in order], role)
            back = np.empty_like(shuffled)
            back[order] = shuffled
            out["order"] = _agreement(reference, back)
        if check.batch_invariance:
            out["batch"] = {
                str(size): _agreement(reference, probe(normalize=False, batch_size=size).encode(texts, role))
                for size in check.batch_invariance
            }
    out["requests"] = sum(p.requests for p in probe.made)
    out["tokens"] = sum(p.tokens for p in probe.made)
    return out


__all__ = ["PROBE_TEXTS", "needs_contract", "probe_texts", "run_contract"]
