"""Recorded baselines: round trips, failures that say what changed, no churn, concurrent updates."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_mrlcheck import baseline as baselines
from tests.support.helpers import FAKE_SPEC, assert_clean_output

SPEC = FAKE_SPEC + "baseline: {path: baselines/fake.json, tolerance: 0.005}\n"


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--mrlcheck-cache-dir", "cache", "--color=no", "--mrlcheck-json", "report.json", *args)


def _baseline_summary(project: pytest.Pytester) -> str:
    (spec,) = json.loads((project.path / "report.json").read_text())["specs"]
    (check,) = [c for c in spec["checks"] if c["kind"] == "baseline"]
    return str(check["summary"])


def test_missing_baseline_fails_with_the_command_to_create_it(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC)
    result = _run(fake_project, "-k", "baseline")
    result.assert_outcomes(failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["no baseline file at */baselines/fake.json; record one with: "
                                 "pytest */demo.mrl.yaml --mrlcheck-update-baseline"])


def test_record_then_compare_round_trip(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC)
    _run(fake_project, "--mrlcheck-update-baseline").assert_outcomes(passed=9)
    path = fake_project.path / "baselines" / "fake.json"
    content = json.loads(path.read_text())
    entry = content["specs"]["fake-sts"]
    assert content["schema"] == baselines.SCHEMA
    assert entry["provenance"]["metric"] == "spearman"
    assert entry["provenance"]["task"]["units"] == 80
    assert entry["provenance"]["model"]["provider"] == "python"
    assert "numpy" in entry["provenance"]["packages"]
    assert {"prefix[8]", "prefix[64]", "window[0:16]", "random[8]"} <= set(entry["scores"])
    assert set(entry["random_margins"]) == {"random[8]", "random[16]"}
    before = path.read_text()
    _run(fake_project).assert_outcomes(passed=9)
    assert _baseline_summary(fake_project).startswith(
        "no view dropped by more than 0.005 against the baseline (worst Δ +0.0000)")
    _run(fake_project, "--mrlcheck-update-baseline").assert_outcomes(passed=9)
    assert path.read_text() == before, "nothing changed, so nothing is rewritten"


def test_the_entry_keeps_the_shape_earlier_versions_derived_from_the_report_summary(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    """The entry is built from the evaluated result; its scores, margins and provenance are still the report
    summary's, rounded, so files recorded by earlier versions (from that summary) compare unchanged."""
    write_spec(SPEC)
    _run(fake_project, "--mrlcheck-update-baseline").assert_outcomes(passed=9)
    entry = json.loads((fake_project.path / "baselines" / "fake.json").read_text())["specs"]["fake-sts"]
    (summary,) = json.loads((fake_project.path / "report.json").read_text())["specs"]  # the summary's keys
    digits = baselines.DIGITS
    assert entry["scores"] == {label: round(value["mean"] if isinstance(value, dict) else value, digits)
                               for label, value in summary["scores"].items()}
    assert entry["random_margins"] == {label: round(value["prefix"] - value["mean"], digits)
                                       for label, value in summary["scores"].items() if isinstance(value, dict)}
    task = summary["task"]
    provenance = entry["provenance"]
    assert provenance["task"] == {"kind": task["kind"], "data": Path(task["data"]).name, "split": task.get("split"),
                                  "units": task["units"], "dataset_fingerprint": task["dataset_fingerprint"]}
    assert (provenance["metric"], provenance["similarity"], provenance["full_dim"]) == (
        summary["metric"], summary["similarity"], summary["full_dim"])
    assert list(entry) == ["recorded", "provenance", "scores", "random_margins"]


