"""Score a spec's precision views: calibrate, quantize every view of the one encoding, score in batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DataError, EvaluationError
from .quantize import calibration_ranges, int8_codes, needs_ranges, prepare_slice, represent
from .spec import DataSpec, Spec
from .views import PRECISIONS, View, ViewPlan

if TYPE_CHECKING:
    from .datapaths import DataAccess
    from .engine.prepared import Prepared, Transform

DEFAULT_CALIBRATION = "every text the spec embeds"
_EXACT_FLOAT32_DIMS = 1024  # float32 sums of int8 code products are exact up to this many dimensions
_CHUNK_COLUMNS = 1024  # view columns transformed at once: bounds the memory of one scoring call


def calibration_vectors(
    spec: Spec, plan: ViewPlan, prepared: Prepared, embed: Callable[[Sequence[str], str], np.ndarray],
    needed: bool = False, access: DataAccess | None = None,
) -> tuple[str, np.ndarray | None]:
    """Where int8/uint8 ranges come from, and the full-dimension vectors they are computed on.

    Without ``views.calibration`` that is every vector the task embedded (both sides of a pair
    together): optimistic, the ranges have seen the evaluation texts. With it, the named file's
    texts, embedded (through the cache) in every role the task uses; ``access`` is the spec's data
    access, so the file obeys the project root like every data path.
    """
    if not needed and not any(needs_ranges(view.precision) for view in plan.quantized):
        return "", None
    cal = spec.views.calibration
    if cal is None:
        return DEFAULT_CALIBRATION, prepared.vectors
    vectors = text_file_vectors(
        spec, plan.full_dim, prepared, embed, cal.path, cal.column, f"{spec.path}:{cal.line}: views.calibration",
        "int8/uint8 ranges need at least two",
        "name a file of texts like the ones you will store (hundreds or more), with a header row", access)
    return str(cal.path), vectors


def text_file_vectors(
    spec: Spec, full_dim: int, prepared: Prepared, embed: Callable[[Sequence[str], str], np.ndarray],
    path: Path, column: str, where: str, need: str, hint: str, access: DataAccess | None = None,
) -> np.ndarray:
    """The texts of a csv/tsv/jsonl file (header row, column ``column``), embedded through the cache in
    every role the task uses: calibration texts, PCA fit texts. ``where`` starts every message."""
    from .data import load_texts
    from .datapaths import ANYWHERE

    fmt = {".csv": "csv", ".tsv": "tsv"}.get(path.suffix.lower(), "jsonl")
    try:
        texts = load_texts(DataSpec(path=path, format=fmt, columns={"text": column}, header=True),
                           access or ANYWHERE)
    except DataError as exc:
        if "texts; agreement needs" in exc.message:  # the loader's count message speaks of corpora
            raise EvaluationError(f"{where}: {path} has fewer than two texts in column {column!r}; {need}",
                                  hint=hint) from None
        raise EvaluationError(f"{where}: {exc.message}", hint=exc.hint or hint) from None
    vectors = np.concatenate([embed(texts, role) for role in prepared.roles])
    if vectors.shape[1] != full_dim:
        raise EvaluationError(f"{where}: vectors have {vectors.shape[1]} dims, the task's {full_dim}")
    return vectors


def _chunks(views: Sequence[View]) -> list[list[View]]:
    """Views in batches of one precision each (binary sums then stay exact integers) and bounded width."""
    out: list[list[View]] = [[]]
    width = 0
    for view in sorted(views, key=lambda v: PRECISIONS.index(v.precision)):
        if out[-1] and (width + view.dims > _CHUNK_COLUMNS or out[-1][-1].precision != view.precision):
            out.append([])
            width = 0
        out[-1].append(view)
        width += view.dims
    return [chunk for chunk in out if chunk]


def score_quantized(spec: Spec, plan: ViewPlan, prepared: Prepared,
                    calibration: np.ndarray | None) -> dict[View, float]:
    """The score of every view in ``plan.quantized``, each from the same full-dimension vectors."""
    if prepared.pairs is not None:
        # binary and ubinary store the same bits: score each span's bits once
        distinct = list(dict.fromkeys(_same_bits(view) for view in plan.quantized))
        _, similarities = pair_similarities(spec.task.similarity, distinct, prepared.vectors,
                                            prepared.pairs.left, prepared.pairs.right, calibration)
        values = _finite(spec, distinct, prepared.pairs.score(similarities))
        return {view: values[_same_bits(view)] for view in plan.quantized}
    if prepared.coded is None:  # pragma: no cover - every task kind has one
        raise EvaluationError(f"{spec.task.kind} tasks cannot score precision views")
    columns = _coded_columns(spec, plan.quantized, prepared, calibration, prepared.coded)
    views = list(columns)
    return _finite(spec, views, np.array([columns[view] for view in views], dtype=np.float64))


def quantized_replicates(spec: Spec, views: Sequence[View], prepared: Prepared, calibration: np.ndarray | None,
                         resamples: int, seed: int) -> dict[View, np.ndarray]:
    """Bootstrap replicates (``resamples`` values) of each precision view's score.

    Drawn on the same resampled units (``bootstrap_indices(units, resamples, seed)``) as the float32
    views' replicates, so intervals, shares of the full score and baseline p-values of a view such as
    ``prefix[128]@int8`` are paired with the float32 ones. Empty for task kinds without per-unit values.
    """
    if not views:
        return {}
    if prepared.pairs is not None:
        distinct = list(dict.fromkeys(_same_bits(view) for view in views))
        _, similarities = pair_similarities(spec.task.similarity, distinct, prepared.vectors,
                                            prepared.pairs.left, prepared.pairs.right, calibration)
        reps = prepared.pairs.replicates(similarities, resamples, seed)
        by_view = {view: reps[:, j] for j, view in enumerate(distinct)}
        return {view: by_view[_same_bits(view)] for view in views}
    coded_replicates = prepared.coded_replicates
    if coded_replicates is None:
        return {}

    def scorer(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        assert coded_replicates is not None
        return coded_replicates(transform, ranges, resamples, seed)

    return _coded_columns(spec, views, prepared, calibration, scorer)


def _coded_columns(spec: Spec, views: Sequence[View], prepared: Prepared, calibration: np.ndarray | None,
                   scorer: Callable[[Transform, list[tuple[int, int]]], np.ndarray]) -> dict[View, np.ndarray]:
    """``scorer``'s values (last axis: one per range) for every view, from batches of transformed vectors."""
    similarity = spec.task.similarity
    ranges: dict[tuple[int, int], np.ndarray] = {}
    for view in views:
        if needs_ranges(view.precision) and (view.start, view.end) not in ranges:
            assert calibration is not None
            ranges[(view.start, view.end)] = calibration_ranges(
                prepare_slice(calibration, view.start, view.end, similarity))
    out: dict[View, np.ndarray] = {}
    bits = [v for v in views if v.precision in ("binary", "ubinary")]
    if bits:  # binary and ubinary views, all from one ±1 matrix of the full vectors
        # a sign bit does not change when its slice is renormalised, so every prefix and window is a
        # range of the same codes; binary and ubinary store the same bits and share each value
        spans = list(dict.fromkeys((v.start, v.end) for v in bits))
        values = scorer(lambda rows: represent(rows, "binary", "dot"), spans)
        by_span = {span: values[..., j] for j, span in enumerate(spans)}
        out.update({view: by_span[(view.start, view.end)] for view in bits})
    for chunk in _chunks([v for v in views if v.precision not in ("binary", "ubinary")]):
        def transform(rows: np.ndarray, chunk: list[View] = chunk) -> np.ndarray:
            return np.hstack([represent(rows[:, v.start : v.end], v.precision, similarity,
                                        ranges.get((v.start, v.end))) for v in chunk])

        local: list[tuple[int, int]] = []
        offset = 0
        for view in chunk:
            local.append((offset, offset + view.dims))
            offset += view.dims
        values = scorer(transform, local)
        out.update({view: values[..., j] for j, view in enumerate(chunk)})
    return {view: out[view] for view in views}


