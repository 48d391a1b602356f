"""``provider: voyage``: Voyage AI embeddings through the official ``voyageai`` client.

Shares everything but the request itself with the ``openai`` provider (batching by count and
tokens, concurrency, our own retries with backoff and ``Retry-After``, request and token
accounting, key hygiene and the response checks): :class:`VoyageEncoder` subclasses
:class:`OpenAIEncoder` and replaces the client and one attempt. ``dimensions`` is sent as
``output_dimension``, ``output_dtype`` as is (``float``, ``int8`` or ``uint8``), and the role as
``input_type`` (``query`` or ``document``) unless ``input_type: false``.
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

DEFAULT_BASE_URL = "https://api.voyageai.com/v1"
OUTPUT_DTYPES = ("float", "int8", "uint8")


@dataclass(frozen=True)
class VoyageSettings(OpenAISettings):
    """The openai provider's settings with Voyage's defaults and its own fields."""

    api_key_env: str | None = "VOYAGE_API_KEY"
    batch_size: int = 128
    max_tokens_per_batch: int = 120_000
    output_dtype: str = "float"
    input_type: bool = True  # send the role as input_type


class VoyageEncoder(HostedEncoder):
    """Encodes through ``voyageai.Client``; counters feed the run summary as for ``openai``."""

    settings: VoyageSettings

    PROVIDER = "voyage"
    TITLE = "Voyage"
    URL_ENV = "VOYAGE_BASE_URL"
    DEFAULT_URL = DEFAULT_BASE_URL
    PACKAGE = "voyageai"
    EXTRA = "voyage"
    IDENTITY_FIELDS = ("output_dtype", "input_type")
    DIMENSIONS_PARAM = "output_dimension"
    TUNING_FIELD = "output_dtype"

    @contextlib.contextmanager
    def _open_client(self) -> Iterator[Any]:
        try:
            from voyageai import error
            from voyageai.client import Client
        except ImportError:
            raise self._missing_client() from None
        try:
            client = Client(api_key=self._key(), max_retries=0, timeout=self.settings.timeout,
                                     base_url=self._target_url())
        except error.VoyageError as exc:
            raise ProviderError(f"{self._who()}: cannot create the client: {self.redact(str(exc))}") from None
        yield client

    def _attempt(self, client: Any, batch: list[str]) -> tuple[np.ndarray, int]:
        """One request through the client → (vectors, tokens); raises ``_Retryable`` or :class:`ProviderError`."""
        from voyageai import error
        from voyageai.api_resources.embedding import Embedding

        settings = self.settings
        fields: dict[str, Any] = {"model": settings.name, "input": batch, "truncation": True,
                                  "output_dtype": settings.output_dtype,
                                  "input_type": self._role if settings.input_type else None}
        if settings.dimensions is not None:
            fields["output_dimension"] = settings.dimensions
        if settings.output_dtype == "float":
            fields["encoding_format"] = "base64"  # raw float32 bytes, checked like the openai provider's
        try:
            response = Embedding.create(**fields, **client._params)  # type: ignore[no-untyped-call]
        except error.VoyageError as exc:
            status = exc.http_status
            message = self.redact(str(exc._message or exc.http_body or "no details")[:300])
            if isinstance(exc, error.Timeout):
                raise _Retryable(f"no answer within {settings.timeout:g} s (timeout)") from None
            if isinstance(exc, error.APIConnectionError) or status is None:
                raise _Retryable(f"connection error: {type(exc).__name__}: {message}") from None
            if status in RETRYABLE_STATUS or status >= 500:
                raise _Retryable(f"HTTP {status}: {message}", retry_after_seconds(dict(exc.headers or {})),
                                 rate_limited=status == 429) from None
            raise ProviderStatusError(f"{self._who()} answered HTTP {status}: {message}", status=status,
                                      hint=self._hint(status)) from None
        except Exception as exc:  # the client's requests/JSON layers raise many kinds
            detail = self.redact(f"{type(exc).__name__}: {exc}")[:300]
            raise _Retryable(f"connection error: {detail}") from None
        content = json.dumps(response).encode()
        vectors, usage = self._parse(content, len(batch), self.redact)
        return vectors, usage if usage is not None else sum(estimate_tokens(t) for t in batch)



__all__ = ["OUTPUT_DTYPES", "VoyageEncoder", "VoyageSettings"]
