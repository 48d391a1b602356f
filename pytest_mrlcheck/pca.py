"""PCA references: the best k-dimensional linear projection of the full vectors, scored as ``pca[k]``.

The question is the Matryoshka paper's: is the first-k prefix as good as a k-dim PCA of the same
vectors? PCA is fitted once per spec, at the largest size, with scikit-learn; every smaller size
uses the leading rows of that fit's components (exactly what ``PCA(n_components=k)`` with the same
solver returns, see :func:`solver_for`). Vectors are mapped as ``PCA.transform`` maps them
(centred, not whitened), renormalised for cosine tasks, and scored through the task's ``coded``
scorer, so every task kind that takes views takes PCA views.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import EvaluationError, MrlcheckError
from .quantize import represent
from .spec import PcaViews, Spec
from .views import View

if TYPE_CHECKING:
    from .datapaths import DataAccess
    from .engine.prepared import Prepared

OPTIMISTIC_NOTE = ("PCA was fitted on the evaluation units themselves (optimistic for PCA); fit on a train "
                   "split or a file of texts (views.pca.fit) for an honest reference")
_CHUNK_COLUMNS = 1024  # projected columns scored at once: bounds the memory of one scoring call
# (compute the scores of these sizes, the sizes, the fit vectors) → the scores, computed or read back
ScoresMemo = Callable[[Callable[[], np.ndarray], Sequence[int], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Projection:
    """A fitted PCA: the fit's mean and its components (largest size, leading rows first)."""

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray  # explained variance ratio of each component
    solver: str

    def transform(self, rows: np.ndarray, k: int) -> np.ndarray:
        """``PCA(n_components=k).transform(rows)``: centred on the fit's mean, not whitened."""
        projected: np.ndarray = (np.asarray(rows, dtype=np.float64) - self.mean) @ self.components[:k].T
        return projected


@dataclass(frozen=True)
class PcaResult:
    """Prefix vs PCA per size, and where the fit came from."""

    fit: str  # corpus, a split name, or path
    source: str  # what the fit texts were, for the report
    texts: int  # how many texts PCA was fitted on
    scores: dict[str, float]  # pca[k] → score
    prefix: dict[int, float]  # prefix[k] → score, the same sizes
    explained: dict[int, float]  # share of the fit's variance the first k components keep
    solver: str
    seconds: float
    note: str | None = None  # set when the fit saw the evaluation units

    def score(self, k: int) -> float:
        return self.scores[View.pca(k).label]

    def to_dict(self) -> dict[str, Any]:
        """``pca`` in the JSON: one row per size (``gap`` = PCA − prefix: how far the prefix trails)."""
        return {
            "fit": self.fit,
            "source": self.source,
            "texts": self.texts,
            "solver": self.solver,
            "seconds": round(self.seconds, 4),
            "note": self.note,
            "sizes": [{"dims": k, "prefix": self.prefix[k], "pca": self.score(k),
                       "gap": self.score(k) - self.prefix[k], "explained_variance": self.explained[k]}
                      for k in sorted(self.prefix)],
        }


def solver_for(samples: int, features: int) -> str:
    """The scikit-learn solver whose components do not depend on ``n_components``.

    ``full`` (LAPACK SVD of the centred data) and ``covariance_eigh`` (eigendecomposition of the
    covariance, scikit-learn ≥ 1.5) both compute every component and keep the first k, so the
    components of a k-dim fit are the leading rows of the largest fit. ``auto`` may pick the
    randomized solver, whose result depends on k and on a random state. ``covariance_eigh`` is the
    faster one when there are more texts than dimensions (a d × d problem instead of n × d).
    """
    import sklearn

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    return "covariance_eigh" if (major, minor) >= (1, 5) and samples >= features else "full"


def fit_projection(vectors: np.ndarray, k: int, where: str) -> Projection:
    """PCA with ``n_components=k`` on ``vectors`` (float64); ``where`` names the spec key in errors."""
    try:
        from sklearn.decomposition import PCA
    except ImportError:
        raise EvaluationError(f"{where}: PCA references need scikit-learn, which is not installed",
                              hint="pip install 'pytest-mrlcheck[tasks]'") from None
    data = np.asarray(vectors, dtype=np.float64)
    solver = solver_for(*data.shape)
    model = PCA(n_components=k, svd_solver=solver).fit(data)
    return Projection(model.mean_, model.components_, model.explained_variance_ratio_, solver)


