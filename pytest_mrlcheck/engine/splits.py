"""Other splits of a spec's data: ``prepared_for(split)``, and the window maps compared across splits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..errors import EvaluationError
from ..providers import Encoder
from ..spec import Spec
from ..views import ViewPlan, prefix_label, window_label
from .context import RunContext
from .prepared import Prepared
from .registry import prepare


def split_maps(
    spec: Spec, plan: ViewPlan, scores: dict[str, float], prepared_for: Callable[[str], Prepared]
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The sliding-window map (and prefixes) on every split, and how well the maps agree."""
    if not spec.task.splits:
        return {}, {}
    if len(plan.windows) < 3:
        raise EvaluationError(
            f"{spec.path}:{spec.task.line}: task.splits compares window maps, and this spec has "
            f"{len(plan.windows)} windows",
            hint="add checks.segments or views.windows (at least 3 windows)",
        )
    ranges = [(0, k) for k in plan.prefixes] + list(plan.windows)
    labels = [prefix_label(k) for k in plan.prefixes] + [window_label(s, e) for s, e in plan.windows]
    maps: dict[str, dict[str, float]] = {}
    for split in spec.task.splits:
        if split == spec.task.data.split:
            maps[split] = {label: scores[label] for label in labels}
        else:
            values = prepared_for(split).score(ranges, np.zeros((plan.full_dim, 0)))
            maps[split] = dict(zip(labels, values.tolist(), strict=True))
    window_labels = [window_label(s, e) for s, e in plan.windows]
    correlations = {}
    names = list(spec.task.splits)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a = np.array([maps[first][label] for label in window_labels])
            b = np.array([maps[second][label] for label in window_labels])
            if a.std() > 0 and b.std() > 0:
                correlations[f"{first}~{second}"] = float(np.corrcoef(a, b)[0, 1])
    return maps, correlations


def split_preparer(spec: Spec, run: RunContext, encoder: Encoder, prepared: Prepared) -> Callable[[str], Prepared]:
    """``prepared_for(split)``: the spec's task on another split of its data, prepared once per split."""
    others: dict[str, Prepared] = {}

    def prepared_for(split: str) -> Prepared:
        if split not in others:
            data = spec.task.data.with_split(split)
            other = dataclasses.replace(spec, task=dataclasses.replace(spec.task, data=data))
            others[split] = prepare(other, run, encoder)
            if others[split].full_dim != prepared.full_dim:  # pragma: no cover - same model
                raise EvaluationError(f"split {split!r} gave vectors of another size")
        return others[split]

    return prepared_for
