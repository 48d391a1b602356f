"""The ``views`` section (reported, not checked) and the dimension-selection texts of ``views.dims``."""

from __future__ import annotations

import re
from typing import Any

from .fields import _bool, _Ctx, _dims_list, _excerpt, _int, _label, _mapping, _reject_unknown, _required, _type_name
from .index import IndexSpec, parse_index_views
from .limits import MAX_DIMS, MAX_SAMPLES, MAX_SEED
from .pca import _parse_pca_views
from .precision import _parse_calibration, _parse_precisions
from .types import RandomViews, ViewsSpec, Windows

_INDEX_TEXT_RE = re.compile(r"^(0|[1-9][0-9]*)$")


def parse_dim_selection(text: str, limit: int = MAX_DIMS) -> tuple[int, ...]:
    """``"0:64, 128:192, 300"`` → sorted dimension indices (ranges are half-open).

    Indices are ASCII digits below ``limit`` (checked before any range is expanded); an index
    selected twice (a repeat or overlapping ranges) is an error, as in a list.
    """
    dims: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        bounds = [piece.strip() for piece in part.split(":")] if ":" in part else [part]
        if len(bounds) > 2 or not all(_INDEX_TEXT_RE.match(piece) for piece in bounds):
            raise ValueError(f"{_excerpt(part)} is not an index or a start:end range of indices (digits 0-9)")
        numbers = [int(piece) for piece in bounds]
        if max(numbers) > limit or (len(numbers) == 1 and numbers[0] >= limit):
            raise ValueError(f"{_excerpt(part)} goes beyond index {limit - 1:,} (at most {limit:,} dimensions)")
        chosen = range(numbers[0], numbers[1]) if len(numbers) == 2 else range(numbers[0], numbers[0] + 1)
        if not chosen:
            raise ValueError(f"range {_excerpt(part)} is empty")
        twice = dims.intersection(chosen)
        if twice:
            raise ValueError(f"index {min(twice)} is selected twice")
        dims.update(chosen)
    if not dims:
        raise ValueError("no dimensions selected")
    return tuple(sorted(dims))


def _parse_views(ctx: _Ctx, raw: Any, line: int) -> ViewsSpec:
    views = _mapping(ctx, raw, "views", line)
    _reject_unknown(ctx, views, ["prefix", "windows", "random", "dims", "geometry", "precision", "calibration",
                                 "pca", "index"], "views")
    prefix = None
    if "prefix" in views:
        prefix = _dims_list(ctx, views["prefix"], "views.prefix", views.line_of("prefix"))
    windows = None
    if "windows" in views:
        win = _mapping(ctx, views["windows"], "views.windows", views.line_of("windows"))
        _reject_unknown(ctx, win, ["width", "step"], "views.windows")
        width = _int(ctx, _required(ctx, win, "width", "views.windows"), "views.windows.width", win.line_of("width"),
            maximum=MAX_DIMS)
        windows = Windows(width, _int(ctx, win.get("step", max(1, width // 4)), "views.windows.step",
                                      win.line_of("step"), maximum=MAX_DIMS))
    random = None
    if "random" in views:
        rnd = _mapping(ctx, views["random"], "views.random", views.line_of("random"))
        _reject_unknown(ctx, rnd, ["dims", "samples", "seed"], "views.random")
        random = RandomViews(
            dims=_dims_list(ctx, _required(ctx, rnd, "dims", "views.random"), "views.random.dims", rnd.line_of("dims")),
            samples=_int(ctx, rnd.get("samples", 32), "views.random.samples", rnd.line_of("samples"),
                maximum=MAX_SAMPLES),
            seed=_int(ctx, rnd.get("seed", 0), "views.random.seed", rnd.line_of("seed"), minimum=0, maximum=MAX_SEED),
        )
    dims: dict[str, tuple[int, ...]] = {}
    if "dims" in views:
        dm = _mapping(ctx, views["dims"], "views.dims", views.line_of("dims"))
        if not dm:
            raise ctx.error("views.dims", dm.line, "expected at least one {name: dimensions} entry",
                            'e.g. views: {dims: {first_half: "0:192"}}')
        for label, value in dm.items():
            name = _label(ctx, label, "views.dims", dm.line_of(label))
            key = f"views.dims.{name}"
            if name in dims:
                raise ctx.error(key, dm.line_of(label), f"the name {name} is given twice",
                                "each name may appear once; remove one of them")
            label = name
            if isinstance(value, str):
                try:
                    dims[str(label)] = parse_dim_selection(value)
                except ValueError as exc:
                    raise ctx.error(key, dm.line_of(label), f"bad dimension selection: {exc}",
                                    "write ranges and indices like \"0:64, 128:192, 300\"") from None
            elif isinstance(value, list) and value:
                if len(value) > MAX_DIMS:
                    raise ctx.error(key, dm.line_of(label), f"expected at most {MAX_DIMS:,} indices")
                indices = tuple(_int(ctx, v, key, dm.line_of(label), minimum=0, maximum=MAX_DIMS - 1) for v in value)
                repeated = [] if len(set(indices)) == len(indices) else sorted(
                    {i for i in indices if indices.count(i) > 1})
                if repeated:
                    raise ctx.error(key, dm.line_of(label), f"repeated dimension indices: {repeated[:10]}")
                dims[str(label)] = tuple(sorted(indices))
            else:
                raise ctx.error(key, dm.line_of(label),
                                "expected a list of 0-based indices or a text like \"0:64, 100\", "
                                f"got {_type_name(value)}")
    precision = (_parse_precisions(ctx, views["precision"], "views.precision", views.line_of("precision"))
                 if "precision" in views else ())
    calibration = (_parse_calibration(ctx, views["calibration"], views.line_of("calibration"))
                   if "calibration" in views else None)
    index: tuple[IndexSpec, ...] = ()
    if "index" in views:
        index = parse_index_views(ctx, views["index"], views.line_of("index"))
    pca = _parse_pca_views(ctx, views["pca"], views.line_of("pca")) if "pca" in views else None
    return ViewsSpec(prefix=prefix, windows=windows, random=random, dims=dims,
                     geometry=_bool(ctx, views, "geometry", "views", False), precision=precision,
                     calibration=calibration, line=views.line, pca=pca, index=index)
