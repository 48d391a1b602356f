"""Every task kind's adapter, and the one entry point that prepares a spec's task: :func:`prepare`."""

from __future__ import annotations

from collections.abc import Callable

from ..providers import Encoder
from ..spec import Spec
from .context import RunContext
from .prepare_agreement import prepare_agreement
from .prepare_classification import prepare_classification
from .prepare_clustering import prepare_clustering
from .prepare_pair_classification import prepare_pair_classification
from .prepare_reranking import prepare_reranking
from .prepare_retrieval import prepare_retrieval
from .prepare_sts import prepare_sts
from .prepared import Prepared

Preparer = Callable[[Spec, RunContext, Encoder], Prepared]
"""Load a task kind's data, embed it at full dimension (through the cache) and say how to score its views."""

PREPARERS: dict[str, Preparer] = {
    "sts": prepare_sts,
    "retrieval": prepare_retrieval,
    "classification": prepare_classification,
    "clustering": prepare_clustering,
    "pair-classification": prepare_pair_classification,
    "reranking": prepare_reranking,
    "agreement": prepare_agreement,
}


def prepare(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    """``spec``'s task embedded at full dimension, ready to score any set of views.

    The engine's one way in: the spec itself, another split of its data and the server-truncated
    vectors are all prepared here, by the adapter of the spec's task kind.
    """
    return PREPARERS[spec.task.kind](spec, run, encoder)
