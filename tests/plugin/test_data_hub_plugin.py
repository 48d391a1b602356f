"""hf: and mteb: data sources through the plugin (local data; the hub is unreachable here)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output

datasets = pytest.importorskip("datasets")


def test_hf_local_dataset_scores_like_the_csv(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    (local,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    with (fake_project.path / "data" / "pairs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    table = datasets.Dataset.from_dict({
        "sentence1": [r["sentence1"] for r in rows],
        "sentence2": [r["sentence2"] for r in rows],
        "score": [float(r["score"]) for r in rows],
    })
    datasets.DatasetDict({"test": table}).save_to_disk(str(fake_project.path / "hfdata"))
    write_spec(FAKE_SPEC.replace("    path: data/pairs.csv", "    hf: {path: ./hfdata}\n    split: test"))
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    (hub,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert hub["task"]["data"] == f"hf:{fake_project.path / 'hfdata'}"
    assert hub["task"]["dataset_fingerprint"] == local["task"]["dataset_fingerprint"]
    assert hub["full_score"] == pytest.approx(local["full_score"], abs=1e-12)


def test_an_uncached_mteb_task_offline_fails_fast_with_how_to_fix(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mteb")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(fake_project.path / "empty-hf-home"))
    write_spec(FAKE_SPEC.replace("    path: data/pairs.csv", "    mteb: STSBenchmark\n    split: test"))
    result = fake_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines(["spec 'fake-sts' could not be evaluated:", "*STSBenchmark*", "*hint:*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_hub_sources_are_checked_in_the_spec(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC.replace("    path: data/pairs.csv", "    hf: {path: x/y}\n    mteb: STSBenchmark"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*task.data: give one source: hf or mteb, not both"])
