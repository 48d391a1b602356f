"""A memo of scores in the embedding cache: a warm run of unchanged inputs reads its numbers back.

``_score`` asks the memo for the view scores and the bootstrap replicates of an evaluation; when
the exact same inputs were scored before, the stored float64 values are returned (no k-means, no
logistic fit, no scikit-learn import), else the scorer runs and its values are stored. A warm
result is therefore the cold result, bit for bit.

The key is a SHA-256 of everything that can change the numbers, kept conservative:

- every text list and vector matrix the evaluation embedded (role, texts, dtype, shape, bytes),
- the dataset fingerprint (texts, labels, gold scores, qrels, splits in order), the task (kind,
  metric, similarity, every option, the data settings) and the model settings,
- the call: which scorer, the view ranges and masks (dtype, shape, bytes), resamples and seed,
- the package's own source files (any code change invalidates) and the installed versions of
  numpy, scipy and scikit-learn (read from their metadata, without importing them).

Only an on-disk cache memoises (``--mrlcheck-no-cache`` keeps none); ``--mrlcheck-refresh``
recomputes and replaces; a read-only cache is read and never written.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .store import SqliteStore, VectorStore

if TYPE_CHECKING:
    from .pca import Projection
    from .spec import Spec

MEMO_FORMAT = b"score-memo 1"
_LIBRARIES = ("numpy", "scipy", "scikit-learn")
_PACKAGE = Path(__file__).resolve().parent
_SOLVERS = ("full", "covariance_eigh")  # PCA solvers, stored by position


@functools.cache
def code_digest() -> bytes:
    """SHA-256 of every Python file of the package (path and bytes), computed once per process."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\x00")
        digest.update(path.read_bytes())
        digest.update(b"\x00")
    return digest.digest()


@functools.cache
def library_versions() -> bytes:
    """The installed versions of the numerical libraries the scorers use (metadata only)."""
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return json.dumps(versions, sort_keys=True).encode()


