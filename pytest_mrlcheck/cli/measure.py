"""Measuring one target: which views (the options, else the spec's, else defaults for the model's
size), two evaluations of one encoding, the smallest prefix as the min_dims judge finds it."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EvaluationError, MrlcheckError
from .common import (
    DEFAULT_MIN_DIMS_STEP,
    DEFAULT_RANDOM,
    DEFAULT_RATIO,
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    FLAG_PREFIX,
    UsageError,
    cache_dir,
)
from .targets import Target

if TYPE_CHECKING:
    from ..engine.context import RunContext
    from ..engine.results import SpecResult
    from ..report.payload import SpecSummary
    from ..spec import RandomViews, Spec, Windows


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
    from ..spec import RandomViews, Windows
    from ..views import default_ladder

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


@dataclass(frozen=True)
class Measured:
    """One target measured: the spec as evaluated (resolved views, a min_dims sweep), its scores."""

    target: Target
    spec: Spec  # the target's spec with the views measured and no checks but the min_dims sweep
    result: SpecResult
    summary: SpecSummary  # the plugin's summary (JSON shape); encoding counts the whole measurement
    windows: Windows | None
    random: RandomViews | None
    ratio: float
    step: int
    smallest: int | None  # the smallest prefix keeping ``ratio`` of the full score (None: none does)


@contextlib.contextmanager
def run_context(args: argparse.Namespace) -> Iterator[RunContext]:
    """The plugin's run context (:func:`pytest_mrlcheck.state.open_context`) from this command's
    options: the cache (a memory store with ``--no-cache``), the device, the offline policy, whose
    hints name this command's flags."""
    from ..embed import EncodePolicy
    from ..progress import no_progress, rich_progress
    from ..state import RunSettings, close_context, open_context

    settings = RunSettings(cache_dir=None if args.no_cache else cache_dir(args), device=args.device,
                           policy=EncodePolicy(offline=bool(args.offline), flag_prefix=FLAG_PREFIX))
    progress = rich_progress(sys.stderr, contextlib.nullcontext) if sys.stderr.isatty() else no_progress
    context = open_context(settings, Path.cwd().resolve(), progress)
    try:
        yield context
    finally:
        close_context(context)


def _smallest(result: SpecResult) -> int | None:
    """The smallest prefix keeping the min_dims ratio of the full score, as the min_dims judge finds it
    (the measured spec's one check: sweep and ladder, ``max`` the full size)."""
    from ..checks import judge, plan_checks

    [plan] = [plan for plan in plan_checks(result.spec) if plan.kind == "min_dims"]
    reached = judge(plan, result).value
    return None if reached is None else int(reached)


def measure(target: Target, args: argparse.Namespace, run: RunContext) -> Measured:
    """Two passes over one encoding: the first finds the full dimension, the second scores every view."""
    from ..engine.orchestrate import evaluate
    from ..report.summary import summarize
    from ..spec import Checks, MinDimsCheck, ViewsSpec

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
    summary: SpecSummary = {**summarize(target.spec_id, result), "encoding": encoding}
    return Measured(target=target, spec=measured, result=result, summary=summary, windows=windows,
                    random=random, ratio=ratio, step=step, smallest=_smallest(result))


def measure_named(target: Target, args: argparse.Namespace, run: RunContext) -> Measured:
    """:func:`measure`; an error of a spec file's spec names it (``file::name``) first."""
    try:
        return measure(target, args, run)
    except MrlcheckError as exc:
        if target.built:
            raise
        failure = exc
    raise EvaluationError(f"{target.spec_id}: {failure.message}", hint=failure.hint)


