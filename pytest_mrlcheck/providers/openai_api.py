"""``provider: openai``: any OpenAI-compatible ``/embeddings`` endpoint through the official client.

Works with OpenAI, Azure OpenAI (its ``/openai/v1/`` base URL), vLLM, TEI, Ollama and Infinity.
The ``openai`` package is imported only when texts must be encoded. The API key is read from the
environment (``api_key_env``) at encode time and never kept on the encoder, nor put in its
identity, repr or error messages.

Retries are ours alone (the client's own are switched off): 429, 408, 5xx, timeouts and
connection errors are retried with exponential backoff and full jitter, honouring ``Retry-After``
(seconds, milliseconds via ``retry-after-ms``, or an HTTP date), capped. A 429 with
``Retry-After`` pauses every request in flight of this encoder, not just the one that got it.

Every response is checked before anything is returned: valid JSON, one vector per input (sorted
by ``index``), equal dimension (the requested one when ``dimensions`` is set), finite values.
Anything else raises :class:`ProviderError`, and since the caller writes nothing to the cache
when ``encode`` raises, nothing corrupt is ever stored.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ProviderError, ProviderStatusError
from ..spec import Prompts
from . import ProviderContext, check_vectors
from .openai_requests import (
    MAX_INPUTS_PER_REQUEST,
    RETRYABLE_STATUS,
    _Aborted,
    _Retryable,
    estimate_tokens,
    plan_batches,
    retry_after_seconds,
)
from .openai_response import UNREADABLE_HINT, parse_embeddings, status_hint, status_message
from .openai_urls import check_no_credentials, display_url, mask_credentials

if TYPE_CHECKING:
    import openai

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_NO_KEY = "unused"  # sent when api_key_env is None (local servers without authentication)


@dataclass(frozen=True)
class OpenAISettings:
    """Everything the OpenAI-compatible provider needs; the key itself is never held here."""

    name: str
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    dimensions: int | None = None
    batch_size: int = 256
    max_tokens_per_batch: int = 250_000
    concurrency: int = 4
    max_retries: int = 6
    timeout: float = 60.0
    normalize: bool = True
    prompts: Prompts = field(default_factory=Prompts)
    price_per_million_tokens: float | None = None
    backoff_base: float = 0.5
    backoff_cap: float = 60.0
    extra_body: Mapping[str, Any] | None = None  # more JSON fields for servers that need them
    dimensions_param: str | None = None  # the field name a compatible server gives ``dimensions``
    expect_dimensions: bool = True  # False only for contract probes: see what a server returns for any size

    def __post_init__(self) -> None:
        problems = []
        if not self.name:
            problems.append("name (the model) is empty")
        if self.dimensions is not None and self.dimensions < 1:
            problems.append(f"dimensions must be ≥ 1, got {self.dimensions}")
        if not 1 <= self.batch_size <= MAX_INPUTS_PER_REQUEST:
            problems.append(f"batch_size must be in 1..{MAX_INPUTS_PER_REQUEST}, got {self.batch_size}")
        if self.max_tokens_per_batch < 1:
            problems.append(f"max_tokens_per_batch must be ≥ 1, got {self.max_tokens_per_batch}")
        if self.concurrency < 1:
            problems.append(f"concurrency must be ≥ 1, got {self.concurrency}")
        if self.max_retries < 0:
            problems.append(f"max_retries must be ≥ 0, got {self.max_retries}")
        if not self.timeout > 0:
            problems.append(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            problems.append("backoff_base and backoff_cap must be ≥ 0")
        if self.price_per_million_tokens is not None and self.price_per_million_tokens < 0:
            problems.append(f"price_per_million_tokens must be ≥ 0, got {self.price_per_million_tokens}")
        if problems:
            raise ProviderError(f"invalid settings for OpenAI-compatible model {self.name!r}: {'; '.join(problems)}")

class OpenAIEncoder:
    """Encodes through ``openai.OpenAI(...).embeddings``; counters feed the run summary.

    ``requests`` counts HTTP attempts (retries included), ``retries`` the attempts repeated,
    ``tokens`` the server's ``usage.total_tokens`` (or our estimate when it reports none).
    """

    def __init__(self, settings: OpenAISettings, context: ProviderContext) -> None:
        self.settings = settings
        self.context = context
        self.requests = 0
        self.retries = 0
        self.tokens = 0
        self._lock = threading.Lock()
        self._pause_until = 0.0

    def variant(self, **changes: Any) -> OpenAIEncoder:
        """A probe encoder with other settings (dimensions, batch size, normalisation) and its own counters."""
        return type(self)(replace(self.settings, **changes), self.context)

    # -- description (no network, no key) -----------------------------------------------------

    def _target_url(self) -> str:
        """The URL given to the client; OPENAI_BASE_URL is resolved here so identity matches it."""
        if self.settings.base_url:
            check_no_credentials(self.settings.base_url, "model.base_url")
            return self.settings.base_url
        url = os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        check_no_credentials(url, "$OPENAI_BASE_URL")
        return url

    @property
    def base_url(self) -> str:
        return display_url(self._target_url())

    def _who(self) -> str:
        try:
            where = self.base_url
        except ProviderError:
            where = "(invalid base_url)"
        return f"OpenAI-compatible endpoint {where} (model {self.settings.name!r})"

    def __repr__(self) -> str:
        try:
            where = self.base_url
        except ProviderError:
            where = "(invalid)"
        return f"OpenAIEncoder(model={self.settings.name!r}, base_url={where!r})"

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {
            "provider": "openai",
            "base_url": self.base_url,
            "model": self.settings.name,
            "dimensions": self.settings.dimensions,
            "normalize": self.settings.normalize,
        }
        # only when set, so the keys of existing caches stay what they were
        if self.settings.extra_body:
            identity["extra_body"] = dict(self.settings.extra_body)
        if self.settings.dimensions_param:
            identity["dimensions_param"] = self.settings.dimensions_param
        return identity

    @property
    def estimated_cost(self) -> float | None:
        """Tokens × price (USD or whatever ``price_per_million_tokens`` is in); None without a price."""
        price = self.settings.price_per_million_tokens
        return None if price is None else self.tokens * price / 1_000_000

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.settings.name,
            "base_url": self.base_url,
            "requests": self.requests,
            "retries": self.retries,
            "tokens": self.tokens,
            "estimated_cost": self.estimated_cost,
        }

    # -- encoding ------------------------------------------------------------------------------

    # The key is read from the environment where it is used and never bound to a name in a frame
    # that can raise (nor passed as an argument): pytest prints the arguments and locals of every
    # frame of a traceback, and a frame holding the key must never be one of them.

    def _require_key(self) -> None:
        env = self.settings.api_key_env
        if env is not None and not os.environ.get(env, "").strip():
            raise ProviderError(
                f"{self._who()} needs an API key: the environment variable {env} is not set",
                hint=f"export {env}=... (in CI, from a secret); for a local server without "
                "authentication set model.api_key_env: null",
            )

    def _key(self) -> str:
        env = self.settings.api_key_env
        return _NO_KEY if env is None else os.environ.get(env, "").strip()

    def redact(self, text: str) -> str:
        """``text`` with this encoder's API key (as set in the environment now) replaced by ``***``.

        :class:`~pytest_mrlcheck.providers.guarded.GuardedEncoder` applies it to every message of
        an exception that escapes this provider.
        """
        env = self.settings.api_key_env
        return _redact(text, os.environ.get(env, "").strip() if env else "")

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.settings.dimensions or 0), dtype=np.float32)
        self._require_key()
        prompt = self.settings.prompts.for_role(role) or ""
        unique: dict[str, int] = {}
        for text in texts:
            unique.setdefault(prompt + text, len(unique))
        inputs = list(unique)
        batches = plan_batches(inputs, self.settings.batch_size, self.settings.max_tokens_per_batch)
        with self._open_client() as client:
            parts = self._run(client, [inputs[a:b] for a, b in batches])
        dims = {part.shape[1] for part in parts}
        if len(dims) != 1:
            raise ProviderError(f"{self._who()} returned vectors of different sizes {sorted(dims)} in one run")
        vectors = np.concatenate(parts, axis=0)
        vectors = check_vectors(vectors, len(inputs), self._who())
        if self.settings.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        rows = np.fromiter((unique[prompt + text] for text in texts), dtype=np.int64, count=len(texts))
        return vectors[rows].astype(np.float32, copy=False)

    def _open_client(self) -> Any:
        """The API client (a context manager that closes its connections)."""
        try:
            import openai
        except ImportError:
            raise ProviderError(
                "the openai provider needs the openai package",
                hint="pip install 'pytest-mrlcheck[openai]' (or pip install openai)",
            ) from None
        try:
            client = openai.OpenAI(
                api_key=self._key(),
                base_url=self._target_url(),
                max_retries=0,
                timeout=self.settings.timeout,
            )
        except openai.OpenAIError as exc:
            raise ProviderError(f"{self._who()}: cannot create the client: {self.redact(str(exc))}") from None
        return client

    def _run(self, client: Any, batches: list[list[str]]) -> list[np.ndarray]:
        abort = threading.Event()
        workers = min(self.settings.concurrency, len(batches))
        if workers == 1:
            return [self._request(client, batch, abort) for batch in batches]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mrlcheck-openai") as pool:
            futures = [pool.submit(self._request, client, batch, abort) for batch in batches]
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            finally:
                abort.set()  # on failure or Ctrl-C, batches still waiting to retry stop at once
            failed = next((f for f in futures if f in done and f.exception() is not None), None)
            if failed is None:
                return [future.result() for future in futures]
            for future in futures:
                future.cancel()
            wait(futures)
            # Report a real failure, not a batch that stopped because of it.
            errors: list[BaseException] = []
            for future in futures:
                error = None if future.cancelled() else future.exception()
                if error is not None and not isinstance(error, _Aborted):
                    errors.append(error)
            raise errors[0] if errors else ProviderError(f"{self._who()}: the requests were aborted")

    def _wait_for_pause(self, abort: threading.Event) -> None:
        while True:
            with self._lock:
                remaining = self._pause_until - time.monotonic()
            if remaining <= 0:
                return
            if abort.wait(remaining):
                raise _Aborted

    def _request(self, client: Any, batch: list[str], abort: threading.Event) -> np.ndarray:
        settings = self.settings
        last = ""
        for attempt in range(settings.max_retries + 1):
            if abort.is_set():
                raise _Aborted
            self._wait_for_pause(abort)
            with self._lock:
                self.requests += 1
            try:
                vectors, tokens = self._attempt(client, batch)
            except _Retryable as retry:
                last = retry.reason
                if attempt == settings.max_retries:
                    break
                if retry.retry_after is not None:
                    wait_for = min(retry.retry_after, settings.backoff_cap)
                    wait_for += random.uniform(0, 0.1 * wait_for)  # spread the herd a little
                else:
                    wait_for = random.uniform(0, min(settings.backoff_cap, settings.backoff_base * 2**attempt))
                with self._lock:
                    self.retries += 1
                    if retry.rate_limited and retry.retry_after is not None:
                        self._pause_until = max(self._pause_until, time.monotonic() + wait_for)
                if abort.wait(wait_for):
                    raise _Aborted from None
                continue
            with self._lock:
                self.tokens += tokens
            return vectors
        raise ProviderError(
            f"{self._who()} gave up after {settings.max_retries} retries "
            f"({settings.max_retries + 1} attempts); last error: {last}",
            hint="the server is overloaded, rate-limiting or unreachable; lower model.concurrency, raise "
            "model.max_retries or model.timeout, or re-run later (texts encoded in earlier chunks of 2048 stay "
            "cached; this chunk was not stored)",
        )

    def _attempt(self, client: openai.OpenAI, batch: list[str]) -> tuple[np.ndarray, int]:
        """One HTTP request → (vectors, tokens); raises ``_Retryable`` or :class:`ProviderError`."""
        import openai

        settings = self.settings
        extra: dict[str, Any] = {}
        body = dict(settings.extra_body or {})
        if settings.dimensions is not None:
            if settings.dimensions_param:
                body[settings.dimensions_param] = settings.dimensions
            else:
                extra["dimensions"] = settings.dimensions
        if body:
            extra["extra_body"] = body
        try:
            raw = client.embeddings.with_raw_response.create(
                model=settings.name, input=batch, encoding_format="base64", **extra
            )
            content = raw.content
        except openai.APIStatusError as exc:
            status = exc.status_code
            message = status_message(exc, self.redact)
            if status in RETRYABLE_STATUS or status >= 500:
                headers = exc.response.headers
                retry_after = retry_after_seconds(headers)
                raise _Retryable(f"HTTP {status}: {message}", retry_after, rate_limited=status == 429) from None
            raise ProviderStatusError(
                f"{self._who()} answered HTTP {status}: {message}", status=status,
                hint=status_hint(status, settings.api_key_env),
            ) from None
        except openai.APITimeoutError:
            raise _Retryable(f"no answer within {settings.timeout:g} s (timeout)") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            detail = self.redact(f"{type(cause).__name__}: {cause}" if cause is not None else str(exc))
            if type(cause).__name__ == "DecodingError":  # a body the client cannot decompress: not retried
                raise ProviderError(f"{self._who()} sent a response that could not be read: {detail[:300]}",
                                    hint=UNREADABLE_HINT) from None
            raise _Retryable(f"connection error: {detail[:300]}") from None
        except openai.OpenAIError as exc:
            raise ProviderError(f"{self._who()}: {type(exc).__name__}: {self.redact(str(exc))[:300]}") from None
        except Exception as exc:  # the HTTP stack failing on a reply (httpx decoding, a codec): not retried
            detail = self.redact(f"{type(exc).__name__}: {exc}")
            raise ProviderError(f"{self._who()} sent a response that could not be read: {detail[:300]}",
                                hint=UNREADABLE_HINT) from None
        vectors, usage = self._parse(content, len(batch), self.redact)
        return vectors, usage if usage is not None else sum(estimate_tokens(t) for t in batch)
    def _parse(self, content: bytes, count: int, redact: Callable[[str], str]) -> tuple[np.ndarray, int | None]:
        """Check a response body and turn it into a ``count × d`` float32 matrix in input order."""
        return parse_embeddings(content, count, self._who(), redact, self.settings.dimensions,
                                self.settings.expect_dimensions)


def _redact(text: str, key: str) -> str:
    return text.replace(key, "***") if key and key != _NO_KEY else text


__all__ = ["DEFAULT_BASE_URL", "MAX_INPUTS_PER_REQUEST", "OpenAIEncoder", "OpenAISettings",
           "check_no_credentials", "display_url", "estimate_tokens", "mask_credentials", "plan_batches",
           "retry_after_seconds"]
