"""The sts adapter: scored sentence pairs, one role (query), scored by correlation."""

from __future__ import annotations

import numpy as np

from ..data import load_sts
from ..providers import Encoder
from ..spec import Spec
from ..tasks import sts
from .context import RunContext
from .embedding import embed
from .loading import load
from .prepared import PairScoring, Prepared, Transform, no_masks


def prepare_sts(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """STS pairs loaded and embedded at full dimension, with its scorers."""
    data = load(spec, run, lambda access: load_sts(spec.task.data, access))
    vectors = embed(spec, run, encoder, data.texts, "query")
    left, right = vectors[data.left], vectors[data.right]

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return sts.score_views(left, right, data.gold, ranges, masks, spec.task.metric, spec.task.similarity)

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from ..bootstrap import sts_replicates

        similarities = sts.pair_similarities(left, right, ranges, masks, spec.task.similarity)
        return sts_replicates(similarities, data.gold, spec.task.metric, resamples=resamples, seed=seed)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        rows = transform(vectors)
        return sts.score_views(rows[data.left], rows[data.right], data.gold, ranges, no_masks(rows),
                               spec.task.metric, "dot")

    def pair_replicates(similarities: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from ..bootstrap import sts_replicates

        return sts_replicates(similarities, data.gold, spec.task.metric, resamples=resamples, seed=seed)

    pairs = PairScoring(data.left, data.right, lambda similarities: sts.correlate(similarities, data.gold,
                                                                                  spec.task.metric), pair_replicates)
    return Prepared(vectors.shape[1], data.pairs, len(data.texts), data.fingerprint(), score, replicates, {},
                    vectors, coded=coded, pairs=pairs)
