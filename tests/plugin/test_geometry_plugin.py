"""Geometry diagnostics through the plugin: the geometry check, table and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.geometry import geometry_by_prefix
from tests.support.helpers import FAKE_SPEC, assert_clean_output


def test_geometry_check_items_table_and_json(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    body = FAKE_SPEC + "  geometry:\n    isoscore: {16: 0.99}\n    mean_abs_correlation: {64: 0.5}\n"
    write_spec(body)
    result = fake_project.runpytest("--color=no", "--mrlcheck-json", "report.json", "-k", "geometry")
    result.assert_outcomes(passed=1, failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines([
        "*geometry[[]isoscore]*",
        "isoscore (higher is better) misses its bound at prefix[[]16]",
        "*geometry of the vectors per prefix*",
        "*IsoScore*uniformity*outlier dims*",
    ])
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert set(spec["geometry"]) == {"8", "16", "32", "64"}  # the ladder and the checked sizes
    assert set(spec["geometry"]["64"]) == {"isoscore", "uniformity", "mean_abs_correlation", "effective_rank",
                                           "participation_ratio", "outliers"}
    namespace: dict[str, object] = {}
    exec((fake_project.path / "fake_encoder.py").read_text(), namespace)
    encode = namespace["encode"]
    assert callable(encode)
    import csv

    with (fake_project.path / "data" / "pairs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    texts = list(dict.fromkeys(t for row in rows for t in (row["sentence1"], row["sentence2"])))
    vectors = np.asarray(encode(texts, "query"), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = geometry_by_prefix(vectors, [8, 16, 32, 64])
    assert spec["geometry"]["64"]["isoscore"] == pytest.approx(expected[64]["isoscore"], abs=1e-6)


def test_unknown_geometry_metric_is_a_spec_error(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC + "  geometry:\n    isoscor: {16: 0.5}\n")
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*checks.geometry.isoscor: unknown key 'isoscor'", "  hint: did you mean 'isoscore'?"])
