"""The clustering adapter: labelled texts clustered per view, one role (query)."""

from __future__ import annotations

import numpy as np

from ..data import load_labelled
from ..providers import Encoder
from ..spec import Spec
from .context import RunContext
from .embedding import embed
from .loading import load
from .prepared import Prepared, Transform, no_masks, no_replicates


def prepare_clustering(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """A clustering task loaded and embedded at full dimension, with its scorers."""
    from ..tasks import clustering

    data = load(spec, run, lambda access: load_labelled(spec.task.data, with_split=False, access=access))
    vectors = embed(spec, run, encoder, data.texts, "query")
    rows, labels = vectors[data.rows], np.array(data.labels)

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return clustering.score_views(rows, labels, ranges, masks, metric=spec.task.metric,
                                      seed=spec.task.options["seed"])

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        coded_rows = transform(vectors)[data.rows]
        return clustering.score_views(coded_rows, labels, ranges, no_masks(coded_rows), metric=spec.task.metric,
                                      seed=spec.task.options["seed"])

    return Prepared(vectors.shape[1], len(data.rows), len(data.texts), data.fingerprint(), score,
                    no_replicates("clustering"), {"clusters": len(set(data.labels))}, vectors, coded=coded)
