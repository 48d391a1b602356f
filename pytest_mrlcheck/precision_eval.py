"""Score a spec's precision views: calibrate, quantize every view of the one encoding, score in batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DataError, EvaluationError
from .quantize import calibration_ranges, needs_ranges, prepare_slice, represent
from .spec import DataSpec, Spec
from .views import PRECISIONS, View, ViewPlan

if TYPE_CHECKING:
    from .datapaths import DataAccess
    from .evaluation import Prepared

DEFAULT_CALIBRATION = "every text the spec embeds"
_CHUNK_COLUMNS = 1024  # view columns transformed at once: bounds the memory of one scoring call


def calibration_vectors(
    spec: Spec, plan: ViewPlan, prepared: Prepared, embed: Callable[[Sequence[str], str], np.ndarray],
    needed: bool = False,
) -> tuple[str, np.ndarray | None]:
    """Where int8/uint8 ranges come from, and the full-dimension vectors they are computed on.

    Without ``views.calibration`` that is every vector the task embedded (both sides of a pair
    together): optimistic, the ranges have seen the evaluation texts. With it, the named file's
    texts, embedded (through the cache) in every role the task uses.
    """
    if not needed and not any(needs_ranges(view.precision) for view in plan.quantized):
        return "", None
    cal = spec.views.calibration
    if cal is None:
        return DEFAULT_CALIBRATION, prepared.vectors
    vectors = text_file_vectors(
        spec, plan.full_dim, prepared, embed, cal.path, cal.column, f"{spec.path}:{cal.line}: views.calibration",
        "int8/uint8 ranges need at least two",
        "name a file of texts like the ones you will store (hundreds or more), with a header row")
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
    if prepared.coded is None:  # pragma: no cover - every task kind has one
        raise EvaluationError(f"{spec.task.kind} tasks cannot score precision views")
    similarity = spec.task.similarity
    ranges: dict[tuple[int, int], np.ndarray] = {}
    for view in plan.quantized:
        if needs_ranges(view.precision) and (view.start, view.end) not in ranges:
            assert calibration is not None
            ranges[(view.start, view.end)] = calibration_ranges(
                prepare_slice(calibration, view.start, view.end, similarity))
    out: dict[View, float] = {}
    bits = [v for v in plan.quantized if v.precision in ("binary", "ubinary")]
    if bits:
        out.update(_score_sign_bits(spec, prepared, bits))
    for chunk in _chunks([v for v in plan.quantized if v.precision not in ("binary", "ubinary")]):
        def transform(rows: np.ndarray, chunk: list[View] = chunk) -> np.ndarray:
            return np.hstack([represent(rows[:, v.start : v.end], v.precision, similarity,
                                        ranges.get((v.start, v.end))) for v in chunk])

        local: list[tuple[int, int]] = []
        offset = 0
        for view in chunk:
            local.append((offset, offset + view.dims))
            offset += view.dims
        out.update(_finite(spec, chunk, prepared.coded(transform, local)))
    return out


def _score_sign_bits(spec: Spec, prepared: Prepared, views: list[View]) -> dict[View, float]:
    """Binary and ubinary views, all from one ±1 matrix of the full vectors.

    A sign bit does not change when its slice is renormalised, so every prefix and window is a
    range of the same codes; ``binary`` and ``ubinary`` store the same bits (Hamming distances
    are equal) and share each score.
    """
    assert prepared.coded is not None
    spans = list(dict.fromkeys((v.start, v.end) for v in views))

    def transform(rows: np.ndarray) -> np.ndarray:
        return represent(rows, "binary", "dot")

    named = [View.prefix(end, "binary") if start == 0 else View.window(start, end, "binary") for start, end in spans]
    values = _finite(spec, named, prepared.coded(transform, spans))
    by_span = {(v.start, v.end): values[v] for v in named}
    return {view: by_span[(view.start, view.end)] for view in views}


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
