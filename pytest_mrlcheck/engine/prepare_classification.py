"""The classification adapter: labelled texts with train and evaluation splits, one role (query)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..data import load_labelled
from ..errors import EvaluationError
from ..providers import Encoder
from ..spec import Spec
from .context import RunContext
from .embedding import embed
from .loading import load
from .prepared import Prepared, Transform, no_masks, no_replicates


def prepare_classification(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """A classification task loaded and embedded at full dimension, with its scorers."""
    from ..tasks import classification

    data = load(spec, run, lambda access: load_labelled(spec.task.data, with_split=True, access=access))
    test_split = spec.task.data.split or "test"
    train_rows = np.array([i for i, split in enumerate(data.splits) if split == "train"], dtype=np.intp)
    test_rows = np.array([i for i, split in enumerate(data.splits) if split == test_split], dtype=np.intp)
    if not train_rows.size or not test_rows.size:
        found = sorted(set(data.splits))
        raise EvaluationError(
            f"{data.source}: classification needs rows with split 'train' and split {test_split!r}; found {found}",
            hint="name the split column with task.data.columns.split; the evaluation split is task.data.split",
        )
    vectors = embed(spec, run, encoder, data.texts, "query")
    labels = np.array(data.labels)
    train_vecs, test_vecs = vectors[data.rows[train_rows]], vectors[data.rows[test_rows]]
    train_labels, test_labels = labels[train_rows], labels[test_rows]
    options = spec.task.options

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return classification.score_views(train_vecs, train_labels, test_vecs, test_labels, ranges, masks,
                                          method=options["method"], k=options["k"], metric=spec.task.metric,
                                          seed=options["seed"])

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        if spec.task.metric != "accuracy":
            return no_replicates("macro-F1 classification")(ranges, masks, resamples, seed)
        from ..bootstrap import mean_replicates

        predicted = classification.predict_views(train_vecs, train_labels, test_vecs, ranges, masks,
                                                 method=options["method"], k=options["k"], seed=options["seed"])
        correct = (predicted == test_labels[None, :]).astype(np.float64)
        return mean_replicates(correct, resamples=resamples, seed=seed)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        rows = transform(vectors)
        return classification.score_views(rows[data.rows[train_rows]], train_labels, rows[data.rows[test_rows]],
                                          test_labels, ranges, no_masks(rows), method=options["method"],
                                          k=options["k"], metric=spec.task.metric, seed=options["seed"])

    def coded_replicates(transform: Transform, ranges: list[tuple[int, int]], resamples: int, seed: int) -> np.ndarray:
        if spec.task.metric != "accuracy":
            return no_replicates("macro-F1 classification")(ranges, no_masks(vectors), resamples, seed)
        from ..bootstrap import mean_replicates

        rows = transform(vectors)
        predicted = classification.predict_views(rows[data.rows[train_rows]], train_labels, rows[data.rows[test_rows]],
                                                 ranges, no_masks(rows), method=options["method"], k=options["k"],
                                                 seed=options["seed"])
        return mean_replicates((predicted == test_labels[None, :]).astype(np.float64), resamples=resamples, seed=seed)

    details = {"train": int(train_rows.size), "classes": len(set(data.labels)), "method": options["method"]}
    splits = np.asarray(data.splits)
    fit_sets: dict[str, Callable[[], np.ndarray]] = {
        name: functools.partial(lambda name: vectors[data.rows[splits == name]], name)
        for name in sorted(set(data.splits))}
    return Prepared(vectors.shape[1], int(test_rows.size), len(data.texts), data.fingerprint(), score, replicates,
                    details, vectors, coded=coded, fit_sets=fit_sets, coded_replicates=coded_replicates)
