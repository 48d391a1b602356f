"""``provider: python``: any function ``(texts, role) -> array`` named as ``package.module:function``."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import ProviderError
from ..guard import Step, display_path, wrap
from ..spec import ModelSpec
from . import ProviderContext, check_vectors

_IMPORT_HINT = "the module must import cleanly (python -c 'import {module}' from the spec's folder)"


class PythonCallableEncoder:
    """Calls a user function; its module's source hash is part of the cache identity."""

    def __init__(self, model: ModelSpec, context: ProviderContext) -> None:
        assert model.callable is not None
        self.model = model
        self.context = context
        self.module_name, _, self.function_name = model.callable.partition(":")
        self.ref = f"python:{model.callable}"
        self._function: Callable[..., Any] | None = None

    def _search_path(self) -> list[str]:
        return [str(self.context.spec_dir), str(self.context.rootdir)]

    def _module_file(self) -> Path | None:
        for attempt in range(2):
            try:
                found = importlib.util.find_spec(self.module_name)
            except (ImportError, ValueError):
                found = None
            except Exception as exc:  # a parent package that fails to import
                raise wrap(Step.LOAD_MODEL, f"importing {self.module_name!r} for {self.ref}", exc,
                           hint=_IMPORT_HINT.format(module=self.module_name)) from None
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
            except Exception as exc:  # SyntaxError, an ImportError inside it, anything its top level raises
                raise wrap(Step.LOAD_MODEL, f"importing {self.module_name!r} for {self.ref}", exc,
                           hint=_IMPORT_HINT.format(module=self.module_name)) from None
            self._function = self._function_of(module)
        return self._function

    def _function_of(self, module: Any) -> Callable[..., Any]:
        file = getattr(module, "__file__", None)
        where = f"module {self.module_name!r}" + (f" ({display_path(file)})" if file else "")
        name = self.function_name
        try:
            function = getattr(module, name)
        except AttributeError:
            functions = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
            close = difflib.get_close_matches(name, functions, n=1)
            hint = (f"did you mean {self.module_name}:{close[0]}?" if close else
                    f"its functions: {', '.join(functions[:10]) or 'none'}")
            raise ProviderError(f"{where} has no function {name!r} (model.callable: {self.model.callable})",
                                hint=hint) from None
        except Exception as exc:  # a module __getattr__ that raises
            raise wrap(Step.LOAD_MODEL, f"looking up {name!r} in {where}", exc) from None
        if not callable(function):
            raise ProviderError(f"{self.module_name}.{name} is {type(function).__name__}, not a function "
                                f"(model.callable: {self.model.callable})",
                                hint="model.callable names a function (texts: list[str], role: str) -> array")
        return cast(Callable[..., Any], function)

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        function = self._load()
        prompt = self.model.prompts.for_role(role) or ""
        inputs = [prompt + text for text in texts]
        try:
            returned = function(inputs, role)
        except SystemExit as exc:  # sys.exit() in an encoder would end the whole run
            raise wrap(Step.ENCODE, f"with {self.ref}", exc) from None
        vectors = check_vectors(returned, len(texts), f"callable {self.model.callable}")
        if self.model.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        return vectors
