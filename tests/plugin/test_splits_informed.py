"""Cartography across splits, and informed truncation chosen on another split."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.support.helpers import assert_clean_output, write_sts_csv

SPEC = """
name: carto
model: {provider: python, callable: "fake_encoder:encode"}
task:
  kind: sts
  data: {path: "data/pairs-{split}.csv", split: test}
  splits: [train, validation, test]
  informed: {dims: 16, select_split: validation, method: greedy, block: 4, tolerance: 0.5, export: out/dims.json}
checks:
  segments: {width: 16, step: 8, min: -1}
"""


@pytest.fixture
def split_project(fake_project: pytest.Pytester) -> pytest.Pytester:
    for seed, split in enumerate(("train", "validation", "test")):
        write_sts_csv(fake_project.path / "data" / f"pairs-{split}.csv", pairs=60, seed=10 + seed)
    return fake_project


def test_window_maps_on_every_split_and_their_correlations(
    split_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC)
    split_project.runpytest("--mrlcheck-json", "report.json").assert_outcomes(passed=2)
    (spec,) = json.loads((split_project.path / "report.json").read_text())["specs"]
    assert set(spec["splits"]) == {"train", "validation", "test"}
    windows = [label for label in spec["splits"]["test"] if label.startswith("window[")]
    assert len(windows) == 7
    assert spec["splits"]["test"]["window[0:16]"] == spec["scores"]["window[0:16]"]
    a = np.array([spec["splits"]["train"][w] for w in windows])
    b = np.array([spec["splits"]["test"][w] for w in windows])
    assert spec["split_correlations"]["train~test"] == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert set(spec["split_correlations"]) == {"train~validation", "train~test", "validation~test"}


def test_informed_dims_are_chosen_on_the_selection_split_and_exported(
    split_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC)
    result = split_project.runpytest("--mrlcheck-json", "report.json", "--color=no")
    result.assert_outcomes(passed=2)
    (spec,) = json.loads((split_project.path / "report.json").read_text())["specs"]
    informed = spec["informed"]
    assert informed["select_split"] == "validation" and informed["eval_split"] == "test"
    assert len(informed["chosen"]) == 16 and len(set(informed["chosen"])) == 16
    assert spec["scores"]["informed[16]"] == informed["score"]
    exported = json.loads((split_project.path / "out" / "dims.json").read_text())
    assert exported["dimensions"] == informed["chosen"]
    # greedy with blocks of 4: the chosen set is a union of whole blocks
    blocks = {d // 4 for d in informed["chosen"]}
    assert len(blocks) == 4


def test_informed_selection_never_uses_the_evaluation_split(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC.replace("select_split: validation", "select_split: test"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*task.informed.select_split: selecting dimensions on the evaluation split "
                                 "('test') would be optimistic"])


def test_splits_need_a_split_template(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC.replace('path: "data/pairs-{split}.csv", split: test', "path: data/pairs.csv"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*task.splits: other splits need a data path with {split} in it"])


def test_informed_item_fails_when_the_prefix_lags(
    split_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC.replace("tolerance: 0.5", "tolerance: 0.0").replace("method: greedy", "method: windows"))
    result = split_project.runpytest("--color=no", "-k", "informed", "--mrlcheck-json", "report.json")
    (spec,) = json.loads((split_project.path / "report.json").read_text())["specs"]
    informed = spec["informed"]
    lags = informed["score"] > informed["prefix"]
    result.assert_outcomes(failed=1 if lags else 0, passed=0 if lags else 1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
