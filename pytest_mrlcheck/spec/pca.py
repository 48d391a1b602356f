"""``views.pca`` and ``checks.pca``: PCA sizes, the texts PCA is fitted on, and the fit per task kind."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..yamlload import LineDict
from .fields import (
    _NAME_RE,
    _Ctx,
    _dims_list,
    _excerpt,
    _float,
    _mapping,
    _no_repeats,
    _reject_unknown,
    _relative,
    _required,
    _size_key,
    _str,
    _type_name,
    _xfail,
)
from .types import DataSpec, PcaCheck, PcaGap, PcaSize, PcaViews, TaskSpec

PCA_FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
_PCA_FIT_HINT = ("fit: corpus (the task's documents), a split name (fit: train) or a csv/tsv/jsonl file of texts "
                 "(fit: data/fit.csv, or {path: data/fit.csv, column: sentence})")


def _parse_pca_views(ctx: _Ctx, raw: Any, line: int) -> PcaViews:
    """``views.pca: {fit, sizes}``; a missing ``fit`` is resolved per task kind by :func:`_resolve_pca`."""
    pca = _mapping(ctx, raw, "views.pca", line)
    _reject_unknown(ctx, pca, ["fit", "sizes"], "views.pca")
    sizes: tuple[PcaSize, ...] = ()
    if "sizes" in pca:
        sizes = tuple(PcaSize(k, "views.pca.sizes", pca.line_of("sizes"))
                      for k in _dims_list(ctx, pca["sizes"], "views.pca.sizes", pca.line_of("sizes")))
    fit, path, column = "", None, "text"
    if "fit" in pca:
        fit, path, column = _pca_fit(ctx, pca["fit"], pca.line_of("fit"))
    return PcaViews(fit=fit, sizes=sizes, path=path, column=column, line=pca.line, fit_line=pca.line_of("fit"))


def _pca_fit(ctx: _Ctx, raw: Any, line: int) -> tuple[str, Path | None, str]:
    """``corpus``, a split name, or a text file (written as a path or as ``{path, column}``)."""
    key = "views.pca.fit"
    if isinstance(raw, LineDict):
        _reject_unknown(ctx, raw, ["path", "column"], key)
        text = _required(ctx, raw, "path", key, _PCA_FIT_HINT)
        if not isinstance(text, str) or not text.strip():
            raise ctx.error(f"{key}.path", raw.line_of("path"), f"expected a file path, got {_type_name(text)}")
        column = _str(ctx, raw, "column", key, "text") or "text"
        return "path", _pca_file(ctx, text, f"{key}.path", raw.line_of("path")), column
    if not isinstance(raw, str) or not raw.strip():
        raise ctx.error(key, line, f"expected corpus, a split name or a file path, got {_type_name(raw)}",
                        _PCA_FIT_HINT)
    if raw == "corpus":
        return "corpus", None, "text"
    if "/" in raw or "\\" in raw or Path(raw).suffix:
        return "path", _pca_file(ctx, raw, key, line), "text"
    if not _NAME_RE.match(raw):
        raise ctx.error(key, line, f"{_excerpt(raw)} is neither corpus, a split name nor a file path", _PCA_FIT_HINT)
    return raw, None, "text"


def _pca_file(ctx: _Ctx, text: str, key: str, line: int) -> Path:
    if Path(text).suffix.lower() not in PCA_FILE_SUFFIXES:
        raise ctx.error(key, line, f"cannot tell the format of {_excerpt(text)} from its suffix",
                        "use a .csv, .tsv or .jsonl file of texts with a header row (a text column)")
    resolved = _relative(ctx, text)
    if not resolved.is_file():
        raise ctx.error(key, line, f"fit file not found: {resolved}",
                        "a csv/tsv/jsonl file of texts, relative to the spec file")
    return resolved


def _parse_pca_check(ctx: _Ctx, raw: Any, line: int) -> PcaCheck:
    """``checks.pca: {64: {max_gap: 0.02}}``: items ``pca[64]``; ``xfail`` at the top or per size."""
    where = "checks.pca"
    mapping = _mapping(ctx, raw, where, line)
    xfail = _xfail(ctx, mapping, where)
    gaps: list[PcaGap] = []
    for size_key, value in mapping.items():
        if size_key == "xfail":
            continue
        entry_line = mapping.line_of(size_key)
        if isinstance(size_key, str) and "@" in size_key:
            raise ctx.error(f"{where}.{size_key[:60]}", entry_line, "checks.pca does not take a precision",
                            "PCA references are float32; write the size alone (64: {max_gap: 0.02})")
        size = _size_key(ctx, size_key, f"{where}.{str(size_key)[:60]}", entry_line)
        if not isinstance(value, LineDict):
            raise ctx.error(f"{where}.{size}", entry_line, f"expected a mapping of keys, got {_type_name(value)}",
                            f"write {size}: {{max_gap: 0.02}} (how far the prefix may trail pca[{size}])")
        _reject_unknown(ctx, value, ["max_gap", "xfail"], f"{where}.{size}")
        gap = _float(ctx, _required(ctx, value, "max_gap", f"{where}.{size}", "max_gap: 0.02"),
                     f"{where}.{size}.max_gap", value.line_of("max_gap"), -1.0, 1.0)
        gaps.append(PcaGap(size, gap, entry_line, _xfail(ctx, value, f"{where}.{size}") or xfail))
    if not gaps:
        raise ctx.error(where, mapping.line, "expected at least one {size: {max_gap: value}} entry",
                        "e.g. checks: {pca: {64: {max_gap: 0.02}}}")
    _no_repeats(ctx, ((g.dims, g.line) for g in gaps), where, "size")
    return PcaCheck(tuple(sorted(gaps, key=lambda g: g.dims)), mapping.line)


def _resolve_pca(ctx: _Ctx, task: TaskSpec, views: PcaViews | None, check: PcaCheck | None,
                 doc: LineDict) -> PcaViews:
    """One ``PcaViews`` with every size (``views.pca.sizes`` and ``checks.pca``) and the fit resolved."""
    base = views or PcaViews(fit="", sizes=(), line=check.line if check else doc.line)
    sizes = [*base.sizes, *(PcaSize(g.dims, f"checks.pca.{g.dims}", g.line) for g in (check.gaps if check else ()))]
    if not sizes:
        raise ctx.error("views.pca.sizes", base.line, "missing required key 'sizes'",
                        "the sizes to fit and score, e.g. views: {pca: {sizes: [64, 128]}}")
    fit, default = base.fit, not base.fit
    if default:
        fit = _default_pca_fit(ctx, task, base.line)
    elif fit not in ("corpus", "path") and task.kind != "classification" and not _can_split(task.data):
        raise ctx.error("views.pca.fit", base.fit_line,
                        f"fitting on split {fit!r} needs a data path with {{split}} in it",
                        "e.g. path: data/stsb-{split}.csv with split: test; or fit on a file of texts "
                        "(fit: data/fit.csv)")
    return dataclasses.replace(base, fit=fit, sizes=tuple(sizes), default_fit=default)


def _can_split(data: DataSpec) -> bool:
    """Whether another split of the task's data can be loaded (BEIR qrels, hub splits, a ``{split}`` path)."""
    return data.format in ("beir", "hf", "mteb") or data.path_template is not None


def _default_pca_fit(ctx: _Ctx, task: TaskSpec, line: int) -> str:
    """Documents for retrieval-like kinds, the train split otherwise; never the evaluation units."""
    if task.kind in ("retrieval", "reranking", "agreement"):
        return "corpus"
    if task.kind == "classification":
        return "train"
    if _can_split(task.data) and (task.data.split or "test") != "train":
        return "train"
    raise ctx.error("views.pca.fit", line,
                    f"the texts of a {task.kind} task are its evaluation units, and this spec names no other split: "
                    "say which texts PCA is fitted on",
                    "fit: data/fit.csv (a file of texts), fit: train with {split} in task.data.path, or fit: "
                    "corpus to fit on the evaluation texts themselves (optimistic; the report says so)")
