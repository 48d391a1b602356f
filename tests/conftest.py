"""Fixtures: a pytester folder with the fake encoder and data, and a spec writer."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.helpers import FAKE_ENCODER, write_sts_csv

# In-process pytester runs restore sys.modules afterwards, and numpy's C extensions cannot be
# imported twice in one process: import what the plugin loads lazily once, up front.
for _name in ("sklearn.cluster", "sklearn.decomposition", "sklearn.linear_model", "sklearn.metrics",
              "matplotlib.figure", "openai", "datasets", "voyageai", "cohere", "google.genai", "faiss"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)
# The plugin loads its engine on the first spec (a session without specs stays light); load it
# here, before any pytester snapshot, so monkeypatched engine functions are the ones runs use.
for _name in ("pytest_mrlcheck.nodes", "pytest_mrlcheck.evaluation", "pytest_mrlcheck.report.json_report",
              "pytest_mrlcheck.report.terminal"):
    importlib.import_module(_name)


@pytest.fixture
def fake_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester folder with the fake encoder, an STS csv, and an encode log."""
    pytester.makepyfile(fake_encoder=FAKE_ENCODER)
    write_sts_csv(pytester.path / "data" / "pairs.csv")
    monkeypatch.setenv("FAKE_ENCODER_LOG", str(pytester.path / "encoded.log"))
    monkeypatch.delenv("FAKE_DIM", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return pytester


@pytest.fixture
def write_spec(pytester: pytest.Pytester) -> Callable[..., Path]:
    """Write ``<name>.mrl.yaml`` from a YAML body (dedented)."""

    def write(body: str, name: str = "demo") -> Path:
        path = pytester.path / f"{name}.mrl.yaml"
        path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
        return path

    return write


@pytest.fixture
def encoder_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder with the fake encoder importable and an empty ``data/``, for in-process evaluations."""
    (tmp_path / "fake_encoder.py").write_text(FAKE_ENCODER, encoding="utf-8")
    (tmp_path / "data").mkdir()
    monkeypatch.delenv("FAKE_DIM", raising=False)
    monkeypatch.delenv("FAKE_ENCODER_LOG", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fake_encoder", None)
    yield tmp_path
    sys.modules.pop("fake_encoder", None)  # other tests import their own fake encoder


@pytest.fixture(scope="session")
def real_data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the real-model tests of a whole run, shared by every xdist worker (the
    cache's encode lock makes the second worker wait and read): SciFact is encoded once, not per test."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return shared / "mrlcheck-real-data-cache"


# Hypothesis: deterministic (same examples on every run and in CI), no deadline (CI machines are
# slow and shared), a small default budget; the ``slow``-marked variants use PROPERTY_SLOW.
with contextlib.suppress(ImportError):
    from hypothesis import HealthCheck, settings

    settings.register_profile("mrlcheck", max_examples=200, derandomize=True, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("mrlcheck-slow", parent=settings.get_profile("mrlcheck"), max_examples=1500)
    settings.load_profile("mrlcheck")
