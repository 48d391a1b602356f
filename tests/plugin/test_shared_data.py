"""Specs of one run that read the same data file load it once, with the same numbers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_mrlcheck.engine import prepare_sts
from tests.support.helpers import FAKE_SPEC


def test_two_specs_on_one_file_load_it_once(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    original = prepare_sts.load_sts

    def counted(spec, access):  # type: ignore[no-untyped-def]
        calls.append(spec.path)
        return original(spec, access)

    monkeypatch.setattr(prepare_sts, "load_sts", counted)
    write_spec(FAKE_SPEC, name="first")
    write_spec(FAKE_SPEC.replace("name: fake-sts", "name: other-sts\n# written on other lines"), name="second")
    result = fake_project.runpytest("--mrlcheck-cache-dir=cache", "--mrlcheck-json=report.json")
    result.assert_outcomes(passed=16)
    assert len(calls) == 1, calls
    specs = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert len(specs) == 2 and specs[0]["scores"] == specs[1]["scores"]

    (fake_project.path / "data" / "pairs.csv").write_text(
        (fake_project.path / "data" / "pairs.csv").read_text() + "extra words here,other words there,2.5\n")
    calls.clear()
    fake_project.runpytest("--mrlcheck-cache-dir=cache").assert_outcomes(passed=16)
    assert len(calls) == 1  # a new run loads again: nothing outlives the run
