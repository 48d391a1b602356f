"""Dataset facts both the spec layer and the data loaders need: which task kinds hub data serves, how MTEB's
task types map onto them, and the column names tried for each role."""

from __future__ import annotations

from collections.abc import Mapping

#: The task kinds hub (``hf:``, ``mteb:``) data serves.
HUB_KINDS = ("sts", "retrieval", "classification", "clustering", "pair-classification")

#: MTEB task type → the task kind that evaluates it.
MTEB_TYPES: Mapping[str, str] = {
    "STS": "sts",
    "Retrieval": "retrieval",
    "Classification": "classification",
    "Clustering": "clustering",
    "PairClassification": "pair-classification",
}

#: Column names tried, in order, for each role a kind reads when ``columns`` does not name one.
#: The first names are the local loaders' defaults or MTEB's (``sentence1``/``sentence2``/``labels`` for
#: pair classification, ``sentences``/``labels`` for clustering).
HF_DEFAULT_COLUMNS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "sts": {"text1": ("sentence1",), "text2": ("sentence2",), "score": ("score",)},
    "classification": {"text": ("text",), "label": ("label", "labels")},
    "clustering": {"text": ("sentences", "text"), "label": ("labels", "label")},
    "pair-classification": {"text1": ("sentence1", "text1"), "text2": ("sentence2", "text2"),
                            "label": ("labels", "label")},
}
