"""The ``checks`` section: thresholds per size, each check's settings, the server-truncation contract."""

from __future__ import annotations

from typing import Any

from ..yamlload import LineDict
from .fields import (
    _bool,
    _confidence,
    _Ctx,
    _dims_list,
    _float,
    _int,
    _label,
    _mapping,
    _no_repeats,
    _reject_unknown,
    _required,
    _size_key,
    _xfail,
)
from .index import parse_index_checks
from .limits import MAX_DIMS, MAX_SAMPLES, MAX_SEED
from .pca import _parse_pca_check
from .precision import _known_precision, _precision_key
from .types import (
    CheapestCheck,
    Checks,
    DimsCheck,
    DimsThreshold,
    GeometryCheck,
    MinDimsCheck,
    ModelSpec,
    MonotonicCheck,
    PrefixCheck,
    RandomCheck,
    RelativeCheck,
    SegmentsCheck,
    ServerTruncationCheck,
    Threshold,
)

GEOMETRY_METRICS = ("isoscore", "uniformity", "mean_abs_correlation", "effective_rank", "participation_ratio",
                    "outliers")


def _thresholds(ctx: _Ctx, raw: Any, key: str, line: int, low: float, high: float,
                precision_ok: bool = False) -> tuple[Threshold, ...]:
    mapping = _mapping(ctx, raw, key, line)
    out: list[Threshold] = []
    for dims, value in mapping.items():
        if dims == "confidence":
            continue
        entry_line = mapping.line_of(dims)
        precision = "float32"
        if isinstance(dims, str) and "@" in dims:
            dims, precision = _precision_key(ctx, dims, key, entry_line, precision_ok)
        size = _size_key(ctx, dims, f"{key}.{str(dims)[:60]}", entry_line)
        out.append(Threshold(size, _float(ctx, value, f"{key}.{mapping_key(size, precision)}", entry_line, low, high),
                             entry_line, precision))
    if not out:
        raise ctx.error(key, line, "expected at least one {dims: value} entry")
    _no_repeats(ctx, ((t.key, t.line) for t in out), key, "size")
    return tuple(sorted(out, key=_threshold_order))


def mapping_key(dims: Any, precision: str) -> str:
    """How a threshold's key reads in messages: ``128`` or ``128@int8``."""
    return str(dims) if precision == "float32" else f"{dims}@{precision}"


def _threshold_order(threshold: Threshold) -> tuple[int, int]:
    from ..views import PRECISIONS

    return threshold.dims, PRECISIONS.index(threshold.precision)


