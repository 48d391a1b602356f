"""``mrlcheck cache info|clear|prune``: the SQLite embedding cache the plugin and ``scan`` share."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MrlcheckError
from ..report.units import human_bytes
from .common import FLAG_PREFIX, UsageError, cache_dir, console, display


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
                      ", ".join(map(str, model.dims)) or "-", f"{model.vectors:,}", human_bytes(model.data_bytes),
                      _when(model.last_used))
    return table


def cmd_cache_info(args: argparse.Namespace) -> int:
    from ..store import DB_NAME, SqliteStore

    directory = cache_dir(args)
    store = SqliteStore(directory, FLAG_PREFIX)
    if not store.path.is_file():
        print(f"no embedding cache in {display(directory)} (nothing cached yet: run pytest or mrlcheck scan)")
        return 0
    try:
        models = store.model_summaries()
        runtimes = store.runtimes()
        memo = store.memo_summary()
    finally:
        store.close()
    total = sum(m.vectors for m in models)
    print(f"{display(store.path)}: {human_bytes(store.size_on_disk())} on disk, {total:,} vectors of "
          f"{len(models)} model key{'s' if len(models) != 1 else ''}")
    entries = f"{memo.entries:,} entr{'ies' if memo.entries != 1 else 'y'}"
    print(f"score memo: {entries}, {human_bytes(memo.data_bytes)} (scores a warm run of unchanged inputs "
          "reads back instead of scoring)")
    if models:
        console().print(_models_table(models, "cached models (most recently used first)", runtimes))
    quarantined = sorted(p for p in directory.glob(f"{DB_NAME}.corrupt-*") if not p.name.endswith(("-wal", "-shm")))
    if quarantined:
        print(f"{len(quarantined)} unreadable cache file(s) moved aside earlier (kept for you; delete when done): "
              + ", ".join(p.name for p in quarantined))
    return 0


def _scores(count: int) -> str:
    return f"{count:,} score memo entr{'ies' if count != 1 else 'y'}"


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


def cmd_cache_clear(args: argparse.Namespace) -> int:
    from ..store import SqliteStore

    directory = cache_dir(args)
    store = SqliteStore(directory, FLAG_PREFIX)
    if not store.path.is_file():
        print(f"nothing to clear: no embedding cache in {display(directory)}")
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
        counted = f", {vectors:,} vectors)" if vectors is not None else ")"
        what = f"{display(store.path)} ({human_bytes(size)}" + counted
        if not _confirm(f"Remove the embedding cache {what}?", args.yes):
            print("nothing removed")
            return 1
        for path in store.files():
            path.unlink(missing_ok=True)
    print(f"removed {what}")
    return 0


def cmd_cache_prune(args: argparse.Namespace) -> int:
    from ..store import SqliteStore

    directory = cache_dir(args)
    store = SqliteStore(directory, FLAG_PREFIX)
    if not store.path.is_file():
        print(f"nothing to prune: no embedding cache in {display(directory)}")
        return 0
    day: datetime.date = args.unused_since
    cutoff = datetime.datetime.combine(day, datetime.time.min).timestamp()
    with store.maintenance():  # refused while a run uses the cache
        stale = [m for m in store.model_summaries() if (m.last_used or 0.0) < cutoff]
        stale_memo = store.memo_summary(unused_before=cutoff).entries
        if not stale and not stale_memo:
            print(f"nothing to prune: every model and memoised score in {display(store.path)} was used on or "
                  f"after {day}")
            return 0
        count = sum(m.vectors for m in stale)
        if stale:
            console().print(_models_table(stale, f"not used since {day}"))
        what = f"{count:,} vectors of {len(stale)} model key{'s' if len(stale) != 1 else ''}" + (
            f" and {_scores(stale_memo)}" if stale_memo else "")
        if args.dry_run:
            print(f"would remove {what} (dry run: nothing removed)")
            return 0
        if not _confirm(f"Remove {what}?", args.yes):
            print("nothing removed")
            return 1
        before = store.size_on_disk()
        removed = store.delete_models([m.model_key for m in stale], unused_before=cutoff)
        memo = store.delete_memo(unused_before=cutoff)
        compact = store.vacuum()
    kept = len(stale) - len(removed)
    print(f"removed {sum(removed.values()):,} vectors of {len(removed)} model key{'s' if len(removed) != 1 else ''}"
          + (f" ({kept} used meanwhile, kept)" if kept else "")
          + (f" and {_scores(memo.entries)}" if memo.entries else "")
          + f"; {display(store.path)}: {human_bytes(before)} → {human_bytes(store.size_on_disk())}"
          + ("" if compact else " (another process is reading the cache: the file shrinks at a later checkpoint)"))
    return 0


