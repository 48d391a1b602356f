"""Task data from Hugging Face datasets (``hf:``) and from MTEB's own task loaders (``mteb:``).

Both produce the data classes of :mod:`pytest_mrlcheck.data` (:class:`StsData`, :class:`RetrievalData`,
:class:`LabelledTexts`, :class:`PairLabels`), so the evaluation cannot tell where the data came from.
``datasets`` and ``mteb`` are optional and imported only when a spec uses them (``mteb`` takes seconds).

Where the data comes from (:func:`load_hf`):

- **A local path** (absolute, starting with ``./``, ``../`` or ``~``, or an existing folder) never touches
  the network:

  - a folder written by ``Dataset.save_to_disk`` (one table; ``split`` is only a label) or
    ``DatasetDict.save_to_disk`` (``split`` picks the table);
  - any other folder is read by ``datasets.load_dataset(folder, name)``: data files (csv, tsv, json,
    jsonl, parquet, arrow) named after their split (``test.csv``, ``data/test-00000.parquet``,
    ``test/…``), or the ``configs:`` of the folder's README.md. Files without a split in their name are
    the split ``train``;
  - a single data file is the split ``split``.

- **Anything else is a hub id** (``owner/name``; ``hf://datasets/owner/name`` forces the hub). The hub is
  used when it answers a TCP connection within :data:`PROBE_TIMEOUT` seconds; when it does not, or when
  ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` is set, the call runs in the libraries' offline mode and
  reads only the ``datasets`` cache (``HF_DATASETS_CACHE``, by default ``~/.cache/huggingface/datasets``),
  which an earlier online load of the same dataset filled. A dataset that is not there fails at once
  with a :class:`DataError` that says how to make it available: no retries, no waiting on timeouts.

Retrieval reads the MTEB (v2) layout, the one ``mteb`` publishes on the hub: configs ``corpus`` (``_id``
or ``id``, ``title``, ``text``), ``queries`` (``_id`` or ``id``, ``text``) and ``default`` or ``qrels``
(``query-id``, ``corpus-id``, ``score``; the split is ``split``); with ``name`` set, the configs are
``{name}-corpus``, ``{name}-queries`` and ``{name}-qrels`` (MTEB's multilingual layout). A corpus or
query config with a single split is used whatever that split is called. The older BEIR-on-hub layout
(``BeIR/scifact`` with its judgements in ``BeIR/scifact-qrels``) works with ``qrels=`` naming the
judgements dataset. A local folder may instead hold the three parts as sub-folders ``corpus/``,
``queries/`` and ``qrels/`` (each a ``save_to_disk`` folder or a folder of files). A plain BEIR folder
(``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``) is read by the local loader
(:func:`pytest_mrlcheck.data.load_beir`), not here.

:func:`load_mteb` asks ``mteb`` for the task (``mteb.get_task``) and runs the task's own ``load_data``, so
the rows are the ones MTEB evaluates: its pinned dataset revision, its column renames and its
subsampling. The same offline rules apply.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import (
    LabelledTexts,
    PairLabels,
    RetrievalData,
    StsData,
    binary_label,
    build_retrieval_data,
    identifier_value,
    label_value,
    number_value,
    text_value,
)
from .datapaths import excerpt
from .errors import DataError

HubData = StsData | RetrievalData | LabelledTexts | PairLabels

#: Seconds the hub gets to accept a TCP connection before a load runs offline (cache only).
PROBE_TIMEOUT = 3.0

#: The task kinds these loaders produce.
HUB_KINDS = ("sts", "retrieval", "classification", "clustering", "pair-classification")

#: MTEB task type → the task kind that evaluates it.
MTEB_TYPES: Mapping[str, str] = {
    "STS": "sts",
    "Retrieval": "retrieval",
    "Classification": "classification",
    "Clustering": "clustering",
    "PairClassification": "pair-classification",
}

#: Column names tried, in order, for each role a kind reads when ``columns`` does not name one.
#: The first names are the local loaders' defaults or MTEB's (``sentence1``/``sentence2``/``labels`` for
#: pair classification, ``sentences``/``labels`` for clustering).
HF_DEFAULT_COLUMNS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "sts": {"text1": ("sentence1",), "text2": ("sentence2",), "score": ("score",)},
    "classification": {"text": ("text",), "label": ("label", "labels")},
    "clustering": {"text": ("sentences", "text"), "label": ("labels", "label")},
    "pair-classification": {"text1": ("sentence1", "text1"), "text2": ("sentence2", "text2"),
                            "label": ("labels", "label")},
}

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
        return _is_local(self.path)

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


def _is_local(path: str) -> bool:
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


def _offline_reason() -> str | None:
    """Why a hub load must run offline, or None when the hub can be used."""
    if offline_requested():
        return "offline mode is set (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
    if not hub_reachable():
        return f"the hub ({hub_endpoint()}) could not be reached within {PROBE_TIMEOUT:g} s"
    return None


def _datasets() -> Any:
    try:
        return importlib.import_module("datasets")
    except ImportError:
        raise DataError("hf: data needs the 'datasets' package",
                        hint="pip install 'pytest-mrlcheck[hub]' (or: pip install datasets)") from None


def _mteb() -> Any:
    try:
        return importlib.import_module("mteb")
    except ImportError:
        raise DataError("mteb: data needs the 'mteb' package",
                        hint="pip install 'pytest-mrlcheck[hub]' (or: pip install mteb)") from None


def _datasets_cache(cache_dir: Path | None) -> str:
    if cache_dir is not None:
        return str(cache_dir)
    return str(_datasets().config.HF_DATASETS_CACHE)


@contextlib.contextmanager
def _library_mode(offline: bool, cache_dir: Path | None = None) -> Iterator[None]:
    """Run ``datasets``/``huggingface_hub`` offline (cache only) and without progress bars, then restore.

    Both libraries read ``HF_HUB_OFFLINE`` once, when imported: the flags are switched on their modules.
    """
    datasets = _datasets()
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


def _check_cached_revision(path: str, config: str | None, revision: str | None, what: str, offline: str,
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
    root = Path(_datasets_cache(cache_dir)).expanduser() / "___".join(parts)
    cached = [entry for entry in root.glob(f"{config or '*'}/*/*") if entry.is_dir()]
    if not cached:
        return  # not cached at all: the load fails with the usual message
    newest = max(cached, key=lambda entry: entry.stat().st_mtime).name
    if newest != revision:
        held = ", ".join(sorted({entry.name for entry in cached}))
        raise DataError(
            f"{what}: offline, the datasets library would read the newest cached revision {newest}, not the pinned "
            f"one (cached: {held}), and {offline}",
            hint=_MAKE_AVAILABLE.format(cache=_datasets_cache(cache_dir))
            + "; or pin the cached revision, or delete the others from the cache",
        )


def _load_error(exc: Exception, what: str, offline: str | None, cache_dir: Path | None) -> DataError:
    """A library exception from loading ``what`` → one clear :class:`DataError`."""
    name = type(exc).__name__
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    text = excerpt(first, 200)[1:-1]  # a library message may quote the file: keep it short
    if isinstance(exc, ConnectionError) or name in ("OfflineModeIsEnabled", "LocalEntryNotFoundError"):
        why = offline or "the hub could not be reached"
        return DataError(f"{what} is not in the local Hugging Face cache, and {why}",
                         hint=_MAKE_AVAILABLE.format(cache=_datasets_cache(cache_dir)))
    if name == "DatasetNotFoundError":
        return DataError(f"{what}: {text}",
                         hint="check the dataset id (and revision); a gated or private dataset needs HF_TOKEN")
    if offline and isinstance(exc, FileNotFoundError | ValueError) and "cache" in text.lower():
        return DataError(f"{what} is not in the local Hugging Face cache ({text}), and {offline}",
                         hint=_MAKE_AVAILABLE.format(cache=_datasets_cache(cache_dir)))
    return DataError(f"cannot load {what}: {name}: {text}")


# --------------------------------------------------------------------------- reading tables


def _is_saved(folder: Path) -> bool:
    """Whether ``folder`` was written by ``save_to_disk`` (a Dataset or a DatasetDict)."""
    return (folder / "dataset_dict.json").is_file() or (
        (folder / "dataset_info.json").is_file() and (folder / "state.json").is_file())


def _open(path: str, config: str | None, source: HFSource, split: str) -> Any:
    """The Dataset or DatasetDict at ``path`` (local or hub), for the ``config``."""
    datasets = _datasets()
    if _is_local(path):
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


def _pick_split(table: Any, split: str, what: str, any_single: bool = False) -> Any:
    """One split of a DatasetDict (a single saved Dataset is its own split)."""
    datasets = _datasets()
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


def _load_table(source: HFSource, path: str, config: str | None, split: str, *, any_single: bool = False) -> Any:
    """Read one split of one config as a ``datasets.Dataset``, offline when the hub cannot be used."""
    what = HFSource(path, config, split, source.revision).describe()
    offline = None if _is_local(path) else _offline_reason()
    if offline is not None:
        _check_cached_revision(path, config, source.revision, what, offline, source.cache_dir)
    with _library_mode(offline is not None or _is_local(path), source.cache_dir):
        try:
            table = _open(path, config, source, split)
        except DataError:
            raise
        except Exception as exc:  # the libraries raise many types; every one is a data problem here
            raise _load_error(exc, what, offline, source.cache_dir) from exc
    return _pick_split(table, split, what, any_single)


def _source_path(source: HFSource) -> Path:
    return Path(source.path).expanduser() if source.is_local else Path(source.label)


def _limited(table: Any, limit: int | None) -> Any:
    if limit is None or limit >= len(table):
        return table
    return table.select(range(limit))


def _resolve_columns(table: Any, kind: str, columns: Mapping[str, str | int], what: str) -> dict[str, str]:
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


def _values(table: Any, column: str) -> list[Any]:
    """A column as Python values; class labels become their names."""
    values = list(table[column])
    feature = table.features.get(column)
    names = getattr(feature, "names", None)
    if names and callable(getattr(feature, "int2str", None)):
        return [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in values]
    return values


# --------------------------------------------------------------------------- rows → task data


def _intern(index: dict[str, int], text: Any, what: str, row: int, role: str) -> int:
    return index.setdefault(text_value(text, f"{what}: row {row}", role), len(index))


def sts_data(first: Sequence[Any], second: Sequence[Any], scores: Sequence[Any], what: str, source: Path) -> StsData:
    """Sentence pairs with gold scores → :class:`StsData` (the checks of the csv loader)."""
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    gold: list[float] = []
    for row, (a, b, raw) in enumerate(zip(first, second, scores, strict=True), start=1):
        score = number_value(raw, f"{what}: row {row}", "score")
        left.append(_intern(index, a, what, row, "text1"))
        right.append(_intern(index, b, what, row, "text2"))
        gold.append(score)
    if not gold:
        raise DataError(f"{what}: no sentence pairs found (the dataset is empty)")
    if len(gold) < 3:
        raise DataError(f"{what}: only {len(gold)} pairs; a correlation needs at least 3")
    if len(set(gold)) == 1:
        raise DataError(f"{what}: every gold score is {gold[0]}; a correlation needs varied scores")
    return StsData(tuple(index), np.array(left, dtype=np.intp), np.array(right, dtype=np.intp),
                   np.array(gold, dtype=np.float64), source)


def _flatten(*columns: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of the columns; a row whose cells are lists (MTEB's one-row-per-set layout) gives one row each."""
    rows: list[tuple[Any, ...]] = []
    for number, cells in enumerate(zip(*columns, strict=True), start=1):
        if isinstance(cells[0], list):
            lengths = {len(cell) for cell in cells if isinstance(cell, list)}
            if len(lengths) != 1 or not all(isinstance(cell, list) for cell in cells):
                raise DataError(f"row {number}: list cells of different lengths; cannot pair them up")
            rows.extend(zip(*cells, strict=True))
        else:
            rows.append(cells)
    return rows


