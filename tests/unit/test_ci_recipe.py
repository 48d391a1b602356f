"""The GitHub Actions recipe in examples/ci/ (also shown in the README) is valid and does what it says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_mrlcheck.options import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "examples" / "ci" / "mrlcheck.yml"
FORK = "github.event.pull_request.head.repo.fork"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    assert all(isinstance(step, dict) for step in steps)
    return list(steps)


def _pytest_steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [s for s in _steps(workflow) if str(s.get("run", "")).startswith("pytest")]


def _flags(step: dict[str, Any]) -> list[str]:
    command = re.sub(r"\$\{\{.*?\}\}", "", str(step["run"]))  # expressions are GitHub's, not shell words
    return shlex.split(command)


def test_triggers_pull_requests_and_a_schedule(workflow: dict[Any, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers and "push" in triggers
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert triggers["workflow_dispatch"]["inputs"]["refresh"]["type"] == "boolean"
    assert workflow["permissions"] == {"contents": "read"}


def test_every_run_uses_the_cached_folder(workflow: dict[Any, Any]) -> None:
    (cache,) = [s for s in _steps(workflow) if str(s.get("uses", "")).startswith("actions/cache@")]
    folder = cache["with"]["path"]
    key = cache["with"]["key"]
    assert "hashFiles('**/*.mrl.yaml'" in key and "requirements.txt" in key  # spec files and model identity
    assert cache["with"]["restore-keys"].strip().splitlines()[0] in key
    steps = _pytest_steps(workflow)
    assert len(steps) == 2
    for step in steps:
        flags = _flags(step)
        assert flags[flags.index("--mrlcheck-cache-dir") + 1] == folder
    order = _steps(workflow)
    assert order.index(cache) < min(order.index(step) for step in steps)  # restored before the checks


def test_fork_pull_requests_run_offline_without_the_key(workflow: dict[Any, Any]) -> None:
    offline, keyed = _pytest_steps(workflow)
    assert FORK in offline["if"] and "pull_request" in offline["if"]
    assert "--mrlcheck-offline" in _flags(offline)
    assert "secrets" not in str(offline)
    # the keyed step runs on everything else, the schedule included, with the key from secrets
    assert f"!(github.event_name == 'pull_request' && {FORK})" in keyed["if"]
    assert "schedule" not in keyed["if"]
    assert keyed["env"] == {"OPENAI_API_KEY": "${{ secrets.OPENAI_API_KEY }}"}
    assert "--mrlcheck-offline" not in _flags(keyed)
    assert "inputs.refresh && '--mrlcheck-refresh'" in keyed["run"]


def test_the_flags_exist_and_the_reports_are_uploaded(workflow: dict[Any, Any]) -> None:
    known = {option.flag for option in OPTIONS}
    written: set[str] = set()
    for step in _pytest_steps(workflow):
        flags = _flags(step)
        for flag in flags:
            if flag.startswith("--mrlcheck"):
                assert flag in known, flag
        for option in ("--mrlcheck-json", "--mrlcheck-markdown", "--mrlcheck-plots"):
            written.add(flags[flags.index(option) + 1])
    (upload,) = [s for s in _steps(workflow) if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()"
    folder = upload["with"]["path"].rstrip("/")
    assert all(path.startswith(folder + "/") for path in written)
    (summary,) = [s for s in _steps(workflow) if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    assert summary["if"] == "always()"


def test_the_readme_shows_the_same_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    assert RECIPE.read_text(encoding="utf-8") in blocks
