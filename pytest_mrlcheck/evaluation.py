"""Evaluate one spec once: load data, get full-dimension vectors (cached), score every view."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .canary import CanaryBook, CanaryResult, Trust
from .data import load_beir, load_labelled, load_pair_labels, load_rerank, load_sts, load_texts
from .datapaths import DataAccess
from .embed import EncodePolicy, EncodeStats, embed_texts
from .errors import EvaluationError, MrlcheckError
from .guard import Step, scrub, step
from .progress import EncodeProgress, no_progress
from .providers import Encoder, ProviderContext, make_encoder, model_ref
from .quantize import needs_ranges
from .score_memo import InputDigest, ScoreMemo, memo_store
from .spec import BootstrapSpec, DataSpec, Spec
from .store import VectorStore
from .tasks import sts
from .views import View, ViewPlan, informed_label, plan_views, prefix_label, random_label, window_label

if TYPE_CHECKING:
    from .pca import PcaResult

if TYPE_CHECKING:
    from .index_views import IndexResult, SearchTask


@dataclass
class RunContext:
    """What every evaluation in this process shares: the cache, loaded models and counters."""

    store: VectorStore
    rootdir: Path
    device: str | None = None
    allow_outside_root: bool = False  # every spec may read data outside the rootdir (the ini opt-in)
    stats: EncodeStats = field(default_factory=EncodeStats)
    policy: EncodePolicy = field(default_factory=EncodePolicy)
    progress: EncodeProgress = no_progress
    loaded_models: dict[Any, Any] = field(default_factory=dict)
    book: CanaryBook = field(default_factory=CanaryBook)
    embedded: list[tuple[str, Sequence[str]]] = field(default_factory=list)  # (role, texts) of this evaluation
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)  # server contracts probed in this run
    inputs: InputDigest = field(default_factory=InputDigest)  # what this evaluation embedded, for the score memo

    encoders: dict[str, Encoder] = field(default_factory=dict)

    def encoder_for(self, spec: Spec) -> Encoder:
        """One encoder per model setting and folder, so API counters add up across specs."""
        access = self.data_access(spec)
        key = f"{spec.model!r}@{spec.directory}@{access.allow_outside_root}"
        if key not in self.encoders:
            self.encoders[key] = make_encoder(
                spec.model,
                ProviderContext(
                    spec_dir=spec.directory,
                    rootdir=self.rootdir,
                    device=self.device,
                    file_digest=self.store.file_digest,
                    loaded_models=self.loaded_models,
                    data_access=access,
                ),
            )
        return self.encoders[key]

    def data_access(self, spec: Spec) -> DataAccess:
        """The data paths ``spec`` may read: inside the rootdir, unless the spec or the ini opts out."""
        return DataAccess(self.rootdir, spec.allow_outside_root or self.allow_outside_root)


_API_COUNTERS = ("requests", "retries", "tokens", "estimated_cost")


def _api_counters(encoder: Encoder) -> dict[str, float]:
    summary = getattr(encoder, "summary", None)
    if not callable(summary):
        return {}
    values = summary()
    return {key: float(values[key]) for key in _API_COUNTERS if values.get(key) is not None}


@dataclass(frozen=True)
class RandomStats:
    """Scores of random subsets of ``k`` dimensions, and where the prefix of size ``k`` falls."""

    k: int
    scores: tuple[float, ...]
    prefix: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def sd(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    @property
    def percentile(self) -> float:
        """Share (in %) of random subsets scoring below the prefix (ties count half)."""
        values = np.asarray(self.scores)
        return float(100.0 * (np.sum(values < self.prefix) + 0.5 * np.sum(values == self.prefix)) / len(values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "sd": self.sd,
            "min": float(np.min(self.scores)),
            "max": float(np.max(self.scores)),
            "samples": len(self.scores),
            "prefix": self.prefix,
            "prefix_percentile": self.percentile,
        }


@dataclass(frozen=True)
class SpecResult:
    """Every score of one spec's views."""

    spec: Spec
    plan: ViewPlan
    scores: dict[str, float]
    sweep: dict[int, float]
    random: dict[int, RandomStats]
    units: int
    texts: int
    dataset_fingerprint: str
    details: dict[str, Any]
    model_identity: dict[str, Any]
    replicates: dict[str, np.ndarray]
    splits: dict[str, dict[str, float]]
    split_correlations: dict[str, float]
    informed: dict[str, Any] | None
    geometry: dict[int, dict[str, Any]]
    server_truncation: dict[int, dict[str, float]]
    funnel: dict[str, Any] | None
    cost: dict[int, Any]
    encoding: dict[str, float]
    seconds: dict[str, float]
    quantized_sweep: dict[int, float] = field(default_factory=dict)  # min_dims at its precision
    calibration: str = ""  # where int8/uint8 ranges came from ("" when no scalar precision is scored)
    canaries: tuple[CanaryResult, ...] = ()
    server_contract: dict[str, Any] | None = None
    pca: PcaResult | None = None  # prefix vs PCA projection per size (views.pca / checks.pca)
    index: tuple[IndexResult, ...] = ()  # ANN index views (views.index)

    @property
    def stale(self) -> tuple[CanaryResult, ...]:
        """The canaries that found this spec's cached vectors stale."""
        return tuple(c for c in self.canaries if c.failed)

    @property
    def full_dim(self) -> int:
        return self.plan.full_dim

    @property
    def full_score(self) -> float:
        return self.scores[prefix_label(self.plan.full_dim)]

    def interval(self, label: str, confidence: float) -> tuple[float, float] | None:
        """Percentile bootstrap interval of a view's score, if replicates were computed."""
        from .bootstrap import intervals_from_replicates

        reps = self.replicates.get(label)
        if reps is None:
            return None
        score = self.scores.get(label)
        point = float(score) if isinstance(score, (int, float)) else np.nan
        found = intervals_from_replicates(np.array([point]), reps[:, None], confidence)
        if not np.isfinite(found.low[0]):
            return None
        return float(found.low[0]), float(found.high[0])

    def prefix(self, k: int, precision: str = "float32") -> float:
        if precision != "float32":
            label = prefix_label(k, precision)
            return self.scores[label] if label in self.scores else self.quantized_sweep[k]
        if k in self.sweep:
            return self.sweep[k]
        return self.scores[prefix_label(k)]


