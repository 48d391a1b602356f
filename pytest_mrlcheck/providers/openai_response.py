"""Reading an embeddings response: every vector checked before anything is returned, and error replies.

A body must be valid JSON with one vector per input (sorted by ``index``), of one dimension (the
requested one when ``dimensions`` is set) and finite values; anything else raises
:class:`ProviderError`, so nothing corrupt reaches the cache.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ProviderError

MAX_TOKENS = 10**12  # a usage count beyond this is not believed
UNREADABLE_HINT = ("a proxy or the server sent a body the client cannot decode (check Content-Encoding and "
                   "base_url); nothing was cached")


def parse_embeddings(
    content: bytes, count: int, who: str, redact: Callable[[str], str], dimensions: int | None,
    expect_dimensions: bool,
) -> tuple[np.ndarray, int | None]:
    """Check a response body and turn it into a ``count × d`` float32 matrix in input order, with the
    server's token count (``None`` when it reports no plausible one). ``who`` names the endpoint in messages;
    ``dimensions`` is the size asked for, enforced when ``expect_dimensions``."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        preview = redact(content[:4096].decode("utf-8", "replace"))[:120]
        raise ProviderError(
            f"{who} returned a body that is not valid JSON ({len(content)} bytes; truncated, nested too "
            f"deeply, or not the embeddings API): {preview!r}",
            hint="check base_url (it usually ends in /v1) and any proxy in between; nothing was cached",
        ) from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        error = body.get("error") if isinstance(body, dict) else None
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise ProviderError(f"{who} answered HTTP 200 with an error instead of embeddings: "
                                f"{redact(str(message))[:300]}", hint="the server reports a problem with the "
                                "request or the account; nothing was cached")
        raise ProviderError(f"{who} returned JSON without a 'data' list: {redact(json_preview(body))[:200]}")
    if len(data) != count:
        raise ProviderError(
            f"{who} returned {len(data)} vectors for {count} texts",
            hint="the server dropped or added items; nothing was cached — lower model.batch_size",
        )
    rows: list[np.ndarray | None] = [None] * count
    for position, item in enumerate(data):
        index = item.get("index") if isinstance(item, dict) else None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise ProviderError(f"{who} returned item {position} with a missing or invalid index {index!r}")
        if rows[index] is not None:
            raise ProviderError(f"{who} returned index {index} twice; cannot tell which vector is whose")
        rows[index] = decode_vector(item.get("embedding"), index, who)
    vectors = [row for row in rows if row is not None]
    dims = sorted({row.shape[0] for row in vectors})
    if len(dims) != 1:
        raise ProviderError(f"{who} returned vectors of different dimensions {dims} in one response")
    if dimensions is not None and dims[0] != dimensions and expect_dimensions:
        raise ProviderError(
            f"{who} returned {dims[0]}-dimensional vectors; expected {dimensions} (dimensions: {dimensions})",
            hint="the server ignores 'dimensions' — remove it and let mrlcheck's views truncate",
        )
    matrix = np.stack(vectors).astype(np.float32, copy=False)
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise ProviderError(
            f"{who} returned NaN or infinite values in {int(bad.sum())} of {count} vectors",
            hint="nothing was written to the cache; check the server's precision settings",
        )
    usage = body.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    plausible = isinstance(total, int) and not isinstance(total, bool) and 0 <= total <= MAX_TOKENS
    tokens = total if plausible else None  # else estimated: an absurd count must not break the run
    return matrix, tokens


def decode_vector(value: Any, index: int, who: str) -> np.ndarray:
    """One embedding, base64 little-endian float32 or a list of numbers, as a float32 vector."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError(f"{who} returned an embedding (index {index}) that is not valid base64") from None
        if len(raw) % 4:
            raise ProviderError(f"{who} returned a base64 embedding (index {index}) of {len(raw)} bytes, "
                                "not a whole number of float32 values")
        vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif isinstance(value, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        try:
            with np.errstate(over="ignore"):
                vector = np.asarray(value, dtype=np.float32)
        except (OverflowError, ValueError):  # an integer beyond any float
            raise ProviderError(f"{who} returned an embedding (index {index}) holding a number too large for "
                                "a float") from None
    else:
        raise ProviderError(f"{who} returned an embedding (index {index}) that is neither a list of numbers "
                            "nor base64 text")
    if vector.size == 0:
        raise ProviderError(f"{who} returned an empty embedding (index {index})")
    return vector


def json_preview(value: Any) -> str:
    """``repr`` of a JSON value, safe for any nesting (a deep one is cut, not recursed into)."""
    try:
        return repr(value)[:4096]
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply>"


def status_message(exc: Any, redact: Callable[[str], str]) -> str:
    """The server's message for an HTTP error, redacted first and then cut (so no part of a key survives)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            return redact(message)[:300]
        if message is not None:
            return redact(json_preview(message))[:300]
    if isinstance(body, str) and body:
        return redact(body)[:300]
    return redact(str(getattr(exc, "message", "") or "no details"))[:300]


def status_hint(status: int, api_key_env: str | None) -> str | None:
    """What to check for an HTTP error that is not retried (``None``: nothing specific)."""
    if status in (401, 403):
        return (f"check the key in ${api_key_env}" if api_key_env
                else "the server wants a key: set model.api_key_env")
    if status == 404:
        return "check model.name and base_url (OpenAI-compatible servers usually serve under /v1)"
    if status == 413:
        return "the request is too large: lower model.batch_size or model.max_tokens_per_batch"
    if status in (400, 422):
        return ("the server rejected the request: check the model name, the 'dimensions' setting and "
                "that no text is empty or longer than the model's input limit")
    return None