def test_a_drop_beyond_tolerance_fails_with_baseline_now_and_delta(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC)
    _run(fake_project, "--mrlcheck-update-baseline").assert_outcomes(passed=9)
    path = fake_project.path / "baselines" / "fake.json"
    content = json.loads(path.read_text())
    content["specs"]["fake-sts"]["scores"]["prefix[16]"] += 0.05
    path.write_text(json.dumps(content))
    result = _run(fake_project, "-k", "baseline")
    result.assert_outcomes(failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines([
        "1 of * views dropped by more than 0.005 against the baseline (worst -0.0500: prefix[[]16])*",
        "*view*baseline*now*Δ*",
        "*prefix[[]16]*-0.0500*",
    ])


def test_a_changed_dataset_says_exactly_what_changed(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC)
    _run(fake_project, "--mrlcheck-update-baseline").assert_outcomes(passed=9)
    write_spec(SPEC.replace("    path: data/pairs.csv", "    path: data/pairs.csv\n    limit: 60"))
    result = _run(fake_project, "-k", "baseline")
    result.assert_outcomes(failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["*recorded under different conditions*dataset: recorded on data with fingerprint "
                                 "*(80 units), now *(60 units): the texts or labels changed*"])
    write_spec(SPEC.replace("kind: sts", "kind: sts\n  metric: pearson"))
    result = _run(fake_project, "-k", "baseline")
    result.stdout.fnmatch_lines(["*metric: recorded spearman, now pearson*"])


def test_a_changed_model_is_reported_not_failed(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC)
    _run(fake_project, "--mrlcheck-update-baseline").assert_outcomes(passed=9)
    module = fake_project.path / "fake_encoder.py"
    module.write_text(module.read_text() + "\n# a retrained model, same behaviour\n")
    _run(fake_project, "-k", "baseline").assert_outcomes(passed=1)
    assert "; model changed: recorded {" in _baseline_summary(fake_project)


def test_corrupt_baseline_file_is_a_clear_failure(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(SPEC)
    path = fake_project.path / "baselines" / "fake.json"
    path.parent.mkdir()
    path.write_text("{ not json")
    result = _run(fake_project, "-k", "baseline")
    result.assert_outcomes(failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["*fake.json:1: the baseline file is not valid JSON*"])
    assert path.read_text() == "{ not json", "a user's file is never overwritten by a compare run"


def _update(path: str, name: str) -> None:
    entry = {"provenance": {"model": {"m": name}}, "scores": {"prefix[8]": 0.5}, "random_margins": {}}
    for _ in range(20):
        baselines.update(Path(path), name, entry)
        entry["scores"]["prefix[8]"] += 0.01


def test_concurrent_updates_of_different_specs_keep_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "shared.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_update, args=(str(path), f"spec-{i}")) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    content = json.loads(path.read_text())
    assert sorted(content["specs"]) == [f"spec-{i}" for i in range(4)]
    assert all(entry["scores"]["prefix[8]"] == pytest.approx(0.69) for entry in content["specs"].values())


def test_two_workers_update_one_file(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC)
    write_spec(SPEC.replace("fake-sts", "other-spec"), name="other")
    result = fake_project.runpytest_subprocess("-n", "2", "--mrlcheck-cache-dir", "cache",
                                               "--mrlcheck-update-baseline")
    result.assert_outcomes(passed=18)
    content = json.loads((fake_project.path / "baselines" / "fake.json").read_text())
    assert sorted(content["specs"]) == ["fake-sts", "other-spec"]


_KILLED_WRITER = """
import sys
from pathlib import Path
from pytest_mrlcheck import baseline
path = Path(sys.argv[1])
scores = {f"window[{i}:{i + 8}]": i / 1e6 for i in range(20000)}
print("ready", flush=True)
run = 0
while True:
    baseline.update(path, "spec", {"provenance": {"model": {"run": run}}, "scores": scores, "random_margins": {}})
    run += 1
"""


def test_a_run_killed_while_recording_leaves_a_readable_baseline(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "baseline.json"
    baselines.update(path, "spec", {"provenance": {"model": {"run": -1}}, "scores": {"prefix[8]": 0.5},
                                    "random_margins": {}})
    with subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE,
                          text=True) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.8)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    content = json.loads(path.read_text())  # whole: either the old file or a complete new one
    entry = content["specs"]["spec"]
    assert entry["provenance"]["model"]["run"] >= -1
    assert len(entry["scores"]) in (1, 20000)


def _mutate(content: dict, how: str) -> str:  # type: ignore[type-arg]
    entry = content["specs"]["fake-sts"]
    first = next(iter(entry["scores"]))
    mutations = {
        "score-string": lambda: entry["scores"].__setitem__(first, "0.5"),
        "score-null": lambda: entry["scores"].__setitem__(first, None),
        "score-nan": lambda: entry["scores"].__setitem__(first, float("nan")),
        "score-minus-infinity": lambda: entry["scores"].__setitem__(first, float("-inf")),
        "score-bool": lambda: entry["scores"].__setitem__(first, True),
        "scores-list": lambda: entry.__setitem__("scores", [0.5]),
        "entry-list": lambda: content["specs"].__setitem__("fake-sts", [1]),
        "entry-string": lambda: content["specs"].__setitem__("fake-sts", "x"),
        "no-provenance": lambda: entry.pop("provenance"),
        "provenance-list": lambda: entry.__setitem__("provenance", []),
        "margin-string": lambda: entry["random_margins"].__setitem__("random[8]", "big"),
    }
    mutations[how]()
    return json.dumps(content)


@pytest.mark.parametrize("how", ["score-string", "score-null", "score-nan", "score-minus-infinity", "score-bool",
                                 "scores-list", "entry-list", "entry-string", "no-provenance", "provenance-list",
                                 "margin-string"])
def test_a_malformed_baseline_entry_is_a_clear_failure_and_update_replaces_only_it(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], how: str
) -> None:
    from tests.support.helpers import assert_clean_output

    write_spec(SPEC)
    _run(fake_project, "--mrlcheck-update-baseline")
    path = fake_project.path / "baselines" / "fake.json"
    content = json.loads(path.read_text())
    content["specs"]["someone-else"] = {"keep": "me"}
    path.write_text(_mutate(content, how))
    result = _run(fake_project, "-k", "baseline")
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "fake.json: spec 'fake-sts': " in output and "expected" in output, output[-2000:]
    assert "worst +0.0000" not in output
    assert_clean_output(output)
    _run(fake_project, "-k", "baseline", "--mrlcheck-update-baseline").assert_outcomes(passed=1)
    after = json.loads(path.read_text())
    assert after["specs"]["someone-else"] == {"keep": "me"}, "the user's other entries are kept"
    _run(fake_project, "-k", "baseline").assert_outcomes(passed=1)


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe{", "not valid UTF-8"), (b"[" * 100000, "nested too deeply"), (b"{oops", "not valid JSON")])
def test_an_unreadable_baseline_file_is_named_and_never_overwritten(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], data: bytes, message: str
) -> None:
    from tests.support.helpers import assert_clean_output

    write_spec(SPEC)
    path = fake_project.path / "baselines" / "fake.json"
    path.parent.mkdir()
    path.write_bytes(data)
    for extra in ((), ("--mrlcheck-update-baseline",)):
        result = _run(fake_project, "-k", "baseline", *extra)
        result.assert_outcomes(failed=1)
        output = result.stdout.str() + result.stderr.str()
        assert message in output
        assert_clean_output(output)
        assert path.read_bytes() == data
