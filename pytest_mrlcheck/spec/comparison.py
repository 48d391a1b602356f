"""The sections that judge scores against others: ``baseline``, ``compare`` and ``bootstrap``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .fields import (
    _Ctx,
    _float,
    _int,
    _mapping,
    _no_repeats,
    _reject_unknown,
    _required,
    _significance,
    _size_key,
    _type_name,
    _xfail,
)
from .limits import MAX_DIMS, MAX_RESAMPLES, MAX_SEED
from .model import _parse_model
from .types import BaselineSpec, BootstrapSpec, CompareSpec


def _parse_baseline(ctx: _Ctx, raw: Any, line: int) -> BaselineSpec:
    base = _mapping(ctx, raw, "baseline", line)
    _reject_unknown(ctx, base, ["path", "tolerance", "significance"], "baseline")
    path_text = _required(ctx, base, "path", "baseline", "path: baselines/my-spec.json (relative to the spec file)")
    if not isinstance(path_text, str):
        raise ctx.error("baseline.path", base.line_of("path"), f"expected a file path, got {_type_name(path_text)}")
    path = Path(path_text) if Path(path_text).is_absolute() else (ctx.path.parent / path_text).resolve()
    tolerance = _float(ctx, base.get("tolerance", 0.005), "baseline.tolerance", base.line_of("tolerance"), 0.0, 1.0)
    return BaselineSpec(path=path, tolerance=tolerance, significance=_significance(ctx, base, "baseline"),
                        line=base.line)


def _parse_compare(ctx: _Ctx, raw: Any, line: int) -> CompareSpec:
    cmp = _mapping(ctx, raw, "compare", line)
    _reject_unknown(ctx, cmp, ["model", "max_drop", "pairs", "significance", "xfail"], "compare")
    model = _parse_model(ctx, _required(ctx, cmp, "model", "compare", "model: {the reference model}"),
                         cmp.line_of("model"), "compare.model")
    max_drop = _float(ctx, cmp.get("max_drop", 0.0), "compare.max_drop", cmp.line_of("max_drop"), 0.0, 1.0)
    pairs = None
    if "pairs" in cmp:
        raw_pairs = _mapping(ctx, cmp["pairs"], "compare.pairs", cmp.line_of("pairs"))
        pairs = tuple(
            (_size_key(ctx, k, f"compare.pairs.{str(k)[:60]}", raw_pairs.line_of(k)),
             _int(ctx, v, f"compare.pairs.{str(k)[:60]}", raw_pairs.line_of(k), maximum=MAX_DIMS))
            for k, v in raw_pairs.items()
        )
        if not pairs:
            raise ctx.error("compare.pairs", cmp.line_of("pairs"), "expected {candidate dims: reference dims} entries")
        candidates = ((candidate, raw_pairs.line_of(k)) for (candidate, _), k in zip(pairs, raw_pairs, strict=True))
        _no_repeats(ctx, candidates, "compare.pairs", "candidate size")
    return CompareSpec(model=model, max_drop=max_drop, pairs=pairs, significance=_significance(ctx, cmp, "compare"),
                       line=cmp.line, xfail=_xfail(ctx, cmp, "compare"))


def _parse_bootstrap(ctx: _Ctx, raw: Any, line: int) -> BootstrapSpec:
    boot = _mapping(ctx, raw, "bootstrap", line)
    _reject_unknown(ctx, boot, ["resamples", "seed", "confidence"], "bootstrap")
    return BootstrapSpec(
        resamples=_int(ctx, boot.get("resamples", 1000), "bootstrap.resamples", boot.line_of("resamples"), 50,
            maximum=MAX_RESAMPLES),
        seed=_int(ctx, boot.get("seed", 0), "bootstrap.seed", boot.line_of("seed"), 0, maximum=MAX_SEED),
        confidence=_float(ctx, boot.get("confidence", 0.95), "bootstrap.confidence", boot.line_of("confidence"),
                          0.5, 0.999),
        line=boot.line,
    )