def labelled_texts(parts: Sequence[tuple[str, Sequence[Any], Sequence[Any]]], what: str, source: Path,
                   limit: int | None = None) -> LabelledTexts:
    """``(split label, texts, labels)`` parts → :class:`LabelledTexts`.

    A hierarchical label (a list per text, MTEB's clustering) counts by its first, coarsest level.
    ``limit`` keeps the first N texts of each part.
    """
    index: dict[str, int] = {}
    rows: list[int] = []
    labels: list[str] = []
    splits: list[str] = []
    for split, texts, raw_labels in parts:
        try:
            pairs = _flatten(texts, raw_labels)
        except DataError as exc:
            raise DataError(f"{what}: {exc.message}") from None
        if limit is not None:
            pairs = pairs[:limit]
        for row, (text, label) in enumerate(pairs, start=1):
            if isinstance(label, list):
                label = label[0] if label else None
            rows.append(_intern(index, text, what, row, "text"))
            labels.append(label_value(label, f"{what}: row {row}"))
            splits.append(split)
    if not rows:
        raise DataError(f"{what}: no rows found (the dataset is empty)")
    if len(set(labels)) < 2:
        raise DataError(f"{what}: every row has the label {excerpt(labels[0])}; at least two classes are needed")
    return LabelledTexts(tuple(index), np.array(rows, dtype=np.intp), tuple(labels), tuple(splits), source)


