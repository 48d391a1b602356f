"""The retrieval adapter ranks the corpus once per evaluation: the bootstrap reads the ranking's values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.bootstrap import mean_replicates
from pytest_mrlcheck.evaluation import RunContext, evaluate, prepare
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import MemoryStore
from pytest_mrlcheck.tasks import retrieval
from pytest_mrlcheck.views import View, dims_label, plan_views, prefix_label
from tests.support.beir import write_beir

RESAMPLES, SEED = 150, 3
SPEC = ("name: r\nmodel: {provider: python, callable: 'fake_encoder:encode'}\n"
        "task: {kind: retrieval, data: {path: data/beir}, metric: ndcg@10}\n"
        "views: {prefix: [8, 16], windows: {width: 16, step: 16}, dims: {odd: [1, 3, 5, 7, 9, 11]}}\n"
        f"bootstrap: {{resamples: {RESAMPLES}, seed: {SEED}}}\n"
        "checks:\n  relative: {16: 0.5, confidence: 0.9}\n  random: {dims: [8], samples: 3, margin: -1}\n")


@pytest.fixture
def spec_and_run(encoder_folder: Path) -> tuple[Any, RunContext]:
    write_beir(encoder_folder / "data" / "beir", docs=60)
    path = encoder_folder / "r.mrl.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return load_specs(path)[0], RunContext(store=MemoryStore(), rootdir=encoder_folder)


def _counting_top_k(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = retrieval.top_k

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[2]))  # the number of views ranked
        return original(*args, **kwargs)

    monkeypatch.setattr(retrieval, "top_k", counted)
    return calls


def test_scores_and_replicates_come_from_one_ranking(spec_and_run: tuple[Any, RunContext],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec, run = spec_and_run
    calls = _counting_top_k(monkeypatch)
    result = evaluate(spec, run)
    assert len(calls) == 1, f"the corpus was ranked {len(calls)} times: {calls}"
    # prefixes 8, 16 and the full size; 4 windows of 16 (two of them prefixes too); dims[odd]; 3 random subsets
    assert {prefix_label(8), prefix_label(16), dims_label("odd")} <= set(result.replicates)


def test_the_replicates_read_back_equal_a_separate_ranking(spec_and_run: tuple[Any, RunContext],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec, run = spec_and_run
    result = evaluate(spec, run)
    fresh = prepare(spec, RunContext(store=MemoryStore(), rootdir=run.rootdir), run.encoder_for(spec))
    plan = plan_views(spec, fresh.full_dim)
    ranges = plan.ranges()
    masks, keys = plan.masks()
    dims = [j for j, (label, _) in enumerate(keys) if View.parse(label).kind == "dims"]
    alone = fresh.replicates(ranges, masks[:, dims], RESAMPLES, SEED)  # ranked on its own: nothing kept before
    assert ranges.index((0, 16)) < alone.shape[1]
    np.testing.assert_allclose(result.replicates[prefix_label(16)], alone[:, ranges.index((0, 16))], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.replicates[dims_label("odd")], alone[:, len(ranges)], rtol=0, atol=1e-12)


def test_a_ranking_of_other_views_is_not_read_for_new_ones(spec_and_run: tuple[Any, RunContext],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec, run = spec_and_run
    prepared = prepare(spec, run, run.encoder_for(spec))
    calls = _counting_top_k(monkeypatch)
    none = np.zeros((prepared.full_dim, 0))
    first = prepared.score([(0, 8), (0, 16)], none)
    again = prepared.score([(0, 16)], none)  # a subset of what was ranked: read, not ranked
    other = prepared.score([(0, 24)], none)  # a view not ranked before: ranked
    assert calls == [2, 1]
    assert again[0] == first[1]
    reps = prepared.replicates([(0, 8)], none, RESAMPLES, SEED)  # (0, 8) was dropped by the last ranking
    assert calls == [2, 1, 1]
    assert reps.shape == (RESAMPLES, 1) and other.shape == (1,)
    expected = retrieval.score_views(*_vectors(prepared), retrieval.views_from_plan([(0, 8)], none), *_rest(spec, run))
    np.testing.assert_allclose(reps[:, 0], mean_replicates(expected.per_query["ndcg@10"], RESAMPLES, SEED)[:, 0],
                               rtol=0, atol=1e-12)


def _vectors(prepared: Any) -> tuple[np.ndarray, np.ndarray]:
    stacked, documents = prepared.vectors, prepared.fit_sets["corpus"]()
    return stacked[: stacked.shape[0] - documents.shape[0]], documents


def _rest(spec: Any, run: RunContext) -> tuple[Any, list[str]]:
    from pytest_mrlcheck.data import load_beir

    data = load_beir(spec.task.data, run.data_access(spec))
    return retrieval.Relevance.from_qrels(data.qrels, data.query_ids, data.doc_ids), ["ndcg@10"]
