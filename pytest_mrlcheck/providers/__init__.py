"""Embedding providers behind one small protocol; heavy libraries load only inside ``encode``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..datapaths import ANYWHERE, DataAccess
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
    data_access: DataAccess = ANYWHERE  # which data files (precomputed vectors) the spec may read


def model_ref(model: ModelSpec) -> str:
    """How messages name a model: ``provider:name`` (``python:module:function``, ``openai:text-embedding-3-small``)."""
    return f"{model.provider}:{model.label}"


def make_encoder(model: ModelSpec, context: ProviderContext) -> Encoder:
    """The model's encoder, behind :class:`~pytest_mrlcheck.providers.guarded.GuardedEncoder`.

    A new provider only adds a branch to ``_build``: the guard (exceptions → one message, the
    provider's ``redact`` applied, output checked) comes with it.
    """
    from ..guard import Step, step
    from .guarded import GuardedEncoder

    ref = model_ref(model)
    with step(Step.LOAD_MODEL, ref):
        inner = _build(model, context)
    return GuardedEncoder(inner, ref)


# API providers: module, encoder class, settings class (all built from the same spec fields)
_API_PROVIDERS = {
    "openai": ("openai_api", "OpenAIEncoder", "OpenAISettings"),
    "voyage": ("voyage_api", "VoyageEncoder", "VoyageSettings"),
    "gemini": ("gemini_api", "GeminiEncoder", "GeminiSettings"),
    "cohere": ("cohere_api", "CohereEncoder", "CohereSettings"),
}


def _build(model: ModelSpec, context: ProviderContext) -> Encoder:
    if model.provider == "sentence-transformers":
        from .sentence_transformers import SentenceTransformersEncoder

        return SentenceTransformersEncoder(model, context)
    if model.provider == "python":
        from .python_callable import PythonCallableEncoder

        return PythonCallableEncoder(model, context)
    if model.provider in _API_PROVIDERS:
        import importlib

        module, encoder_name, settings_name = _API_PROVIDERS[model.provider]
        loaded = importlib.import_module(f"{__name__}.{module}")
        assert model.name is not None
        settings = getattr(loaded, settings_name)(name=model.name, normalize=model.normalize, prompts=model.prompts,
                                                  batch_size=model.batch_size, **model.settings)
        encoder: Encoder = getattr(loaded, encoder_name)(settings, context)
        return encoder
    if model.provider == "precomputed":
        from .precomputed import PrecomputedEncoder, PrecomputedSettings

        return PrecomputedEncoder(
            PrecomputedSettings(path=model.settings["path"], queries=model.settings.get("queries"),
                                normalize=model.normalize),
            context,
        )
    raise ProviderError(f"unknown provider {model.provider!r}")  # pragma: no cover - spec validates


def _what(value: Any) -> str:
    """A short description of what an encoder returned, for messages."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("builtins.", "")


def check_vectors(vectors: Any, count: int, who: str) -> np.ndarray:
    """Validate an encoder's output: a finite ``count × d`` matrix of real numbers, as float32."""
    expected = f"expected an array of shape ({count}, dims) of real numbers, one row per text"
    if vectors is None:
        raise ProviderError(f"{who} returned None; {expected}", hint="return np.stack(vectors), not nothing")
    try:
        raw = np.asarray(vectors)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"{who} returned {_what(vectors)} that is not a numeric array ({exc}); {expected}") \
            from None
    if raw.dtype.kind not in "biuf":
        raise ProviderError(f"{who} returned {_what(raw)} (dtype {raw.dtype}: not real numbers); {expected}",
                            hint="rows of different lengths or Python objects give dtype object")
    if raw.ndim != 2 or raw.shape[0] != count:
        raise ProviderError(f"{who} returned {_what(vectors)} of shape {raw.shape}; {expected}")
    if raw.shape[1] == 0:
        raise ProviderError(f"{who} returned vectors of dimension 0")
    with np.errstate(over="ignore", invalid="ignore"):
        array = raw.astype(np.float32)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        overflow = raw.dtype.kind == "f" and bool(np.isfinite(raw[bad]).all())
        what = "values too large for float32" if overflow else "NaN or infinite values"
        raise ProviderError(
            f"{who} returned {what} in {int(bad.sum())} of {count} vectors",
            hint="nothing was written to the cache; check the model's precision settings",
        )
    return array
