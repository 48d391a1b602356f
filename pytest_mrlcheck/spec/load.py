"""Spec files and documents: every section parsed, the checks between sections, names per file."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..yamlload import LineDict, LineList, load_documents
from .checks import _check_server_contract, _parse_checks
from .comparison import _parse_baseline, _parse_bootstrap, _parse_compare
from .fields import _NAME_RE, _Ctx, _mapping, _reject_unknown, _required, _type_name
from .index import check_index_parts
from .model import _parse_model
from .pca import _resolve_pca
from .task import _parse_task
from .types import Checks, Spec, ViewsSpec
from .views import _parse_views


def _parse_document(ctx: _Ctx, raw: Any, line: int, default_name: str, require_checks: bool = True) -> Spec:
    doc = _mapping(ctx, raw, "(document)", line)
    _reject_unknown(ctx, doc, ["name", "model", "task", "checks", "views", "baseline", "compare", "bootstrap",
                               "requires_env", "allow_outside_root"], "")
    requires = doc.get("requires_env", [])
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(v, str) and v for v in requires):
        raise ctx.error("requires_env", doc.line_of("requires_env"),
                        f"expected a list of environment variable names, got {_type_name(requires)}")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        hint = None if "name" in doc else (f"the name comes from the file name {ctx.path.name!r} when the spec "
                                           "has no name: key; add name: my-spec")
        raise ctx.error("name", doc.line_of("name"),
                        f"expected a name of letters, digits and _ . + @ -, got {_type_name(name)}", hint)
    model = _parse_model(ctx, _required(ctx, doc, "model", ""), doc.line_of("model"))
    task = _parse_task(ctx, _required(ctx, doc, "task", ""), doc.line_of("task"))
    if require_checks and "checks" not in doc and "baseline" not in doc and "compare" not in doc:
        raise ctx.error("checks", doc.line, "missing required key 'checks'",
                        "a spec needs checks, a baseline or a compare section")
    checks = _parse_checks(ctx, doc["checks"], doc.line_of("checks")) if "checks" in doc else Checks()
    _check_server_contract(ctx, model, checks)
    views = _parse_views(ctx, doc["views"], doc.line_of("views")) if "views" in doc else ViewsSpec()
    baseline = _parse_baseline(ctx, doc["baseline"], doc.line_of("baseline")) if "baseline" in doc else None
    compare = _parse_compare(ctx, doc["compare"], doc.line_of("compare")) if "compare" in doc else None
    bootstrap = _parse_bootstrap(ctx, doc["bootstrap"], doc.line_of("bootstrap")) if "bootstrap" in doc else None
    if checks.dims is not None:
        for entry in checks.dims.thresholds:
            if entry.label not in views.dims:
                raise ctx.error(f"checks.dims.{entry.label}", entry.line,
                                f"no dimension list named {entry.label!r}",
                                f"declare it under views.dims (known: {', '.join(views.dims) or 'none'})")
    if views.pca is not None or checks.pca is not None:
        views = dataclasses.replace(views, pca=_resolve_pca(ctx, task, views.pca, checks.pca, doc))
    if views.index or checks.index:
        check_index_parts(ctx, task, checks, views)
    return Spec(name=name, path=ctx.path, line=doc.line, model=model, task=task, checks=checks, views=views,
                baseline=baseline, compare=compare, bootstrap=bootstrap, requires_env=tuple(requires),
                allow_outside_root=_allow_outside_root(ctx, doc))


def _allow_outside_root(ctx: _Ctx, doc: LineDict) -> bool:
    """``allow_outside_root: true``: the spec may read data outside the project root."""
    value = doc.get("allow_outside_root", False)
    if not isinstance(value, bool):
        raise ctx.error("allow_outside_root", doc.line_of("allow_outside_root"),
                        f"expected true or false, got {_type_name(value)}",
                        "true lets this spec read data paths outside the project root")
    return value


def spec_stem(path: Path) -> str:
    """``minilm_sts.mrl.yaml`` → ``minilm_sts``."""
    name = path.name
    for suffix in (".mrl.yaml", ".mrl.yml", ".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_specs(path: Path, require_checks: bool = True) -> list[Spec]:
    """All specs of a file; raises :class:`SpecError` naming path, line and key.

    ``require_checks=False`` accepts report-only documents (no checks, baseline or compare), as
    the ``mrlcheck scan`` command does.
    """
    ctx = _Ctx(path)
    documents = [(doc, line) for doc, line in load_documents(path) if doc is not None]
    if not documents:
        raise SpecError("the file holds no spec", path=path, line=1,
                        hint="a spec needs at least model, task and checks")
    stem = spec_stem(path)
    specs = []
    for index, (raw, line) in enumerate(documents, start=1):
        default = stem if len(documents) == 1 else f"{stem}-{index}"
        specs.append(_parse_document(ctx, raw, line, default, require_checks))
    seen: dict[str, int] = {}
    for spec in specs:
        if spec.name in seen:
            raise SpecError(f"duplicate spec name {spec.name!r} (first on line {seen[spec.name]})",
                            path=path, line=spec.line, key="name", hint="give every document its own name")
        seen[spec.name] = spec.line
    return specs


def parse_spec(raw: Mapping[str, Any], path: Path, require_checks: bool = True) -> Spec:
    """One spec from plain data shaped like a YAML document, read as if it were the file ``path``
    (relative paths are relative to its folder): the ``mrlcheck`` command builds such a mapping from
    its options. A :class:`SpecError` names the key; there is no line to name (it says ``path:``)."""
    return _parse_document(_Ctx(path), _lined(raw), 0, spec_stem(path), require_checks)


def _lined(value: Any) -> Any:
    """Plain dicts and lists → the :class:`LineDict`/:class:`LineList` the parser reads (line 0: none)."""
    if isinstance(value, Mapping):
        return LineDict({key: _lined(item) for key, item in value.items()})
    if isinstance(value, list):
        return LineList([_lined(item) for item in value])
    return value
