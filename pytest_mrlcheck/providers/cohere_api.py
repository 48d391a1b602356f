"""``provider: cohere``: Cohere Embed (v2 API, e.g. ``embed-v4.0``) through the official ``cohere`` client.

Like ``voyage``, it subclasses the ``openai`` provider and replaces only the client and one
request: batching, retries with backoff and ``Retry-After``, accounting, key hygiene and the
response checks are shared. ``dimensions`` is sent as ``output_dimension``, the role as
``input_type`` (``search_query`` / ``search_document``), and ``embedding_type`` picks one of the
``embedding_types`` Cohere returns: ``float``, ``int8``, ``uint8``, or ``binary``/``ubinary``
(packed bits, unpacked here to ±1 per dimension).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ProviderError, ProviderStatusError
from .hosted import RETRYABLE_STATUS, HostedEncoder
from .openai_api import OpenAISettings
from .openai_requests import _Retryable, estimate_tokens, retry_after_seconds

DEFAULT_BASE_URL = "https://api.cohere.com"
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary")
MAX_TEXTS = 96  # Cohere's limit of texts per embed request
_INPUT_TYPES = {"query": "search_query", "document": "search_document"}


@dataclass(frozen=True)
class CohereSettings(OpenAISettings):
    """The openai provider's settings with Cohere's defaults and its own fields."""

    api_key_env: str | None = "CO_API_KEY"
    batch_size: int = MAX_TEXTS
    max_tokens_per_batch: int = 128_000
    embedding_type: str = "float"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size > MAX_TEXTS:
            raise ProviderError(f"invalid settings for Cohere model {self.name!r}: batch_size must be ≤ {MAX_TEXTS} "
                                f"(Cohere's limit of texts per request), got {self.batch_size}")


def unpack_bits(rows: list[list[int]], signed: bool) -> list[list[float]]:
    """Packed bits (8 dimensions per byte, most significant first) → ±1 per dimension."""
    packed = np.asarray(rows, dtype=np.int8 if signed else np.uint8).view(np.uint8)
    bits = np.unpackbits(packed, axis=1).astype(np.float32)
    return (2.0 * bits - 1.0).tolist()  # type: ignore[no-any-return]


class CohereEncoder(HostedEncoder):
    """Encodes through ``cohere.ClientV2``; counters feed the run summary as for ``openai``."""

    settings: CohereSettings

    PROVIDER = "cohere"
    TITLE = "Cohere"
    URL_ENV = "CO_API_URL"
    DEFAULT_URL = DEFAULT_BASE_URL
    PACKAGE = "cohere"
    EXTRA = "cohere"
    IDENTITY_FIELDS = ("embedding_type",)
    DIMENSIONS_PARAM = "output_dimension"
    TUNING_FIELD = "embedding_type"
    AUTH_STATUS = frozenset({401, 403, 498})

    @contextlib.contextmanager
    def _open_client(self) -> Iterator[Any]:
        try:
            from cohere import ClientV2
        except ImportError:
            raise self._missing_client() from None
        import httpx

        connections = httpx.Client(timeout=self.settings.timeout)  # ours, so it is closed when done
        try:
            try:
                client = ClientV2(api_key=self._key(), base_url=self._target_url(), timeout=self.settings.timeout,
                                  httpx_client=connections)
            except Exception as exc:  # the client validates its arguments with several exception kinds
                raise ProviderError(f"{self._who()}: cannot create the client: {self.redact(str(exc))}") from None
            yield client
        finally:
            connections.close()

    def _attempt(self, client: Any, batch: list[str]) -> tuple[np.ndarray, int]:
        """One request through the client → (vectors, tokens); raises ``_Retryable`` or :class:`ProviderError`."""
        import httpx
        from cohere.core.api_error import ApiError

        settings = self.settings
        kind = settings.embedding_type
        fields: dict[str, Any] = {"model": settings.name, "texts": batch, "input_type": _INPUT_TYPES[self._role],
                                  "embedding_types": [kind]}
        if settings.dimensions is not None:
            fields["output_dimension"] = settings.dimensions
        try:
            raw = client.with_raw_response.embed(**fields, request_options={"max_retries": 0})
            content = raw.response.content
        except ApiError as exc:
            status = exc.status_code or 0
            message = self.redact(_message(exc.body))
            if status in RETRYABLE_STATUS or status >= 500:
                raise _Retryable(f"HTTP {status}: {message}", retry_after_seconds(dict(exc.headers or {})),
                                 rate_limited=status == 429) from None
            raise ProviderStatusError(f"{self._who()} answered HTTP {status}: {message}", status=status,
                                      hint=self._hint(status)) from None
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {settings.timeout:g} s (timeout)") from None
        except (httpx.HTTPError, ValueError) as exc:  # connection errors; a body that is not JSON
            raise _Retryable(f"connection error: {self.redact(f'{type(exc).__name__}: {exc}')[:300]}") from None
        return self._read(content, batch)

    def _read(self, content: bytes, batch: list[str]) -> tuple[np.ndarray, int]:
        """Cohere's ``{embeddings: {type: [...]}, meta}`` → the OpenAI shape, checked by the shared parser."""
        who = self._who()
        try:
            body = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            raise ProviderError(f"{who} returned a body that is not valid JSON ({len(content)} bytes)",
                                hint="check base_url and any proxy in between; nothing was cached") from None
        kind = self.settings.embedding_type
        embeddings = body.get("embeddings") if isinstance(body, dict) else None
        rows = embeddings.get(kind) if isinstance(embeddings, dict) else None
        if not isinstance(rows, list):
            raise ProviderError(f"{who} returned no {kind!r} embeddings: {self.redact(repr(body)[:200])}")
        if kind in ("binary", "ubinary") and rows:
            try:
                rows = unpack_bits(rows, signed=kind == "binary")
            except (TypeError, ValueError, OverflowError):
                raise ProviderError(f"{who} returned {kind} embeddings that are not rows of bytes") from None
        billed = body.get("meta", {}).get("billed_units", {}) if isinstance(body.get("meta"), dict) else {}
        tokens = billed.get("input_tokens") if isinstance(billed, dict) else None
        shaped = {"data": [{"index": i, "embedding": row} for i, row in enumerate(rows)],
                  "usage": {"total_tokens": int(tokens)} if isinstance(tokens, int | float) else None}
        vectors, usage = self._parse(json.dumps(shaped).encode(), len(batch), self.redact)
        return vectors, usage if usage is not None else sum(estimate_tokens(t) for t in batch)


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return str(body)[:300] if body else "no details"



__all__ = ["EMBEDDING_TYPES", "CohereEncoder", "CohereSettings", "unpack_bits"]
