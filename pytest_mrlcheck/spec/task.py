"""The ``task`` section: kind, metric, similarity, splits, the kind's options (funnel too) and ``task.informed``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..yamlload import LineDict
from .fields import (
    _bool,
    _choice,
    _Ctx,
    _float,
    _int,
    _mapping,
    _optional_mapping,
    _reject_unknown,
    _relative,
    _required,
    _str,
    _type_name,
)
from .limits import MAX_DIMS, MAX_K, MAX_QUERIES, MAX_SEED, MAX_SHORTLIST
from .precision import _known_precision
from .task_data import _parse_data
from .types import FunnelSpec, InformedSpec, TaskSpec

TASK_KINDS = ("sts", "retrieval", "classification", "clustering", "pair-classification", "reranking", "agreement")
SIMILARITIES = ("cosine", "dot")
METRICS: Mapping[str, tuple[str, ...]] = {
    "sts": ("spearman", "pearson"),
    "classification": ("accuracy", "f1"),
    "clustering": ("v_measure",),
    "pair-classification": ("ap",),
}
RETRIEVAL_METRIC_KINDS = ("ndcg", "recall", "mrr", "map", "precision", "hit")
DEFAULT_METRIC: Mapping[str, str] = {
    "sts": "spearman",
    "retrieval": "ndcg@10",
    "classification": "accuracy",
    "clustering": "v_measure",
    "pair-classification": "ap",
    "reranking": "map",
    "agreement": "overlap@10",
}
_PATTERN_METRICS: Mapping[str, tuple[re.Pattern[str], str]] = {
    "reranking": (re.compile(r"^(map|mrr@[1-9][0-9]*)$"), "map or mrr@k, e.g. mrr@10"),
    "agreement": (re.compile(r"^(overlap|rank_correlation)@[1-9][0-9]*$"), "overlap@k or rank_correlation@n"),
}
_RETRIEVAL_METRIC_RE = re.compile(r"^(ndcg|recall|mrr|map|precision|hit)@([1-9][0-9]*)$")


def _parse_task(ctx: _Ctx, raw: Any, line: int) -> TaskSpec:
    task = _mapping(ctx, raw, "task", line)
    _reject_unknown(ctx, task, ["kind", "data", "metric", "similarity", "ignore_identical_ids", "splits",
                                "informed", "method", "k", "seed", "queries", "funnel"], "task")
    kind = _choice(ctx, task, "kind", "task", TASK_KINDS, None)
    data = _parse_data(ctx, _required(ctx, task, "data", "task", "data: {path: pairs.csv}"),
                       task.line_of("data"), kind)
    if kind in _PATTERN_METRICS:
        metric = task.get("metric", DEFAULT_METRIC[kind])
        pattern, example = _PATTERN_METRICS[kind]
        if not isinstance(metric, str) or not pattern.match(metric):
            raise ctx.error("task.metric", task.line_of("metric"),
                            f"expected a {kind} metric ({example}), got {_type_name(metric)}")
    elif kind == "retrieval":
        metric = task.get("metric", DEFAULT_METRIC[kind])
        if not isinstance(metric, str) or not _RETRIEVAL_METRIC_RE.match(metric):
            raise ctx.error("task.metric", task.line_of("metric"),
                            f"expected a retrieval metric like ndcg@10, got {_type_name(metric)}",
                            f"kinds: {', '.join(RETRIEVAL_METRIC_KINDS)}; write kind@k, e.g. recall@10")
    else:
        metric = _choice(ctx, task, "metric", "task", METRICS[kind], DEFAULT_METRIC[kind])
    similarity = _choice(ctx, task, "similarity", "task", SIMILARITIES, "cosine")
    beir_agreement = kind == "agreement" and data.format == "beir"
    if beir_agreement and "queries" in task:
        raise ctx.error("task.queries", task.line_of("queries"),
                        "a BEIR folder brings its own queries (those with judgements in the split)",
                        "remove task.queries; task.data.split and task.data.limit choose the queries")
    options = _task_options(ctx, task, "agreement on a BEIR folder" if beir_agreement else kind)
    ignore_ids = _bool(ctx, task, "ignore_identical_ids", "task", False)
    if ignore_ids and kind != "retrieval":
        raise ctx.error("task.ignore_identical_ids", task.line_of("ignore_identical_ids"),
                        "only retrieval tasks have document ids to ignore")
    splits: tuple[str, ...] = ()
    if "splits" in task:
        raw_splits = task["splits"]
        if not isinstance(raw_splits, list) or len(raw_splits) < 2 or not all(isinstance(x, str) for x in raw_splits):
            raise ctx.error("task.splits", task.line_of("splits"),
                            f"expected a list of at least two split names, got {_type_name(raw_splits)}")
        splits = tuple(raw_splits)
    informed = _parse_informed(ctx, task["informed"], task.line_of("informed")) if "informed" in task else None
    needs_splits = [s for s in (*splits, *([informed.select_split] if informed else []))]
    if needs_splits and kind != "retrieval" and data.path_template is None and data.format not in ("hf", "mteb"):
        key = "task.splits" if splits else "task.informed.select_split"
        raise ctx.error(key, task.line_of("splits" if splits else "informed"),
                        "other splits need a data path with {split} in it",
                        "e.g. path: data/stsb-{split}.csv with split: test")
    if splits and data.split not in splits:
        raise ctx.error("task.splits", task.line_of("splits"),
                        f"the evaluation split {data.split!r} is not in {list(splits)}")
    if informed and informed.select_split == data.split:
        raise ctx.error("task.informed.select_split", task.line_of("informed"),
                        f"selecting dimensions on the evaluation split ({data.split!r}) would be optimistic",
                        "select on another split (e.g. validation) and evaluate on test")
    return TaskSpec(kind=kind, data=data, metric=metric, similarity=similarity,
                    ignore_identical_ids=ignore_ids, line=task.line, splits=splits, informed=informed,
                    options=options, funnel=FunnelSpec(**options["funnel"]) if "funnel" in options else None)


_KIND_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "classification": ("method", "k", "seed"),
    "clustering": ("seed",),
    "agreement": ("queries",),
    "retrieval": ("funnel",),
}


def _task_options(ctx: _Ctx, task: LineDict, kind: str) -> dict[str, Any]:
    """Settings that only some task kinds read (classifier, seeds, query sampling, funnel)."""
    allowed = _KIND_OPTIONS.get(kind, ())
    for key in ("method", "k", "seed", "queries", "funnel"):
        if key in task and key not in allowed:
            owners = [name for name, keys in _KIND_OPTIONS.items() if key in keys]
            raise ctx.error(f"task.{key}", task.line_of(key), f"{key!r} is not a setting of task kind {kind}",
                            f"it belongs to kind: {' or '.join(owners)}")
    options: dict[str, Any] = {}
    if kind == "classification":
        options["method"] = _choice(ctx, task, "method", "task", ("knn", "logreg"), "knn")
        options["k"] = _int(ctx, task.get("k", 1), "task.k", task.line_of("k"), maximum=MAX_K)
    if kind in ("classification", "clustering"):
        options["seed"] = _int(ctx, task.get("seed", 0), "task.seed", task.line_of("seed"), minimum=0, maximum=MAX_SEED)
    if kind == "agreement":
        q = _optional_mapping(ctx, task, "queries", "task")
        _reject_unknown(ctx, q, ["count", "seed", "path", "column"], "task.queries")
        queries_path = _str(ctx, q, "path", "task.queries")
        if queries_path is not None:
            if "count" in q or "seed" in q:
                raise ctx.error("task.queries", q.line, "give either a queries file (path, column) or a sample "
                                "(count, seed), not both")
            options["queries_path"] = _relative(ctx, queries_path)
            options["queries_column"] = _str(ctx, q, "column", "task.queries", "text")
        else:
            options["queries_count"] = _int(ctx, q.get("count", 100), "task.queries.count", q.line_of("count"),
                maximum=MAX_QUERIES)
            options["queries_seed"] = _int(ctx, q.get("seed", 0), "task.queries.seed", q.line_of("seed"), minimum=0,
                maximum=MAX_SEED)
    if kind == "retrieval" and "funnel" in task:
        f = _mapping(ctx, task["funnel"], "task.funnel", task.line_of("funnel"))
        _reject_unknown(ctx, f, ["shortlist_dims", "shortlist", "rerank_dims", "min", "min_ratio",
                                 "shortlist_precision", "rerank_precision"], "task.funnel")
        rerank = f.get("rerank_dims", "full")
        options["funnel"] = {
            "shortlist_dims": _int(ctx, _required(ctx, f, "shortlist_dims", "task.funnel"),
                                   "task.funnel.shortlist_dims", f.line_of("shortlist_dims"), maximum=MAX_DIMS),
            "shortlist": _int(ctx, f.get("shortlist", 100), "task.funnel.shortlist", f.line_of("shortlist"),
                maximum=MAX_SHORTLIST),
            "rerank_dims": None if rerank == "full" else _int(ctx, rerank, "task.funnel.rerank_dims",
                                                                f.line_of("rerank_dims"), maximum=MAX_DIMS),
            "min": None if "min" not in f else _float(ctx, f["min"], "task.funnel.min", f.line_of("min"), -1, 1),
            "min_ratio": None if "min_ratio" not in f else _float(ctx, f["min_ratio"], "task.funnel.min_ratio",
                                                                  f.line_of("min_ratio"), 0, 1.5),
            "line": f.line,
            **_funnel_precisions(ctx, f),
        }
    return options


def _funnel_precisions(ctx: _Ctx, f: LineDict) -> dict[str, str]:
    """``shortlist_precision`` / ``rerank_precision`` of a funnel (float32 unless set)."""
    return {key: _known_precision(ctx, f.get(key, "float32"), f"task.funnel.{key}", f.line_of(key))
            for key in ("shortlist_precision", "rerank_precision")}


def _parse_informed(ctx: _Ctx, raw: Any, line: int) -> InformedSpec:
    inf = _mapping(ctx, raw, "task.informed", line)
    _reject_unknown(ctx, inf, ["dims", "select_split", "method", "block", "tolerance", "export"], "task.informed")
    dims = _int(ctx, _required(ctx, inf, "dims", "task.informed"), "task.informed.dims", inf.line_of("dims"),
        maximum=MAX_DIMS)
    select = _str(ctx, inf, "select_split", "task.informed")
    if select is None:
        raise ctx.error("task.informed.select_split", inf.line, "missing required key 'select_split'",
                        "the split the dimensions are chosen on, e.g. validation")
    export = _export_path(ctx, inf)
    return InformedSpec(
        dims=dims,
        select_split=select,
        method=_choice(ctx, inf, "method", "task.informed", ("greedy", "windows"), "greedy"),
        block=_int(ctx, inf.get("block", 16), "task.informed.block", inf.line_of("block"), maximum=MAX_DIMS),
        tolerance=None if "tolerance" not in inf else _float(ctx, inf["tolerance"], "task.informed.tolerance",
                                                               inf.line_of("tolerance"), 0.0, 1.0),
        export=export,
        line=inf.line,
    )


def _export_path(ctx: _Ctx, inf: LineDict) -> Path | None:
    """``task.informed.export``: a file that can be written (not a folder, not below a file)."""
    text = _str(ctx, inf, "export", "task.informed")
    if text is None:
        return None
    line = inf.line_of("export")
    path = _relative(ctx, text)
    hint = "export: a file path for the chosen dimensions, e.g. dims/minilm-informed.json"
    if text.endswith(("/", "\\")) or path.is_dir():
        raise ctx.error("task.informed.export", line, f"{path} is a folder, not a file", hint)
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise ctx.error("task.informed.export", line, f"{parent} is not a folder, so {path.name} cannot be "
                                "written under it", hint)
            break
    return path
