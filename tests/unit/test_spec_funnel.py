"""``task.funnel`` is parsed into a typed :class:`FunnelSpec` beside the ``options["funnel"]`` mapping."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_mrlcheck.spec import FunnelSpec, parse_spec


def _retrieval(tmp_path: Path, **task: object) -> dict[str, object]:
    return {
        "model": {"provider": "sentence-transformers", "name": "m"},
        "task": {"kind": "retrieval", "data": {"path": str(tmp_path / "beir")}, **task},
        "checks": {"prefix": {64: 0.1}},
    }


def test_the_typed_funnel_holds_the_same_settings_as_the_options_mapping(tmp_path: Path) -> None:
    raw = _retrieval(tmp_path, funnel={"shortlist_dims": 64, "shortlist": 50, "rerank_dims": 256, "min_ratio": 0.95,
                                       "shortlist_precision": "int8"})
    task = parse_spec(raw, tmp_path / "funnel.mrl.yaml").task
    assert task.funnel == FunnelSpec(shortlist_dims=64, shortlist=50, rerank_dims=256, min=None, min_ratio=0.95,
                                     line=0, shortlist_precision="int8", rerank_precision="float32")
    assert dataclasses.asdict(task.funnel) == dict(task.options["funnel"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.funnel.shortlist = 10  # type: ignore[misc]


def test_a_full_rerank_is_none_and_no_funnel_is_none(tmp_path: Path) -> None:
    with_funnel = parse_spec(_retrieval(tmp_path, funnel={"shortlist_dims": 32}), tmp_path / "a.mrl.yaml").task
    assert with_funnel.funnel is not None
    assert (with_funnel.funnel.rerank_dims, with_funnel.funnel.shortlist) == (None, 100)
    assert parse_spec(_retrieval(tmp_path), tmp_path / "b.mrl.yaml").task.funnel is None