def pair_labels(first: Sequence[Any], second: Sequence[Any], raw_labels: Sequence[Any], what: str, source: Path,
                limit: int | None = None) -> PairLabels:
    """Text pairs with 0/1 labels → :class:`PairLabels` (MTEB's single-row-of-lists layout is flattened)."""
    try:
        triples = _flatten(first, second, raw_labels)
    except DataError as exc:
        raise DataError(f"{what}: {exc.message}") from None
    if limit is not None:
        triples = triples[:limit]
    index: dict[str, int] = {}
    left: list[int] = []
    right: list[int] = []
    labels: list[int] = []
    for row, (a, b, raw) in enumerate(triples, start=1):
        labels.append(binary_label(raw, f"{what}: row {row}"))
        left.append(_intern(index, a, what, row, "text1"))
        right.append(_intern(index, b, what, row, "text2"))
    if not labels:
        raise DataError(f"{what}: no pairs found (the dataset is empty)")
    if len(set(labels)) < 2:
        raise DataError(f"{what}: every pair has label {labels[0]}; average precision needs both classes")
    return PairLabels(tuple(index), np.array(left, dtype=np.intp), np.array(right, dtype=np.intp),
                      np.array(labels, dtype=np.int64), source)


def _id_column(table: Any, what: str) -> str:
    for name in ("_id", "id"):
        if name in table.column_names:
            return name
    raise DataError(f"{what}: no id column ('_id' or 'id') in {list(table.column_names)}")


