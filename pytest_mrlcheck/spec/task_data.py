"""``task.data``: local files (csv, tsv, jsonl), BEIR folders and hub sources, per task kind."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..datasets_known import HUB_KINDS as _HUB_KINDS
from ..yamlload import LineDict
from .fields import (
    _bool,
    _choice,
    _Ctx,
    _excerpt,
    _int,
    _mapping,
    _optional_mapping,
    _real,
    _reject_unknown,
    _required,
    _revision,
    _str,
    _type_name,
)
from .limits import MAX_LIMIT
from .types import DataSpec

DATA_FORMATS = ("csv", "tsv", "jsonl", "beir")

# The columns each task kind reads, with their default field names.
KIND_COLUMNS: Mapping[str, Mapping[str, str]] = {
    "sts": {"text1": "sentence1", "text2": "sentence2", "score": "score"},
    "classification": {"text": "text", "label": "label", "split": "split"},
    "clustering": {"text": "text", "label": "label"},
    "pair-classification": {"text1": "text1", "text2": "text2", "label": "label"},
    "reranking": {"query": "query", "positive": "positive", "negative": "negative"},
    "agreement": {"text": "text"},
}
STS_COLUMNS = tuple(KIND_COLUMNS["sts"])
STS_DEFAULT_FIELDS: Mapping[str, str] = KIND_COLUMNS["sts"]
_DOCUMENT_FIELDS = ("title", "text")


def _document_template(ctx: _Ctx, data: LineDict) -> str:
    """``task.data.document``: a format string over a document's fields, checked now, not per row."""
    document = _str(ctx, data, "document", "task.data", "{title} {text}") or "{title} {text}"
    line = data.line_of("document")
    fields = ", ".join("{" + name + "}" for name in _DOCUMENT_FIELDS)
    hint = f"fields: {fields}; write {{{{ and }}}} for literal braces, e.g. \"{{title}}: {{text}}\""
    try:
        parsed = list(string.Formatter().parse(document))
    except ValueError as exc:
        raise ctx.error("task.data.document", line, f"bad template {_excerpt(document)}: {exc}", hint) from None
    used = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in _DOCUMENT_FIELDS or conversion or (spec and "{" in spec):
            raise ctx.error("task.data.document", line,
                            f"unknown field {_excerpt('{' + name + '}')} in template {_excerpt(document)}", hint)
        used.add(name)
    try:
        document.format(title="title", text="text")
    except (ValueError, TypeError) as exc:
        raise ctx.error("task.data.document", line, f"bad template {_excerpt(document)}: {exc}", hint) from None
    if "text" not in used:
        raise ctx.error("task.data.document", line, f"the template {_excerpt(document)} must contain {{text}}",
                        hint)
    return document


def _infer_format(ctx: _Ctx, path: Path, line: int) -> str:
    suffix = path.suffix.lower()
    mapping = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
    if suffix not in mapping:
        raise ctx.error("task.data.format", line, f"cannot tell the format of {path.name!r} from its suffix",
                        f"add format: one of {', '.join(DATA_FORMATS)}")
    return mapping[suffix]




def _parse_hub_data(ctx: _Ctx, data: LineDict, kind: str) -> DataSpec:
    """``hf: {path, name, revision, qrels}`` or ``mteb: TaskName`` (or ``{task, subset, revision}``)."""
    _reject_unknown(ctx, data, ["hf", "mteb", "split", "columns", "limit", "document"], "task.data")
    key = "hf" if "hf" in data else "mteb"
    if "hf" in data and "mteb" in data:
        raise ctx.error("task.data", data.line, "give one source: hf or mteb, not both")
    if kind not in _HUB_KINDS:
        raise ctx.error(f"task.data.{key}", data.line_of(key), f"{kind} tasks read local files only",
                        f"{key}: works for {', '.join(_HUB_KINDS)}")
    raw = data[key]
    hf: dict[str, Any] | None = None
    mteb: dict[str, Any] | None = None
    if key == "hf":
        if isinstance(raw, str):
            raw = LineDict({"path": raw}, line=data.line_of("hf"))
        source = _mapping(ctx, raw, "task.data.hf", data.line_of("hf"))
        _reject_unknown(ctx, source, ["path", "name", "revision", "qrels", "train_split"], "task.data.hf")
        path = _str(ctx, source, "path", "task.data.hf")
        if path is None:
            raise ctx.error("task.data.hf.path", source.line, "missing required key 'path'",
                            "a hub id (mteb/stsbenchmark-sts) or a local folder saved with save_to_disk")
        from ..datapaths import resolve_hf_path

        hf = {"path": resolve_hf_path(path, ctx.path.parent), "name": _str(ctx, source, "name", "task.data.hf"),
              "revision": _revision(ctx, source, "task.data.hf"),
              "qrels": _str(ctx, source, "qrels", "task.data.hf"),
              "train_split": _str(ctx, source, "train_split", "task.data.hf", "train")}
    else:
        if isinstance(raw, str):
            mteb = {"task": raw, "subset": None, "revision": None}
        else:
            source = _mapping(ctx, raw, "task.data.mteb", data.line_of("mteb"))
            _reject_unknown(ctx, source, ["task", "subset", "revision"], "task.data.mteb")
            task_name = _str(ctx, source, "task", "task.data.mteb")
            if task_name is None:
                raise ctx.error("task.data.mteb.task", source.line, "missing required key 'task'",
                                "an MTEB task name, e.g. STSBenchmark or SciFact")
            mteb = {"task": task_name, "subset": _str(ctx, source, "subset", "task.data.mteb"),
                    "revision": _revision(ctx, source, "task.data.mteb")}
    columns_map = _optional_mapping(ctx, data, "columns", "task.data")
    _reject_unknown(ctx, columns_map, tuple(KIND_COLUMNS.get(kind, {})), "task.data.columns")
    limit = data.get("limit")
    if limit is not None:
        limit = _int(ctx, limit, "task.data.limit", data.line_of("limit"), maximum=MAX_LIMIT)
    document = _document_template(ctx, data)
    label = f"{key}:{(hf or mteb or {}).get('path') or (mteb or {}).get('task')}"
    return DataSpec(path=Path(label), format=key, columns={str(k): v for k, v in columns_map.items()}, header=True,
                    split=_str(ctx, data, "split", "task.data", "test"), limit=limit, document=document,
                    line=data.line, hf=hf, mteb=mteb)


