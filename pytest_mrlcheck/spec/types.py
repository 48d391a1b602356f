"""The spec format's frozen dataclasses: what a parsed spec is, with the line each part came from."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .index import IndexCheck, IndexSpec


@dataclass(frozen=True)
class Prompts:
    """Text prepended per role before encoding (part of the cache key)."""

    query: str | None = None
    document: str | None = None

    def for_role(self, role: str) -> str | None:
        return self.query if role == "query" else self.document


@dataclass(frozen=True)
class CanarySpec:
    """Re-encode ``sample`` cached texts per role and run; cosine with the cached vector ≥ ``min_cosine``."""

    sample: int = 8
    min_cosine: float = 0.999
    line: int = 0


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    name: str | None
    revision: str | None = None
    normalize: bool = True
    batch_size: int = 64
    prompts: Prompts = field(default_factory=Prompts)
    trust_remote_code: bool = False
    callable: str | None = None
    line: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)  # provider-specific (openai, precomputed)
    canary: CanarySpec | None = None  # None: no canary (local default, or ``canary: false``)

    @property
    def label(self) -> str:
        """Short human name of the model for tables and reports."""
        if self.name:
            return self.name
        if self.callable:
            return self.callable
        if "path" in self.settings:
            return Path(self.settings["path"]).name
        return self.provider


@dataclass(frozen=True)
class DataSpec:
    path: Path
    format: str
    columns: Mapping[str, str | int]
    header: bool
    split: str | None = None
    limit: int | None = None
    document: str = "{title} {text}"
    line: int = 0
    path_template: str | None = None  # the path as written, when it contains {split}
    hf: Mapping[str, Any] | None = None  # Hugging Face datasets source: path, name, revision, qrels
    mteb: Mapping[str, Any] | None = None  # an MTEB task: task, subset, revision

    @property
    def source(self) -> str:
        """Where the data comes from, for reports and messages."""
        if self.hf is not None:
            return f"hf:{self.hf['path']}" + (f"[{self.hf['name']}]" if self.hf.get("name") else "")
        if self.mteb is not None:
            return f"mteb:{self.mteb['task']}"
        return str(self.path)

    def with_split(self, split: str) -> DataSpec:
        """The same data source for another split (a ``{split}`` path, a qrels file, a hub split)."""
        if self.format in ("beir", "hf", "mteb"):
            return dataclasses.replace(self, split=split)
        return dataclasses.replace(self, path=_resolve_template(self, split), split=split)


def _resolve_template(data: DataSpec, split: str) -> Path:
    assert data.path_template is not None
    # path_template is absolute (resolved against the spec's folder when parsed)
    return Path(data.path_template.replace("{split}", split))


@dataclass(frozen=True)
class InformedSpec:
    """Choose the best ``dims`` dimensions on one split, score them on the evaluation split."""

    dims: int
    select_split: str
    method: str = "greedy"  # greedy | windows
    block: int = 16
    tolerance: float | None = None  # with it, an item: prefix[dims] ≥ informed[dims] − tolerance
    export: Path | None = None
    line: int = 0


@dataclass(frozen=True)
class FunnelSpec:
    """``task.funnel``: shortlist ``shortlist`` documents at ``shortlist_dims``, rerank them at ``rerank_dims``."""

    shortlist_dims: int
    shortlist: int = 100
    rerank_dims: int | None = None  # None: the full vector
    min: float | None = None  # the funnel's score must reach this
    min_ratio: float | None = None  # ... or this share of the full score
    line: int = 0
    shortlist_precision: str = "float32"
    rerank_precision: str = "float32"


@dataclass(frozen=True)
class TaskSpec:
    kind: str
    data: DataSpec
    metric: str
    similarity: str = "cosine"
    ignore_identical_ids: bool = False
    line: int = 0
    splits: tuple[str, ...] = ()
    informed: InformedSpec | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # kind-specific: classifier, seeds, queries, funnel
    funnel: FunnelSpec | None = None  # the typed ``options["funnel"]`` (retrieval only)


@dataclass(frozen=True)
class Threshold:
    """One ``{dims: value}`` entry of a mapping-style check."""

    dims: int
    value: float
    line: int
    precision: str = "float32"  # "128@int8" keys: the view at that storage precision

    @property
    def key(self) -> str:
        """The entry's size as written in item ids: ``128`` or ``128@int8``."""
        return str(self.dims) if self.precision == "float32" else f"{self.dims}@{self.precision}"


@dataclass(frozen=True)
class PrefixCheck:
    thresholds: tuple[Threshold, ...]
    line: int = 0
    confidence: float | None = None


@dataclass(frozen=True)
class RelativeCheck:
    thresholds: tuple[Threshold, ...]
    line: int = 0
    confidence: float | None = None


@dataclass(frozen=True)
class SegmentsCheck:
    width: int
    step: int
    min: float
    xfail: str | None = None
    line: int = 0
    confidence: float | None = None


@dataclass(frozen=True)
class RandomCheck:
    dims: tuple[int, ...]
    samples: int
    seed: int
    margin: float
    xfail: str | None = None
    line: int = 0


@dataclass(frozen=True)
class MonotonicCheck:
    tolerance: float
    xfail: str | None = None
    line: int = 0


@dataclass(frozen=True)
class MinDimsCheck:
    ratio: float
    max: int | None = None  # None: any size reaching the ratio passes
    step: int = 8
    xfail: str | None = None
    line: int = 0
    precision: str = "float32"  # the smallest k at this precision keeping ratio × the float32 full score


@dataclass(frozen=True)
class CheapestCheck:
    """The (size, precision) with the fewest bytes per vector keeping ``ratio`` of the float32 full score."""

    ratio: float
    max_bytes: int | None = None
    xfail: str | None = None
    line: int = 0


