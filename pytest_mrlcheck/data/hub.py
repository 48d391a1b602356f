"""Task data from Hugging Face datasets (``hf:``) and from MTEB's own task loaders (``mteb:``).

Both produce the data classes of :mod:`pytest_mrlcheck.data.records` (:class:`StsData`, :class:`RetrievalData`,
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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets_known import HUB_KINDS, MTEB_TYPES
from ..errors import DataError
from .hub_access import (
    HFSource,
    check_cached_revision,
    column_values,
    datasets_module,
    library_mode,
    limited,
    load_error,
    load_table,
    mteb_module,
    offline_reason,
    pick_split,
    resolve_columns,
    source_path,
)
from .hub_rows import hub_labelled_texts, hub_pair_labels, hub_retrieval_data, hub_sts_data
from .records import LabelledTexts, PairLabels, RetrievalData, StsData

HubData = StsData | RetrievalData | LabelledTexts | PairLabels

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
    where = source_path(source)
    if kind == "retrieval":
        return _load_hf_retrieval(source, document, limit)
    what = source.describe()
    table = load_table(source, source.path, source.name, source.split)
    mapped = resolve_columns(table, kind, columns, what)
    table = limited(table, limit)
    if kind == "sts":
        return hub_sts_data(column_values(table, mapped["text1"]), column_values(table, mapped["text2"]),
                            column_values(table, mapped["score"]), what, where)
    if kind == "pair-classification":
        return hub_pair_labels(column_values(table, mapped["text1"]), column_values(table, mapped["text2"]),
                               column_values(table, mapped["label"]), what, where, limit)
    if kind == "clustering":
        return hub_labelled_texts([("", column_values(table, mapped["text"]), column_values(table, mapped["label"]))],
                                  what, where, limit)
    # classification: the training rows come from their own split, labelled "train" for the scorer
    if source.train_split == source.split:
        raise DataError(f"{what}: the evaluation split is also the training split ({source.split!r})",
                        hint="evaluate another split (task.data.split), or set hf.train_split")
    train = load_table(source, source.path, source.name, source.train_split)
    train_mapped = resolve_columns(train, kind, columns, source.describe(source.train_split))
    train = limited(train, limit)
    return hub_labelled_texts(
        [("train", column_values(train, train_mapped["text"]), column_values(train, train_mapped["label"])),
         (source.split, column_values(table, mapped["text"]), column_values(table, mapped["label"]))],
        what, where, limit)


def _load_hf_retrieval(source: HFSource, document: str, limit: int | None) -> RetrievalData:
    prefix = f"{source.name}-" if source.name else ""
    local = Path(source.path).expanduser() if source.is_local else None
    parts_as_folders = local is not None and (local / "corpus").is_dir() and (local / "queries").is_dir()

    def part(config: str) -> Any:
        if parts_as_folders:
            assert local is not None
            return load_table(source, str(local / config), None, source.split, any_single=True)
        return load_table(source, source.path, prefix + config, source.split, any_single=True)

    corpus_table, queries_table = part("corpus"), part("queries")
    if source.qrels is not None:
        qrels_table = load_table(source, source.qrels, None, source.split)
    elif parts_as_folders:
        assert local is not None
        qrels_table = load_table(source, str(local / "qrels"), None, source.split)
    else:
        # MTEB names the judgements config "default" ("{name}-qrels" when multilingual); some sets name it "qrels"
        config = f"{source.name}-qrels" if source.name else "default"
        try:
            qrels_table = load_table(source, source.path, config, source.split)
        except DataError as first_error:
            if source.name:
                raise
            try:
                qrels_table = load_table(source, source.path, "qrels", source.split)
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
    judged = zip(qrels_table["query-id"], qrels_table["corpus-id"], qrels_table["score"], strict=True)
    return hub_retrieval_data(corpus_table, queries_table, judged, what=what, source=source_path(source),
                              document=document, limit=limit)


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
    mteb = mteb_module()
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
    offline = None if local else offline_reason()
    if offline is not None:
        check_cached_revision(dataset_path, None, pinned, what, offline, cache_dir)
    with library_mode(local or offline is not None, cache_dir):
        try:
            found.load_data()
        except Exception as exc:  # the libraries raise many types; every one is a data problem here
            raise load_error(exc, what, offline, cache_dir) from exc
    source = Path(f"mteb:{name}")
    data = found.dataset
    if kind == "retrieval":
        return _mteb_retrieval(data, subset, split, what, source, document, limit)
    inner = data.get(subset) if hasattr(data, "get") else None
    per_subset = data if inner is None or isinstance(inner, datasets_module().Dataset) else inner
    table = pick_split(per_subset, split, what)
    if kind == "sts":
        first, second = found.column_names
        if not isinstance(first, str) or not isinstance(second, str):
            raise DataError(f"{what}: not a text STS task", hint="mrlcheck embeds text")
        table = limited(table, limit)
        return hub_sts_data(column_values(table, first), column_values(table, second),
                            column_values(table, "score"), what, source)
    if kind == "pair-classification":
        return hub_pair_labels(column_values(table, found.input1_column_name),
                               column_values(table, found.input2_column_name),
                               column_values(table, found.label_column_name), what, source, limit)
    text_column, label_column = found.input_column_name, found.label_column_name
    if not isinstance(text_column, str):
        raise DataError(f"{what}: not a text task (inputs {text_column})", hint="mrlcheck embeds text")
    if kind == "clustering":
        return hub_labelled_texts([("", column_values(table, text_column), column_values(table, label_column))],
                                  what, source, limit)
    train_split = str(getattr(found, "train_split", "train"))
    if getattr(found, "is_cross_validation", False) or train_split not in per_subset:
        raise DataError(f"{what}: the task has no training split {train_split!r}",
                        hint="MTEB cross-validates this task; mrlcheck's classification needs a training split")
    if train_split == split:
        raise DataError(f"{what}: the evaluation split is MTEB's training split", hint="evaluate another split")
    train = per_subset[train_split]
    return hub_labelled_texts([("train", column_values(train, text_column), column_values(train, label_column)),
                               (split, column_values(table, text_column), column_values(table, label_column))],
                              what, source, limit)


def _mteb_retrieval(data: Any, subset: str, split: str, what: str, source: Path, document: str,
                    limit: int | None) -> RetrievalData:
    if subset not in data or split not in data[subset]:
        raise DataError(f"{what}: MTEB loaded no {split!r} split", hint="choose one of the task's splits")
    part = data[subset][split]
    corpus, queries, relevant = part["corpus"], part["queries"], part["relevant_docs"]
    judged = [(q, d, grade) for q, docs in relevant.items() for d, grade in docs.items()]
    return hub_retrieval_data(corpus, queries, judged, what=what, source=source, document=document, limit=limit)
