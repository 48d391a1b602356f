"""The descriptor code shared by the hosted-API providers (``voyage``, ``cohere``, ``gemini``).

Each provider subclasses :class:`HostedEncoder` and sets a few class attributes; the URL it
targets, how it names itself in messages, its repr and identity (the cache key), the role it
remembers for the request, the message for a missing client package and the hint for a status
all come from one implementation here. Only the client and one request stay in each provider.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import ProviderError
from .openai_api import OpenAIEncoder, OpenAISettings, check_no_credentials, display_url

RETRYABLE_STATUS = frozenset({408, 429})


class HostedEncoder(OpenAIEncoder):
    """An :class:`OpenAIEncoder` that talks to a vendor's API through the vendor's own client."""

    PROVIDER: ClassVar[str]  # the ``provider:`` name, first key of identity()
    TITLE: ClassVar[str]  # "Voyage" → "Voyage API <url> (model ...)"
    URL_ENV: ClassVar[str | None] = None  # the environment variable the vendor's client reads for its URL
    DEFAULT_URL: ClassVar[str]
    PACKAGE: ClassVar[str]  # the client package on PyPI
    EXTRA: ClassVar[str]  # the pytest-mrlcheck extra that installs it
    IDENTITY_FIELDS: ClassVar[tuple[str, ...]]  # settings fields in identity(), between dimensions and normalize
    DIMENSIONS_PARAM: ClassVar[str]  # the request field ``dimensions`` is sent as
    TUNING_FIELD: ClassVar[str]  # the provider's own setting named in the hint for a rejected request
    AUTH_STATUS: ClassVar[frozenset[int]] = frozenset({401, 403})

    def __init__(self, settings: OpenAISettings, context: Any) -> None:
        super().__init__(settings, context)
        self._role = "query"

    def _target_url(self) -> str:
        """The URL given to the client; one with ``user:password@`` is refused, as for ``openai``."""
        if self.settings.base_url:
            check_no_credentials(self.settings.base_url, "model.base_url")
            return self.settings.base_url
        from_env = os.environ.get(self.URL_ENV) if self.URL_ENV else None
        if from_env:
            check_no_credentials(from_env, f"${self.URL_ENV}")
            return from_env
        return self.DEFAULT_URL

    def _who(self) -> str:
        try:
            where = display_url(self._target_url())
        except ProviderError:
            where = "(invalid base_url)"
        return f"{self.TITLE} API {where} (model {self.settings.name!r})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.settings.name!r})"

    def identity(self) -> dict[str, Any]:
        settings = self.settings
        identity: dict[str, Any] = {"provider": self.PROVIDER, "base_url": self.base_url, "model": settings.name,
                                    "dimensions": settings.dimensions}
        identity.update((field, getattr(settings, field)) for field in self.IDENTITY_FIELDS)
        identity["normalize"] = settings.normalize
        return identity

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        self._role = role
        return super().encode(texts, role)

    def _missing_client(self) -> ProviderError:
        """The error for a client package that is not installed."""
        return ProviderError(
            f"the {self.PROVIDER} provider needs the {self.PACKAGE} package",
            hint=f"pip install 'pytest-mrlcheck[{self.EXTRA}]' (or pip install {self.PACKAGE})",
        )

    def _hint(self, status: int) -> str | None:
        """What to check after a status that is not retried."""
        if status in self.AUTH_STATUS:
            env = self.settings.api_key_env
            return f"check the key in ${env}" if env else "set model.api_key_env"
        if status in (400, 422):
            return (f"the server rejected the request: check the model name, dimensions ({self.DIMENSIONS_PARAM}) "
                    f"and {self.TUNING_FIELD} for this model")
        return None


__all__ = ["RETRYABLE_STATUS", "HostedEncoder"]
