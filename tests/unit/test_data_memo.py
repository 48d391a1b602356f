"""Local data loaded once per run for the specs that share it; a changed file, other settings, or a
load that warned are read again."""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.data import load_sts
from pytest_mrlcheck.data.records import MrlcheckDataWarning
from pytest_mrlcheck.datapaths import DataAccess
from pytest_mrlcheck.engine.data_memo import KEPT, DataMemo, data_key
from pytest_mrlcheck.spec import DataSpec
from tests.support.beir import write_small_beir
from tests.support.helpers import write_sts_csv


def _spec(path: Path, line: int = 3, **changes: object) -> DataSpec:
    spec = DataSpec(path=path, format="csv", columns={"text1": "sentence1", "text2": "sentence2", "score": "score"},
                    header=True, line=line)
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


class Counted:
    def __init__(self, spec: DataSpec) -> None:
        self.spec, self.calls = spec, 0

    def __call__(self) -> object:
        self.calls += 1
        return load_sts(self.spec)


def test_specs_reading_one_file_the_same_way_load_it_once(tmp_path: Path) -> None:
    path = write_sts_csv(tmp_path / "pairs.csv")
    memo, access = DataMemo(), DataAccess(tmp_path)
    first, second = Counted(_spec(path, line=3)), Counted(_spec(path, line=40))  # another spec, another line
    a = memo.load(data_key("sts", first.spec, access), first)
    b = memo.load(data_key("sts", second.spec, access), second)
    assert (first.calls, second.calls) == (1, 0) and b is a
    assert not a.gold.flags.writeable  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="read-only"):
        a.gold[0] = 1.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("change", ["kind", "limit", "columns", "access", "file"])
def test_other_settings_or_a_changed_file_load_again(tmp_path: Path, change: str) -> None:
    path = write_sts_csv(tmp_path / "pairs.csv")
    memo, access = DataMemo(), DataAccess(tmp_path)
    first = Counted(_spec(path))
    memo.load(data_key("sts", first.spec, access), first)
    kind, spec, other_access = "sts", _spec(path), access
    if change == "kind":
        kind = "pair-classification"
    elif change == "limit":
        spec = _spec(path, limit=10)
    elif change == "columns":
        spec = _spec(path, columns={"text2": "sentence2", "text1": "sentence1", "score": "score"})
    elif change == "access":
        other_access = DataAccess(tmp_path, allow_outside_root=True)
    else:
        write_sts_csv(path, seed=1)
        os.utime(path, ns=(1, 1))  # a rewrite within one timestamp tick still changes the stamp
    again = Counted(spec)
    loaded = memo.load(data_key(kind, spec, other_access), again)
    assert again.calls == 1
    if change == "file":  # the new content, not the kept one
        assert np.array_equal(loaded.gold, load_sts(_spec(path)).gold)  # type: ignore[attr-defined]


def test_a_folder_is_stamped_file_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "beir"
    write_small_beir(folder)
    spec = DataSpec(path=folder, format="beir", columns={}, header=False, split="test")
    before = data_key("retrieval", spec, DataAccess(tmp_path))
    qrels = next((folder / "qrels").iterdir())
    qrels.write_text(qrels.read_text() + "\n", encoding="utf-8")
    assert before is not None and data_key("retrieval", spec, DataAccess(tmp_path)) != before


def test_a_missing_path_is_not_keyed_and_the_load_reports_it(tmp_path: Path) -> None:
    assert data_key("sts", _spec(tmp_path / "absent.csv"), DataAccess(tmp_path)) is None


def test_a_load_that_warned_warns_every_time_and_is_not_kept(tmp_path: Path) -> None:
    memo, calls = DataMemo(), []

    def warns() -> str:
        calls.append(1)
        warnings.warn("judgements name unknown documents", MrlcheckDataWarning, stacklevel=1)
        return "data"

    for _ in range(2):
        with pytest.warns(MrlcheckDataWarning, match="unknown documents"):
            assert memo.load("key", warns) == "data"
    assert len(calls) == 2 and not memo.entries


def test_a_load_that_raises_is_not_kept(tmp_path: Path) -> None:
    memo = DataMemo()

    def fails() -> str:
        raise OSError("gone")

    with pytest.raises(OSError, match="gone"):
        memo.load("key", fails)
    assert not memo.entries


def test_only_the_last_loads_are_kept() -> None:
    memo = DataMemo()
    for i in range(KEPT + 2):
        memo.load(f"k{i}", lambda i=i: i)
    memo.load("k2", lambda: -1)  # used again: moves to the end
    assert list(memo.entries) == [f"k{i}" for i in range(3, KEPT + 2)] + ["k2"]
