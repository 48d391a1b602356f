"""Informed truncation: the best dimensions chosen on one split, scored on another, optionally exported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import EvaluationError
from ..guard import Step, step
from ..result_types import InformedPayload
from ..spec import Spec
from ..views import ViewPlan, informed_label, prefix_label
from .prepared import Prepared


def score_informed(
    spec: Spec,
    plan: ViewPlan,
    prepared: Prepared,
    prepared_for: Callable[[str], Prepared],
    scores: dict[str, float],
) -> InformedPayload:
    """Choose the best ``dims`` dimensions on the selection split; score them on the evaluation split."""
    informed = spec.task.informed
    assert informed is not None
    d, k = plan.full_dim, informed.dims
    if k > d:
        raise EvaluationError(f"{spec.path}:{informed.line}: task.informed.dims: asks for {k} dimensions "
                              f"but the model gives {d}")
    selector = prepared_for(informed.select_split)
    blocks = [np.arange(start, min(start + informed.block, d)) for start in range(0, d, informed.block)]

    def mask_of(groups: list[np.ndarray]) -> np.ndarray:
        column = np.zeros((d, 1))
        for group in groups:
            column[group, 0] = 1.0
        return column

    chosen: list[np.ndarray] = []
    if informed.method == "windows":
        alone = selector.score([], np.concatenate([mask_of([b]) for b in blocks], axis=1))
        for index in np.argsort(-alone, kind="stable"):
            chosen.append(blocks[index])
            if sum(len(b) for b in chosen) >= k:
                break
    else:
        remaining = list(range(len(blocks)))
        while sum(len(b) for b in chosen) < k:
            candidates = np.concatenate([mask_of([*chosen, blocks[i]]) for i in remaining], axis=1)
            best = remaining[int(np.argmax(selector.score([], candidates)))]
            chosen.append(blocks[best])
            remaining.remove(best)
    dims = np.concatenate(chosen)[:k]
    final = mask_of([dims])
    evaluated = float(prepared.score([], final)[0])
    selected = float(selector.score([], final)[0])
    result: InformedPayload = {
        "dims": k,
        "select_split": informed.select_split,
        "eval_split": spec.task.data.split,
        "method": informed.method,
        "block": informed.block,
        "chosen": sorted(int(i) for i in dims),
        "score": evaluated,
        "select_score": selected,
        "prefix": scores[prefix_label(k)],
    }
    scores[informed_label(k)] = evaluated
    if informed.export is not None:
        export_dims(informed.export, spec, result)
    return result


def export_dims(path: Path, spec: Spec, informed: InformedPayload) -> None:
    """Write the chosen dimensions for a production system (atomically)."""
    import json

    from .. import atomic

    payload = {
        "model": spec.model.label,
        "spec": spec.name,
        "metric": spec.task.metric,
        **{key: informed[key] for key in ("dims", "select_split", "eval_split", "method", "score", "prefix")},
        "dimensions": informed["chosen"],
    }
    with step(Step.EXPORT, f"the dimension list to {path}"):
        atomic.write_text(path, json.dumps(payload, indent=2) + "\n")
