"""Loading a task's data (local files, a Hugging Face dataset, an MTEB task) inside the load-data step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..datapaths import DataAccess
from ..guard import Step, step
from ..spec import DataSpec, Spec
from .context import RunContext
from .data_memo import data_key


def data_ref(spec: Spec, data: DataSpec | None = None) -> str:
    """How messages name a data source: relative to the spec's folder when inside it."""
    data = data or spec.task.data
    if data.hf is not None or data.mteb is not None:
        return data.source
    path = Path(data.source)
    return path.relative_to(spec.directory).as_posix() if path.is_relative_to(spec.directory) else str(path)


def loading(spec: Spec, data: DataSpec | None = None) -> Any:
    """The load-data step, naming the data source."""
    return step(Step.LOAD_DATA, f"from {data_ref(spec, data)}")


def hub_data(spec: Spec, access: DataAccess) -> Any:
    """Data from a Hugging Face dataset or an MTEB task, in the same classes as the local loaders."""
    data = spec.task.data
    from ..data_hub import HFSource, load_hf, load_mteb

    columns = dict(data.columns) or None
    if data.hf is not None:
        if Path(data.hf["path"]).is_absolute():  # a local folder or file (resolved when parsed)
            from ..datapaths import checked_existing

            checked_existing(Path(data.hf["path"]), "hf.path", access)
        source = HFSource(path=data.hf["path"], name=data.hf["name"], split=data.split or "test",
                          revision=data.hf["revision"], train_split=data.hf["train_split"] or "train",
                          qrels=data.hf["qrels"])
        return load_hf(source, spec.task.kind, columns, data.limit, document=data.document)
    assert data.mteb is not None
    return load_mteb(data.mteb["task"], data.split or "test", spec.task.kind, data.limit, subset=data.mteb["subset"],
                     revision=data.mteb["revision"], document=data.document)


def load(spec: Spec, run: RunContext, local: Callable[[DataAccess], Any]) -> Any:
    """The spec's data from the hub (``hf``, ``mteb``) or from ``local`` (a loader of local files, the
    one of the spec's task kind); local data another spec of this run already loaded is reused."""
    access = run.data_access(spec)
    with loading(spec):
        if spec.task.data.format in ("hf", "mteb"):
            return hub_data(spec, access)
        return run.data.load(data_key(spec.task.kind, spec.task.data, access), lambda: local(access))
