"""The boundary every provider sits behind: its exceptions become one message, its output is checked.

:func:`~pytest_mrlcheck.providers.make_encoder` wraps every encoder it builds in a
:class:`GuardedEncoder`, so a new provider gets this without doing anything: an exception that
is not the package's own (a library's ``OverflowError``, an ``httpx`` decoding error, a user
callable's ``KeyError``) becomes a :class:`~pytest_mrlcheck.guard.StepFailed` naming the step and
the model, with the provider's ``redact(text)`` (if it has one) applied to the message, and
raised without the original traceback, so no frame (and no API key in its locals) is ever
rendered. Every matrix ``encode`` returns is checked by :func:`check_vectors`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..guard import Step, step
from . import Encoder, check_vectors


class GuardedEncoder:
    """An :class:`~pytest_mrlcheck.providers.Encoder` behind the guard (``ref`` names the model)."""

    def __init__(self, inner: Encoder, ref: str) -> None:
        self.inner = inner
        self.ref = ref
        redact = getattr(inner, "redact", None)
        self.redactor: Callable[[str], str] | None = redact if callable(redact) else None

    def __repr__(self) -> str:
        return f"GuardedEncoder({self.inner!r})"

    def __getattr__(self, name: str) -> Any:
        """Counters and settings of the provider (``requests``, ``tokens``, ``settings``) read through."""
        if name == "inner":  # not set yet (during unpickling or a failed __init__)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def variant(self, **changes: Any) -> GuardedEncoder:
        """A probe encoder with other settings (the truncation contract), behind the same guard."""
        with step(Step.LOAD_MODEL, self.ref, redactor=self.redactor):
            inner = self.inner.variant(**changes)  # type: ignore[attr-defined]
        return GuardedEncoder(inner, self.ref)

    def identity(self) -> dict[str, Any]:
        with step(Step.LOAD_MODEL, self.ref, redactor=self.redactor):
            return self.inner.identity()

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        with step(Step.ENCODE, f"with {self.ref}", redactor=self.redactor):
            vectors = self.inner.encode(texts, role)
        return check_vectors(vectors, len(texts), self.ref)

    def summary(self) -> dict[str, Any]:
        """The provider's counters (requests, tokens, cost) when it keeps some."""
        summary = getattr(self.inner, "summary", None)
        if not callable(summary):
            return {}
        with step(Step.ENCODE, f"with {self.ref}", redactor=self.redactor):
            values: dict[str, Any] = summary()
        return values