def score_pca(
    spec: Spec, prepared: Prepared, scores: dict[str, float], prepared_for: Callable[[str], Prepared],
    embed: Callable[[Sequence[str], str], np.ndarray], access: DataAccess,
    fit: Callable[[np.ndarray, int, str], Projection], remember: ScoresMemo,
) -> PcaResult:
    """Fit PCA on ``views.pca.fit`` with ``fit`` (the score memo's memoised :func:`fit_projection`) and
    score ``pca[k]`` for every size, beside ``prefix[k]``, through ``remember`` (the score memo's, keyed
    by the sizes and the fit vectors, so a warm run projects nothing)."""
    cfg = spec.views.pca
    assert cfg is not None
    started = time.perf_counter()
    vectors, texts, source, note = _fit_vectors(spec, cfg, prepared, prepared_for, embed, access)
    for size in cfg.sizes:
        if size.dims > texts:
            raise EvaluationError(
                f"{spec.path}:{size.line}: {size.key}: pca[{size.dims}] needs at least {size.dims} fit texts; "
                f"{source} has {texts}",
                hint=f"use sizes up to {texts}, or fit on more texts (views.pca.fit)")
    largest = max(cfg.dims)
    projection = fit(vectors, largest, f"{spec.path}:{cfg.line}: views.pca")
    sizes = sorted(cfg.dims)

    def project_and_score() -> np.ndarray:
        found = _score_projections(spec, prepared, projection, sizes)
        return np.array([found[View.pca(k).label] for k in sizes], dtype=np.float64)

    values = remember(project_and_score, sizes, vectors)
    pca_scores = {View.pca(k).label: float(value) for k, value in zip(sizes, values.tolist(), strict=True)}
    return PcaResult(
        fit=cfg.fit,
        source=source,
        texts=texts,
        scores=pca_scores,
        prefix={k: scores[View.prefix(k).label] for k in cfg.dims},  # plan_views scored every PCA size
        explained={k: float(projection.explained[:k].sum()) for k in cfg.dims},
        solver=projection.solver,
        seconds=time.perf_counter() - started,
        note=note,
    )


def _fit_vectors(
    spec: Spec, cfg: PcaViews, prepared: Prepared, prepared_for: Callable[[str], Prepared],
    embed: Callable[[Sequence[str], str], np.ndarray], access: DataAccess,
) -> tuple[np.ndarray, int, str, str | None]:
    """The vectors PCA is fitted on, how many texts they are, what they were, and the optimistic note."""
    where = f"{spec.path}:{cfg.fit_line or cfg.line}: views.pca.fit"
    task = spec.task
    if cfg.fit == "path":
        from .precision_eval import text_file_vectors

        assert cfg.path is not None
        vectors = text_file_vectors(
            spec, prepared.full_dim, prepared, embed, cfg.path, cfg.column, where,
            "a PCA fit needs at least as many texts as its largest size",
            "name a file of texts like the ones you will store (hundreds or more), with a header row", access)
        texts = vectors.shape[0] // len(prepared.roles)
        roles = " and ".join(prepared.roles)
        return vectors, texts, f"{cfg.path.name} ({texts} texts, embedded as {roles})", None
    if cfg.fit == "corpus":
        if "corpus" in prepared.fit_sets:
            corpus = prepared.fit_sets["corpus"]()
            return corpus, corpus.shape[0], f"the corpus ({corpus.shape[0]} documents)", None
        return (prepared.vectors, prepared.vectors.shape[0],
                f"every text the task embeds ({prepared.vectors.shape[0]})", OPTIMISTIC_NOTE)
    default = f" (the default fit of {task.kind} specs)" if cfg.default_fit else ""
    evaluation_split = task.data.split or "test"
    if task.kind == "classification":  # splits are rows of one file
        if cfg.fit not in prepared.fit_sets:
            raise EvaluationError(
                f"{where}: split {cfg.fit!r}{default} does not exist: the data's split column has "
                f"{', '.join(repr(name) for name in prepared.fit_sets)}",
                hint="name one of those splits, or fit on a file of texts (fit: data/fit.csv)")
        vectors = prepared.fit_sets[cfg.fit]()
    elif cfg.fit == evaluation_split:
        vectors = prepared.vectors
    else:
        try:
            vectors = prepared_for(cfg.fit).vectors
        except MrlcheckError as exc:
            raise EvaluationError(f"{where}: split {cfg.fit!r}{default} could not be loaded: {exc.message}",
                                  hint="name a split the data has, or fit on a file of texts "
                                  "(fit: data/fit.csv)") from None
    note = OPTIMISTIC_NOTE if cfg.fit == evaluation_split else None
    return vectors, vectors.shape[0], f"split {cfg.fit!r} ({vectors.shape[0]} texts)", note


def _score_projections(spec: Spec, prepared: Prepared, projection: Projection,
                       sizes: Sequence[int]) -> dict[str, float]:
    """``pca[k]`` for every size: the projected blocks (renormalised for cosine) scored by dot product."""
    if prepared.coded is None:  # pragma: no cover - every task kind has one
        raise EvaluationError(f"{spec.task.kind} tasks cannot score PCA views")
    similarity = spec.task.similarity
    chunks: list[list[int]] = [[]]
    for k in sorted(sizes):
        if chunks[-1] and sum(chunks[-1]) + k > _CHUNK_COLUMNS:
            chunks.append([])
        chunks[-1].append(k)
    out: dict[str, float] = {}
    for chunk in chunks:
        def transform(rows: np.ndarray, chunk: list[int] = chunk) -> np.ndarray:
            projected = projection.transform(rows, max(chunk))
            return np.hstack([represent(projected[:, :k], "float32", similarity) for k in chunk])

        offsets = np.cumsum([0, *chunk])
        values = prepared.coded(transform, [(int(offsets[i]), int(offsets[i + 1])) for i in range(len(chunk))])
        for k, value in zip(chunk, values.tolist(), strict=True):
            if not np.isfinite(value):
                raise EvaluationError(f"{spec.path.name}: pca[{k}] scores NaN (its similarities are constant)",
                                      hint="drop that size from views.pca.sizes / checks.pca")
            out[View.pca(k).label] = float(value)
    return out
