"""Reaching ``hf:`` datasets: the hub or the local cache (offline mode), the optional libraries, and one split of
one config read as a ``datasets.Dataset``, with every library failure turned into one clear :class:`DataError`."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datapaths import excerpt
from ..datasets_known import HF_DEFAULT_COLUMNS
from ..errors import DataError

#: Seconds the hub gets to accept a TCP connection before a load runs offline (cache only).
PROBE_TIMEOUT = 3.0

_COMMIT = re.compile(r"[0-9a-f]{40}")
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_DATA_SUFFIXES: Mapping[str, tuple[str, dict[str, str]]] = {
    ".csv": ("csv", {}), ".tsv": ("csv", {"sep": "\t"}), ".json": ("json", {}), ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}), ".arrow": ("arrow", {}),
}
_MAKE_AVAILABLE = (
    "run once with network access to fill the Hugging Face datasets cache ({cache}; set HF_HOME or "
    "HF_DATASETS_CACHE to move it, and keep that folder in CI's cache), or point hf.path at a local "
    "folder saved with save_to_disk"
)


@dataclass(frozen=True)
class HFSource:
    """Where an ``hf:`` dataset lives and which part of it to read."""

    path: str  # hub id, hf://datasets/<id>, or a local folder or file (resolved by the caller)
    name: str | None = None  # the dataset's config (subset); retrieval: the prefix of its configs
    split: str = "test"
    revision: str | None = None  # a hub commit, branch or tag; pin it for reproducible numbers
    train_split: str = "train"  # classification: the rows the classifier is trained on
    qrels: str | None = None  # retrieval: a separate judgements dataset (BEIR on the hub)
    cache_dir: Path | None = None  # the datasets cache (default: HF_DATASETS_CACHE)

    @property
    def is_local(self) -> bool:
        return is_local_path(self.path)

    @property
    def label(self) -> str:
        """A short name for reports: ``hf:owner/name[config]@revision``."""
        if self.is_local:
            return str(self.path)
        text = "hf:" + self.path.removeprefix("hf://datasets/")
        if self.name:
            text += f"[{self.name}]"
        if self.revision:
            text += f"@{self.revision}"
        return text

    def describe(self, split: str | None = None) -> str:
        """``dataset 'owner/name' (config 'x', split 'test', revision 'abc')`` for messages."""
        what = "local dataset" if self.is_local else "dataset"
        details = [f"config {self.name!r}"] if self.name else []
        details.append(f"split {split or self.split!r}")
        if self.revision:
            details.append(f"revision {self.revision!r}")
        return f"{what} {self.path!r} ({', '.join(details)})"


def is_local_path(path: str) -> bool:
    if path.startswith("hf://"):
        return False
    return Path(path).is_absolute() or path.startswith(("./", "../", "~")) or Path(path).exists()


# --------------------------------------------------------------------------- network and offline mode


def offline_requested() -> bool:
    """Whether the environment asks for offline mode (``HF_HUB_OFFLINE=1`` and friends), read now."""
    return any(os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for name in _OFFLINE_VARIABLES)


def hub_endpoint() -> str:
    """The hub's address (``HF_ENDPOINT`` or https://huggingface.co)."""
    return os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co"


_REACHABLE: dict[str, bool] = {}