@dataclass(frozen=True)
class DimsThreshold:
    label: str
    value: float
    line: int


@dataclass(frozen=True)
class DimsCheck:
    thresholds: tuple[DimsThreshold, ...]
    line: int = 0
    confidence: float | None = None


@dataclass(frozen=True)
class GeometryCheck:
    """Bounds per prefix size on geometry metrics; the direction follows the metric."""

    bounds: Mapping[str, tuple[Threshold, ...]]
    line: int = 0


@dataclass(frozen=True)
class ServerTruncationCheck:
    """Vectors the provider truncates (``dimensions``) vs the client-side prefix of the full vector."""

    dims: tuple[int, ...]
    min_cosine: float = 0.99
    max_score_gap: float = 0.01
    xfail: str | None = None
    line: int = 0
    # the server's truncation contract, checked against the live endpoint once per run
    max_norm_error: float | None = None  # |norm − 1| of server-truncated vectors (when normalize is on)
    reject: tuple[int, ...] = ()  # sizes the server must refuse with a 4xx
    order_invariance: bool = False  # the same texts shuffled give the same vectors
    batch_invariance: tuple[int, ...] = ()  # ... and so do batches of these sizes


@dataclass(frozen=True)
class Checks:
    prefix: PrefixCheck | None = None
    relative: RelativeCheck | None = None
    segments: SegmentsCheck | None = None
    random: RandomCheck | None = None
    monotonic: MonotonicCheck | None = None
    min_dims: MinDimsCheck | None = None
    dims: DimsCheck | None = None
    geometry: GeometryCheck | None = None
    server_truncation: ServerTruncationCheck | None = None
    cheapest: CheapestCheck | None = None
    pca: PcaCheck | None = None
    index: IndexCheck | None = None  # bounds on ANN index views (index_spec)


@dataclass(frozen=True)
class Windows:
    width: int
    step: int


@dataclass(frozen=True)
class RandomViews:
    dims: tuple[int, ...]
    samples: int
    seed: int


@dataclass(frozen=True)
class ViewsSpec:
    """Views reported without a check of their own."""

    prefix: tuple[int, ...] | None = None
    windows: Windows | None = None
    random: RandomViews | None = None
    dims: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    geometry: bool = False
    precision: tuple[str, ...] = ()  # every prefix and window also scored at each (float32 is always scored)
    calibration: CalibrationSpec | None = None
    line: int = 0
    pca: PcaViews | None = None  # PCA references pca[k] (also set by checks.pca alone)
    index: tuple[IndexSpec, ...] = ()  # ANN indexes every prefix is also searched through (index_spec)


@dataclass(frozen=True)
class CalibrationSpec:
    """Texts whose vectors give the int8/uint8 ranges (default: every text the spec embeds)."""

    path: Path
    column: str = "text"
    line: int = 0


@dataclass(frozen=True)
class PcaSize:
    """One PCA size and the key that asked for it (``views.pca.sizes`` or ``checks.pca.64``)."""

    dims: int
    key: str
    line: int


@dataclass(frozen=True)
class PcaViews:
    """``views.pca``: PCA projections fitted on named texts, scored as ``pca[k]`` beside ``prefix[k]``.

    ``fit`` is ``corpus``, a split name, or ``path`` (then ``path`` and ``column`` name a text file).
    ``default_fit`` says the fit was not written but chosen for the task kind.
    """

    fit: str
    sizes: tuple[PcaSize, ...]
    path: Path | None = None
    column: str = "text"
    default_fit: bool = False
    line: int = 0
    fit_line: int = 0

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(sorted({size.dims for size in self.sizes}))


@dataclass(frozen=True)
class PcaGap:
    """``checks.pca.64: {max_gap: 0.02}``: the prefix may trail ``pca[64]`` by at most ``max_gap``."""

    dims: int
    max_gap: float
    line: int
    xfail: str | None = None


@dataclass(frozen=True)
class PcaCheck:
    gaps: tuple[PcaGap, ...]
    line: int = 0


@dataclass(frozen=True)
class BaselineSpec:
    """Where the recorded scores live and how much a view may drop before the item fails."""

    path: Path
    tolerance: float = 0.005
    significance: float | None = None
    line: int = 0


@dataclass(frozen=True)
class CompareSpec:
    """A reference model evaluated on the same data and views; the candidate may not be worse."""

    model: ModelSpec
    max_drop: float
    pairs: tuple[tuple[int, int], ...] | None = None  # (candidate dims, reference dims)
    significance: float | None = None
    line: int = 0
    xfail: str | None = None


@dataclass(frozen=True)
class BootstrapSpec:
    """Paired bootstrap over evaluation units (pairs for STS, queries for retrieval)."""

    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    line: int = 0


@dataclass(frozen=True)
class Spec:
    name: str
    path: Path
    line: int
    model: ModelSpec
    task: TaskSpec
    checks: Checks
    views: ViewsSpec
    baseline: BaselineSpec | None = None
    compare: CompareSpec | None = None
    bootstrap: BootstrapSpec | None = None
    requires_env: tuple[str, ...] = ()
    allow_outside_root: bool = False  # may read data outside the project root (pytest's rootdir)

    @property
    def needs_bootstrap(self) -> bool:
        """Whether any check asks for intervals or significance (or the spec asks for intervals)."""
        checks = self.checks
        return bool(
            self.bootstrap
            or any(
                c is not None and c.confidence
                for c in (checks.prefix, checks.relative, checks.segments, checks.dims)
            )
            or (self.baseline and self.baseline.significance)
            or (self.compare and self.compare.significance)
        )

    @property
    def directory(self) -> Path:
        return self.path.parent
