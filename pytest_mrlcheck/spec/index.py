"""The spec's ANN index parts: ``views.index`` (which indexes to build) and ``checks.index`` (their bounds).

Parsed here, called from :mod:`.checks`, :mod:`.views` and :mod:`.load`; nothing here imports faiss or
numpy. Each kind has a table of build parameters (they key the on-disk index cache) and search parameters
(set at query time).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..yamlload import LineDict
from .fields import _Ctx, _dims_list, _float, _int, _mapping, _reject_unknown, _size_key, _type_name
from .limits import MAX_DIMS
from .types import Checks, TaskSpec, ViewsSpec

BUILD_PARAMS: dict[str, dict[str, int | None]] = {
    "hnsw": {"M": 16, "ef_construction": 200},
    "ivf_flat": {"nlist": None},  # None: round(4·√N), at most N
    "ivf_pq": {"nlist": None, "m": None, "nbits": 8},  # m is required
    "binary_flat": {},
}
SEARCH_PARAMS: dict[str, dict[str, int]] = {
    "hnsw": {"ef_search": 64},
    "ivf_flat": {"nprobe": 8},
    "ivf_pq": {"nprobe": 8},
    "binary_flat": {},
}
INDEX_KINDS = tuple(BUILD_PARAMS)
INDEX_PRECISIONS: dict[str, tuple[str, ...]] = {
    "hnsw": ("float32", "float16", "int8"),  # faiss' scalar-quantizer HNSW stores fp16 or 8-bit codes
    "ivf_flat": ("float32", "float16", "int8"),  # … and IVF with scalar-quantized lists
    "ivf_pq": ("float32",),  # PQ codes are their own compression
    "binary_flat": ("float32",),  # sign bits by definition: the label carries no precision
}
INDEX_METRICS = ("recall_vs_exact", "metric")
MAX_CORPUS = 1_000_000  # vectors an index may be built over
DEFAULT_BUILD_SECONDS = 300.0
_LIMITS = {"M": 256, "ef_construction": 100_000, "ef_search": 100_000, "nlist": MAX_CORPUS, "nprobe": MAX_CORPUS,
           "m": MAX_DIMS, "nbits": 16}
_ENTRY_KEYS = ("kind", "precision", "sizes", "max_build_seconds")


@dataclass(frozen=True)
class IndexSpec:
    """One ``views.index`` entry: the kind, its parameters (defaults filled), precision and sizes."""

    kind: str
    build: Mapping[str, int | None]
    search: Mapping[str, int]
    precision: str = "float32"
    sizes: tuple[int, ...] | None = None  # None: every prefix size the spec scores
    max_build_seconds: float = DEFAULT_BUILD_SECONDS
    line: int = 0


@dataclass(frozen=True)
class IndexBound:
    """``checks.index.<kind>.<size>``: minimum recall against exact search and minimum task metric."""

    kind: str
    dims: int
    precision: str
    recall_vs_exact: float | None
    metric: float | None
    line: int

    @property
    def size_key(self) -> str:
        """The size as the check writes it: ``128`` or ``128@int8``."""
        return str(self.dims) if self.precision == "float32" else f"{self.dims}@{self.precision}"

    @property
    def key(self) -> str:
        """The item's inside: ``hnsw@128`` or ``hnsw@128@int8``."""
        return f"{self.kind}@{self.size_key}"


@dataclass(frozen=True)
class IndexCheck:
    bounds: tuple[IndexBound, ...]
    line: int = 0


def parse_index_views(ctx: _Ctx, raw: Any, line: int) -> tuple[IndexSpec, ...]:
    """``views.index``: a list of ``{kind: ..., <parameters>}`` mappings."""
    if not isinstance(raw, list) or not raw:
        raise ctx.error("views.index", line, f"expected a list of indexes, got {_type_name(raw)}",
                        "e.g. index: [{kind: hnsw, M: 16, ef_construction: 200, ef_search: 64}]")
    out: list[IndexSpec] = []
    seen: dict[tuple[str, str], int] = {}
    for position, item in enumerate(raw):
        where = f"views.index[{position}]"
        entry = _mapping(ctx, item, where, item.line if isinstance(item, LineDict) else line)
        spec = _parse_entry(ctx, entry, where)
        key = (spec.kind, spec.precision)
        if key in seen:
            at = "" if spec.precision == "float32" else f" at {spec.precision}"
            raise ctx.error(f"{where}.kind", entry.line, f"a {spec.kind} index{at} is listed twice "
                            f"(first on line {seen[key]})",
                            "checks.index names an index by kind (and precision): list each once")
        seen[key] = entry.line
        out.append(spec)
    return tuple(out)


