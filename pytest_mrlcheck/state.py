"""Run state, one object per pytest process, kept in ``config.stash``.

Light at import (pytest, the standard library, :mod:`.options` and :mod:`.progress`): a session
with no spec file creates a ``RunState`` and never loads the engine; the first evaluation does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .options import get_option
from .progress import EncodeProgress, no_progress

if TYPE_CHECKING:
    from .embed import EncodePolicy
    from .engine.context import RunContext
    from .engine.results import SpecResult
    from .errors import MrlcheckError
    from .report.payload import OutcomePayload, SpecSummary
    from .spec import Spec


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def default_cache_dir(config: pytest.Config) -> Path:
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("mrlcheck"))
    return config.rootpath / ".mrlcheck_cache"


@dataclass(frozen=True)
class RunSettings:
    """The run options pytest and the ``mrlcheck`` command share, resolved: the cache folder (None:
    vectors live for this process only), the device, the encode policy, the outside-root opt-in."""

    cache_dir: Path | None
    device: str | None = None
    policy: EncodePolicy = field(default_factory=lambda: _default_policy())
    allow_outside_root: bool = False


def _default_policy() -> EncodePolicy:
    from .embed import EncodePolicy  # the engine loads with the first evaluation, not at pytest start

    return EncodePolicy()


def open_context(settings: RunSettings, rootdir: Path, progress: EncodeProgress = no_progress) -> RunContext:
    """The context every evaluation of one run shares (close it with :func:`close_context`)."""
    from .engine.context import RunContext
    from .store import MemoryStore, SqliteStore, VectorStore

    directory = settings.cache_dir
    store: VectorStore = (MemoryStore() if directory is None
                          else SqliteStore(directory, settings.policy.flag_prefix))
    return RunContext(store=store, rootdir=rootdir, device=settings.device,
                      allow_outside_root=settings.allow_outside_root, progress=progress, policy=settings.policy)


def close_context(context: RunContext) -> None:
    from .store import SqliteStore

    if isinstance(context.store, SqliteStore):
        context.store.close()


@dataclass
class RunState:
    """Evaluations done in this process, and report payloads gathered (on the controller)."""

    config: pytest.Config
    _context: RunContext | None = None
    progress: EncodeProgress = no_progress
    results: dict[str, SpecResult | MrlcheckError] = field(default_factory=dict)
    summaries: dict[str, SpecSummary | MrlcheckError] = field(default_factory=dict)
    payloads: list[OutcomePayload] = field(default_factory=list)
    first_failures: dict[str, str] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path | None:
        if get_option(self.config, "no_cache"):
            return None
        return get_option(self.config, "cache_dir") or default_cache_dir(self.config)

    @property
    def settings(self) -> RunSettings:
        from .embed import EncodePolicy

        max_encode = get_option(self.config, "max_encode")
        return RunSettings(
            cache_dir=self.cache_dir,
            device=get_option(self.config, "device"),
            allow_outside_root=bool(get_option(self.config, "allow_outside_root")),
            policy=EncodePolicy(
                offline=bool(get_option(self.config, "offline")),
                max_encode=None if max_encode is None else int(max_encode),
                refresh=bool(get_option(self.config, "refresh")),
            ),
        )

    @property
    def context(self) -> RunContext:
        if self._context is None:
            self._context = open_context(self.settings, self.config.rootpath, self.progress)
        return self._context

    def result_for(self, key: str, spec: Spec) -> SpecResult:
        """Evaluate ``spec`` the first time any of its items runs; later items reuse the outcome."""
        from .errors import EvaluationError, MrlcheckError, MrlcheckWarning
        from .guard import Step, scrub, step

        if key not in self.results:
            from .engine.orchestrate import evaluate

            try:
                with step(Step.OPEN_CACHE):
                    context = self.context
                self.results[key] = evaluate(spec, context)
            except MrlcheckError as exc:
                self.results[key] = scrub(exc)
            except MrlcheckWarning as warning:  # a warning filter turned it into an error
                self.results[key] = EvaluationError(
                    f"{warning} (a warning, raised as an error by the warning filters in effect)",
                    hint="fix the cause, or allow it: filterwarnings = default::pytest_mrlcheck.errors.MrlcheckWarning",
                )
        outcome = self.results[key]
        if isinstance(outcome, MrlcheckError):
            raise scrub(outcome)  # no traceback piles up however many items re-raise it
        return outcome

    def first_failure(self, key: str, item: str) -> str:
        """The item that shows ``key``'s evaluation error in full (the first to meet it)."""
        return self.first_failures.setdefault(key, item)

    def summary_for(self, key: str, result: SpecResult) -> SpecSummary:
        """The report summary of an evaluated spec, built once however many items carry it."""
        from .errors import MrlcheckError
        from .guard import Step, scrub, step

        if key not in self.summaries:
            from .report.summary import summarize

            try:
                with step(Step.SUMMARY, f"of {key}"):
                    self.summaries[key] = summarize(key, result)
            except MrlcheckError as exc:
                self.summaries[key] = scrub(exc)
        summary = self.summaries[key]
        if isinstance(summary, MrlcheckError):
            raise scrub(summary)
        return summary

    def close(self) -> None:
        if self._context is not None:
            close_context(self._context)


STATE_KEY = pytest.StashKey[RunState]()