def _same_bits(view: View) -> View:
    """``ubinary`` views as their ``binary`` twin (the same bits, the same Hamming distances)."""
    return view.at("binary") if view.precision == "ubinary" else view


def pair_similarities(similarity: str, views: Sequence[View], vectors: np.ndarray, left: np.ndarray,
                      right: np.ndarray, calibration: np.ndarray | None) -> tuple[list[View], np.ndarray]:
    """``n_pairs × V`` similarities of the pairs ``(vectors[left], vectors[right])`` under every view's codes.

    The same codes as :func:`~.quantize.represent` (slice, renormalise, quantize), compared by the same
    similarity, in a few whole-matrix passes instead of one round per view:

    * every span's renormalised slice is written into one matrix (and, when the calibration set is
      the task's own vectors, that matrix also gives the ranges), quantized in one pass;
    * ``int8``/``uint8`` of one span share their buckets (``uint8 = int8 + 128``): the pair dot
      products of the int8 codes are float32 block sums, exact because every partial sum is a whole
      number below 2²⁴, and the uint8 dot and norms follow exactly from them and the codes' sums;
    * ``float16`` values are exact in float32 and so are their products; the sums are taken in float64;
    * ``binary``/``ubinary``: one agreement matrix of sign bits per pair; every prefix and window is
      a range sum of it (``k − 2·Hamming``).
    """
    cosine = similarity == "cosine"
    spans: dict[tuple[int, int], set[str]] = {}
    for view in views:
        spans.setdefault((view.start, view.end), set()).add(view.precision)
    columns: dict[tuple[int, int, str], np.ndarray] = {}
    bit_spans = [span for span, precisions in spans.items() if precisions & {"binary", "ubinary"}]
    if bit_spans:
        signs = np.asarray(vectors) > 0
        agree = np.zeros((left.size, signs.shape[1] + 1), dtype=np.int32)
        np.cumsum(signs[left] == signs[right], axis=1, out=agree[:, 1:])
        for start, end in bit_spans:
            dot = (2 * (agree[:, end] - agree[:, start]) - (end - start)).astype(np.float64)
            for precision in spans[(start, end)] & {"binary", "ubinary"}:
                columns[(start, end, precision)] = dot
    scalar = [span for span, precisions in spans.items() if precisions & {"int8", "uint8"}]
    halves = [span for span, precisions in spans.items() if "float16" in precisions]
    # each pair's two sides, dimension-major: codes are computed where they are compared (no gathers)
    sides = [np.asarray(vectors)[left], np.asarray(vectors)[right]]
    covered = np.union1d(left, right).size == len(vectors)  # then the sides hold every vector
    single = [_DimensionMajor(side, np.float32, cosine) for side in sides] if scalar else []
    for start, end in scalar:  # one span at a time: its blocks stay in cache through every pass
        one, two = (side.slice(start, end) for side in single)
        if calibration is vectors and covered:  # the ranges come from the very slices that are coded
            ranges = np.stack([np.minimum(one.min(axis=1), two.min(axis=1)),
                               np.maximum(one.max(axis=1), two.max(axis=1))])
        else:
            assert calibration is not None
            ranges = calibration_ranges(prepare_slice(calibration, start, end, similarity))
        codes = [int8_codes(one, ranges[:, :, None]), int8_codes(two, ranges[:, :, None])]
        if end - start > _EXACT_FLOAT32_DIMS:
            codes = [side.astype(np.float64) for side in codes]  # wider spans: float32 sums would round
        dot = _column_dots(codes[0], codes[1])
        norms = [_column_dots(side, side) for side in codes]
        if "int8" in spans[(start, end)]:
            columns[(start, end, "int8")] = _cosine(dot, *norms) if cosine else dot
        if "uint8" in spans[(start, end)]:
            width = 16384.0 * (end - start)
            totals = [side.sum(axis=0, dtype=np.float64) for side in codes]
            shifted = dot + 128.0 * (totals[0] + totals[1]) + width
            columns[(start, end, "uint8")] = (
                _cosine(shifted, *(norm + 256.0 * total + width for norm, total in zip(norms, totals, strict=True)))
                if cosine else shifted)
    double = ([side.widened() for side in single] if single else
              [_DimensionMajor(side, np.float64, cosine) for side in sides]) if halves else []
    for start, end in halves:
        stored = [side.slice(start, end).astype(np.float16).astype(np.float64) for side in double]
        dot = _column_dots(stored[0], stored[1])
        columns[(start, end, "float16")] = (_cosine(dot, *(_column_dots(side, side) for side in stored)) if cosine
                                            else dot)
    if any("float32" in precisions for precisions in spans.values()):  # pragma: no cover - scored by the task
        raise ValueError("float32 views are not quantized")
    ordered = list(views)
    return ordered, np.stack([columns[(v.start, v.end, v.precision)] for v in ordered], axis=1)


