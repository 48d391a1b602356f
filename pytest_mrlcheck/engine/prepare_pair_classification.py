"""The pair-classification adapter: labelled text pairs, one role (query), scored by similarity."""

from __future__ import annotations

import numpy as np

from ..data import load_pair_labels
from ..providers import Encoder
from ..spec import Spec
from .context import RunContext
from .embedding import embed
from .loading import load
from .prepared import Prepared, Transform, no_masks, no_replicates


def prepare_pair_classification(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """A pair-classification task loaded and embedded at full dimension, with its scorers."""
    from ..tasks import pair_classification

    data = load(spec, run, lambda access: load_pair_labels(spec.task.data, access))
    vectors = embed(spec, run, encoder, data.texts, "query")
    left, right = vectors[data.left], vectors[data.right]

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return pair_classification.score_views(left, right, data.labels, ranges, masks, metric=spec.task.metric,
                                               similarity=spec.task.similarity)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        rows = transform(vectors)
        return pair_classification.score_views(rows[data.left], rows[data.right], data.labels, ranges,
                                               no_masks(rows), metric=spec.task.metric, similarity="dot")

    return Prepared(vectors.shape[1], len(data.labels), len(data.texts), data.fingerprint(), score,
                    no_replicates("pair-classification"), {"positives": int(data.labels.sum())}, vectors,
                    coded=coded)
