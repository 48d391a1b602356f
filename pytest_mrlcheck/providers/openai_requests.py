"""Planning the requests of one encode call and telling when a failed one is worth retrying.

Texts are cut into batches within a count and an estimated token budget; a retryable failure carries
the server's ``Retry-After`` (seconds, milliseconds via ``retry-after-ms``, or an HTTP date).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping, Sequence

MAX_INPUTS_PER_REQUEST = 2048  # OpenAI's limit on the length of ``input``
RETRYABLE_STATUS = frozenset({408, 429})


def estimate_tokens(text: str) -> int:
    """A cheap upper-ish bound: UTF-8 bytes / 3 (≈ 1 token per CJK character, ¾ word in English)."""
    return len(text.encode("utf-8")) // 3 + 1


def plan_batches(inputs: Sequence[str], batch_size: int, max_tokens: int) -> list[tuple[int, int]]:
    """``[start, end)`` slices in input order, each within ``batch_size`` texts and ``max_tokens``.

    A single text above ``max_tokens`` goes alone (the server decides whether it fits).
    """
    batches: list[tuple[int, int]] = []
    start, count, tokens = 0, 0, 0
    for index, text in enumerate(inputs):
        cost = estimate_tokens(text)
        if count and (count >= batch_size or tokens + cost > max_tokens):
            batches.append((start, index))
            start, count, tokens = index, 0, 0
        count += 1
        tokens += cost
    if count:
        batches.append((start, len(inputs)))
    return batches


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            seconds = float(value.strip()) * scale
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Aborted(Exception):
    """Another batch failed: stop this one quietly."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, rate_limited: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.rate_limited = rate_limited