class _DimensionMajor:
    """Slices of ``vectors`` as ``width × n`` blocks (dimension-major), renormalised for cosine as :func:`unit` does.

    The norms are the row sums np.linalg.norm takes (the same squares, summed the same way), so each
    block is bit for bit ``unit(vectors[:, start:end]).T``.
    """

    def __init__(self, vectors: np.ndarray, dtype: type[np.floating], cosine: bool) -> None:
        rows = np.asarray(vectors, dtype=dtype)
        self.columns: np.ndarray = np.ascontiguousarray(rows.T)
        self.squares: np.ndarray | None = rows * rows if cosine else None

    def widened(self) -> _DimensionMajor:
        """The same vectors in float64 (exact), reusing this transposed copy."""
        wide = object.__new__(_DimensionMajor)
        wide.columns = self.columns.astype(np.float64)
        wide.squares = None if self.squares is None else np.square(self.columns.T.astype(np.float64, order="C"))
        return wide

    def slice(self, start: int, end: int) -> np.ndarray:
        if self.squares is None:
            copied: np.ndarray = self.columns[start:end].copy()
            return copied
        norms = np.sqrt(np.add.reduce(self.squares[:, start:end], axis=1))
        if (norms > 0).all():
            out: np.ndarray = self.columns[start:end] / norms
            return out
        out = np.zeros_like(self.columns[start:end])
        np.divide(self.columns[start:end], norms, out=out, where=norms > 0)
        return out