def hub_reachable(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the hub answers an HTTP ``HEAD`` of its root within ``timeout`` seconds.

    Goes through the proxy the environment names (``HTTPS_PROXY``), as the hub client does. Any answer
    but a gateway error counts (a 404 too; a certificate the system store rejects too: the client may
    trust it). The request runs in a daemon thread, so a hanging name lookup cannot hold the caller
    longer than ``timeout``. The answer is remembered for the process.
    """
    url = (endpoint or hub_endpoint()).rstrip("/") + "/"
    if url not in _REACHABLE:
        answer: list[bool] = []

        def attempt() -> None:
            request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "pytest-mrlcheck"})
            try:
                with urllib.request.urlopen(request, timeout=timeout):
                    answer.append(True)
            except urllib.error.HTTPError as exc:
                answer.append(exc.code not in (502, 503, 504))
            except urllib.error.URLError as exc:
                answer.append(isinstance(exc.reason, ssl.SSLError))
            except (OSError, ValueError):
                answer.append(False)

        thread = threading.Thread(target=attempt, name="mrlcheck-hub-probe", daemon=True)
        thread.start()
        thread.join(timeout + 0.5)
        _REACHABLE[url] = bool(answer and answer[0])
    return _REACHABLE[url]


def offline_reason() -> str | None:
    """Why a hub load must run offline, or None when the hub can be used."""
    if offline_requested():
        return "offline mode is set (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
    if not hub_reachable():
        return f"the hub ({hub_endpoint()}) could not be reached within {PROBE_TIMEOUT:g} s"
    return None


def datasets_module() -> Any:
    try:
        return importlib.import_module("datasets")
    except ImportError:
        raise DataError("hf: data needs the 'datasets' package",
                        hint="pip install 'pytest-mrlcheck[hub]' (or: pip install datasets)") from None


def mteb_module() -> Any:
    try:
        return importlib.import_module("mteb")
    except ImportError:
        raise DataError("mteb: data needs the 'mteb' package",
                        hint="pip install 'pytest-mrlcheck[hub]' (or: pip install mteb)") from None


def datasets_cache(cache_dir: Path | None) -> str:
    if cache_dir is not None:
        return str(cache_dir)
    return str(datasets_module().config.HF_DATASETS_CACHE)


@contextlib.contextmanager
def library_mode(offline: bool, cache_dir: Path | None = None) -> Iterator[None]:
    """Run ``datasets``/``huggingface_hub`` offline (cache only) and without progress bars, then restore.

    Both libraries read ``HF_HUB_OFFLINE`` once, when imported: the flags are switched on their modules.
    """
    datasets = datasets_module()
    hub_constants: Any = importlib.import_module("huggingface_hub.constants")
    saved_flags = (hub_constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE)
    saved_cache = datasets.config.HF_DATASETS_CACHE
    bars = datasets.utils.logging.is_progress_bar_enabled()
    if offline:
        hub_constants.HF_HUB_OFFLINE = True
        datasets.config.HF_HUB_OFFLINE = True
        datasets.config.HF_DATASETS_OFFLINE = True
    if cache_dir is not None:
        datasets.config.HF_DATASETS_CACHE = Path(cache_dir)
    datasets.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        (hub_constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE,
         datasets.config.HF_DATASETS_OFFLINE) = saved_flags
        datasets.config.HF_DATASETS_CACHE = saved_cache
        if bars:
            datasets.utils.logging.enable_progress_bar()


def check_cached_revision(path: str, config: str | None, revision: str | None, what: str, offline: str,
                           cache_dir: Path | None) -> None:
    """Offline, the pinned commit must be the one ``datasets`` reads: it takes the newest cached one.

    The datasets cache keeps a hub dataset under ``<owner>___<name>/<config>/<version>/<commit>/``.
    Only a full commit hash can be checked (a branch or tag name says nothing offline).
    """
    if revision is None or not _COMMIT.fullmatch(revision):
        return
    naming = importlib.import_module("datasets.naming")
    parts = path.removeprefix("hf://datasets/").split("/")
    parts[-1] = naming.camelcase_to_snakecase(parts[-1])
    root = Path(datasets_cache(cache_dir)).expanduser() / "___".join(parts)
    cached = [entry for entry in root.glob(f"{config or '*'}/*/*") if entry.is_dir()]
    if not cached:
        return  # not cached at all: the load fails with the usual message
    newest = max(cached, key=lambda entry: entry.stat().st_mtime).name
    if newest != revision:
        held = ", ".join(sorted({entry.name for entry in cached}))
        raise DataError(
            f"{what}: offline, the datasets library would read the newest cached revision {newest}, not the pinned "
            f"one (cached: {held}), and {offline}",
            hint=_MAKE_AVAILABLE.format(cache=datasets_cache(cache_dir))
            + "; or pin the cached revision, or delete the others from the cache",
        )


def load_error(exc: Exception, what: str, offline: str | None, cache_dir: Path | None) -> DataError:
    """A library exception from loading ``what`` → one clear :class:`DataError`."""
    name = type(exc).__name__
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    text = excerpt(first, 200)[1:-1]  # a library message may quote the file: keep it short
    if isinstance(exc, ConnectionError) or name in ("OfflineModeIsEnabled", "LocalEntryNotFoundError"):
        why = offline or "the hub could not be reached"
        return DataError(f"{what} is not in the local Hugging Face cache, and {why}",
                         hint=_MAKE_AVAILABLE.format(cache=datasets_cache(cache_dir)))
    if name == "DatasetNotFoundError":
        return DataError(f"{what}: {text}",
                         hint="check the dataset id (and revision); a gated or private dataset needs HF_TOKEN")
    if offline and isinstance(exc, FileNotFoundError | ValueError) and "cache" in text.lower():
        return DataError(f"{what} is not in the local Hugging Face cache ({text}), and {offline}",
                         hint=_MAKE_AVAILABLE.format(cache=datasets_cache(cache_dir)))
    return DataError(f"cannot load {what}: {name}: {text}")


# --------------------------------------------------------------------------- reading tables


def _is_saved(folder: Path) -> bool:
    """Whether ``folder`` was written by ``save_to_disk`` (a Dataset or a DatasetDict)."""
    return (folder / "dataset_dict.json").is_file() or (
        (folder / "dataset_info.json").is_file() and (folder / "state.json").is_file())


def _open(path: str, config: str | None, source: HFSource, split: str) -> Any:
    """The Dataset or DatasetDict at ``path`` (local or hub), for the ``config``."""
    datasets = datasets_module()
    if is_local_path(path):
        local = Path(path).expanduser()
        if not local.exists():
            raise DataError(f"hf.path: no such file or folder: {local}",
                            hint="a local path is relative to the spec file; a hub id looks like owner/name")
        if local.is_dir() and _is_saved(local):
            if config is not None:
                raise DataError(f"{local} was saved with save_to_disk and has no configs; hf.name {config!r} "
                                "cannot apply", hint="drop hf.name, or save each config to its own folder")
            return datasets.load_from_disk(str(local))
        if local.is_file():
            if local.suffix.lower() not in _DATA_SUFFIXES:
                raise DataError(f"{local}: cannot read {local.suffix or 'a file without suffix'} files",
                                hint=f"data files: {', '.join(_DATA_SUFFIXES)}; or a folder saved with save_to_disk")
            builder, options = _DATA_SUFFIXES[local.suffix.lower()]
            return datasets.load_dataset(builder, data_files={split: str(local)},
                                         cache_dir=_cache_arg(source), **options)
        return datasets.load_dataset(str(local), config, cache_dir=_cache_arg(source))
    return datasets.load_dataset(path, config, revision=source.revision, cache_dir=_cache_arg(source))


def _cache_arg(source: HFSource) -> str | None:
    return None if source.cache_dir is None else str(source.cache_dir)


def pick_split(table: Any, split: str, what: str, any_single: bool = False) -> Any:
    """One split of a DatasetDict (a single saved Dataset is its own split)."""
    datasets = datasets_module()
    if isinstance(table, datasets.Dataset):
        return table
    splits = list(table)
    if split in table:
        return table[split]
    if any_single and len(splits) == 1:
        return table[splits[0]]
    hint = f"set the split to one of: {', '.join(splits)}" if splits else "the dataset is empty"
    if splits == ["train"]:
        hint += " (data files without a split in their name, like pairs.csv, are the split 'train'; name " \
                "them after their split, e.g. test.csv)"
    raise DataError(f"{what} has no split {split!r}", hint=hint)


def load_table(source: HFSource, path: str, config: str | None, split: str, *, any_single: bool = False) -> Any:
    """Read one split of one config as a ``datasets.Dataset``, offline when the hub cannot be used."""
    what = HFSource(path, config, split, source.revision).describe()
    offline = None if is_local_path(path) else offline_reason()
    if offline is not None:
        check_cached_revision(path, config, source.revision, what, offline, source.cache_dir)
    with library_mode(offline is not None or is_local_path(path), source.cache_dir):
        try:
            table = _open(path, config, source, split)
        except DataError:
            raise
        except Exception as exc:  # the libraries raise many types; every one is a data problem here
            raise load_error(exc, what, offline, source.cache_dir) from exc
    return pick_split(table, split, what, any_single)


def source_path(source: HFSource) -> Path:
    return Path(source.path).expanduser() if source.is_local else Path(source.label)


def limited(table: Any, limit: int | None) -> Any:
    if limit is None or limit >= len(table):
        return table
    return table.select(range(limit))


def resolve_columns(table: Any, kind: str, columns: Mapping[str, str | int], what: str) -> dict[str, str]:
    """Role → column of ``table``: the spec's mapping, else the first default name the table has."""
    available = list(table.column_names)
    resolved: dict[str, str] = {}
    for role, candidates in HF_DEFAULT_COLUMNS[kind].items():
        chosen = columns.get(role)
        if chosen is None:
            chosen = next((name for name in candidates if name in available), candidates[0])
        if not isinstance(chosen, str) or chosen not in available:
            raise DataError(f"{what}: column {chosen!r} (for {role}) is not in the dataset's columns {available}",
                            hint=f"map it in task.data.columns, e.g. columns: {{{role}: {available[0]!r}}}"
                            if available else None)
        resolved[role] = chosen
    return resolved


def column_values(table: Any, column: str) -> list[Any]:
    """A column as Python values; class labels become their names."""
    values = list(table[column])
    feature = table.features.get(column)
    names = getattr(feature, "names", None)
    if names and callable(getattr(feature, "int2str", None)):
        return [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in values]
    return values
