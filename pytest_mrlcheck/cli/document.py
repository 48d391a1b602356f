"""``mrlcheck init``'s YAML file: the source's model and task, the derived checks with comments,
the views measured; paths rebased to the written file."""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from .measure import Measured
from .thresholds import Check, Num, derive_checks

_FLOW_WIDTH = 100
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_PLAIN_RE = re.compile(r"^(?:[A-Za-z_]|\.{1,2}/)[A-Za-z0-9_.\-/@+]*$")


def _scalar(value: Any) -> str:
    if isinstance(value, Num):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:  # YAML 1.1 floats need a dot: 1e-05 → 1.0e-05
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent if exponent[0] in '+-' else '+' + exponent}"
        return text
    text = str(value)
    if _PLAIN_RE.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (Mapping, list))


def _flow(value: Any, nested: bool = True) -> str | None:
    """Flow style (``[1, 2]``, ``{a: 1, b: [2, 3]}``) for small collections of scalars, else None."""
    def item(v: Any) -> str | None:
        return _scalar(v) if _is_scalar(v) else _flow(v, nested=False) if nested else None

    parts: list[str | None]
    if isinstance(value, Mapping):
        parts = [None if (text := item(v)) is None else f"{_scalar(k)}: {text}" for k, v in value.items()]
        return None if None in parts else "{" + ", ".join(p for p in parts if p is not None) + "}"
    if isinstance(value, list):
        parts = [item(v) for v in value]
        return None if None in parts else "[" + ", ".join(p for p in parts if p is not None) + "]"
    return None


def _emit(mapping: Mapping[Any, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        head = f"{pad}{_scalar(key)}:"
        if _is_scalar(value):
            lines.append(f"{head} {_scalar(value)}")
            continue
        flow = None if indent == 0 and value and isinstance(value, Mapping) else _flow(value)  # sections: block
        if flow is not None and (len(head) + 1 + len(flow) <= _FLOW_WIDTH or not value):
            lines.append(f"{head} {flow}")
        elif isinstance(value, Mapping):
            lines.append(head)
            _emit(value, indent + 2, lines)
        else:
            lines.append(head)
            for item in value:
                if isinstance(item, Mapping):
                    sub: list[str] = []
                    _emit(item, indent + 4, sub)
                    lines.append(f"{pad}  - {sub[0].lstrip()}" if sub else f"{pad}  - {{}}")
                    lines.extend(sub[1:])
                else:
                    lines.append(f"{pad}  - {_flow(item) or _scalar(item)}")


def _comment(lines: list[str], text: str, indent: int) -> None:
    for line in textwrap.wrap(text, width=_FLOW_WIDTH - indent - 2, break_on_hyphens=False):
        lines.append(f"{' ' * indent}# {line}")


def _rebase(text: str, source_dir: Path, out_dir: Path) -> str:
    """A path written relative to ``source_dir``, rewritten relative to ``out_dir``."""
    path = Path(text)
    if path.is_absolute() or text.startswith("~"):
        return text
    try:
        return Path(os.path.relpath((source_dir / path).resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # pragma: no cover - another drive on Windows
        return str((source_dir / path).resolve())


def _rebase_model(model: dict[str, Any], source_dir: Path, out_dir: Path) -> dict[str, Any]:
    name = model.get("name")
    provider = model.get("provider", "sentence-transformers")
    if provider == "precomputed":  # vector files, relative to the spec
        return {key: _rebase(value, source_dir, out_dir) if key in ("path", "queries") and isinstance(value, str)
                else value for key, value in model.items()}
    if provider == "sentence-transformers" and isinstance(name, str) and not name.startswith("pkg:"):
        local = name.startswith((".", "/")) or (source_dir / name).exists()
        if local:
            return {**model, "name": _rebase(name, source_dir, out_dir)}
    return model


def document(measured: Measured, margin: float, out: Path, command: str) -> tuple[list[str], list[Check],
                                                                                  list[str]]:
    """One YAML document: header comment, the source's model and task, the derived checks, views."""
    target, result = measured.target, measured.result
    raw = dict(target.raw)
    source, out_dir = target.source_dir, out.parent
    model = _rebase_model(dict(raw.get("model") or {}), source, out_dir)
    task = dict(raw.get("task") or {})
    data = dict(task.get("data") or {})
    if isinstance(data.get("path"), str):
        data["path"] = _rebase(data["path"], source, out_dir)
    task["data"] = data
    if isinstance(task.get("queries"), Mapping) and isinstance(task["queries"].get("path"), str):
        task["queries"] = {**task["queries"], "path": _rebase(task["queries"]["path"], source, out_dir)}
    if isinstance(task.get("informed"), Mapping) and isinstance(task["informed"].get("export"), str):
        task["informed"] = {**task["informed"], "export": _rebase(task["informed"]["export"], source, out_dir)}
    checks, notes = derive_checks(measured, margin)

    views = {key: value for key, value in dict(raw.get("views") or {}).items()
             if key not in ("prefix", "random", "windows")}
    ordered_views: dict[str, Any] = {"prefix": list(result.plan.prefixes)}
    if measured.random is not None:
        ordered_views["random"] = {"dims": list(measured.random.dims), "samples": measured.random.samples,
                                   "seed": measured.random.seed}
    ordered_views.update(views)

    spec = measured.spec
    summary = measured.summary
    unit = {"sts": "pairs", "retrieval": "judged queries"}.get(spec.task.kind, "units")
    lines: list[str] = []
    _comment(lines, f"{spec.name}: thresholds measured by `mrlcheck init` (pytest-mrlcheck {__version__}).", 0)
    _comment(lines, f"{spec.model.label}, {result.full_dim} dims · {spec.task.kind} {spec.task.metric} on "
                    f"{data.get('path', '?')}: {summary['task']['units']} {unit}, {summary['task']['texts']} texts "
                    f"· full score {result.full_score:.4f}.", 0)
    where = Path(os.path.relpath(Path.cwd().resolve(), out_dir.resolve())).as_posix()
    _comment(lines, f"Each bound sits {margin:g} below today's score (tolerances {margin:g} above), so the spec "
                    "passes today and fails when a truncated view gets worse. Re-measure (overwrites this file"
                    + ("" if where == "." else f"; run in {where}") + f"): {command}", 0)
    document: dict[str, Any] = {"name": spec.name, "model": model, "task": task}
    _emit(document, 0, lines)
    lines.append("checks:")
    for check in checks:
        for text in check.comment:
            _comment(lines, text, 2)
        _emit({check.key: check.value}, 2, lines)
    lines.append("views:")
    _comment(lines, "The sizes measured: keeping them keeps monotonic's ladder and the tables as they are.", 2)
    _emit(ordered_views, 2, lines)
    rest = {key: raw[key] for key in ("bootstrap", "baseline", "compare", "allow_outside_root") if key in raw}
    if "baseline" in rest and isinstance(rest["baseline"], Mapping) and isinstance(rest["baseline"].get("path"), str):
        rest["baseline"] = {**rest["baseline"], "path": _rebase(rest["baseline"]["path"], source, out_dir)}
    if "compare" in rest and isinstance(rest["compare"], Mapping) and isinstance(rest["compare"].get("model"),
                                                                                 Mapping):
        rest["compare"] = {**rest["compare"],
                           "model": _rebase_model(dict(rest["compare"]["model"]), source, out_dir)}
    _emit(rest, 0, lines)
    return lines, checks, notes