@dataclass(frozen=True)
class PairScoring:
    """Units that are pairs of embedded vectors, scored from one similarity per pair and view.

    Precision views of such tasks are scored from per-pair similarities of their codes (see
    ``precision_eval``), without materialising every view's transformed vectors.
    """

    left: np.ndarray  # row of each pair's first vector in ``Prepared.vectors``
    right: np.ndarray
    score: Callable[[np.ndarray], np.ndarray]  # ``n_pairs × V`` similarities → ``V`` scores
    replicates: Callable[[np.ndarray, int, int], np.ndarray]  # (similarities, resamples, seed) → ``resamples × V``


@dataclass(frozen=True)
class Prepared:
    """A task's data embedded at full dimension, and how to score any set of views of it."""

    full_dim: int
    units: int
    texts: int
    fingerprint: str
    score: Callable[[list[tuple[int, int]], np.ndarray], np.ndarray]
    replicates: Callable[[list[tuple[int, int]], np.ndarray, int, int], np.ndarray]
    details: dict[str, Any]
    embedded: np.ndarray | Callable[[], np.ndarray]  # every unique vector the task embedded, or how to stack them
    funnel: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    cost: Callable[[list[int]], dict[int, Any]] | None = None
    coded: Coded | None = None  # scores of views of transformed vectors (precision views)
    roles: tuple[str, ...] = ("query",)  # roles the task embeds (calibration texts are embedded in each)
    fit_sets: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)  # PCA fits: corpus, split rows
    pairs: PairScoring | None = None  # pair tasks: precision views scored from per-pair similarities
    coded_replicates: CodedReplicates | None = None  # bootstrap replicates of ``coded`` views (same resamples)
    search: SearchTask | None = None  # what index views search (retrieval and agreement)

    @functools.cached_property
    def vectors(self) -> np.ndarray:
        """Every unique vector the task embedded (geometry, calibration, PCA, server truncation).

        Retrieval passes a function: stacking queries and documents copies the whole corpus, which a
        run that needs none of those never pays for (1.5 GB at a million 384-dim documents)."""
        return self.embedded() if callable(self.embedded) else self.embedded


Transform = Callable[[np.ndarray], np.ndarray]
"""Full-dimension vectors → a matrix of view blocks ready to score by dot product (see ``quantize``)."""
Coded = Callable[[Transform, list[tuple[int, int]]], np.ndarray]
"""Scores of contiguous ranges of the transformed vectors, one per range."""
CodedReplicates = Callable[[Transform, list[tuple[int, int]], int, int], np.ndarray]
"""(transform, ranges, resamples, seed) → ``resamples × len(ranges)`` bootstrap replicates of ``Coded`` scores."""


def _no_masks(rows: np.ndarray) -> np.ndarray:
    return np.zeros((rows.shape[1], 0))


def _data_ref(spec: Spec, data: DataSpec | None = None) -> str:
    """How messages name a data source: relative to the spec's folder when inside it."""
    data = data or spec.task.data
    if data.hf is not None or data.mteb is not None:
        return data.source
    path = Path(data.source)
    return path.relative_to(spec.directory).as_posix() if path.is_relative_to(spec.directory) else str(path)


def _loading(spec: Spec, data: DataSpec | None = None) -> Any:
    return step(Step.LOAD_DATA, f"from {_data_ref(spec, data)}")


def _embed(spec: Spec, run: RunContext, encoder: Encoder, texts: Sequence[str], role: str) -> np.ndarray:
    with step(Step.ENCODE, f"with {model_ref(spec.model)}"):
        return _embed_texts(spec, run, encoder, texts, role)


def _embed_texts(spec: Spec, run: RunContext, encoder: Encoder, texts: Sequence[str], role: str) -> np.ndarray:
    run.embedded.append((role, texts))
    vectors = embed_texts(texts, role, spec.model.prompts.for_role(role), encoder, run.store, run.stats,
                          spec.model.label, run.policy, run.progress, Trust(spec.model.canary, run.book))
    run.inputs.add(role, texts, vectors)  # the score memo's key (see score_memo)
    return vectors


