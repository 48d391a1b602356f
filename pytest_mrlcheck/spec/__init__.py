"""The spec format (v1): YAML documents → frozen dataclasses, with ``path:line`` on every error.

One module per job: :mod:`.types` (the dataclasses), :mod:`.fields` (typed readers of one key),
:mod:`.limits`, one module per section (:mod:`.model`, :mod:`.task` with :mod:`.task_data`,
:mod:`.checks`, :mod:`.views`, :mod:`.precision`, :mod:`.pca`, :mod:`.index`, :mod:`.comparison`)
and :mod:`.load` (files and documents). The public names are re-exported here.
"""

from __future__ import annotations

from .checks import GEOMETRY_METRICS, SERVER_TRUNCATION_KEYS, mapping_key
from .limits import (
    MAX_BATCH,
    MAX_CONCURRENCY,
    MAX_DIMS,
    MAX_DIMS_LIST,
    MAX_K,
    MAX_LIMIT,
    MAX_QUERIES,
    MAX_RESAMPLES,
    MAX_RETRIES,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_SHORTLIST,
    MAX_TOKENS_PER_BATCH,
)
from .load import load_specs, parse_spec, spec_stem
from .model import CANARY_KEYS, GEMINI_TASK_TYPES, PROVIDER_KEYS, PROVIDERS, REMOTE_PROVIDERS
from .pca import PCA_FILE_SUFFIXES
from .task import DEFAULT_METRIC, METRICS, RETRIEVAL_METRIC_KINDS, SIMILARITIES, TASK_KINDS
from .task_data import DATA_FORMATS, KIND_COLUMNS, STS_COLUMNS, STS_DEFAULT_FIELDS
from .types import (
    BaselineSpec,
    BootstrapSpec,
    CalibrationSpec,
    CanarySpec,
    CheapestCheck,
    Checks,
    CompareSpec,
    DataSpec,
    DimsCheck,
    DimsThreshold,
    FunnelSpec,
    GeometryCheck,
    InformedSpec,
    MinDimsCheck,
    ModelSpec,
    MonotonicCheck,
    PcaCheck,
    PcaGap,
    PcaSize,
    PcaViews,
    PrefixCheck,
    Prompts,
    RandomCheck,
    RandomViews,
    RelativeCheck,
    SegmentsCheck,
    ServerTruncationCheck,
    Spec,
    TaskSpec,
    Threshold,
    ViewsSpec,
    Windows,
)
from .views import parse_dim_selection

__all__ = [
    "CANARY_KEYS", "DATA_FORMATS", "DEFAULT_METRIC", "GEMINI_TASK_TYPES", "GEOMETRY_METRICS", "KIND_COLUMNS",
    "MAX_BATCH", "MAX_CONCURRENCY", "MAX_DIMS", "MAX_DIMS_LIST", "MAX_K", "MAX_LIMIT", "MAX_QUERIES",
    "MAX_RESAMPLES", "MAX_RETRIES", "MAX_SAMPLES", "MAX_SEED", "MAX_SHORTLIST", "MAX_TOKENS_PER_BATCH", "METRICS",
    "PCA_FILE_SUFFIXES", "PROVIDERS", "PROVIDER_KEYS", "REMOTE_PROVIDERS", "RETRIEVAL_METRIC_KINDS",
    "SERVER_TRUNCATION_KEYS", "SIMILARITIES", "STS_COLUMNS", "STS_DEFAULT_FIELDS", "TASK_KINDS", "BaselineSpec",
    "BootstrapSpec", "CalibrationSpec", "CanarySpec", "CheapestCheck", "Checks", "CompareSpec", "DataSpec",
    "DimsCheck", "DimsThreshold", "FunnelSpec", "GeometryCheck", "InformedSpec", "MinDimsCheck", "ModelSpec",
    "MonotonicCheck", "PcaCheck", "PcaGap", "PcaSize", "PcaViews", "PrefixCheck", "Prompts", "RandomCheck",
    "RandomViews", "RelativeCheck", "SegmentsCheck", "ServerTruncationCheck", "Spec", "TaskSpec", "Threshold",
    "ViewsSpec", "Windows", "load_specs", "mapping_key", "parse_dim_selection", "parse_spec", "spec_stem",
]