def _records(table: Any, what: str, fields: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(id, {field: value})`` per row, checking the ids are unique."""
    ids = [identifier_value(value, f"{what}: row {row}") for row, value in
           enumerate(table[_id_column(table, what)], start=1)]
    seen: dict[str, int] = {}
    for row, identifier in enumerate(ids, start=1):
        if identifier in seen:
            raise DataError(f"{what}: row {row}: duplicate id {excerpt(identifier)} (first in row {seen[identifier]})")
        seen[identifier] = row
    columns = {field: list(table[field]) if field in table.column_names else [None] * len(ids) for field in fields}
    return [(identifier, {field: columns[field][i] for field in fields}) for i, identifier in enumerate(ids)]


def retrieval_data(corpus: Sequence[tuple[str, dict[str, Any]]], queries: Sequence[tuple[str, dict[str, Any]]],
                   judgements: Iterator[tuple[str, str, Any]] | Sequence[tuple[str, str, Any]], *, what: str,
                   source: Path, document: str = "{title} {text}", limit: int | None = None) -> RetrievalData:
    """Hub records → :class:`RetrievalData`, by the same rules as the BEIR folder loader."""
    return build_retrieval_data(corpus, queries, judgements, what=what, source=source, document=document,
                                limit=limit)


# --------------------------------------------------------------------------- hf:


def _check_kind(kind: str, where: str) -> None:
    if kind not in HUB_KINDS:
        raise DataError(f"task.kind {kind} cannot read {where} data",
                        hint=f"{where} data serves {', '.join(HUB_KINDS)}; use a local file for {kind}")


def load_hf(source: HFSource, kind: str, columns: Mapping[str, str | int] | None = None, limit: int | None = None,
            *, document: str = "{title} {text}") -> HubData:
    """Read a Hugging Face dataset (hub id or local folder) as the task data of ``kind``.

    ``columns`` maps roles to column names as in ``task.data.columns`` (sts: ``text1``/``text2``/``score``;
    classification and clustering: ``text``/``label``; pair-classification: ``text1``/``text2``/``label``);
    roles it leaves out take :data:`HF_DEFAULT_COLUMNS`. Classification trains on ``source.train_split``
    and evaluates ``source.split``; ``limit`` keeps the first N rows of each (N judged queries for
    retrieval, N pairs for STS). ``document`` is the retrieval document template.
    """
    _check_kind(kind, "hf:")
    columns = columns or {}
    where = _source_path(source)
    if kind == "retrieval":
        return _load_hf_retrieval(source, document, limit)
    what = source.describe()
    table = _load_table(source, source.path, source.name, source.split)
    mapped = _resolve_columns(table, kind, columns, what)
    table = _limited(table, limit)
    if kind == "sts":
        return sts_data(_values(table, mapped["text1"]), _values(table, mapped["text2"]),
                        _values(table, mapped["score"]), what, where)
    if kind == "pair-classification":
        return pair_labels(_values(table, mapped["text1"]), _values(table, mapped["text2"]),
                           _values(table, mapped["label"]), what, where, limit)
    if kind == "clustering":
        return labelled_texts([("", _values(table, mapped["text"]), _values(table, mapped["label"]))], what, where,
                              limit)
    # classification: the training rows come from their own split, labelled "train" for the scorer
    if source.train_split == source.split:
        raise DataError(f"{what}: the evaluation split is also the training split ({source.split!r})",
                        hint="evaluate another split (task.data.split), or set hf.train_split")
    train = _load_table(source, source.path, source.name, source.train_split)
    train_mapped = _resolve_columns(train, kind, columns, source.describe(source.train_split))
    train = _limited(train, limit)
    return labelled_texts(
        [("train", _values(train, train_mapped["text"]), _values(train, train_mapped["label"])),
         (source.split, _values(table, mapped["text"]), _values(table, mapped["label"]))],
        what, where, limit)


def _load_hf_retrieval(source: HFSource, document: str, limit: int | None) -> RetrievalData:
    prefix = f"{source.name}-" if source.name else ""
    local = Path(source.path).expanduser() if source.is_local else None
    parts_as_folders = local is not None and (local / "corpus").is_dir() and (local / "queries").is_dir()

    def part(config: str) -> Any:
        if parts_as_folders:
            assert local is not None
            return _load_table(source, str(local / config), None, source.split, any_single=True)
        return _load_table(source, source.path, prefix + config, source.split, any_single=True)

    corpus_table, queries_table = part("corpus"), part("queries")
    if source.qrels is not None:
        qrels_table = _load_table(source, source.qrels, None, source.split)
    elif parts_as_folders:
        assert local is not None
        qrels_table = _load_table(source, str(local / "qrels"), None, source.split)
    else:
        # MTEB names the judgements config "default" ("{name}-qrels" when multilingual); some sets name it "qrels"
        config = f"{source.name}-qrels" if source.name else "default"
        try:
            qrels_table = _load_table(source, source.path, config, source.split)
        except DataError as first_error:
            if source.name:
                raise
            try:
                qrels_table = _load_table(source, source.path, "qrels", source.split)
            except DataError:
                raise first_error from None
    what = source.describe()
    for name, table in (("corpus", corpus_table), ("queries", queries_table)):
        if "text" not in table.column_names:
            raise DataError(f"{what}: the {name} has no 'text' column: {list(table.column_names)}")
    missing = [c for c in ("query-id", "corpus-id", "score") if c not in qrels_table.column_names]
    if missing:
        raise DataError(f"{what}: the judgements lack columns {missing}: {list(qrels_table.column_names)}",
                        hint="judgements have the BEIR columns query-id, corpus-id, score")
    judgements = zip((str(v) for v in qrels_table["query-id"]), (str(v) for v in qrels_table["corpus-id"]),
                     qrels_table["score"], strict=True)
    return retrieval_data(_records(corpus_table, f"{what} corpus", ("title", "text")),
                          _records(queries_table, f"{what} queries", ("text",)),
                          list(judgements), what=what, source=_source_path(source), document=document, limit=limit)


# --------------------------------------------------------------------------- mteb:


@dataclass(frozen=True)
class MtebTaskInfo:
    """What a spec needs to know about an MTEB task, without loading its data."""

    name: str
    type: str
    kind: str | None  # the task kind that evaluates it, None when mrlcheck has none
    eval_splits: tuple[str, ...]
    subsets: tuple[str, ...]
    dataset: str
    revision: str | None
    main_score: str
    ignore_identical_ids: bool  # retrieval: MTEB never retrieves a document whose id is the query's


def _get_task(task: Any, split: str | None = None, subset: str | None = None) -> Any:
    """An MTEB task object from a name (``mteb.get_task``) or the task object itself."""
    mteb = _mteb()
    if not isinstance(task, str):
        return task
    try:
        found = mteb.get_task(task, eval_splits=[split] if split else None,
                              hf_subsets=[subset] if subset else None)
    except KeyError as exc:
        raise DataError(f"mteb has no task {task!r}", hint=str(exc.args[0]) if exc.args else None) from None
    except ValueError as exc:  # an unknown subset
        raise DataError(f"mteb task {task!r}: {exc}") from None
    return found


def describe_mteb(task: Any) -> MtebTaskInfo:
    """Facts about an MTEB task (a name or a task object): type, splits, subsets, dataset and revision."""
    found = _get_task(task)
    metadata = found.metadata
    return MtebTaskInfo(
        name=str(metadata.name), type=str(metadata.type), kind=MTEB_TYPES.get(str(metadata.type)),
        eval_splits=tuple(metadata.eval_splits), subsets=tuple(metadata.hf_subsets),
        dataset=str(metadata.dataset["path"]), revision=metadata.dataset.get("revision"),
        main_score=str(metadata.main_score), ignore_identical_ids=bool(getattr(found, "ignore_identical_ids", False)),
    )


def load_mteb(task: Any, split: str, kind: str, limit: int | None = None, *, subset: str | None = None,
              revision: str | None = None, document: str = "{title} {text}",
              cache_dir: Path | None = None) -> HubData:
    """Load an MTEB task's ``split`` through MTEB's own loader, as the task data of ``kind``.

    ``task`` is a task name (``"STSBenchmark"``) or an MTEB task object (one defined in your code).
    ``kind`` must match the task's type (STS ↔ sts, Retrieval ↔ retrieval, Classification ↔
    classification, Clustering ↔ clustering, PairClassification ↔ pair-classification). A multilingual
    task needs ``subset`` (its hf subset, e.g. ``"en"`` of STS22) unless it has only one. ``revision``
    replaces the dataset revision MTEB pins (rarely wise: the pin is what makes numbers comparable).
    Classification trains on the task's ``train_split``.
    """
    _check_kind(kind, "mteb:")
    found = _get_task(task, split, subset)
    metadata = found.metadata
    name = str(metadata.name)
    task_type = str(metadata.type)
    expected = MTEB_TYPES.get(task_type)
    if expected != kind:
        fix = f"set task.kind: {expected}" if expected else f"mrlcheck evaluates {', '.join(MTEB_TYPES)} tasks"
        raise DataError(f"mteb task {name!r} is a {task_type} task; task.kind {kind} cannot evaluate it", hint=fix)
    if list(metadata.modalities) != ["text"]:
        raise DataError(f"mteb task {name!r} is not a text task (modalities: {', '.join(metadata.modalities)})",
                        hint="mrlcheck embeds text")
    subsets = list(found.hf_subsets)
    if subset is None:
        if len(subsets) != 1:
            shown = ", ".join(subsets[:12]) + (" …" if len(subsets) > 12 else "")
            raise DataError(f"mteb task {name!r} has {len(subsets)} subsets; choose one", hint=f"subsets: {shown}")
        subset = subsets[0]
    elif subset not in subsets:
        raise DataError(f"mteb task {name!r} has no subset {subset!r}", hint=f"subsets: {', '.join(subsets[:12])}")
    if revision is not None:
        found.metadata = metadata.model_copy(update={"dataset": {**metadata.dataset, "revision": revision}})
    found.filter_eval_splits([split])
    dataset_path = str(found.metadata.dataset["path"])
    pinned = found.metadata.dataset.get("revision")
    what = f"mteb task {name!r} (dataset {dataset_path!r}" + (f", revision {pinned!r}" if pinned else "") + \
        (f", subset {subset!r}" if subset != "default" else "") + f", split {split!r})"
    local = Path(dataset_path).is_dir()
    offline = None if local else _offline_reason()
    if offline is not None:
        _check_cached_revision(dataset_path, None, pinned, what, offline, cache_dir)
    with _library_mode(local or offline is not None, cache_dir):
        try:
            found.load_data()
        except Exception as exc:  # the libraries raise many types; every one is a data problem here
            raise _load_error(exc, what, offline, cache_dir) from exc
    source = Path(f"mteb:{name}")
    data = found.dataset
    if kind == "retrieval":
        return _mteb_retrieval(data, subset, split, what, source, document, limit)
    inner = data.get(subset) if hasattr(data, "get") else None
    per_subset = data if inner is None or isinstance(inner, _datasets().Dataset) else inner
    table = _pick_split(per_subset, split, what)
    if kind == "sts":
        first, second = found.column_names
        if not isinstance(first, str) or not isinstance(second, str):
            raise DataError(f"{what}: not a text STS task", hint="mrlcheck embeds text")
        table = _limited(table, limit)
        return sts_data(_values(table, first), _values(table, second), _values(table, "score"), what, source)
    if kind == "pair-classification":
        return pair_labels(_values(table, found.input1_column_name), _values(table, found.input2_column_name),
                           _values(table, found.label_column_name), what, source, limit)
    text_column, label_column = found.input_column_name, found.label_column_name
    if not isinstance(text_column, str):
        raise DataError(f"{what}: not a text task (inputs {text_column})", hint="mrlcheck embeds text")
    if kind == "clustering":
        return labelled_texts([("", _values(table, text_column), _values(table, label_column))], what, source,
                              limit)
    train_split = str(getattr(found, "train_split", "train"))
    if getattr(found, "is_cross_validation", False) or train_split not in per_subset:
        raise DataError(f"{what}: the task has no training split {train_split!r}",
                        hint="MTEB cross-validates this task; mrlcheck's classification needs a training split")
    if train_split == split:
        raise DataError(f"{what}: the evaluation split is MTEB's training split", hint="evaluate another split")
    train = per_subset[train_split]
    return labelled_texts([("train", _values(train, text_column), _values(train, label_column)),
                           (split, _values(table, text_column), _values(table, label_column))], what, source, limit)


def _mteb_retrieval(data: Any, subset: str, split: str, what: str, source: Path, document: str,
                    limit: int | None) -> RetrievalData:
    if subset not in data or split not in data[subset]:
        raise DataError(f"{what}: MTEB loaded no {split!r} split", hint="choose one of the task's splits")
    part = data[subset][split]
    corpus, queries, relevant = part["corpus"], part["queries"], part["relevant_docs"]
    judgements = [(str(q), str(d), grade) for q, docs in relevant.items() for d, grade in docs.items()]
    return retrieval_data(_records(corpus, f"{what} corpus", ("title", "text")),
                          _records(queries, f"{what} queries", ("text",)),
                          judgements, what=what, source=source, document=document, limit=limit)


__all__ = [
    "HF_DEFAULT_COLUMNS", "HUB_KINDS", "MTEB_TYPES", "PROBE_TIMEOUT", "HFSource", "HubData", "MtebTaskInfo",
    "describe_mteb", "hub_endpoint", "hub_reachable", "labelled_texts", "load_hf", "load_mteb", "offline_requested",
    "pair_labels", "retrieval_data", "sts_data",
]