def _hub_data(spec: Spec, access: DataAccess) -> Any:
    """Data from a Hugging Face dataset or an MTEB task, in the same classes as the local loaders."""
    data = spec.task.data
    from .data_hub import HFSource, load_hf, load_mteb

    columns = dict(data.columns) or None
    if data.hf is not None:
        if Path(data.hf["path"]).is_absolute():  # a local folder or file (resolved when parsed)
            from .datapaths import checked_existing

            checked_existing(Path(data.hf["path"]), "hf.path", access)
        source = HFSource(path=data.hf["path"], name=data.hf["name"], split=data.split or "test",
                          revision=data.hf["revision"], train_split=data.hf["train_split"] or "train",
                          qrels=data.hf["qrels"])
        return load_hf(source, spec.task.kind, columns, data.limit, document=data.document)
    assert data.mteb is not None
    return load_mteb(data.mteb["task"], data.split or "test", spec.task.kind, data.limit, subset=data.mteb["subset"],
                     revision=data.mteb["revision"], document=data.document)


def _load(spec: Spec, run: RunContext, local: Callable[[DataAccess], Any]) -> Any:
    access = run.data_access(spec)
    with _loading(spec):
        return _hub_data(spec, access) if spec.task.data.format in ("hf", "mteb") else local(access)


