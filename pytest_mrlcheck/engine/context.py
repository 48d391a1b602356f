"""The run context every evaluation of one process shares, and the API counters of an encoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..canary import CanaryBook
from ..datapaths import DataAccess
from ..embed import EncodePolicy, EncodeStats
from ..progress import EncodeProgress, no_progress
from ..providers import Encoder, ProviderContext, make_encoder
from ..score_memo import InputDigest
from ..spec import Spec
from ..store import VectorStore
from .data_memo import DataMemo


@dataclass
class RunContext:
    """What every evaluation in this process shares: the cache, loaded models and counters."""

    store: VectorStore
    rootdir: Path
    device: str | None = None
    allow_outside_root: bool = False  # every spec may read data outside the rootdir (the ini opt-in)
    stats: EncodeStats = field(default_factory=EncodeStats)
    policy: EncodePolicy = field(default_factory=EncodePolicy)
    progress: EncodeProgress = no_progress
    loaded_models: dict[Any, Any] = field(default_factory=dict)
    data: DataMemo = field(default_factory=DataMemo)  # local data loaded in this run, for specs that share it
    book: CanaryBook = field(default_factory=CanaryBook)
    embedded: list[tuple[str, Sequence[str]]] = field(default_factory=list)  # (role, texts) of this evaluation
    inputs: InputDigest = field(default_factory=InputDigest)  # what this evaluation embedded, for the score memo
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)  # server contracts probed in this run

    encoders: dict[str, Encoder] = field(default_factory=dict)

    def encoder_for(self, spec: Spec) -> Encoder:
        """One encoder per model setting and folder, so API counters add up across specs."""
        access = self.data_access(spec)
        key = f"{spec.model!r}@{spec.directory}@{access.allow_outside_root}"
        if key not in self.encoders:
            self.encoders[key] = make_encoder(
                spec.model,
                ProviderContext(
                    spec_dir=spec.directory,
                    rootdir=self.rootdir,
                    device=self.device,
                    file_digest=self.store.file_digest,
                    loaded_models=self.loaded_models,
                    data_access=access,
                ),
            )
        return self.encoders[key]

    def data_access(self, spec: Spec) -> DataAccess:
        """The data paths ``spec`` may read: inside the rootdir, unless the spec or the ini opts out."""
        return DataAccess(self.rootdir, spec.allow_outside_root or self.allow_outside_root)


API_COUNTERS = ("requests", "retries", "tokens", "estimated_cost")


def api_counters(encoder: Encoder) -> dict[str, float]:
    """The API counters (requests, retries, tokens, cost) an encoder reports so far; none for a local model."""
    summary = getattr(encoder, "summary", None)
    if not callable(summary):
        return {}
    values = summary()
    return {key: float(values[key]) for key in API_COUNTERS if values.get(key) is not None}