def _parse_entry(ctx: _Ctx, entry: LineDict, where: str) -> IndexSpec:
    if "kind" not in entry:
        raise ctx.error(f"{where}.kind", entry.line, "missing required key 'kind'",
                        f"index kinds: {', '.join(INDEX_KINDS)}")
    kind = entry["kind"]
    if kind not in INDEX_KINDS:
        near = difflib.get_close_matches(str(kind)[:100], INDEX_KINDS, n=1, cutoff=0.5)
        raise ctx.error(f"{where}.kind", entry.line_of("kind"), f"unknown index kind {_type_name(kind)}",
                        f"did you mean {near[0]!r}?" if near else f"index kinds: {', '.join(INDEX_KINDS)}")
    build_keys, search_keys = BUILD_PARAMS[kind], SEARCH_PARAMS[kind]
    _reject_unknown(ctx, entry, [*_ENTRY_KEYS, *build_keys, *search_keys], f"{where} ({kind})")
    build: dict[str, int | None] = {}
    for name, default in build_keys.items():
        value = entry.get(name, default)
        if value is None and name == "m":
            raise ctx.error(f"{where}.m", entry.line, "missing required key 'm' (sub-quantizers of the PQ code)",
                            "m must divide every size the index is built at, e.g. m: 16 for 64, 128 and 384 dims")
        build[name] = None if value is None else _int(ctx, value, f"{where}.{name}", entry.line_of(name),
                                                      minimum=4 if name == "nbits" else 1, maximum=_LIMITS[name])
    search = {name: _int(ctx, entry.get(name, default), f"{where}.{name}", entry.line_of(name),
                         maximum=_LIMITS[name]) for name, default in search_keys.items()}
    nlist = build.get("nlist")
    if nlist is not None and "nprobe" in entry and search["nprobe"] > nlist:
        raise ctx.error(f"{where}.nprobe", entry.line_of("nprobe"),
                        f"nprobe {search['nprobe']} is more than the {nlist} lists (nlist)",
                        "nprobe is how many of the nlist lists a query visits: at most nlist")
    precision = entry.get("precision", "float32")
    allowed = INDEX_PRECISIONS[kind]
    if precision not in allowed:
        from ..views import PRECISIONS

        known = precision in PRECISIONS
        hint = (f"{kind} stores float32 vectors only" if len(allowed) == 1
                else f"{kind} can store: {', '.join(allowed)}")
        if kind == "binary_flat":
            hint = "binary_flat already stores one sign bit per dimension: remove precision"
        raise ctx.error(f"{where}.precision", entry.line_of("precision"),
                        f"{kind} cannot take precision {_type_name(precision)}" if known
                        else f"unknown precision {_type_name(precision)}", hint)
    sizes = (_dims_list(ctx, entry["sizes"], f"{where}.sizes", entry.line_of("sizes"))
             if "sizes" in entry else None)
    if sizes is not None and build.get("m"):
        for size in sizes:
            _pq_divides(ctx, build["m"], size, f"{where}.m", entry.line_of("m"))
    seconds = _float(ctx, entry.get("max_build_seconds", DEFAULT_BUILD_SECONDS), f"{where}.max_build_seconds",
                     entry.line_of("max_build_seconds"), 0.0, 86_400.0)
    if seconds <= 0:
        raise ctx.error(f"{where}.max_build_seconds", entry.line_of("max_build_seconds"),
                        "expected a positive number of seconds", f"the default is {DEFAULT_BUILD_SECONDS:g}")
    return IndexSpec(kind, build, search, str(precision), sizes, seconds, entry.line)


def _pq_divides(ctx: _Ctx, m: int | None, size: int, key: str, line: int) -> None:
    if m and size % m:
        raise ctx.error(key, line, f"PQ m = {m} does not divide the size {size}",
                        f"m splits each vector into m equal parts: choose m dividing {size} "
                        f"(e.g. {_divisor_near(size, m)}) or drop that size")


def _divisor_near(size: int, m: int) -> int:
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    return min(divisors, key=lambda d: (abs(d - m), d))