def _parse_retrieval_data(ctx: _Ctx, data: LineDict) -> DataSpec:
    _reject_unknown(ctx, data, ["path", "format", "split", "limit", "document"], "task.data")
    path_text = _required(ctx, data, "path", "task.data",
                          "path: data/my-beir-folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    if not isinstance(path_text, str):
        raise ctx.error("task.data.path", data.line_of("path"), f"expected a folder path, got {_type_name(path_text)}")
    path = Path(path_text) if Path(path_text).is_absolute() else _real(ctx.path.parent / path_text)
    _choice(ctx, data, "format", "task.data", ("beir",), "beir")
    document = _document_template(ctx, data)
    limit = data.get("limit")
    if limit is not None:
        limit = _int(ctx, limit, "task.data.limit", data.line_of("limit"), maximum=MAX_LIMIT)
    return DataSpec(path=path, format="beir", columns={}, header=True,
                    split=_str(ctx, data, "split", "task.data", "test"), limit=limit, document=document,
                    line=data.line)


def _parse_data(ctx: _Ctx, raw: Any, line: int, kind: str) -> DataSpec:
    data = _mapping(ctx, raw, "task.data", line)
    if "hf" in data or "mteb" in data:
        return _parse_hub_data(ctx, data, kind)
    if kind == "retrieval" or (kind == "agreement" and data.get("format") == "beir"):
        return _parse_retrieval_data(ctx, data)
    _reject_unknown(ctx, data, ["path", "format", "columns", "header", "split", "limit"], "task.data")
    path_text = _required(ctx, data, "path", "task.data",
                          "path: data/pairs.csv (relative to the spec file), or hf: / mteb: for hub datasets")
    if not isinstance(path_text, str):
        raise ctx.error("task.data.path", data.line_of("path"), f"expected a file path, got {_type_name(path_text)}")
    split = _str(ctx, data, "split", "task.data")
    template = None
    if "{split}" in path_text:
        if split is None:
            raise ctx.error("task.data.split", data.line_of("path"),
                            "the path contains {split} but no split is given")
        template = str(Path(path_text) if Path(path_text).is_absolute() else ctx.path.parent.resolve() / path_text)
        path_text = path_text.replace("{split}", split)
    path = _real(ctx.path.parent / path_text) if not Path(path_text).is_absolute() else Path(path_text)
    fmt = data.get("format")
    if fmt is None:
        fmt = _infer_format(ctx, path, data.line_of("path"))
    else:
        fmt = _choice(ctx, data, "format", "task.data", ("csv", "tsv", "jsonl"), None)
    defaults = KIND_COLUMNS[kind]
    roles = tuple(defaults)
    columns_map = _optional_mapping(ctx, data, "columns", "task.data")
    _reject_unknown(ctx, columns_map, roles, "task.data.columns")
    columns: dict[str, str | int] = {}
    for name in roles:
        value = columns_map.get(name, defaults[name])
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ctx.error(f"task.data.columns.{name}", columns_map.line_of(name),
                            f"expected a column name or a 0-based column number, got {_type_name(value)}")
        columns[name] = value
    numeric = [isinstance(v, int) for v in columns.values()]
    default_header = not all(numeric) if "header" not in data else True
    header = _bool(ctx, data, "header", "task.data", default_header)
    if kind == "reranking" and fmt != "jsonl":
        raise ctx.error("task.data.format", data.line_of("path"), "reranking data is jsonl (lists of candidates)",
                        'one object per line: {"query": ..., "positive": [...], "negative": [...]}')
    if fmt in ("csv", "tsv") and not header:
        if not any(name in columns_map for name in roles):
            columns = {name: index for index, name in enumerate(roles)}
        elif not all(isinstance(columns[name], int) for name in roles):
            raise ctx.error("task.data.columns", data.line_of("columns"),
                            "a file without a header needs column numbers (0-based), not names",
                            "columns: {" + ", ".join(f"{name}: {i}" for i, name in enumerate(roles)) + "}")
    if fmt == "jsonl" and any(isinstance(v, int) for v in columns.values()):
        raise ctx.error("task.data.columns", data.line_of("columns"),
                        "jsonl rows are objects: name the fields, not column numbers")
    limit = data.get("limit")
    if limit is not None:
        limit = _int(ctx, limit, "task.data.limit", data.line_of("limit"), maximum=MAX_LIMIT)
    return DataSpec(path=path, format=fmt, columns=columns, header=header if fmt != "jsonl" else True,
                    split=split, limit=limit, line=data.line, path_template=template)
