"""Judges called in process on one evaluated result: each verdict is recomputed here from the scores and
replicates, and a label of any view parses back to the same view."""

from __future__ import annotations

import dataclasses
import itertools
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_mrlcheck.checks import CheckPlan, judge, plan_checks
from pytest_mrlcheck.checks.verdict import NO_INTERVAL, Verdict
from pytest_mrlcheck.engine.results import SpecResult
from pytest_mrlcheck.evaluation import RunContext, evaluate
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import MemoryStore
from pytest_mrlcheck.views import PRECISIONS, View, item_name, item_subject, prefix_label, window_label
from tests.support.helpers import FAKE_ENCODER, write_sts_csv

CONFIDENCE = 0.9
SPEC = f"""name: j
model: {{provider: python, callable: 'fake_encoder:encode'}}
task: {{kind: sts, data: {{path: data/sts.csv}}}}
views: {{prefix: [8, 16, 32], precision: [int8], windows: {{width: 16, step: 16}}, dims: {{odd: [1, 3, 5, 7]}}}}
bootstrap: {{resamples: 200, seed: 5}}
checks:
  prefix: {{"16": 0.6, "16@int8": 0.6, confidence: {CONFIDENCE}}}
  relative: {{"8": 0.8, "16": 0.9, confidence: {CONFIDENCE}}}
  segments: {{width: 16, step: 16, min: 0.75, confidence: {CONFIDENCE}}}
  dims: {{odd: 0.5}}
  random: {{dims: [16], samples: 8, margin: 0.0}}
  monotonic: {{tolerance: 0.0}}
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> SpecResult:
    folder = tmp_path_factory.mktemp("judges")
    (folder / "fake_encoder.py").write_text(FAKE_ENCODER, encoding="utf-8")
    write_sts_csv(folder / "data" / "sts.csv", pairs=80)
    (folder / "j.mrl.yaml").write_text(SPEC, encoding="utf-8")
    sys.path.insert(0, str(folder))
    sys.modules.pop("fake_encoder", None)
    try:
        spec = load_specs(folder / "j.mrl.yaml")[0]
        return evaluate(spec, RunContext(store=MemoryStore(), rootdir=folder))
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("fake_encoder", None)


def _plan(result: SpecResult, name: str) -> CheckPlan:
    return next(plan for plan in plan_checks(result.spec) if plan.name == name)


def _low(result: SpecResult, label: str) -> float:
    """The interval's lower bound, recomputed from the replicates with numpy's own quantile."""
    reps = result.replicates[label]
    return float(np.quantile(reps[np.isfinite(reps)], (1 - CONFIDENCE) / 2))


def test_every_planned_item_is_judged_and_names_its_views(result: SpecResult) -> None:
    names = [plan.name for plan in plan_checks(result.spec)]
    assert names == ["prefix[16]", "prefix[16@int8]", "relative[8]", "relative[16]", "segments", "random[16]",
                     "monotonic", "dims[odd]"]
    for plan in plan_checks(result.spec):
        verdict = judge(plan, result)
        assert isinstance(verdict, Verdict) and verdict.name == plan.name and verdict.rows
        for row in verdict.rows:
            assert View.parse(row.view).label == row.view  # rows name views by their label, nothing else


@pytest.mark.parametrize(("name", "label"), [("prefix[16]", "prefix[16]"), ("prefix[16@int8]", "prefix[16]@int8")])
def test_a_prefix_with_confidence_is_judged_on_the_lower_bound(result: SpecResult, name: str, label: str) -> None:
    verdict = judge(_plan(result, name), result)
    low = _low(result, label)
    assert verdict.value == pytest.approx(low, abs=1e-12)
    assert verdict.passed == (low >= 0.6)
    assert verdict.rows[0].score == pytest.approx(result.scores[label], abs=1e-12)
    assert verdict.rows[0].gap == pytest.approx(low - 0.6, abs=1e-12)
    assert low < result.scores[label]  # the bound is stricter than the point


def test_the_prefix_sharing_its_range_with_a_window_keeps_its_interval(result: SpecResult) -> None:
    # prefix[16] and window[0:16] are the same dimensions: both have replicates, and they are equal
    np.testing.assert_array_equal(result.replicates[prefix_label(16)], result.replicates[window_label(0, 16)])
    assert "CI" in judge(_plan(result, "prefix[16]"), result).rows[0].note


def test_without_replicates_the_verdict_says_it_read_the_point_score(result: SpecResult) -> None:
    bare = dataclasses.replace(result, replicates={})
    for name in ("prefix[16]", "relative[16]"):
        verdict = judge(_plan(bare, name), bare)
        assert verdict.rows[0].note == NO_INTERVAL and NO_INTERVAL in verdict.summary
    prefix = judge(_plan(bare, "prefix[16]"), bare)
    assert prefix.value == pytest.approx(result.scores[prefix_label(16)], abs=1e-12)
    segments = judge(_plan(bare, "segments"), bare)
    assert {row.note for row in segments.rows} == {NO_INTERVAL}


def test_relative_shares_are_the_ratio_of_paired_replicates(result: SpecResult) -> None:
    full = result.replicates[prefix_label(result.full_dim)]
    for dims, ratio in ((8, 0.8), (16, 0.9)):
        verdict = judge(_plan(result, f"relative[{dims}]"), result)
        shares = result.replicates[prefix_label(dims)] / full
        low = float(np.quantile(shares, (1 - CONFIDENCE) / 2))
        assert verdict.value == pytest.approx(low, abs=1e-12)
        assert verdict.passed == (low >= ratio)


def test_segments_judge_each_window_of_the_full_vector(result: SpecResult) -> None:
    verdict = judge(_plan(result, "segments"), result)
    assert [row.view for row in verdict.rows] == [window_label(s, s + 16) for s in range(0, result.full_dim, 16)]
    for row in verdict.rows:
        assert row.ok == (_low(result, row.view) >= 0.75)
    assert verdict.passed == all(row.ok for row in verdict.rows)
    assert verdict.value == min(row.score for row in verdict.rows if row.score is not None)


def test_random_and_monotonic_follow_the_scores(result: SpecResult) -> None:
    stats = result.random[16]
    random = judge(_plan(result, "random[16]"), result)
    assert stats.prefix == result.scores[prefix_label(16)] and len(stats.scores) == 8
    assert random.passed == (stats.prefix - float(np.mean(stats.scores)) >= 0.0)
    ladder = [result.scores[prefix_label(k)] for k in (8, 16, 32, result.full_dim)]
    monotonic = judge(_plan(result, "monotonic"), result)
    assert monotonic.passed == all(b >= a for a, b in itertools.pairwise(ladder))


views = st.one_of(
    st.builds(lambda k, p: View.prefix(k, p), st.integers(1, 10_000), st.sampled_from(PRECISIONS)),
    st.builds(lambda s, w, p: View.window(s, s + w, p), st.integers(0, 5000), st.integers(1, 5000),
              st.sampled_from(PRECISIONS)),
    st.builds(lambda k: View("random", 0, k), st.integers(1, 10_000)),
    st.builds(lambda name, p: View("dims", name=name, precision=p),
              st.from_regex(r"[A-Za-z0-9_.+@-]{1,20}", fullmatch=True), st.sampled_from(PRECISIONS)),
    st.builds(lambda k: View("informed", 0, k), st.integers(1, 10_000)),
    st.builds(View.pca, st.integers(1, 10_000)),
    st.builds(lambda k, p, index: dataclasses.replace(View.prefix(k, p), index=index), st.integers(1, 10_000),
              st.sampled_from(PRECISIONS), st.sampled_from(["hnsw", "ivf_flat", "ivf_pq"])),
)


@given(views)
def test_a_label_parses_back_to_its_view(view: View) -> None:
    assert View.parse(view.label) == view


@given(st.text(max_size=30))
def test_parse_accepts_only_what_label_produces(text: str) -> None:
    try:
        view = View.parse(text)
    except ValueError:
        return
    assert view.label == text


def test_labels_at_a_precision_and_through_an_index() -> None:
    assert View.parse("prefix[128]@int8#hnsw") == dataclasses.replace(View.prefix(128, "int8"), index="hnsw")
    for bad in ("prefix[128]@float32", "pca[8]@int8", "window[0:8]#hnsw", "prefix[x]", "window[8]", "dims[a]b"):
        with pytest.raises(ValueError, match="not a view label"):
            View.parse(bad)


def test_item_names_are_made_and_read_in_one_place(result: SpecResult) -> None:
    assert item_name("geometry", "effective_rank") == "geometry[effective_rank]"
    assert item_subject("geometry[effective_rank]", "geometry") == "effective_rank"
    assert item_subject("geometry[]", "geometry") is None and item_subject("index[hnsw@64]", "geometry") is None
    for plan in plan_checks(result.spec):
        check = plan.name.partition("[")[0]
        if check != plan.name:
            assert item_name(check, item_subject(plan.name, check) or "") == plan.name
