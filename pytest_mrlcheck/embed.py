"""Full-dimension vectors for a list of texts: cache hits read, only misses encoded, then stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EvaluationError, ProviderError
from .progress import EncodeProgress, no_progress
from .providers import Encoder
from .store import VectorStore, text_key

_WRITE_EVERY = 2048
_PROGRESS_FROM = 512  # fewer misses than this encode without a progress line
_PROGRESS_STEP = 256


@dataclass
class EncodeStats:
    """Counts for one process: texts encoded by a provider vs served from the cache (per spec: the
    difference before and after its evaluation, see ``SpecResult.encoding``)."""

    encoded: int = 0
    cache_hits: int = 0

    def add(self, encoded: int, hits: int) -> None:
        self.encoded += encoded
        self.cache_hits += hits


def model_key(identity: dict[str, Any], role: str, prompt: str | None) -> tuple[str, str]:
    """(key, canonical identity JSON) for everything that changes a vector of this role."""
    canonical = json.dumps({**identity, "role": role, "prompt": prompt}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest(), canonical


@dataclass(frozen=True)
class EncodePolicy:
    """Limits on encoding in this run: ``offline`` forbids it, ``max_encode`` caps it (per process)."""

    offline: bool = False
    max_encode: int | None = None


def embed_texts(
    texts: Sequence[str],
    role: str,
    prompt: str | None,
    encoder: Encoder,
    store: VectorStore,
    stats: EncodeStats,
    label: str,
    policy: EncodePolicy = EncodePolicy(),
    progress: EncodeProgress = no_progress,
) -> np.ndarray:
    """``len(texts) × d`` float32 matrix; encodes each missing text once, under a per-model lock."""
    key, canonical = model_key(encoder.identity(), role, prompt)
    keys = [text_key(text) for text in texts]
    found = store.get_many(key, keys)
    hits = len(found)
    missing = [i for i, k in enumerate(keys) if k not in found]
    encoded = 0
    if missing:
        with store.encode_lock(key):
            found.update(store.get_many(key, [keys[i] for i in missing]))
            still = [i for i in missing if keys[i] not in found]
            hits += len(missing) - len(still)
            if still and policy.offline:
                raise EvaluationError(
                    f"offline: would need to encode {len(still)} texts ({role} role) with {label}; "
                    f"{hits} of {len(texts)} are cached",
                    hint="run once without --mrlcheck-offline to fill the cache (or restore CI's cache)",
                )
            if still and policy.max_encode is not None and stats.encoded + len(still) > policy.max_encode:
                raise EvaluationError(
                    f"budget: encoding {len(still)} more texts with {label} would exceed "
                    f"--mrlcheck-max-encode {policy.max_encode} ({stats.encoded} already encoded in this process)",
                    hint="raise the limit, or warm the cache in a separate run",
                )
            shown = len(still) >= _PROGRESS_FROM
            step = _PROGRESS_STEP if shown else _WRITE_EVERY
            with (progress if shown else no_progress)(f"{label}: encoding {role} texts", len(still)) as advance:
                for start in range(0, len(still), step):
                    batch = still[start : start + step]
                    vectors = encoder.encode([texts[i] for i in batch], role)
                    fresh = {keys[i]: vectors[j] for j, i in enumerate(batch)}
                    store.put_many(key, canonical, fresh)
                    found.update(fresh)
                    encoded += len(batch)
                    advance(len(batch))
    stats.add(encoded, hits)
    dims = {found[k].shape[0] for k in keys}
    if len(dims) != 1:
        raise ProviderError(
            f"model {label} gave vectors of different sizes {sorted(dims)} for the same settings",
            hint="remove the cache folder (see --mrlcheck-cache-dir) and re-run",
        )
    return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
