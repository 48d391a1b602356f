"""Noise-aware gating of precision views: replicates on the same resamples as float32, checks use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.bootstrap import mean_replicates, sts_replicates
from pytest_mrlcheck.checks import judge, plan_checks
from pytest_mrlcheck.evaluation import _PREPARERS, RunContext, SpecResult, evaluate
from pytest_mrlcheck.quantize import calibration_ranges, prepare_slice, represent
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import MemoryStore
from pytest_mrlcheck.tasks import retrieval

RESAMPLES, SEED = 200, 7


@pytest.fixture
def folder(encoder_folder: Path) -> Path:
    return encoder_folder


def _run(folder: Path, task: str, checks: str) -> tuple[SpecResult, object]:
    path = folder / "p.mrl.yaml"
    path.write_text("name: p\nmodel: {provider: python, callable: 'fake_encoder:encode'}\n" + task
                    + "views: {prefix: [8, 32], precision: [int8, uint8, binary, float16]}\n"
                    + f"bootstrap: {{resamples: {RESAMPLES}, seed: {SEED}}}\n" + f"checks: {checks}\n",
                    encoding="utf-8")
    spec = load_specs(path)[0]
    run = RunContext(store=MemoryStore(), rootdir=folder)
    result = evaluate(spec, run)
    return result, _PREPARERS[spec.task.kind](spec, run, run.encoder_for(spec))


def _coded(vectors: np.ndarray, k: int, precision: str) -> np.ndarray:
    """One view's stored vectors, one view at a time (ranges from every vector: the default calibration)."""
    ranges = calibration_ranges(prepare_slice(vectors, 0, k, "cosine")) if precision in ("int8", "uint8") else None
    return represent(vectors[:, :k], precision, "dot" if precision == "binary" else "cosine", ranges)


def _sts_pairs(path: Path, pairs: int = 80) -> None:
    from tests.support.sts import distinct_pairs

    distinct_pairs(path, pairs)


def test_sts_precision_replicates_are_paired_with_float32(folder: Path) -> None:
    _sts_pairs(folder / "data" / "pairs.csv")
    result, prepared = _run(folder, "task: {kind: sts, data: {path: data/pairs.csv}}\n",
                            '{prefix: {"8@int8": 0.0, confidence: 0.9}}')
    data = prepared.pairs  # type: ignore[attr-defined]
    gold = np.array([float(line.rsplit(",", 1)[1]) for line in
                     (folder / "data" / "pairs.csv").read_text(encoding="utf-8").splitlines()[1:]])
    for precision in ("int8", "uint8", "binary", "float16"):
        for k in (8, 32):
            coded = _coded(prepared.vectors, k, precision)  # type: ignore[attr-defined]
            similarities = np.einsum("ij,ij->i", coded[data.left], coded[data.right])[:, None]
            expected = sts_replicates(similarities, gold, "spearman", RESAMPLES, SEED)[:, 0]
            found = result.replicates[f"prefix[{k}]@{precision}"]
            np.testing.assert_allclose(found, expected, atol=1e-12)
    # the float32 views' replicates use the same resamples: the int8 share of the full score is paired
    float32 = sts_replicates(np.einsum("ij,ij->i", *(_coded(prepared.vectors, 32, "float32")[side]  # type: ignore[attr-defined]
                                                     for side in (data.left, data.right)))[:, None],
                             gold, "spearman", RESAMPLES, SEED)[:, 0]
    np.testing.assert_allclose(result.replicates["prefix[32]"], float32, atol=1e-9)


def test_confidence_gates_a_precision_view_on_its_lower_bound(folder: Path) -> None:
    _sts_pairs(folder / "data" / "pairs.csv")
    task = "task: {kind: sts, data: {path: data/pairs.csv}}\n"
    result, _ = _run(folder, task, '{prefix: {"32@int8": 0.0}}')
    score = result.scores["prefix[32]@int8"]
    low, high = result.interval("prefix[32]@int8", 0.95) or (np.nan, np.nan)
    assert low < score < high
    between = (low + score) / 2  # the point passes this minimum, the interval's lower bound does not
    gated, _ = _run(folder, task, f'{{prefix: {{"32@int8": {between}, confidence: 0.95}}}}')
    (plan,) = [p for p in plan_checks(gated.spec) if p.name == "prefix[32@int8]"]
    verdict = judge(plan, gated)
    assert not verdict.passed and "95% CI" in verdict.summary and "lower bound" in verdict.summary
    plain, _ = _run(folder, task, f'{{prefix: {{"32@int8": {between}}}}}')
    (plan,) = [p for p in plan_checks(plain.spec) if p.name == "prefix[32@int8]"]
    assert judge(plan, plain).passed
    relative, _ = _run(folder, task, '{relative: {"32@int8": 0.5, confidence: 0.9}}')
    (plan,) = [p for p in plan_checks(relative.spec) if p.name == "relative[32@int8]"]
    assert "CI of the share" in judge(plan, relative).summary


def test_retrieval_precision_replicates_are_per_query_bootstraps(folder: Path) -> None:
    from pytest_mrlcheck.data import load_beir
    from tests.support.beir import write_beir

    write_beir(folder / "data" / "beir")
    result, prepared = _run(folder, "task: {kind: retrieval, metric: ndcg@10, data: {path: data/beir}}\n",
                            '{prefix: {"8@binary": 0.0, confidence: 0.9}}')
    data = load_beir(load_specs(folder / "p.mrl.yaml")[0].task.data)
    relevance = retrieval.Relevance.from_qrels(data.qrels, data.query_ids, data.doc_ids)
    n_queries = len(prepared.vectors) - prepared.details["documents"]  # type: ignore[attr-defined]
    for precision in ("int8", "binary", "float16"):
        coded = _coded(prepared.vectors, 8, precision)  # type: ignore[attr-defined]
        found = retrieval.score_views(coded[:n_queries], coded[n_queries:], [(0, 8)], relevance, ["ndcg@10"], "dot")
        expected = mean_replicates(found.per_query["ndcg@10"], RESAMPLES, SEED)[:, 0]
        np.testing.assert_allclose(result.replicates[f"prefix[8]@{precision}"], expected, atol=1e-12)