def _column_dots(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Dot product of each column pair, as float64 (for int8 codes in float32 exact: whole numbers below 2²⁴)."""
    dots: np.ndarray = np.einsum("ij,ij->j", left, right).astype(np.float64)
    return dots


def _cosine(dot: np.ndarray, left_norms: np.ndarray, right_norms: np.ndarray) -> np.ndarray:
    """``dot / sqrt(|a|² |b|²)``, 0 where either vector is zero (as a zero vector's renormalisation stays zero)."""
    denominator = np.sqrt(left_norms * right_norms)
    out = np.zeros_like(dot)
    np.divide(dot, denominator, out=out, where=denominator > 0)
    return out


def _finite(spec: Spec, views: list[View], values: np.ndarray) -> dict[View, float]:
    if not np.isfinite(values).all():
        bad = next(v.label for v, value in zip(views, values, strict=True) if not np.isfinite(value))
        raise EvaluationError(
            f"{spec.path.name}: {bad} scores NaN (its quantized similarities are constant)",
            hint="drop that size or precision from views.precision / the checks",
        )
    return dict(zip(views, values.tolist(), strict=True))


def cost_points(scores: dict[str, float], prefixes: Sequence[int], precisions: Sequence[str]) -> list[
        tuple[View, int, float]]:
    """Every scored (prefix, precision) configuration: its view, bytes per vector and score."""
    points = []
    for precision in precisions:
        for k in prefixes:
            view = View.prefix(k, precision)
            if view.label in scores:
                points.append((view, view.bytes_per_vector(), float(scores[view.label])))
    return points


def pareto_frontier(points: Sequence[tuple[View, int, float]]) -> list[tuple[View, int, float]]:
    """The configurations no other one beats on both bytes (fewer or equal) and score (higher or equal)."""
    ordered = sorted(points, key=lambda p: (p[1], -p[2]))
    frontier: list[tuple[View, int, float]] = []
    for point in ordered:
        if not frontier or point[2] > frontier[-1][2]:
            frontier.append(point)
    return frontier


def cheapest_keeping(points: Sequence[tuple[View, int, float]], target: float) -> tuple[View, int, float] | None:
    """The configuration with the fewest bytes per vector scoring at least ``target`` (ties: higher score)."""
    kept = [p for p in points if p[2] >= target]
    return min(kept, key=lambda p: (p[1], -p[2])) if kept else None