def parse_index_checks(ctx: _Ctx, raw: Any, line: int) -> IndexCheck:
    """``checks.index: {hnsw: {128: {recall_vs_exact: 0.95}, "384@int8": {metric: 0.6}}}``."""
    from ..views import parse_size

    top = _mapping(ctx, raw, "checks.index", line)
    bounds: list[IndexBound] = []
    for kind, sizes in top.items():
        where = f"checks.index.{str(kind)[:60]}"
        if kind not in INDEX_KINDS:
            near = difflib.get_close_matches(str(kind)[:100], INDEX_KINDS, n=1, cutoff=0.5)
            raise ctx.error(where, top.line_of(kind), f"unknown index kind {_type_name(kind)}",
                            f"did you mean {near[0]!r}?" if near else f"index kinds: {', '.join(INDEX_KINDS)}")
        per_size = _mapping(ctx, sizes, where, top.line_of(kind))
        if not per_size:
            raise ctx.error(where, per_size.line, "expected at least one {size: {recall_vs_exact: …}} entry")
        for size_key, bound in per_size.items():
            entry_line = per_size.line_of(size_key)
            precision = "float32"
            if isinstance(size_key, str) and "@" in size_key:
                try:
                    size, precision = parse_size(size_key)
                except ValueError as exc:
                    raise ctx.error(f"{where}.{size_key[:60]}", entry_line, str(exc),
                                    'write the size, or the size and a precision such as "128@int8"') from None
            else:
                size = _size_key(ctx, size_key, f"{where}.{str(size_key)[:60]}", entry_line)
            item = f"{where}.{size_key}"
            values = _mapping(ctx, bound, item, entry_line)
            _reject_unknown(ctx, values, INDEX_METRICS, item)
            if not values:
                raise ctx.error(item, values.line, "expected recall_vs_exact and/or metric",
                                "e.g. {recall_vs_exact: 0.95, metric: 0.60}")
            found = {name: _float(ctx, values[name], f"{item}.{name}", values.line_of(name), -1.0, 1.0)
                     for name in INDEX_METRICS if name in values}
            bounds.append(IndexBound(str(kind), size, precision, found.get("recall_vs_exact"), found.get("metric"),
                                     entry_line))
    if not bounds:
        raise ctx.error("checks.index", top.line, "expected at least one index kind",
                        "e.g. index: {hnsw: {128: {recall_vs_exact: 0.95}}}")
    return IndexCheck(tuple(bounds), top.line)


def check_index_parts(ctx: _Ctx, task: TaskSpec, checks: Checks, views: ViewsSpec) -> None:
    """What only the task, views and checks together tell: a searchable task, and checks of listed indexes."""
    if views.index and task.kind not in ("retrieval", "agreement"):
        raise ctx.error("views.index", views.index[0].line, f"task kind {task.kind} does not search a corpus",
                        "index views work with retrieval and agreement tasks")
    if views.index and task.kind == "agreement" and not task.metric.startswith("overlap@"):
        raise ctx.error("views.index", views.index[0].line,
                        f"an index returns a top-k list; the agreement metric {task.metric} needs every similarity",
                        "use metric: overlap@10 with views.index")
    check = checks.index
    if check is None:
        return
    entries = {(entry.kind, entry.precision): entry for entry in views.index}
    for bound in check.bounds:
        where = f"checks.index.{bound.kind}.{bound.size_key}"
        entry = entries.get((bound.kind, bound.precision))
        if entry is None:
            listed = ", ".join(f"{k}@{p}" if p != "float32" else k for k, p in entries) or "none"
            at = "" if bound.precision == "float32" else f" at {bound.precision}"
            raise ctx.error(where, bound.line, f"no {bound.kind} index{at} is listed under views.index",
                            f"add {{kind: {bound.kind}"
                            + ("" if bound.precision == "float32" else f", precision: {bound.precision}")
                            + f"}} to views.index (listed: {listed})")
        if entry.sizes is not None and bound.dims not in entry.sizes:
            raise ctx.error(where, bound.line, f"size {bound.dims} is not planned for the {bound.kind} index "
                            f"(its sizes: {', '.join(map(str, entry.sizes))})",
                            f"add {bound.dims} to views.index sizes, or check one of the listed sizes")
        _pq_divides(ctx, entry.build.get("m"), bound.dims, where, bound.line)
