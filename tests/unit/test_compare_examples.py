"""benchmarks/compare_examples.py: what counts as a difference between two JSON reports."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def compare() -> Any:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import compare_examples
    finally:
        sys.path.remove(str(BENCHMARKS))
    return compare_examples


def _report() -> dict[str, Any]:
    return {
        "schema": "pytest-mrlcheck/report/1",
        "plugin_version": "1.0",
        "created": "2026-01-01T00:00:00+00:00",
        "specs": [{
            "id": "examples/a.mrl.yaml::a",
            "file": "/somewhere/examples/a.mrl.yaml",
            "scores": {"prefix:64": 0.81234, "prefix:384": 0.85},
            "seconds": {"score": 1.5},
            "index": [{"metric": 0.5, "build_seconds": 0.2}],
            "encoding": {"encoded": 10, "cache_hits": 0},
            "checks": [{"item": "a.mrl.yaml::a::prefix[64]", "outcome": "passed", "value": 0.81234},
                       {"item": "a.mrl.yaml::a::prefix[384]", "outcome": "xfailed", "value": 0.85}],
        }],
        "totals": {"specs": 1, "checks": 2, "passed": 1, "xfailed": 1, "encoded": 10, "cache_hits": 0},
    }


def test_equal_reports_differ_only_in_volatile_keys(compare: Any) -> None:
    ours, theirs = _report(), _report()
    theirs["created"] = "2027-06-01T12:00:00+00:00"
    spec = theirs["specs"][0]
    spec["file"], spec["seconds"], spec["index"][0]["build_seconds"] = "/elsewhere/a.mrl.yaml", {"score": 9.0}, 3.0
    spec["encoding"] = {"encoded": 0, "cache_hits": 10}
    theirs["totals"].update(encoded=0, cache_hits=10)
    spec["scores"]["prefix:64"] += 5e-10
    found = compare.compare_reports(ours, theirs)
    assert found.differences == []
    assert found.numbers == 9  # 2 scores, 1 index metric, 2 check values, 4 totals counts
    assert found.max_difference == pytest.approx(5e-10, rel=1e-3)
    assert found.max_where == "specs[examples/a.mrl.yaml::a].scores.prefix:64"


def test_outcomes_numbers_and_shapes_that_differ_are_each_listed(compare: Any) -> None:
    ours, theirs = _report(), copy.deepcopy(_report())
    spec = theirs["specs"][0]
    spec["checks"][1]["outcome"] = "failed"
    spec["scores"]["prefix:384"] = 0.8500001
    spec["index"].append({"metric": 0.4})
    del spec["scores"]["prefix:64"]
    found = compare.compare_reports(ours, theirs)
    where = "specs[examples/a.mrl.yaml::a]"
    assert found.differences == [
        "outcome of a.mrl.yaml::a::prefix[384]: xfailed != failed",
        f"{where}.checks[1].outcome: 'xfailed' != 'failed'",
        f"{where}.index: 1 entries != 2",
        f"{where}.scores.prefix:384: 0.85 != 0.8500001 (|diff| 1e-07)",
        f"{where}.scores.prefix:64: only in this tree",
    ]


def test_a_number_is_not_a_boolean_and_a_spec_missing_on_one_side_is_named(compare: Any) -> None:
    ours, theirs = _report(), _report()
    ours["specs"][0]["flag"], theirs["specs"][0]["flag"] = 1, True
    theirs["specs"][0]["id"] = "examples/b.mrl.yaml::b"
    found = compare.compare_reports(ours, theirs)
    assert "spec examples/a.mrl.yaml::a: only in this tree" in found.differences
    assert "spec examples/b.mrl.yaml::b: only in the ref" in found.differences
    ours["specs"][0]["id"] = "examples/b.mrl.yaml::b"
    assert compare.compare_reports(ours, theirs).differences == [
        "specs[examples/b.mrl.yaml::b].flag: 1 != True"]


def test_a_deliberate_fix_explains_only_its_own_paths_and_never_an_outcome(compare: Any) -> None:
    fix = compare.DeliberateChange(commit="abc1234", paths=("specs[x].checks[0].",), reason="a fixed bug")
    differences = ["outcome of x::prefix[64]: passed != failed",
                   "specs[x].checks[0].value: 0.5 != 0.6 (|diff| 0.1)",
                   "specs[x].checks[1].value: 0.5 != 0.6 (|diff| 0.1)"]
    unexplained, explained = compare.explain(differences, [fix])
    assert unexplained == [differences[0], differences[2]]
    assert explained == [differences[1] + "  [fix abc1234]"]
    assert compare.explain(differences, []) == (differences, [])


def test_fixes_apply_only_to_refs_that_predate_them(compare: Any) -> None:
    assert compare.predating("HEAD") == []  # this tree has every fix it lists (or they are unknown to git)
    oldest = compare.DELIBERATE_CHANGES[0]
    has = compare.subprocess.run(["git", "cat-file", "-e", f"{compare.DEFAULT_REF}^{{commit}}"], cwd=compare.REPO,
                                 capture_output=True, check=False)
    if has.returncode != 0:
        pytest.skip(f"{compare.DEFAULT_REF} is not in this clone's history")
    assert oldest in compare.predating(compare.DEFAULT_REF)
