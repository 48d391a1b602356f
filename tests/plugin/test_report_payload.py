"""The typed report payload matches what is written: every key of a real ``--mrlcheck-json`` report is
declared in its TypedDict with a value of the declared type, and every required key is present (so the
types cannot drift from the report)."""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from pytest_mrlcheck.canary import CanaryResult
from pytest_mrlcheck.report import payload
from pytest_mrlcheck.report.payload import Report, ReportSpec, SpecSummary
from pytest_mrlcheck.result_types import FUNNEL_OVERLAP_PREFIX, FunnelPayload
from tests.support.beir import write_beir
from tests.support.helpers import FAKE_SPEC, write_sts_csv

RICH_STS = FAKE_SPEC.replace("name: fake-sts", "name: rich-sts") + """\
  geometry:
    isoscore: {16: 0.0}
    mean_abs_correlation: {64: 1.0}
    outliers: {64: 64}
bootstrap: {resamples: 50, seed: 3, confidence: 0.9}
"""

SPLITS = """
name: carto
model: {provider: python, callable: "fake_encoder:encode"}
task:
  kind: sts
  data: {path: "data/pairs-{split}.csv", split: test}
  splits: [train, validation, test]
  informed: {dims: 16, select_split: validation, method: greedy, block: 4, tolerance: 0.5}
views:
  pca: {fit: train, sizes: [8, 16]}
checks:
  segments: {width: 16, step: 8, min: -1}
  pca: {16: {max_gap: 1.0}}
"""

PRECISION = """
name: quant
model: {provider: python, callable: fake_encoder:encode}
task: {kind: sts, data: {path: data/pairs.csv}}
views:
  prefix: [16, 32, 64]
  precision: [float16, int8, binary]
checks:
  prefix: {32: 0.1, "32@int8": 0.1}
  min_dims: {ratio: 0.9, precision: int8}
  cheapest: {ratio: 0.9}
"""

SEARCH = """
name: search
model: {provider: python, callable: fake_encoder:encode}
task:
  kind: retrieval
  data: {path: beir}
  metric: ndcg@10
  funnel: {shortlist_dims: 16, shortlist: 20, rerank_dims: 64, shortlist_precision: binary, min: 0.0}
views:
  prefix: [16, 32, 64]
  index:
    - {kind: hnsw, M: 16, ef_construction: 100, ef_search: 32}
    - {kind: binary_flat}
checks:
  prefix: {16: 0.0}
  index:
    hnsw: {32: {recall_vs_exact: 0.5}}
"""

BROKEN = """
name: broken
model: {provider: python, callable: fake_encoder:broken}
task: {kind: sts, data: {path: data/pairs.csv}}
checks:
  prefix: {16: 0.1}
"""




def problems(value: object, hint: Any, where: str) -> list[str]:
    """Where ``value`` does not have the type ``hint`` (a TypedDict, container, union or scalar)."""
    if hint is Any:
        return []
    if is_typeddict(hint):
        return _typeddict_problems(value, hint, where)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        found = [problems(value, arg, where) for arg in args]
        if any(not found_here for found_here in found):
            return []
        present = [p for arg, p in zip(args, found, strict=True) if arg is not type(None)]
        shaped = [p for arg, p in zip(args, found, strict=True) if is_typeddict(arg) and isinstance(value, dict)]
        if len(present) == 1 or shaped:  # an optional part, or an object: say what is wrong inside it
            return shaped[0] if shaped else present[0]
        return [f"{where}: {value!r} is none of {hint}"]
    if origin in (list, Sequence):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {value!r}"]
        return [p for i, item in enumerate(value) for p in problems(item, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        return [p for key, item in value.items() for p in problems(item, args[1], f"{where}.{key}")]
    if hint is type(None):
        return [] if value is None else [f"{where}: expected null, got {value!r}"]
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    return [] if ok else [f"{where}: expected {hint.__name__}, got {value!r}"]


def _typeddict_problems(value: object, hint: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({hint.__name__}), got {value!r}"]
    declared = get_type_hints(hint)
    out = [f"{where}.{key}: not declared in {hint.__name__}" for key in value
           if key not in declared and not (hint is FunnelPayload and key.startswith(FUNNEL_OVERLAP_PREFIX))]
    out += [f"{where}.{key}: required by {hint.__name__}, missing" for key in sorted(hint.__required_keys__)
            if key not in value]
    for key, item in value.items():
        if key in declared:
            out += problems(item, declared[key], f"{where}.{key}")
    return out


def test_the_validator_finds_undeclared_missing_and_mistyped_keys() -> None:
    interval = {"low": 0.1, "high": 0.2, "confidence": 0.9}
    assert problems(interval, payload.IntervalPayload, "i") == []
    assert problems({**interval, "extra": 1}, payload.IntervalPayload, "i") == [
        "i.extra: not declared in IntervalPayload"]
    assert problems({"low": 0.1, "high": 0.2}, payload.IntervalPayload, "i") == [
        "i.confidence: required by IntervalPayload, missing"]
    assert problems({**interval, "low": "0.1"}, payload.IntervalPayload, "i") == ["i.low: expected float, got '0.1'"]
    # a score or a random family's statistics: a half-written family is reported as such
    assert "s.prefix[8].sd: required by RandomStatsPayload, missing" in problems({"prefix[8]": {"mean": 1.0}},
                                                                                payload.Scores, "s")


def test_a_real_report_has_exactly_the_declared_shape(fake_project: pytest.Pytester,
                                                      write_spec: Callable[..., Path]) -> None:
    for seed, split in enumerate(("train", "validation", "test")):
        write_sts_csv(fake_project.path / "data" / f"pairs-{split}.csv", pairs=60, seed=10 + seed)
    write_beir(fake_project.path / "beir", docs=200)
    for name, body in (("rich", RICH_STS), ("splits", SPLITS), ("quant", PRECISION), ("search", SEARCH),
                       ("broken", BROKEN)):
        write_spec(body, name=name)
    result = fake_project.runpytest("--mrlcheck-json", "report.json")
    result.assert_outcomes(passed=21, failed=1)
    report = json.loads((fake_project.path / "report.json").read_text(encoding="utf-8"))
    specs = {spec["id"].split("::")[-1]: spec for spec in report["specs"]}
    # every optional part of a spec appears in at least one of them, so each is checked
    for part in ("precision", "pca", "index"):
        assert any(part in spec for spec in specs.values()), part
    assert specs["search"]["funnel"] and specs["carto"]["informed"] and specs["rich-sts"]["geometry"]
    assert specs["rich-sts"]["intervals"] and specs["search"]["cost"] and specs["carto"]["splits"]
    assert "full_score" not in specs["broken"] and specs["broken"]["error"]
    assert problems(report, Report, "report") == []


def test_a_report_spec_declares_the_summary_keys_it_is_made_of() -> None:
    summary = set(get_type_hints(SpecSummary))
    spec = set(get_type_hints(ReportSpec))
    assert spec == (summary - {"seconds"}) | {"checks", "error"}
    assert ReportSpec.__required_keys__ == {"id", "encoding", "checks", "error"}


def test_canary_results_have_the_declared_shape() -> None:
    found = CanaryResult("python:fake", "query", "passed", 8, 0.999, "canary", mean_cosine=1.0, min_cosine=1.0)
    assert problems(found.to_dict(), payload.CanaryPayload, "canary") == []