def _parse_checks(ctx: _Ctx, raw: Any, line: int) -> Checks:
    checks = _mapping(ctx, raw, "checks", line)
    allowed = ["prefix", "relative", "segments", "random", "monotonic", "min_dims", "dims", "geometry",
               "server_truncation", "cheapest", "pca", "index"]
    _reject_unknown(ctx, checks, allowed, "checks")
    if not checks:
        raise ctx.error("checks", line, "no checks declared",
                        f"declare at least one of {', '.join(allowed)}, or remove 'checks:' and use baseline")
    result: dict[str, Any] = {}
    if "prefix" in checks:
        result["prefix"] = PrefixCheck(
            _thresholds(ctx, checks["prefix"], "checks.prefix", checks.line_of("prefix"), -1.0, 1.0, True),
            checks.line_of("prefix"), _confidence(ctx, checks["prefix"], "checks.prefix"))
    if "relative" in checks:
        result["relative"] = RelativeCheck(
            _thresholds(ctx, checks["relative"], "checks.relative", checks.line_of("relative"), 0.0, 1.5, True),
            checks.line_of("relative"), _confidence(ctx, checks["relative"], "checks.relative"))
    if "segments" in checks:
        seg = _mapping(ctx, checks["segments"], "checks.segments", checks.line_of("segments"))
        _reject_unknown(ctx, seg, ["width", "step", "min", "xfail", "confidence"], "checks.segments")
        width = _int(ctx, _required(ctx, seg, "width", "checks.segments"), "checks.segments.width",
                     seg.line_of("width"), maximum=MAX_DIMS)
        result["segments"] = SegmentsCheck(
            width=width,
            step=_int(ctx, seg.get("step", max(1, width // 4)), "checks.segments.step", seg.line_of("step"),
                maximum=MAX_DIMS),
            min=_float(ctx, _required(ctx, seg, "min", "checks.segments"), "checks.segments.min",
                       seg.line_of("min"), -1.0, 1.0),
            xfail=_xfail(ctx, seg, "checks.segments"),
            line=seg.line,
            confidence=_confidence(ctx, seg, "checks.segments"),
        )
    if "random" in checks:
        rnd = _mapping(ctx, checks["random"], "checks.random", checks.line_of("random"))
        _reject_unknown(ctx, rnd, ["dims", "samples", "seed", "margin", "xfail"], "checks.random")
        result["random"] = RandomCheck(
            dims=_dims_list(ctx, _required(ctx, rnd, "dims", "checks.random"), "checks.random.dims",
                            rnd.line_of("dims")),
            samples=_int(ctx, rnd.get("samples", 32), "checks.random.samples", rnd.line_of("samples"),
                maximum=MAX_SAMPLES),
            seed=_int(ctx, rnd.get("seed", 0), "checks.random.seed", rnd.line_of("seed"), minimum=0, maximum=MAX_SEED),
            margin=_float(ctx, rnd.get("margin", 0.0), "checks.random.margin", rnd.line_of("margin"), -1.0, 1.0),
            xfail=_xfail(ctx, rnd, "checks.random"),
            line=rnd.line,
        )
    if "monotonic" in checks:
        mono_raw = checks["monotonic"]
        if mono_raw is True or mono_raw is None:
            mono_raw = LineDict(line=checks.line_of("monotonic"))
        mono = _mapping(ctx, mono_raw, "checks.monotonic", checks.line_of("monotonic"))
        _reject_unknown(ctx, mono, ["tolerance", "xfail"], "checks.monotonic")
        result["monotonic"] = MonotonicCheck(
            tolerance=_float(ctx, mono.get("tolerance", 0.0), "checks.monotonic.tolerance",
                             mono.line_of("tolerance"), 0.0, 1.0),
            xfail=_xfail(ctx, mono, "checks.monotonic"),
            line=mono.line,
        )
    if "min_dims" in checks:
        md = _mapping(ctx, checks["min_dims"], "checks.min_dims", checks.line_of("min_dims"))
        _reject_unknown(ctx, md, ["ratio", "max", "step", "xfail", "precision"], "checks.min_dims")
        result["min_dims"] = MinDimsCheck(
            ratio=_float(ctx, _required(ctx, md, "ratio", "checks.min_dims"), "checks.min_dims.ratio",
                         md.line_of("ratio"), 0.0, 1.0),
            max=None if md.get("max") is None else _int(ctx, md["max"], "checks.min_dims.max", md.line_of("max"),
                                                         maximum=MAX_DIMS),
            step=_int(ctx, md.get("step", 8), "checks.min_dims.step", md.line_of("step"), maximum=MAX_DIMS),
            xfail=_xfail(ctx, md, "checks.min_dims"),
            line=md.line,
            precision=_known_precision(ctx, md.get("precision", "float32"), "checks.min_dims.precision",
                                       md.line_of("precision")),
        )
    if "dims" in checks:
        dm = _mapping(ctx, checks["dims"], "checks.dims", checks.line_of("dims"))
        entries = tuple(
            DimsThreshold(_label(ctx, label, "checks.dims", dm.line_of(label)),
                          _float(ctx, value, f"checks.dims.{label}", dm.line_of(label), -1.0, 1.0), dm.line_of(label))
            for label, value in dm.items() if label != "confidence"
        )
        if not entries:
            raise ctx.error("checks.dims", dm.line, "expected at least one {name: bound} entry",
                            "name a list declared under views.dims")
        _no_repeats(ctx, ((e.label, e.line) for e in entries), "checks.dims", "the name")
        result["dims"] = DimsCheck(entries, dm.line, _confidence(ctx, dm, "checks.dims"))
    if "geometry" in checks:
        geo = _mapping(ctx, checks["geometry"], "checks.geometry", checks.line_of("geometry"))
        _reject_unknown(ctx, geo, GEOMETRY_METRICS, "checks.geometry")
        if not geo:
            raise ctx.error("checks.geometry", geo.line, "expected at least one metric",
                            f"metrics: {', '.join(GEOMETRY_METRICS)}")
        result["geometry"] = GeometryCheck(
            {str(metric): _thresholds(ctx, geo[metric], f"checks.geometry.{metric}", geo.line_of(metric),
                                      -1e9, 1e9) for metric in geo},
            geo.line,
        )
    if "server_truncation" in checks:
        result["server_truncation"] = _parse_server_truncation(ctx, checks)
    if "cheapest" in checks:
        result["cheapest"] = _parse_cheapest(ctx, checks["cheapest"], checks.line_of("cheapest"))
    if "pca" in checks:
        result["pca"] = _parse_pca_check(ctx, checks["pca"], checks.line_of("pca"))
    if "index" in checks:
        result["index"] = parse_index_checks(ctx, checks["index"], checks.line_of("index"))
    return Checks(**result)


def _parse_cheapest(ctx: _Ctx, raw: Any, line: int) -> CheapestCheck:
    cheap = _mapping(ctx, raw, "checks.cheapest", line)
    _reject_unknown(ctx, cheap, ["ratio", "max_bytes", "xfail"], "checks.cheapest")
    max_bytes = cheap.get("max_bytes")
    return CheapestCheck(
        ratio=_float(ctx, _required(ctx, cheap, "ratio", "checks.cheapest"), "checks.cheapest.ratio",
                     cheap.line_of("ratio"), 0.0, 1.0),
        max_bytes=None if max_bytes is None else _int(ctx, max_bytes, "checks.cheapest.max_bytes",
                                                     cheap.line_of("max_bytes"), maximum=4 * MAX_DIMS),
        xfail=_xfail(ctx, cheap, "checks.cheapest"),
        line=cheap.line,
    )


SERVER_TRUNCATION_KEYS = ("dims", "min_cosine", "max_score_gap", "xfail", "max_norm_error", "reject",
                          "order_invariance", "batch_invariance")


def _parse_server_truncation(ctx: _Ctx, checks: LineDict) -> ServerTruncationCheck:
    where = "checks.server_truncation"
    st = _mapping(ctx, checks["server_truncation"], where, checks.line_of("server_truncation"))
    _reject_unknown(ctx, st, SERVER_TRUNCATION_KEYS, where)
    contract = [key for key in ("reject", "order_invariance", "batch_invariance") if key in st]
    if "dims" not in st and not contract:
        raise ctx.error(f"{where}.dims", st.line, "missing required key 'dims'",
                        "the sizes to request with dimensions: k, e.g. dims: [256, 512]")
    dims = _dims_list(ctx, st["dims"], f"{where}.dims", st.line_of("dims")) if "dims" in st else ()
    max_norm_error = None
    if st.get("max_norm_error") is not None:
        if not dims:
            raise ctx.error(f"{where}.max_norm_error", st.line_of("max_norm_error"),
                            "max_norm_error checks the norms of vectors requested at the sizes in dims",
                            "add dims: [...]")
        max_norm_error = _float(ctx, st["max_norm_error"], f"{where}.max_norm_error", st.line_of("max_norm_error"),
                                0.0, 1.0)
    reject = _dims_list(ctx, st["reject"], f"{where}.reject", st.line_of("reject")) if "reject" in st else ()
    for size in reject:
        if size in dims:
            raise ctx.error(f"{where}.reject", st.line_of("reject"),
                            f"size {size} is both in dims (valid) and in reject (must be refused)",
                            "reject lists sizes the server must refuse, e.g. [5, 4096] for a 1536-dim model")
    batches = (_dims_list(ctx, st["batch_invariance"], f"{where}.batch_invariance", st.line_of("batch_invariance"))
               if "batch_invariance" in st else ())
    return ServerTruncationCheck(
        dims=dims,
        min_cosine=_float(ctx, st.get("min_cosine", 0.99), f"{where}.min_cosine", st.line_of("min_cosine"), -1.0, 1.0),
        max_score_gap=_float(ctx, st.get("max_score_gap", 0.01), f"{where}.max_score_gap",
                             st.line_of("max_score_gap"), 0.0, 2.0),
        xfail=_xfail(ctx, st, where),
        line=st.line,
        max_norm_error=max_norm_error,
        reject=reject,
        order_invariance=_bool(ctx, st, "order_invariance", where, False),
        batch_invariance=batches,
    )


def _check_server_contract(ctx: _Ctx, model: ModelSpec, checks: Checks) -> None:
    """What only the model and the checks together can tell: sizes to reject that are valid sizes,
    and live checks on a provider that has no live endpoint."""
    st = checks.server_truncation
    if st is None:
        return
    where = "checks.server_truncation"
    if model.provider == "precomputed":
        keys = [key for key, on in (("order_invariance", st.order_invariance), ("batch_invariance",
                st.batch_invariance), ("reject", st.reject), ("dims", st.dims)) if on]
        raise ctx.error(f"{where}.{keys[0]}", st.line,
                        "precomputed vectors are read from a file: there is no server to ask for "
                        f"{'another order, other batches or other sizes' if keys[0] != 'dims' else 'other sizes'}",
                        "run this check against the provider that produced the vectors (provider: openai)")
    valid: set[int] = set()
    for section in (checks.prefix, checks.relative):
        if section is not None:
            valid.update(t.dims for t in section.thresholds)
    if model.settings.get("dimensions") is not None:
        valid.add(int(model.settings["dimensions"]))
    clash = sorted(valid.intersection(st.reject))
    if clash:
        raise ctx.error(f"{where}.reject", st.line,
                        f"size {clash[0]} is a valid size for this model (the spec uses it elsewhere) and cannot be "
                        "one the server must refuse",
                        "reject lists impossible sizes: below the model's smallest size or above its full "
                        "dimension, e.g. [5, 4096] for a 1536-dim model")
