"""The dataset fingerprint: a SHA-256 of the texts and labels a task actually uses, in order.

It keys cached scores and baselines, so it must not change for the same data: each record type says
what it digests, these functions say how.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def digest_json(*parts: Any) -> str:
    """SHA-256 of each part as JSON (non-ASCII kept as is), one per line."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, ensure_ascii=False, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def digest_lines(lines: Iterable[str]) -> str:
    """SHA-256 of the lines as given (each carries its own separators)."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
    return digest.hexdigest()
