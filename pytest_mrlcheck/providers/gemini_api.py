"""``provider: gemini``: Gemini embeddings (e.g. ``gemini-embedding-001``) through the official ``google-genai`` client.

Like ``voyage`` and ``cohere``, it subclasses the ``openai`` provider and replaces only the client
and one request (``models.embed_content``, sent as ``batchEmbedContents``): batching, retries
with backoff and ``Retry-After``, accounting, key hygiene and the response checks are shared.
``dimensions`` is sent as ``output_dimensionality`` and the role as ``task_type``
(``RETRIEVAL_QUERY`` / ``RETRIEVAL_DOCUMENT``) unless another task type is set. Gemini returns
non-unit vectors below its full size: ``normalize`` (on by default) renormalises them, and
``checks.server_truncation.max_norm_error`` shows it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ProviderError, ProviderStatusError
from ..spec import GEMINI_TASK_TYPES
from .hosted import RETRYABLE_STATUS, HostedEncoder
from .openai_api import OpenAISettings
from .openai_requests import _Retryable, estimate_tokens, retry_after_seconds

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
MAX_TEXTS = 100  # Gemini's limit of requests per batchEmbedContents
TASK_TYPES = GEMINI_TASK_TYPES
_BY_ROLE = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}


@dataclass(frozen=True)
class GeminiSettings(OpenAISettings):
    """The openai provider's settings with Gemini's defaults and its task type."""

    api_key_env: str | None = "GEMINI_API_KEY"
    batch_size: int = MAX_TEXTS
    max_tokens_per_batch: int = 200_000
    task_type: str = "auto"  # auto: by role; none: not sent; else sent as is

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size > MAX_TEXTS:
            raise ProviderError(f"invalid settings for Gemini model {self.name!r}: batch_size must be ≤ {MAX_TEXTS} "
                                f"(Gemini's limit of texts per request), got {self.batch_size}")


class GeminiEncoder(HostedEncoder):
    """Encodes through ``google.genai.Client``; counters feed the run summary as for ``openai``."""

    settings: GeminiSettings

    PROVIDER = "gemini"
    TITLE = "Gemini"
    DEFAULT_URL = DEFAULT_BASE_URL
    PACKAGE = "google-genai"
    EXTRA = "gemini"
    IDENTITY_FIELDS = ("task_type",)
    DIMENSIONS_PARAM = "output_dimensionality"
    TUNING_FIELD = "task_type"

    @contextlib.contextmanager
    def _open_client(self) -> Iterator[Any]:
        try:
            from google import genai
            from google.genai import types
        except ImportError:
            raise self._missing_client() from None
        try:
            client = genai.Client(api_key=self._key(), http_options=types.HttpOptions(
                base_url=self._target_url(), timeout=int(self.settings.timeout * 1000)))
        except Exception as exc:  # the client validates its arguments with several exception kinds
            raise ProviderError(f"{self._who()}: cannot create the client: {self.redact(str(exc))}") from None
        try:
            yield client
        finally:
            client.close()

    def _task_type(self) -> str | None:
        chosen = self.settings.task_type
        if chosen == "auto":
            return _BY_ROLE.get(self._role)
        return None if chosen == "none" else chosen

    def _attempt(self, client: Any, batch: list[str]) -> tuple[np.ndarray, int]:
        """One request through the client → (vectors, tokens); raises ``_Retryable`` or :class:`ProviderError`."""
        import httpx
        from google.genai import errors, types

        settings = self.settings
        config = types.EmbedContentConfig(task_type=self._task_type(), output_dimensionality=settings.dimensions)
        try:
            response = client.models.embed_content(model=settings.name, contents=batch, config=config)
        except errors.APIError as exc:
            status = int(exc.code or 0)
            message = self.redact(str(exc.message or exc.status or "no details")[:300])
            if status in RETRYABLE_STATUS or status >= 500:
                headers = dict(getattr(exc.response, "headers", None) or {})
                raise _Retryable(f"HTTP {status}: {message}", retry_after_seconds(headers),
                                 rate_limited=status == 429) from None
            raise ProviderStatusError(f"{self._who()} answered HTTP {status}: {message}", status=status,
                                      hint=self._hint(status)) from None
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {settings.timeout:g} s (timeout)") from None
        except (httpx.HTTPError, ValueError) as exc:  # connection errors; a body that is not JSON
            raise _Retryable(f"connection error: {self.redact(f'{type(exc).__name__}: {exc}')[:300]}") from None
        rows = [getattr(item, "values", None) for item in (response.embeddings or [])]
        shaped = {"data": [{"index": i, "embedding": row} for i, row in enumerate(rows)]}
        vectors, _ = self._parse(json.dumps(shaped).encode(), len(batch), self.redact)
        return vectors, sum(estimate_tokens(t) for t in batch)  # Gemini reports no token count here



__all__ = ["TASK_TYPES", "GeminiEncoder", "GeminiSettings"]
