"""``provider: python``: any function ``(texts, role) -> array`` named as ``package.module:function``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ProviderError
from ..spec import ModelSpec
from . import ProviderContext, check_vectors


class PythonCallableEncoder:
    """Calls a user function; its module's source hash is part of the cache identity."""

    def __init__(self, model: ModelSpec, context: ProviderContext) -> None:
        assert model.callable is not None
        self.model = model
        self.context = context
        self.module_name, _, self.function_name = model.callable.partition(":")
        self._function: Callable[..., Any] | None = None

    def _search_path(self) -> list[str]:
        return [str(self.context.spec_dir), str(self.context.rootdir)]

    def _module_file(self) -> Path | None:
        for attempt in range(2):
            try:
                found = importlib.util.find_spec(self.module_name)
            except (ImportError, ValueError):
                found = None
            if found is not None and found.origin and found.origin not in ("built-in", "frozen"):
                return Path(found.origin)
            if attempt == 0:
                self._extend_path()
        return None

    def _extend_path(self) -> None:
        for entry in self._search_path():
            if entry not in sys.path:
                sys.path.insert(0, entry)

    def identity(self) -> dict[str, Any]:
        origin = self._module_file()
        if origin is None:
            raise ProviderError(
                f"cannot find module {self.module_name!r} for callable {self.model.callable!r}",
                hint="the module must be importable, from the spec's folder or the rootdir",
            )
        return {
            "provider": "python",
            "callable": self.model.callable,
            "source": self.context.file_digest(origin),
            "normalize": self.model.normalize,
        }

    def _load(self) -> Callable[..., Any]:
        if self._function is None:
            self._extend_path()
            try:
                module = importlib.import_module(self.module_name)
            except Exception as exc:
                raise ProviderError(
                    f"cannot import {self.module_name!r} for callable {self.model.callable!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            function = getattr(module, self.function_name, None)
            if not callable(function):
                raise ProviderError(f"{self.module_name!r} has no function {self.function_name!r}")
            self._function = function
        return self._function

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        function = self._load()
        prompt = self.model.prompts.for_role(role) or ""
        inputs = [prompt + text for text in texts]
        vectors = check_vectors(function(inputs, role), len(texts), f"callable {self.model.callable}")
        if self.model.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        return vectors
