"""Command-line options (``--mrlcheck-*``), their ini twins, and one resolver: CLI > ini > default.

:data:`OPTIONS` is the one table of options: pytest registers every entry (``--mrlcheck-<name>``
with its ini twin ``mrlcheck_<name>``); the ``mrlcheck`` command registers the entries it shares
(``command_help`` set) as ``--<name>`` through :func:`add_command_options`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pytest is imported where it is used: the mrlcheck command reads the table without it
    import pytest

TABLE_CHOICES = ("all", "failed", "none")
BOOL_WORDS = "true/false, yes/no, on/off or 1/0"
PLUGIN_PREFIX = "--mrlcheck-"
COMMAND_PREFIX = "--"
_DIGITS = re.compile(r"\+?[0-9]+")


def _table_choice(value: str) -> str:
    if value not in TABLE_CHOICES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(TABLE_CHOICES)}, got {value!r}")
    return value


def _count(value: str) -> int:
    text = value.strip()
    if text.startswith("-") and _DIGITS.fullmatch(text[1:]):
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {text}")
    if not _DIGITS.fullmatch(text):
        ascii_hint = "" if text.isascii() else " in ASCII digits 0-9"
        raise argparse.ArgumentTypeError(f"expected a whole number{ascii_hint}, got {value!r}")
    return int(text)


@dataclass(frozen=True)
class Option:
    """One option of the table: pytest's ``--mrlcheck-<name>`` and ini ``mrlcheck_<name>``, and, when
    ``command_help`` is set, the ``mrlcheck`` command's ``--<name>``."""

    name: str
    ini_type: str
    default: Any
    help: str
    kind: str = "value"  # value | flag | path
    parse: Callable[[str], Any] | None = None  # validates a value (argparse ``type=``; ini values too)
    metavar: str | None = None
    command_help: str | None = None  # the command's help text; None: the option is pytest's only

    @property
    def flag(self) -> str:
        return self.flag_with(PLUGIN_PREFIX)

    def flag_with(self, prefix: str) -> str:
        """The flag under a front door's prefix: ``--mrlcheck-cache-dir`` or ``--cache-dir``."""
        return prefix + self.name.replace("_", "-")


_CACHE_DEFAULT = ".pytest_cache/d/mrlcheck"

OPTIONS = (
    Option("cache_dir", "string", None,
           f"folder of the persistent embedding cache (default: inside pytest's cache dir, {_CACHE_DEFAULT})",
           "path", metavar="PATH",
           command_help=f"the embedding cache folder (default: {_CACHE_DEFAULT} in the current folder: the "
                        "plugin's when run from the rootdir)"),
    Option("no_cache", "bool", False,
           "do not read or write the embedding cache (vectors are kept only for this run)", "flag",
           command_help="neither read nor write the cache (default: use it)"),
    Option("json", "string", None,
           "write every spec's scores and check outcomes as JSON to this file (default: off)", "path",
           metavar="PATH"),
    Option("markdown", "string", None,
           "write a Markdown report to this file (default: off; appended to $GITHUB_STEP_SUMMARY "
           "whenever that is set)", "path", metavar="PATH"),
    Option("plots", "string", None,
           "write one PNG per spec into this folder (needs matplotlib; default: off)", "path", metavar="PATH"),
    Option("update_baseline", "bool", False,
           "write (or refresh) the baseline file of every collected spec instead of comparing", "flag"),
    Option("offline", "bool", False,
           "never touch the network: a cache miss fails with the number of texts it would encode", "flag",
           command_help="never encode: a cache miss is an error (default: encode misses)"),
    Option("refresh", "bool", False,
           "re-encode and replace the cached vectors of the models this run uses (after a failed canary)",
           "flag"),
    Option("max_encode", "string", None,
           "fail before encoding more than N texts in this process (default: no limit)", parse=_count, metavar="N"),
    Option("device", "string", None,
           "device for local models, e.g. cpu or cuda:0 (default: the library's choice)", metavar="VALUE",
           command_help="device for local models, e.g. cpu or cuda:0 (default: the library's choice)"),
    Option("allow_outside_root", "bool", False,
           "let every spec read data paths outside the rootdir (default: only specs with "
           "allow_outside_root: true may)", "flag"),
    Option("tables", "string", "all",
           "which result tables to print after the run: all, failed or none (default: all)",
           parse=_table_choice, metavar="{" + ",".join(TABLE_CHOICES) + "}"),
)
_BY_NAME = {option.name: option for option in OPTIONS}
COMMAND_OPTIONS = tuple(option for option in OPTIONS if option.command_help is not None)
_COMMAND_METAVARS = {"cache_dir": "DIR", "device": "DEVICE"}


