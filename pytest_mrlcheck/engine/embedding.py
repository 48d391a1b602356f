"""Embedding a task's texts at full dimension through the cache, inside the encode step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..canary import Trust
from ..embed import embed_texts
from ..guard import Step, step
from ..providers import Encoder, model_ref
from ..spec import Spec
from .context import RunContext


def embed(spec: Spec, run: RunContext, encoder: Encoder, texts: Sequence[str], role: str) -> np.ndarray:
    """``texts`` embedded in ``role`` at full dimension through the cache, in the encode step."""
    with step(Step.ENCODE, f"with {model_ref(spec.model)}"):
        return _embed_texts(spec, run, encoder, texts, role)


def _embed_texts(spec: Spec, run: RunContext, encoder: Encoder, texts: Sequence[str], role: str) -> np.ndarray:
    run.embedded.append((role, texts))
    vectors = embed_texts(texts, role, spec.model.prompts.for_role(role), encoder, run.store, run.stats,
                          spec.model.label, run.policy, run.progress, Trust(spec.model.canary, run.book))
    run.inputs.add(role, texts, vectors)  # the score memo's key (see score_memo)
    return vectors
