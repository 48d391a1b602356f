"""Embedding providers behind one small protocol; heavy libraries load only inside ``encode``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ProviderError
from ..spec import ModelSpec


class Encoder(Protocol):
    """Turns texts into full-dimension vectors. ``identity`` must be cheap (no model load)."""

    def identity(self) -> dict[str, Any]:
        """Everything that changes a vector, except the role's prompt (added by the caller)."""
        ...

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        """A ``len(texts) × d`` float array for the given role (``query`` or ``document``)."""
        ...


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may need from the run: where the spec lives and how to hash files."""

    spec_dir: Path
    rootdir: Path
    device: str | None
    file_digest: Callable[[Path], str]
    loaded_models: dict[Any, Any]


def make_encoder(model: ModelSpec, context: ProviderContext) -> Encoder:
    if model.provider == "sentence-transformers":
        from .sentence_transformers import SentenceTransformersEncoder

        return SentenceTransformersEncoder(model, context)
    if model.provider == "python":
        from .python_callable import PythonCallableEncoder

        return PythonCallableEncoder(model, context)
    if model.provider == "openai":
        from .openai_api import OpenAIEncoder, OpenAISettings

        assert model.name is not None
        return OpenAIEncoder(
            OpenAISettings(name=model.name, normalize=model.normalize, prompts=model.prompts,
                           batch_size=model.batch_size, **model.settings),
            context,
        )
    if model.provider == "voyage":
        from .voyage_api import VoyageEncoder, VoyageSettings

        assert model.name is not None
        return VoyageEncoder(
            VoyageSettings(name=model.name, normalize=model.normalize, prompts=model.prompts,
                           batch_size=model.batch_size, **model.settings),
            context,
        )
    if model.provider == "gemini":
        from .gemini_api import GeminiEncoder, GeminiSettings

        assert model.name is not None
        return GeminiEncoder(
            GeminiSettings(name=model.name, normalize=model.normalize, prompts=model.prompts,
                           batch_size=model.batch_size, **model.settings),
            context,
        )
    if model.provider == "cohere":
        from .cohere_api import CohereEncoder, CohereSettings

        assert model.name is not None
        return CohereEncoder(
            CohereSettings(name=model.name, normalize=model.normalize, prompts=model.prompts,
                           batch_size=model.batch_size, **model.settings),
            context,
        )
    if model.provider == "precomputed":
        from .precomputed import PrecomputedEncoder, PrecomputedSettings

        return PrecomputedEncoder(
            PrecomputedSettings(path=model.settings["path"], queries=model.settings.get("queries"),
                                normalize=model.normalize),
            context,
        )
    raise ProviderError(f"unknown provider {model.provider!r}")  # pragma: no cover - spec validates


def check_vectors(vectors: Any, count: int, who: str) -> np.ndarray:
    """Validate an encoder's output: a finite ``count × d`` float matrix."""
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"{who} returned something that is not a numeric array: {exc}") from None
    if array.ndim != 2 or array.shape[0] != count:
        raise ProviderError(f"{who} returned an array of shape {array.shape}; expected ({count}, dims)")
    if array.shape[1] == 0:
        raise ProviderError(f"{who} returned vectors of dimension 0")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ProviderError(
            f"{who} returned NaN or infinite values in {int(bad.sum())} of {count} vectors",
            hint="nothing was written to the cache; check the model's precision settings",
        )
    return array
