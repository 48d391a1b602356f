"""Full-dimension vectors for a list of texts: cache hits read, only misses encoded, then stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .canary import FAILED, PASSED, SKIPPED, CanaryResult, Trust, row_cosines, runtime_changes, sample_keys
from .errors import EvaluationError, ProviderError
from .progress import EncodeProgress, no_progress
from .providers import Encoder
from .spec import CanarySpec
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
    canary: int = 0  # cached texts re-encoded by canaries (they count against --mrlcheck-max-encode)

    def add(self, encoded: int, hits: int) -> None:
        self.encoded += encoded
        self.cache_hits += hits


def model_key(identity: dict[str, Any], role: str, prompt: str | None) -> tuple[str, str]:
    """(key, canonical identity JSON) for everything that changes a vector of this role."""
    canonical = json.dumps({**identity, "role": role, "prompt": prompt}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest(), canonical


@dataclass(frozen=True)
class EncodePolicy:
    """Limits on encoding in this run: ``offline`` forbids it, ``max_encode`` caps it (per process);
    ``refresh`` re-encodes (and replaces) cached vectors once per process. ``flag_prefix`` is how
    the front door spells its flags in hints: ``--mrlcheck-`` under pytest, ``--`` in the command."""

    offline: bool = False
    max_encode: int | None = None
    refresh: bool = False
    flag_prefix: str = "--mrlcheck-"


def _check_budget(policy: EncodePolicy, stats: EncodeStats, count: int, label: str, what: str) -> None:
    if policy.max_encode is not None and stats.encoded + stats.canary + count > policy.max_encode:
        raise EvaluationError(
            f"budget: encoding {count} more {what} with {label} would exceed {policy.flag_prefix}max-encode "
            f"{policy.max_encode} ({stats.encoded + stats.canary} already encoded in this process"
            + (f", {stats.canary} of them by canaries)" if stats.canary else ")"),
            hint="raise the limit, or warm the cache in a separate run",
        )


def _run_canary(
    key: str, role: str, texts: Sequence[str], keys: Sequence[bytes], cached: np.ndarray, matrix: np.ndarray,
    encoder: Encoder, store: VectorStore, stats: EncodeStats, label: str, policy: EncodePolicy, trust: Trust,
) -> None:
    """Re-encode a sample of the texts read from the cache (not encoded in this run) and compare."""
    book = trust.book
    if key in book.results:
        return
    where: dict[bytes, int] = {}  # cached text key → its row (texts encoded in this run are not checked)
    for i in np.flatnonzero(cached).tolist():
        if (key, keys[i]) not in book.encoded:
            where.setdefault(keys[i], i)
    if not where:
        return
    runtime = _runtime(encoder)
    changes = runtime_changes(store.runtime_of(key), runtime) if runtime is not None else []
    config = trust.canary
    if config is None and not changes:
        return
    config = config or CanarySpec()
    reason = "; ".join(changes) if changes else "canary"
    if policy.offline:
        book.results[key] = CanaryResult(label, role, SKIPPED, 0, config.min_cosine, reason,
                                         note="offline: no encoding")
        return
    chosen = sample_keys(list(where), config.sample)
    _check_budget(policy, stats, len(chosen), label, "texts for the canary")
    fresh = encoder.encode([texts[where[k]] for k in chosen], role)
    stats.canary += len(chosen)
    cosines = row_cosines(matrix[[where[k] for k in chosen]], fresh)
    passed = bool(cosines.min() >= config.min_cosine)
    book.results[key] = CanaryResult(label, role, PASSED if passed else FAILED, len(chosen), config.min_cosine,
                                     reason, float(cosines.mean()), float(cosines.min()))
    if passed and changes:
        now = _runtime(encoder)
        if now is not None:
            store.record_runtime(key, now)


def _runtime(encoder: Encoder) -> dict[str, Any] | None:
    """The runtime a local encoder reports (library versions, dtype, device), if it reports one."""
    probe = getattr(encoder, "runtime", None)
    return probe() if callable(probe) else None


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
    trust: Trust | None = None,
) -> np.ndarray:
    """``len(texts) × d`` float32 matrix; encodes each missing text once, under a per-model lock.

    With ``trust``, the first cached vectors read of a model key are checked by a canary, and the
    texts encoded are remembered (they need no canary); with ``policy.refresh`` every cached
    vector not encoded in this process is encoded again and replaced.
    """
    key, canonical = model_key(encoder.identity(), role, prompt)
    keys = [text_key(text) for text in texts]
    found = store.lookup(key, keys)
    _check_sizes(found.dims, label, policy.flag_prefix)
    have = found.mask
    matrix = found.matrix
    if trust is not None:
        trust.book.used.append(key)
        if policy.refresh:
            encoded_here = trust.book.encoded
            have = have & np.fromiter(((key, k) in encoded_here for k in keys), dtype=bool, count=len(keys))
        else:
            _run_canary(key, role, texts, keys, have, matrix, encoder, store, stats, label, policy, trust)
    hits = int(have.sum())
    missing = np.flatnonzero(~have)
    encoded = 0
    if len(missing):
        with store.encode_lock(key):
            if not policy.refresh or trust is None:  # another process may have stored them meanwhile
                again = store.lookup(key, [keys[i] for i in missing])
                _check_sizes(tuple(sorted({*found.dims, *again.dims})), label, policy.flag_prefix)
                if again.mask.any():
                    matrix = _widen(matrix, len(texts), again.matrix.shape[1])
                    matrix[missing[again.mask]] = again.matrix[again.mask]
                    have = have.copy()
                    have[missing[again.mask]] = True
            # longest first, as the encoder would sort one call: chunks of similar length pad
            # little, so encoding in chunks costs what one call over all texts costs
            still = sorted((int(i) for i in missing if not have[i]), key=lambda i: -len(texts[i]))
            hits += len(missing) - len(still)
            if still and policy.offline:
                raise EvaluationError(
                    f"offline: would need to encode {len(still)} texts ({role} role) with {label}; "
                    f"{hits} of {len(texts)} are cached",
                    hint=f"run once without {policy.flag_prefix}offline to fill the cache (or restore CI's cache)",
                )
            if still:
                _check_budget(policy, stats, len(still), label, "texts")
            shown = len(still) >= _PROGRESS_FROM
            step = _PROGRESS_STEP if shown else _WRITE_EVERY
            fresh: dict[bytes, np.ndarray] = {}
            with (progress if shown else no_progress)(f"{label}: encoding {role} texts", len(still)) as advance:
                for start in range(0, len(still), step):
                    batch = still[start : start + step]
                    vectors = np.asarray(encoder.encode([texts[i] for i in batch], role), dtype=np.float32)
                    width = vectors.shape[1] if vectors.ndim == 2 else 0
                    if matrix.shape[1] and width != matrix.shape[1]:
                        _check_sizes((matrix.shape[1], width), label, policy.flag_prefix)
                    matrix = _widen(matrix, len(texts), width)
                    matrix[batch] = vectors
                    fresh.update((keys[i], matrix[i]) for i in batch)
                    if len(fresh) >= _WRITE_EVERY or start + step >= len(still):
                        store.put_many(key, canonical, fresh)  # stored whole per write: a kill keeps the rest
                        if trust is not None:
                            trust.book.encoded.update((key, k) for k in fresh)
                        fresh = {}
                    encoded += len(batch)
                    advance(len(batch))
            if still:
                runtime = _runtime(encoder)
                if runtime is not None and (policy.refresh or store.runtime_of(key) is None):
                    store.record_runtime(key, runtime)
    stats.add(encoded, hits)
    return np.ascontiguousarray(matrix, dtype=np.float32)


def _check_sizes(dims: tuple[int, ...], label: str, flag_prefix: str) -> None:
    if len(set(dims)) > 1:
        raise ProviderError(
            f"model {label} gave vectors of different sizes {sorted(set(dims))} for the same settings",
            hint=f"remove the cache folder (see {flag_prefix}cache-dir) and re-run",
        )


def _widen(matrix: np.ndarray, rows: int, dim: int) -> np.ndarray:
    """``matrix`` if it already has ``dim`` columns, else a zero matrix of that width (nothing was
    found in the cache yet, so the empty ``rows × 0`` matrix holds nothing to keep)."""
    return matrix if matrix.shape[1] == dim else np.zeros((rows, dim), dtype=np.float32)