def _add_array(digest: hashlib._Hash, values: np.ndarray) -> None:
    array = np.ascontiguousarray(values)
    digest.update(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(array.data.cast("B") if array.size else b"")


class InputDigest:
    """A running SHA-256 of what one evaluation embedded, in order (inactive: records nothing)."""

    def __init__(self, active: bool = False) -> None:
        self._digest = hashlib.sha256(b"embedded") if active else None

    def add(self, role: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        if self._digest is None:
            return
        self._digest.update(f"{role}|{len(texts)}|".encode())
        _add_array(self._digest, np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
        self._digest.update("\x00".join(texts).encode("utf-8", "surrogatepass"))
        _add_array(self._digest, vectors)

    def value(self) -> bytes | None:
        return None if self._digest is None else self._digest.digest()


def memo_store(store: VectorStore) -> SqliteStore | None:
    """The store that keeps the memo: only the on-disk cache does."""
    return store if isinstance(store, SqliteStore) else None


@dataclass(frozen=True)
class ScoreMemo:
    """The memo of one evaluation: its base key, where rows live, and whether stored rows are read."""

    store: SqliteStore | None
    base: bytes
    read: bool = True
    # the last array digest_of hashed, held so that its id stays its own: (array, digest)
    last_digest: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def of(cls, spec: Spec, store: VectorStore, inputs: InputDigest, fingerprint: str,
           refresh: bool = False) -> ScoreMemo:
        """The memo of an evaluation of ``spec`` whose embedded inputs are ``inputs``."""
        embedded = inputs.value()
        target = memo_store(store)
        if embedded is None or target is None:
            return cls(None, b"", False)
        digest = hashlib.sha256(MEMO_FORMAT)
        for part in (code_digest(), library_versions(), embedded, fingerprint.encode(),
                     repr(spec.task).encode(), repr(spec.model).encode()):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
        return cls(target, digest.digest(), not refresh)

    def key(self, what: str, ranges: Sequence[tuple[int, int]], masks: np.ndarray, *numbers: int) -> bytes:
        """The row key of one call: the base key, the scorer, its views and its numeric arguments."""
        digest = hashlib.sha256(self.base)
        digest.update(json.dumps([what, [list(r) for r in ranges], list(numbers)]).encode())
        _add_array(digest, masks)
        return digest.digest()

    def digest_of(self, values: np.ndarray | None) -> np.ndarray:
        """A 32-byte stand-in for ``values`` in a call's key (``masks``): large inputs such as calibration
        vectors are hashed once for every call that needs them, and not at all without a memo."""
        if values is not None and self.last_digest and self.last_digest[0][0] is values:
            return self.last_digest[0][1]  # the PCA fit and its projected views share fit vectors
        digest = hashlib.sha256(b"none" if values is None else b"array")
        if self.store is not None and values is not None:
            _add_array(digest, np.asarray(values))
        stand_in: np.ndarray = np.frombuffer(digest.digest(), dtype=np.uint8).copy()
        if values is not None and self.store is not None:
            self.last_digest[:] = [(values, stand_in)]
        return stand_in

    def scored(self, what: str, compute: Callable[[], np.ndarray], ranges: Sequence[tuple[int, int]],
               masks: np.ndarray, *numbers: int) -> np.ndarray:
        """The values of ``compute()`` for these arguments: read back when stored, else computed and stored."""
        if self.store is None:
            return compute()
        key = self.key(what, ranges, masks, *numbers)
        if self.read:
            found = self.store.memo_get(key)
            if found is not None:
                return found
        values = compute()
        if isinstance(values, np.ndarray) and values.dtype == np.float64:  # what the memo can give back exactly
            self.store.memo_put(key, what, values)
        return values

    def projected_scores(self, compute: Callable[[], np.ndarray], sizes: Sequence[int],
                         fit_vectors: np.ndarray) -> np.ndarray:
        """The ``pca[k]`` scores of ``sizes``, keyed also by the vectors PCA was fitted on (the fit,
        and so the projection, follows from them and the largest size)."""
        return self.scored("pca-scores", compute, [(0, k) for k in sizes], self.digest_of(fit_vectors))

    def fitted_projection(self, fit: Callable[[np.ndarray, int, str], Projection]
                          ) -> Callable[[np.ndarray, int, str], Projection]:
        """``fit`` (a PCA fit), memoised on the fit vectors and size: a stored fit is
        ``mean; components; explained ratios; solver`` as one ``(k + 3) × d`` float64 matrix."""
        if self.store is None:
            return fit

        def memoised(vectors: np.ndarray, k: int, where: str) -> Projection:
            from .pca import Projection

            fitted: list[Projection] = []

            def compute() -> np.ndarray:
                fitted.append(fit(vectors, k, where))
                return _packed(fitted[0], vectors.shape[1])

            values = self.scored("pca-fit", compute, [(0, k)], self.digest_of(vectors))
            if fitted:  # fitted now: the fit itself
                return fitted[0]
            return Projection(values[0], values[1 : k + 1], values[k + 1, :k], _SOLVERS[int(values[k + 2, 0])])

        return memoised


def _packed(projection: Projection, dim: int) -> np.ndarray:
    """A fit as one float64 matrix; an empty float32 one (never stored) for a fit the memo could
    not give back exactly (another solver, values not float64)."""
    k = projection.components.shape[0]
    parts = (projection.mean, projection.components, projection.explained)
    if projection.solver not in _SOLVERS or any(np.asarray(part).dtype != np.float64 for part in parts) or (
            projection.components.shape != (k, dim) or np.shape(projection.explained) != (k,)):
        return np.zeros((0, dim), dtype=np.float32)
    packed = np.zeros((k + 3, dim), dtype=np.float64)
    packed[0] = projection.mean
    packed[1 : k + 1] = projection.components
    packed[k + 1, :k] = projection.explained
    packed[k + 2, 0] = _SOLVERS.index(projection.solver)
    return packed