def add_arguments(addoption: Callable[..., Any], options: tuple[Option, ...], prefix: str, dest_prefix: str,
                  command: bool = False) -> None:
    """Register ``options`` through ``addoption`` (pytest's ``group.addoption`` or argparse's
    ``add_argument``): one definition of each flag's action, type, metavar and help for both."""
    for option in options:
        help_text = option.command_help if command and option.command_help else option.help
        dest = f"{dest_prefix}{option.name}"
        if option.kind == "flag":
            addoption(option.flag_with(prefix), action="store_true", default=None, dest=dest, help=help_text)
            continue
        metavar = (_COMMAND_METAVARS.get(option.name) if command else None) or option.metavar or "VALUE"
        typed = {} if option.parse is None else {"type": option.parse}
        addoption(option.flag_with(prefix), default=None, dest=dest, metavar=metavar, help=help_text, **typed)


def add_command_options(group: Any, only: tuple[str, ...] | None = None) -> None:
    """The options the ``mrlcheck`` command shares with the plugin (or ``only`` those), as
    ``--<name>`` (dest ``<name>``) on an argparse parser or argument group."""
    chosen = COMMAND_OPTIONS if only is None else tuple(o for o in COMMAND_OPTIONS if o.name in only)
    add_arguments(group.add_argument, chosen, COMMAND_PREFIX, "", command=True)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mrlcheck", "truncated-embedding checks (pytest-mrlcheck)")
    add_arguments(group.addoption, OPTIONS, PLUGIN_PREFIX, "mrlcheck_")
    for option in OPTIONS:
        parser.addini(f"mrlcheck_{option.name}", f"ini twin of {option.flag}: {option.help}",
                      type=option.ini_type, default=option.default)  # type: ignore[arg-type]
    parser.addini(
        "mrlcheck_patterns",
        "glob patterns of spec files to collect (default: *.mrl.yaml *.mrl.yml)",
        type="linelist",
        default=["*.mrl.yaml", "*.mrl.yml"],
    )


_DIR_OPTIONS = frozenset({"cache_dir", "plots"})


@cache
def _resolved_key() -> pytest.StashKey[dict[str, Any]]:
    import pytest

    return pytest.StashKey()


def resolve_all(config: pytest.Config) -> None:
    """Resolve and validate every option once (at configure time); bad values are usage errors."""
    config.stash[_resolved_key()] = {option.name: _resolve(config, option) for option in OPTIONS}


def get_option(config: pytest.Config, name: str) -> Any:
    """The option's value: command line first, then the ini file, then the default.

    Path options come back as absolute paths: command-line values relative to the invocation
    folder, ini values relative to the ini file's folder.
    """
    resolved = config.stash.get(_resolved_key(), None)
    if resolved is not None:
        return resolved[name]
    return _resolve(config, _BY_NAME[name])


def _usage_error(
    config: pytest.Config, option: Option, from_cli: bool, value: object, expected: str
) -> pytest.UsageError:
    import pytest

    if from_cli:
        return pytest.UsageError(f"{option.flag} {str(value)!r}: {expected}")
    where = str(config.inipath) if config.inipath else "the ini file"
    return pytest.UsageError(f"{where}: mrlcheck_{option.name} = {str(value)!r}: {expected}")


def _resolve(config: pytest.Config, option: Option) -> Any:
    import pytest

    name = option.name
    value = config.getoption(f"mrlcheck_{name}", default=None)
    from_cli = value is not None
    if not from_cli:
        try:
            value = config.getini(f"mrlcheck_{name}")
        except (ValueError, pytest.UsageError) as error:  # pytest's bool parsing: "invalid truth value 'maybe'"
            raw = str(error).removeprefix("invalid truth value ").strip("'\"")
            raise _usage_error(config, option, False, raw, f"expected {BOOL_WORDS}") from None
    if value in (None, ""):
        return option.default
    if option.kind == "path":
        return _path(config, option, from_cli, str(value))
    if not from_cli and option.parse is not None:  # the command line's values were parsed by its type=
        try:
            return option.parse(str(value))
        except argparse.ArgumentTypeError as error:
            raise _usage_error(config, option, False, value, str(error).split(", got")[0]) from None
    return value


def _path(config: pytest.Config, option: Option, from_cli: bool, value: str) -> Path:
    if "\0" in value:
        raise _usage_error(config, option, from_cli, value, "expected a path (it contains a NUL character)")
    try:
        path = Path(value).expanduser()
    except RuntimeError:
        raise _usage_error(config, option, from_cli, value, "expected a path (its ~user is not known here)") from None
    base = config.invocation_params.dir if from_cli else (
        config.inipath.parent if config.inipath else config.rootpath
    )
    path = path if path.is_absolute() else base / path
    want_dir = option.name in _DIR_OPTIONS
    try:
        wrong = path.exists() and path.is_dir() != want_dir
    except OSError:
        wrong = False
    if wrong:
        expected = "expected a folder, and this is a file" if want_dir else "expected a file, and this is a folder"
        raise _usage_error(config, option, from_cli, value, expected)
    return path