def _prepare_sts(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    data = _load(spec, run, lambda access: load_sts(spec.task.data, access))
    vectors = _embed(spec, run, encoder, data.texts, "query")
    left, right = vectors[data.left], vectors[data.right]

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return sts.score_views(left, right, data.gold, ranges, masks, spec.task.metric, spec.task.similarity)

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from .bootstrap import sts_replicates

        similarities = sts.pair_similarities(left, right, ranges, masks, spec.task.similarity)
        return sts_replicates(similarities, data.gold, spec.task.metric, resamples=resamples, seed=seed)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        rows = transform(vectors)
        return sts.score_views(rows[data.left], rows[data.right], data.gold, ranges, _no_masks(rows),
                               spec.task.metric, "dot")

    def pair_replicates(similarities: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from .bootstrap import sts_replicates

        return sts_replicates(similarities, data.gold, spec.task.metric, resamples=resamples, seed=seed)

    pairs = PairScoring(data.left, data.right, lambda similarities: sts.correlate(similarities, data.gold,
                                                                                  spec.task.metric), pair_replicates)
    return Prepared(vectors.shape[1], data.pairs, len(data.texts), data.fingerprint(), score, replicates, {},
                    vectors, coded=coded, pairs=pairs)


def _prepare_retrieval(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    from .tasks import retrieval

    data = _load(spec, run, lambda access: load_beir(spec.task.data, access))
    _, depth = retrieval.parse_metric(spec.task.metric)
    if depth > len(data.doc_ids):
        raise EvaluationError(
            f"{spec.path}:{spec.task.line}: task.metric: {spec.task.metric} looks at {depth} documents "
            f"but the corpus has {len(data.doc_ids)}",
            hint=f"use a cut-off of at most {len(data.doc_ids)}",
        )
    queries = _embed(spec, run, encoder, data.queries, "query")
    documents = _embed(spec, run, encoder, data.documents, "document")
    if queries.shape[1] != documents.shape[1]:
        raise EvaluationError(f"query vectors have {queries.shape[1]} dims, document vectors {documents.shape[1]}")
    relevance = retrieval.Relevance.from_qrels(data.qrels, data.query_ids, data.doc_ids)
    exclude = (retrieval.identical_id_exclusions(data.query_ids, data.doc_ids)
               if spec.task.ignore_identical_ids else None)

    def scored(ranges: list[tuple[int, int]], masks: np.ndarray) -> Any:
        views = retrieval.views_from_plan(ranges, masks)
        return retrieval.score_views(queries, documents, views, relevance, [spec.task.metric],
                                     spec.task.similarity, exclude=exclude)

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return np.asarray(scored(ranges, masks).means[spec.task.metric], dtype=np.float64)

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from .bootstrap import mean_replicates

        per_query = scored(ranges, masks).per_query[spec.task.metric]
        return mean_replicates(per_query, resamples=resamples, seed=seed)

    def run_funnel(options: dict[str, Any]) -> dict[str, Any]:
        from .tasks.funnel import funnel

        for key in ("shortlist_dims", "rerank_dims"):
            if options[key] is not None and options[key] > queries.shape[1]:
                raise EvaluationError(f"{spec.path}:{options['line']}: task.funnel.{key}: {options[key]} is more "
                                      f"than the model's {queries.shape[1]} dimensions")
        return funnel(queries, documents, relevance, spec.task.metric, options["shortlist_dims"],
                      options["shortlist"], options["rerank_dims"], exclude,
                      options.get("shortlist_precision", "float32"), options.get("rerank_precision", "float32"),
                      options.get("calibration"))

    def cost(sizes: list[int]) -> dict[int, Any]:
        from .tasks.funnel import cost_by_size

        return cost_by_size(queries, documents, sizes)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        q, d = transform(queries), transform(documents)
        views = retrieval.views_from_plan(ranges, _no_masks(q))
        found = retrieval.score_views(q, d, views, relevance, [spec.task.metric], "dot", exclude=exclude)
        return np.asarray(found.means[spec.task.metric], dtype=np.float64)

    def coded_replicates(transform: Transform, ranges: list[tuple[int, int]], resamples: int, seed: int) -> np.ndarray:
        from .bootstrap import mean_replicates

        q, d = transform(queries), transform(documents)
        views = retrieval.views_from_plan(ranges, _no_masks(q))
        found = retrieval.score_views(q, d, views, relevance, [spec.task.metric], "dot", exclude=exclude)
        return mean_replicates(found.per_query[spec.task.metric], resamples=resamples, seed=seed)

    details = {"queries": len(data.query_ids), "documents": len(data.doc_ids),
               "unjudged_queries": data.unjudged_queries}
    search = None
    if spec.views.index:
        from .index_views import retrieval_search

        search = retrieval_search(queries, documents, relevance, spec.task.metric, spec.task.similarity, exclude)
    return Prepared(queries.shape[1], len(data.query_ids), len(data.queries) + len(data.documents),
                    data.fingerprint(), score, replicates, details, lambda: np.concatenate([queries, documents]),
                    run_funnel, cost, coded, ("query", "document"), {"corpus": lambda: documents},
                    coded_replicates=coded_replicates, search=search)


def _split_maps(
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


def _informed(
    spec: Spec,
    plan: ViewPlan,
    prepared: Prepared,
    prepared_for: Callable[[str], Prepared],
    scores: dict[str, float],
) -> dict[str, Any]:
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
    result = {
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
        _export_dims(informed.export, spec, result)
    return result


def _server_truncation(spec: Spec, run: RunContext, prepared: Prepared) -> dict[int, dict[str, float]]:
    """Ask the provider for ``k``-dim vectors and compare them with the renormalised client-side prefix."""
    check = spec.checks.server_truncation
    assert check is not None
    if spec.model.provider not in ("openai", "voyage", "cohere", "gemini"):
        raise EvaluationError(
            f"{spec.path}:{check.line}: checks.server_truncation: provider {spec.model.provider} cannot truncate "
            "server-side",
            hint="this check needs a provider with a dimensions parameter (provider: openai)",
        )
    out: dict[int, dict[str, float]] = {}
    for k in check.dims:
        if k > prepared.full_dim:
            raise EvaluationError(f"{spec.path}:{check.line}: checks.server_truncation.dims: {k} is more than the "
                                  f"model's {prepared.full_dim} dimensions")
        model = dataclasses.replace(spec.model, settings={**spec.model.settings, "dimensions": k})
        truncated_spec = dataclasses.replace(spec, model=model)
        served = _PREPARERS[spec.task.kind](truncated_spec, run, run.encoder_for(truncated_spec))
        client = prepared.vectors[:, :k].astype(np.float64)
        server = served.vectors.astype(np.float64)
        norms = np.linalg.norm(client, axis=1) * np.linalg.norm(server, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cosines = np.where(norms > 0, (client * server).sum(axis=1) / norms, 0.0)
        out[k] = {
            "server_score": float(served.score([(0, k)], np.zeros((k, 0)))[0]),
            "client_score": float(prepared.score([(0, k)], np.zeros((prepared.full_dim, 0)))[0]),
            "mean_cosine": float(cosines.mean()),
            "min_cosine": float(cosines.min()),
        }
    return out


def _server_contract(
    spec: Spec, run: RunContext, embedded: list[tuple[str, Sequence[str]]]
) -> tuple[dict[str, Any] | None, dict[str, float]]:
    """The live truncation contract (norms, refusals, order and batch invariance), probed once per run.

    Returns the findings and the API counters to add to this spec's accounting (zero when another
    spec of the run already probed the same model and check).
    """
    from .contract import needs_contract, probe_texts, run_contract

    check = spec.checks.server_truncation
    if check is None or not needs_contract(check):
        return None, {}
    if spec.model.provider not in ("openai", "voyage", "cohere", "gemini"):
        raise EvaluationError(
            f"{spec.path}:{check.line}: checks.server_truncation: provider {spec.model.provider} has no server "
            "whose truncation contract could be checked",
            hint="max_norm_error, reject, order_invariance and batch_invariance need provider: openai",
        )
    if not embedded:  # pragma: no cover - every task embeds texts
        return None, {}
    role, texts = embedded[0]
    sample = probe_texts(texts)
    memo = repr((spec.model, dataclasses.replace(check, xfail=None, line=0), role, sample))
    if memo in run.contracts:
        return run.contracts[memo], {}
    if run.policy.offline:
        return {"skipped": "offline: the server's contract is checked against the live endpoint"}, {}
    found = run_contract(check, run.encoder_for(spec), sample, role, spec.model.normalize)
    run.contracts[memo] = found
    return found, {"requests": float(found["requests"]), "tokens": float(found["tokens"])}


def _export_dims(path: Path, spec: Spec, informed: dict[str, Any]) -> None:
    """Write the chosen dimensions for a production system (atomically)."""
    import json

    from . import atomic

    payload = {
        "model": spec.model.label,
        "spec": spec.name,
        "metric": spec.task.metric,
        **{key: informed[key] for key in ("dims", "select_split", "eval_split", "method", "score", "prefix")},
        "dimensions": informed["chosen"],
    }
    with step(Step.EXPORT, f"the dimension list to {path}"):
        atomic.write_text(path, json.dumps(payload, indent=2) + "\n")


def _no_replicates(kind: str) -> Callable[[list[tuple[int, int]], np.ndarray, int, int], np.ndarray]:
    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        raise EvaluationError(
            f"bootstrap intervals (confidence, significance) are not available for {kind} tasks",
            hint="they work for sts, retrieval, reranking and classification accuracy",
        )

    return replicates


def _prepare_classification(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    from .tasks import classification

    data = _load(spec, run, lambda access: load_labelled(spec.task.data, with_split=True, access=access))
    test_split = spec.task.data.split or "test"
    train_rows = np.array([i for i, split in enumerate(data.splits) if split == "train"], dtype=np.intp)
    test_rows = np.array([i for i, split in enumerate(data.splits) if split == test_split], dtype=np.intp)
    if not train_rows.size or not test_rows.size:
        found = sorted(set(data.splits))
        raise EvaluationError(
            f"{data.source}: classification needs rows with split 'train' and split {test_split!r}; found {found}",
            hint="name the split column with task.data.columns.split; the evaluation split is task.data.split",
        )
    vectors = _embed(spec, run, encoder, data.texts, "query")
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
            return _no_replicates("macro-F1 classification")(ranges, masks, resamples, seed)
        from .bootstrap import mean_replicates

        predicted = classification.predict_views(train_vecs, train_labels, test_vecs, ranges, masks,
                                                 method=options["method"], k=options["k"], seed=options["seed"])
        correct = (predicted == test_labels[None, :]).astype(np.float64)
        return mean_replicates(correct, resamples=resamples, seed=seed)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        rows = transform(vectors)
        return classification.score_views(rows[data.rows[train_rows]], train_labels, rows[data.rows[test_rows]],
                                          test_labels, ranges, _no_masks(rows), method=options["method"],
                                          k=options["k"], metric=spec.task.metric, seed=options["seed"])

    def coded_replicates(transform: Transform, ranges: list[tuple[int, int]], resamples: int, seed: int) -> np.ndarray:
        if spec.task.metric != "accuracy":
            return _no_replicates("macro-F1 classification")(ranges, _no_masks(vectors), resamples, seed)
        from .bootstrap import mean_replicates

        rows = transform(vectors)
        predicted = classification.predict_views(rows[data.rows[train_rows]], train_labels, rows[data.rows[test_rows]],
                                                 ranges, _no_masks(rows), method=options["method"], k=options["k"],
                                                 seed=options["seed"])
        return mean_replicates((predicted == test_labels[None, :]).astype(np.float64), resamples=resamples, seed=seed)

    details = {"train": int(train_rows.size), "classes": len(set(data.labels)), "method": options["method"]}
    splits = np.asarray(data.splits)
    fit_sets: dict[str, Callable[[], np.ndarray]] = {
        name: functools.partial(lambda name: vectors[data.rows[splits == name]], name)
        for name in sorted(set(data.splits))}
    return Prepared(vectors.shape[1], int(test_rows.size), len(data.texts), data.fingerprint(), score, replicates,
                    details, vectors, coded=coded, fit_sets=fit_sets, coded_replicates=coded_replicates)


def _prepare_clustering(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    from .tasks import clustering

    data = _load(spec, run, lambda access: load_labelled(spec.task.data, with_split=False, access=access))
    vectors = _embed(spec, run, encoder, data.texts, "query")
    rows, labels = vectors[data.rows], np.array(data.labels)

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return clustering.score_views(rows, labels, ranges, masks, metric=spec.task.metric,
                                      seed=spec.task.options["seed"])

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        coded_rows = transform(vectors)[data.rows]
        return clustering.score_views(coded_rows, labels, ranges, _no_masks(coded_rows), metric=spec.task.metric,
                                      seed=spec.task.options["seed"])

    return Prepared(vectors.shape[1], len(data.rows), len(data.texts), data.fingerprint(), score,
                    _no_replicates("clustering"), {"clusters": len(set(data.labels))}, vectors, coded=coded)


def _prepare_pair_classification(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    from .tasks import pair_classification

    data = _load(spec, run, lambda access: load_pair_labels(spec.task.data, access))
    vectors = _embed(spec, run, encoder, data.texts, "query")
    left, right = vectors[data.left], vectors[data.right]

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return pair_classification.score_views(left, right, data.labels, ranges, masks, metric=spec.task.metric,
                                               similarity=spec.task.similarity)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        rows = transform(vectors)
        return pair_classification.score_views(rows[data.left], rows[data.right], data.labels, ranges,
                                               _no_masks(rows), metric=spec.task.metric, similarity="dot")

    return Prepared(vectors.shape[1], len(data.labels), len(data.texts), data.fingerprint(), score,
                    _no_replicates("pair-classification"), {"positives": int(data.labels.sum())}, vectors,
                    coded=coded)


def _prepare_reranking(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    from .tasks import reranking

    with _loading(spec):
        data = load_rerank(spec.task.data, run.data_access(spec))
    queries = _embed(spec, run, encoder, data.queries, "query")
    candidates = _embed(spec, run, encoder, data.candidates, "document")

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return reranking.score_views(queries, candidates, data.rows, data.labels, ranges, masks,
                                     metric=spec.task.metric, similarity=spec.task.similarity)

    def replicates(ranges: list[tuple[int, int]], masks: np.ndarray, resamples: int, seed: int) -> np.ndarray:
        from .bootstrap import mean_replicates

        kept = [q for q, marks in enumerate(data.labels) if 0 < sum(marks) < len(marks)]
        width = max(len(data.rows[q]) for q in kept)
        relevant = np.zeros((len(kept), width), dtype=np.int8)
        for row, q in enumerate(kept):
            relevant[row, : len(data.labels[q])] = data.labels[q]
        scores = reranking.candidate_scores(queries[kept], candidates, [data.rows[q] for q in kept], ranges, masks,
                                            spec.task.similarity)
        per_query = reranking.per_query(scores, relevant[:, : scores.shape[2]], spec.task.metric)
        return mean_replicates(per_query, resamples=resamples, seed=seed)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        q, c = transform(queries), transform(candidates)
        return reranking.score_views(q, c, data.rows, data.labels, ranges, _no_masks(q),
                                     metric=spec.task.metric, similarity="dot")

    def coded_replicates(transform: Transform, ranges: list[tuple[int, int]], resamples: int, seed: int) -> np.ndarray:
        from .bootstrap import mean_replicates

        kept = [q for q, marks in enumerate(data.labels) if 0 < sum(marks) < len(marks)]
        width = max(len(data.rows[q]) for q in kept)
        relevant = np.zeros((len(kept), width), dtype=np.int8)
        for row, q in enumerate(kept):
            relevant[row, : len(data.labels[q])] = data.labels[q]
        q_rows, c_rows = transform(queries)[kept], transform(candidates)
        scores = reranking.candidate_scores(q_rows, c_rows, [data.rows[q] for q in kept], ranges, _no_masks(q_rows),
                                            "dot")
        per_query = reranking.per_query(scores, relevant[:, : scores.shape[2]], spec.task.metric)
        return mean_replicates(per_query, resamples=resamples, seed=seed)

    return Prepared(queries.shape[1], len(data.queries), len(data.queries) + len(data.candidates),
                    data.fingerprint(), score, replicates, {"candidates": len(data.candidates)},
                    lambda: np.concatenate([queries, candidates]), coded=coded, roles=("query", "document"),
                    fit_sets={"corpus": lambda: candidates}, coded_replicates=coded_replicates)


_QUERY_FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _agreement_queries(spec: Spec, access: DataAccess) -> tuple[str, ...]:
    """The texts of ``task.queries.path`` (a csv, tsv or jsonl file with a header)."""

    options = spec.task.options
    path = Path(options["queries_path"])
    fmt = _QUERY_FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EvaluationError(f"{spec.path}:{spec.task.line}: task.queries.path: cannot tell the format of "
                              f"{path.name!r} from its suffix", hint="use a .csv, .tsv or .jsonl file")
    return load_texts(DataSpec(path=path, format=fmt, columns={"text": options["queries_column"]}, header=True),
                      access)


def _prepare_agreement(spec: Spec, run: RunContext, encoder: Encoder) -> Prepared:
    import hashlib

    from .tasks import agreement

    access = run.data_access(spec)
    options = spec.task.options
    details: dict[str, Any]
    if spec.task.data.format == "beir":
        # the judged queries and the templated documents, exactly as a retrieval spec embeds them
        with _loading(spec):
            beir = load_beir(spec.task.data, access)
        corpus_texts, query_texts = beir.documents, beir.queries
        corpus = _embed(spec, run, encoder, corpus_texts, "document")
        query_rows = np.full(len(query_texts), -1, dtype=np.intp)
        fingerprint = beir.fingerprint()
        details = {"corpus": len(corpus_texts), "queries": len(query_texts), "unjudged_queries": beir.unjudged_queries}
    else:
        with _loading(spec):
            corpus_texts = load_texts(spec.task.data, access)
        corpus = _embed(spec, run, encoder, corpus_texts, "document")
        if "queries_path" in options:
            with _loading(spec):
                query_texts = _agreement_queries(spec, access)
            position = {text: row for row, text in enumerate(corpus_texts)}
            query_rows = np.array([position.get(text, -1) for text in query_texts], dtype=np.intp)
        else:
            query_rows = agreement.sample_queries(len(corpus_texts), options["queries_count"],
                                                  options["queries_seed"])
            query_texts = tuple(corpus_texts[row] for row in query_rows)
        fingerprint = hashlib.sha256("\n".join([*corpus_texts, "\x00", *query_texts]).encode()).hexdigest()
        details = {"corpus": len(corpus_texts), "queries": len(query_texts)}
    queries = _embed(spec, run, encoder, query_texts, "query")
    full_dim = corpus.shape[1]

    def score(ranges: list[tuple[int, int]], masks: np.ndarray) -> np.ndarray:
        return agreement.score_views(queries, corpus, ranges, masks, full_dim, metric=spec.task.metric,
                                     query_rows=query_rows, similarity=spec.task.similarity)

    def cost(sizes: list[int]) -> dict[int, Any]:
        from .tasks.funnel import cost_by_size

        return cost_by_size(queries, corpus, sizes)

    def coded(transform: Transform, ranges: list[tuple[int, int]]) -> np.ndarray:
        from .quantize import represent

        # the reference is the full float32 ranking: it leads the matrix, the quantized views follow it
        def with_reference(rows: np.ndarray) -> np.ndarray:
            return np.hstack([represent(rows, "float32", spec.task.similarity), transform(rows)])

        q, c = with_reference(queries), with_reference(corpus)
        shifted = [(start + full_dim, end + full_dim) for start, end in ranges]
        return agreement.score_views(q, c, shifted, _no_masks(q), full_dim, metric=spec.task.metric,
                                     query_rows=query_rows, similarity="dot")

    search = None
    if spec.views.index:
        from .index_views import agreement_search

        search = agreement_search(queries, corpus, query_rows, spec.task.metric, spec.task.similarity)
    return Prepared(full_dim, len(query_texts), len(corpus_texts), fingerprint, score, _no_replicates("agreement"),
                    details, corpus, None, cost, coded, ("query", "document"), {"corpus": lambda: corpus},
                    search=search)


_PREPARERS: dict[str, Callable[[Spec, RunContext, Encoder], Prepared]] = {
    "sts": _prepare_sts,
    "retrieval": _prepare_retrieval,
    "classification": _prepare_classification,
    "clustering": _prepare_clustering,
    "pair-classification": _prepare_pair_classification,
    "reranking": _prepare_reranking,
    "agreement": _prepare_agreement,
}


def evaluate(spec: Spec, run: RunContext) -> SpecResult:
    """Score every view the spec's checks and report need, from one full-dimension encoding.

    The boundary: every failure leaves as a :class:`MrlcheckError` without traceback or chained
    exceptions; one that is not the package's own is a :class:`~pytest_mrlcheck.guard.StepFailed`
    naming the step (loading data, encoding, scoring…) and the original type and message.
    """
    failure: MrlcheckError | None = None
    try:
        with step(Step.EVALUATE, f"spec {spec.name!r}"):
            return _evaluate(spec, run)
    except MrlcheckError as error:
        failure = error
    assert failure is not None
    raise scrub(failure)


def _evaluate(spec: Spec, run: RunContext) -> SpecResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    encoder = run.encoder_for(spec)
    run.book.begin()
    run.embedded = []
    run.inputs = InputDigest(memo_store(run.store) is not None)
    before = (run.stats.encoded, run.stats.cache_hits, run.stats.canary)
    api_before = _api_counters(encoder)
    prepared = _PREPARERS[spec.task.kind](spec, run, encoder)
    timings["load_and_embed"] = time.perf_counter() - started

    started = time.perf_counter()
    with step(Step.SCORE, f"{spec.task.kind} ({spec.task.metric})"):
        result = _score(spec, run, encoder, prepared, before, api_before)
    timings["score"] = time.perf_counter() - started
    with step(Step.LOAD_MODEL, model_ref(spec.model)):
        identity = encoder.identity()
    return dataclasses.replace(result, model_identity=identity, seconds={**timings})


def _score(spec: Spec, run: RunContext, encoder: Encoder, prepared: Prepared, before: tuple[int, int, int],
           api_before: dict[str, float]) -> SpecResult:
    plan = plan_views(spec, prepared.full_dim)
    ranges = plan.ranges()
    masks, mask_keys = plan.masks()
    memo = ScoreMemo.of(spec, run.store, run.inputs, prepared.fingerprint, run.policy.refresh)
    values = memo.scored("score", lambda: prepared.score(ranges, masks), ranges, masks)
    if not np.isfinite(values).all():
        raise EvaluationError(
            f"{spec.path.name}: some views score NaN (constant similarities)",
            hint="the model may return identical vectors for every text; check the model and data",
        )
    by_range = dict(zip(ranges, values[: len(ranges)].tolist(), strict=True))
    scores: dict[str, float] = {}
    for k in plan.prefixes:
        scores[prefix_label(k)] = by_range[(0, k)]
    for start, end in plan.windows:
        scores[window_label(start, end)] = by_range[(start, end)]
    sweep = {k: by_range[(0, k)] for k in plan.sweep}
    random_scores: dict[str, list[float]] = {}
    for (label, _), value in zip(mask_keys, values[len(ranges) :].tolist(), strict=True):
        if View.parse(label).kind == "dims":
            scores[label] = value
        else:
            random_scores.setdefault(label, []).append(value)
    random = {
        family.k: RandomStats(family.k, tuple(random_scores[random_label(family.k)]), scores[prefix_label(family.k)])
        for family in plan.random
    }
    quantized_sweep: dict[int, float] = {}
    calibration = ""
    if plan.quantized:
        from .precision_eval import calibration_vectors, score_quantized

        calibration, cal_vectors = calibration_vectors(spec, plan, prepared, lambda texts, role: _embed(
            spec, run, encoder, texts, role), access=run.data_access(spec))
        prefix_sizes = set(plan.prefixes)
        for view, value in score_quantized(spec, plan, prepared, cal_vectors).items():
            if view.kind == "window" or view.end in prefix_sizes:
                scores[view.label] = value
            else:
                quantized_sweep[view.end] = value
    replicates: dict[str, np.ndarray] = {}
    if plan.quantized and spec.needs_bootstrap:  # precision views on the same resamples as float32 ones
        from .precision_eval import quantized_replicates

        boot = spec.bootstrap or BootstrapSpec()
        shown = [view for view in plan.quantized if view.label in scores]
        for view, reps in quantized_replicates(spec, shown, prepared, cal_vectors, boot.resamples, boot.seed).items():
            replicates[view.label] = reps
    if spec.needs_bootstrap:
        boot = spec.bootstrap or BootstrapSpec()
        dims_masks = masks[:, [i for i, (label, _) in enumerate(mask_keys) if View.parse(label).kind == "dims"]]
        dims_labels = [label for label, _ in mask_keys if View.parse(label).kind == "dims"]
        reps = memo.scored("replicates", lambda: prepared.replicates(ranges, dims_masks, boot.resamples, boot.seed),
                           ranges, dims_masks, boot.resamples, boot.seed)
        range_labels = {(0, k): prefix_label(k) for k in plan.prefixes}
        range_labels.update({(s, e): window_label(s, e) for s, e in plan.windows})
        for column, key in enumerate(ranges):
            if key in range_labels:
                replicates[range_labels[key]] = reps[:, column]
        for offset, label in enumerate(dims_labels):
            replicates[label] = reps[:, len(ranges) + offset]
    others: dict[str, Prepared] = {}

    def prepared_for(split: str) -> Prepared:
        if split not in others:
            data = spec.task.data.with_split(split)
            other = dataclasses.replace(spec, task=dataclasses.replace(spec.task, data=data))
            others[split] = _PREPARERS[spec.task.kind](other, run, encoder)
            if others[split].full_dim != prepared.full_dim:  # pragma: no cover - same model
                raise EvaluationError(f"split {split!r} gave vectors of another size")
        return others[split]

    split_scores, correlations = _split_maps(spec, plan, scores, prepared_for)
    informed = _informed(spec, plan, prepared, prepared_for, scores) if spec.task.informed else None
    pca = None
    if spec.views.pca:
        from .pca import fit_projection, score_pca

        pca = score_pca(spec, prepared, scores, prepared_for, lambda texts, role: _embed(spec, run, encoder, texts,
                        role), run.data_access(spec), memo.fitted_projection(fit_projection))
        scores.update(pca.scores)
    geometry: dict[int, dict[str, Any]] = {}
    if spec.views.geometry or spec.checks.geometry:
        from .geometry import geometry_by_prefix

        with step(Step.GEOMETRY, f"of {len(plan.prefixes)} prefixes"):
            geometry = geometry_by_prefix(prepared.vectors, list(plan.prefixes))
    texts_of_spec = list(run.embedded)
    server_truncation = _server_truncation(spec, run, prepared) if spec.checks.server_truncation else {}
    contract, contract_api = _server_contract(spec, run, texts_of_spec)
    funnel_options = dict(spec.task.options.get("funnel") or {})
    if funnel_options and any(needs_ranges(funnel_options.get(key, "float32"))
                              for key in ("shortlist_precision", "rerank_precision")):
        from .precision_eval import calibration_vectors

        funnel_options["calibration"] = calibration_vectors(spec, plan, prepared, lambda texts, role: _embed(
            spec, run, encoder, texts, role), needed=True, access=run.data_access(spec))[1]
    funnel_result = prepared.funnel(funnel_options) if (prepared.funnel and funnel_options) else None
    if funnel_result is not None:
        scores["funnel"] = funnel_result["score"]
    cost = prepared.cost(list(plan.prefixes)) if prepared.cost else {}
    index_results = _index_views(spec, run, plan, prepared) if spec.views.index else ()
    api = _api_counters(encoder)
    for name, value in contract_api.items():
        api[name] = api.get(name, 0.0) + value
    return SpecResult(
        spec=spec,
        plan=plan,
        scores=scores,
        sweep=sweep,
        random=random,
        units=prepared.units,
        texts=prepared.texts,
        dataset_fingerprint=prepared.fingerprint,
        details=prepared.details,
        model_identity={},
        replicates=replicates,
        splits=split_scores,
        split_correlations=correlations,
        informed=informed,
        geometry=geometry,
        server_truncation=server_truncation,
        funnel=funnel_result,
        cost=cost,
        encoding={
            "encoded": run.stats.encoded - before[0],
            "cache_hits": run.stats.cache_hits - before[1],
            **({"canary": run.stats.canary - before[2]} if run.stats.canary > before[2] else {}),
            **{f"api_{key}": value - api_before.get(key, 0.0) for key, value in api.items()},
        },
        seconds={},
        quantized_sweep=quantized_sweep,
        calibration=calibration,
        canaries=run.book.touched(),
        server_contract=contract,
        pca=pca,
        index=index_results,
    )


def _index_views(spec: Spec, run: RunContext, plan: ViewPlan, prepared: Prepared) -> tuple[IndexResult, ...]:
    from .index_cache import cache_folder
    from .index_views import evaluate_indexes

    with step(Step.SCORE, f"{len(spec.views.index)} index views"):
        return evaluate_indexes(spec, plan, prepared.search, cache_folder(run.store))
