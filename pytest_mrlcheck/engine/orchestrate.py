"""Evaluate one spec once: prepare its task, score every view the spec needs, gather a ``SpecResult``."""

from __future__ import annotations

import dataclasses
import time
from typing import cast

import numpy as np

from ..errors import EvaluationError, MrlcheckError
from ..guard import Step, scrub, step
from ..providers import Encoder, model_ref
from ..quantize import needs_ranges
from ..result_types import GeometryPayload
from ..score_memo import InputDigest, ScoreMemo, memo_store
from ..spec import BootstrapSpec, Spec
from ..views import PRECISIONS, View, plan_views, prefix_label, random_label, window_label
from .context import RunContext, api_counters
from .embedding import embed
from .index_hook import index_views
from .informed import score_informed
from .prepared import Prepared
from .registry import prepare
from .results import RandomStats, SpecResult
from .server import compare_server_truncation, server_contract
from .splits import split_maps, split_preparer


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
    api_before = api_counters(encoder)
    prepared = prepare(spec, run, encoder)
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
        from ..precision_eval import calibration_vectors, score_quantized

        calibration, cal_vectors = calibration_vectors(spec, plan, prepared, lambda texts, role: embed(
            spec, run, encoder, texts, role), access=run.data_access(spec))
        prefix_sizes = set(plan.prefixes)
        quantized = list(plan.quantized)
        # keyed by each view's range and precision; the calibration vectors set the int8/uint8 ranges
        cal_key = memo.digest_of(cal_vectors)
        quantized_values = memo.scored("quantized", lambda: _in_order(
            score_quantized(spec, plan, prepared, cal_vectors), quantized), _spans(quantized), cal_key,
            *_precision_codes(quantized))
        for view, value in zip(quantized, quantized_values.tolist(), strict=True):
            if view.kind == "window" or view.end in prefix_sizes:
                scores[view.label] = value
            else:
                quantized_sweep[view.end] = value
    replicates: dict[str, np.ndarray] = {}
    if plan.quantized and spec.needs_bootstrap:  # precision views on the same resamples as float32 ones
        from ..precision_eval import quantized_replicates

        boot = spec.bootstrap or BootstrapSpec()
        shown = [view for view in plan.quantized if view.label in scores]
        if shown:
            shown_reps = memo.scored("quantized_replicates", lambda: _stacked(
                quantized_replicates(spec, shown, prepared, cal_vectors, boot.resamples, boot.seed), shown),
                _spans(shown), cal_key, *_precision_codes(shown), boot.resamples, boot.seed)
            if shown_reps.size:  # task kinds without per-unit values have none
                for column, view in enumerate(shown):
                    replicates[view.label] = shown_reps[:, column]
    if spec.needs_bootstrap:
        boot = spec.bootstrap or BootstrapSpec()
        dims_masks = masks[:, [i for i, (label, _) in enumerate(mask_keys) if View.parse(label).kind == "dims"]]
        dims_labels = [label for label, _ in mask_keys if View.parse(label).kind == "dims"]
        reps = memo.scored("replicates", lambda: prepared.replicates(ranges, dims_masks, boot.resamples, boot.seed),
                           ranges, dims_masks, boot.resamples, boot.seed)
        reps_by_range = {key: reps[:, column] for column, key in enumerate(ranges)}
        for k in plan.prefixes:  # labelled like the scores: a window [0:k] and the prefix k share their column
            replicates[prefix_label(k)] = reps_by_range[(0, k)]
        for start, end in plan.windows:
            replicates[window_label(start, end)] = reps_by_range[(start, end)]
        for offset, label in enumerate(dims_labels):
            replicates[label] = reps[:, len(ranges) + offset]
    prepared_for = split_preparer(spec, run, encoder, prepared)
    split_scores, correlations = split_maps(spec, plan, scores, prepared_for)
    informed = score_informed(spec, plan, prepared, prepared_for, scores) if spec.task.informed else None
    pca = None
    if spec.views.pca:
        from ..pca import fit_projection, score_pca

        pca = score_pca(spec, prepared, scores, prepared_for, lambda texts, role: embed(spec, run, encoder, texts,
                        role), run.data_access(spec), memo.fitted_projection(fit_projection), memo.projected_scores)
        scores.update(pca.scores)
    geometry: dict[int, GeometryPayload] = {}
    if spec.views.geometry or spec.checks.geometry:
        from ..geometry import geometry_by_prefix

        with step(Step.GEOMETRY, f"of {len(plan.prefixes)} prefixes"):
            # the metrics computed are GeometryPayload's keys (geometry.METRICS)
            geometry = cast("dict[int, GeometryPayload]", geometry_by_prefix(prepared.vectors, list(plan.prefixes)))
    texts_of_spec = list(run.embedded)
    server_truncation = compare_server_truncation(spec, run, prepared) if spec.checks.server_truncation else {}
    contract, contract_api = server_contract(spec, run, texts_of_spec)
    funnel_options = dict(spec.task.options.get("funnel") or {})
    if funnel_options and any(needs_ranges(funnel_options.get(key, "float32"))
                              for key in ("shortlist_precision", "rerank_precision")):
        from ..precision_eval import calibration_vectors

        funnel_options["calibration"] = calibration_vectors(spec, plan, prepared, lambda texts, role: embed(
            spec, run, encoder, texts, role), needed=True, access=run.data_access(spec))[1]
    funnel_result = None
    if prepared.funnel and funnel_options:  # its settings are in the memo's base key (the task), calibration here
        funnel_key = memo.digest_of(funnel_options.get("calibration"))
        funnel_result = prepared.funnel(funnel_options, lambda searched: memo.scored("funnel", searched, [],
                                                                                      funnel_key))
    if funnel_result is not None:
        scores["funnel"] = funnel_result["score"]
    cost = prepared.cost(list(plan.prefixes)) if prepared.cost else {}
    index_results = index_views(spec, run, plan, prepared) if spec.views.index else ()
    api = api_counters(encoder)
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


def _spans(views: list[View]) -> list[tuple[int, int]]:
    return [(view.start, view.end) for view in views]


def _precision_codes(views: list[View]) -> list[int]:
    """Each view's precision as a number (its place in ``PRECISIONS``), for the score memo's key."""
    return [PRECISIONS.index(view.precision) for view in views]


def _in_order(values: dict[View, float], views: list[View]) -> np.ndarray:
    """``values`` of ``views`` as one float64 vector, in the views' order (what the score memo stores)."""
    return np.array([values[view] for view in views], dtype=np.float64)


def _stacked(replicates: dict[View, np.ndarray], views: list[View]) -> np.ndarray:
    """``resamples × len(views)`` replicates in the views' order; ``0 × 0`` when the task has none."""
    if not replicates:
        return np.zeros((0, 0))
    return np.column_stack([np.asarray(replicates[view], dtype=np.float64) for view in views])
