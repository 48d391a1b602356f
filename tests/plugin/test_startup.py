"""A light pytest start: with no spec file, the plugin loads neither numpy nor the engine.

Each run is a fresh ``python -m pytest`` child with plugin autoloading off and only this plugin
loaded (``-p pytest_mrlcheck.plugin``), so no other installed plugin can bring numpy in. A
conftest records ``sys.modules`` at the very end of the session (the last ``pytest_unconfigure``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.helpers import FAKE_ENCODER, write_sts_csv

ROOT = Path(__file__).resolve().parents[2]

# What a session without spec files may load of the package, and why:
LIGHT_MODULES = {
    "pytest_mrlcheck",  # the package (its version only)
    "pytest_mrlcheck.plugin",  # the pytest11 entry point: hooks
    "pytest_mrlcheck.options",  # pytest_addoption / pytest_configure resolve the --mrlcheck-* options
    "pytest_mrlcheck.state",  # the run-state object stored in config.stash (engine loaded on first use)
    "pytest_mrlcheck.progress",  # the progress line is set up at session start
    "pytest_mrlcheck.report",  # package of report.files
    "pytest_mrlcheck.report.files",  # report paths (--mrlcheck-json/-markdown/-plots) are checked at configure
    "pytest_mrlcheck.atomic",  # ... by the same writer that writes them at the end
    "pytest_mrlcheck.errors",  # the exception types atomic.py raises
}
HEAVY = ("numpy", "yaml", "rich", "scipy", "sklearn", "torch", "sentence_transformers", "matplotlib")

RECORDER = textwrap.dedent(
    """
    import json, os, sys
    import pytest

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(config):
        with open(os.environ["MODULES_OUT"], "w", encoding="utf-8") as handle:
            json.dump(sorted(sys.modules), handle)
    """
)


def _loaded(folder: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules loaded by the end of a pytest run in ``folder``, and the finished run."""
    (folder / "conftest.py").write_text(RECORDER, encoding="utf-8")
    out = folder.parent / f"{folder.name}-modules.json"
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "MODULES_OUT": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(folder), os.environ.get("PYTHONPATH")]))}
    env.pop("GITHUB_STEP_SUMMARY", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "pytest_mrlcheck.plugin", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=300,
    )
    return set(json.loads(out.read_text(encoding="utf-8"))), done


def _ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "pytest_mrlcheck" or m.startswith("pytest_mrlcheck.")}


def test_a_session_without_spec_files_loads_neither_numpy_nor_the_engine(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "test_plain.py").write_text("def test_one():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    modules, done = _loaded(folder, "--mrlcheck-json", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert _ours(modules) <= LIGHT_MODULES, sorted(_ours(modules) - LIGHT_MODULES)
    assert [name for name in HEAVY if name in modules] == []
    assert not (tmp_path / "report.json").exists()  # nothing to report: no file written


def test_an_empty_folder_loads_only_the_light_modules(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    modules, done = _loaded(folder)
    assert done.returncode == 5, done.stdout + done.stderr  # no tests collected
    assert _ours(modules) <= LIGHT_MODULES, sorted(_ours(modules) - LIGHT_MODULES)
    assert "numpy" not in modules


def test_the_engine_loads_when_the_first_spec_is_collected(tmp_path: Path) -> None:
    """The probe sees the engine when there is one to see: a spec file loads it (and numpy)."""
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "fake_encoder.py").write_text(FAKE_ENCODER, encoding="utf-8")
    write_sts_csv(folder / "pairs.csv")
    (folder / "demo.mrl.yaml").write_text(textwrap.dedent("""\
        name: demo
        model: {provider: python, callable: "fake_encoder:encode"}
        task: {kind: sts, data: {path: pairs.csv}}
        checks: {prefix: {16: 0.0}}
        """), encoding="utf-8")
    modules, done = _loaded(folder, "--mrlcheck-no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert {"pytest_mrlcheck.nodes", "pytest_mrlcheck.engine.orchestrate", "numpy", "yaml"} <= modules
    assert not _ours(modules) <= LIGHT_MODULES
