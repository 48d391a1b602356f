"""What the ``mrlcheck`` command shares with the plugin: one option table (both front doors register
it), the one spec parser (options become a raw spec), the plugin's run context (hints name the
command's flags), the report builder fed with results."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_mrlcheck import options
from pytest_mrlcheck.checks import Row, Verdict
from pytest_mrlcheck.cli import build_parser, main
from pytest_mrlcheck.cli.targets import targets
from pytest_mrlcheck.report.json_report import build_report, report_from_records
from pytest_mrlcheck.report.summary import JudgedCheck, spec_record
from pytest_mrlcheck.spec import Spec, load_specs
from tests.support.helpers import FAKE_SPEC, assert_clean_output, encoded_lines

FAKE = ["--provider", "python", "--model", "fake_encoder:encode", "--data", "data/pairs.csv"]
SHARED = {"cache_dir": "--cache-dir", "no_cache": "--no-cache", "offline": "--offline", "device": "--device"}


@pytest.fixture
def project(fake_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.chdir(fake_project.path)
    return fake_project


def _scan_actions() -> dict[str, argparse.Action]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {action.dest: action for action in commands.choices["scan"]._actions}


def test_the_command_registers_the_shared_options_from_the_plugins_table() -> None:
    assert {o.name: o.flag_with(options.COMMAND_PREFIX) for o in options.COMMAND_OPTIONS} == SHARED
    actions = _scan_actions()
    for option in options.COMMAND_OPTIONS:
        action = actions[option.name]
        assert action.option_strings == [SHARED[option.name]]
        assert action.help == option.command_help
        assert isinstance(action, argparse._StoreTrueAction) == (option.kind == "flag")
    # pytest's names are the same table's, unchanged: --mrlcheck-<name> and the ini twin mrlcheck_<name>
    assert [o.flag for o in options.OPTIONS if o.name in SHARED] == [
        "--mrlcheck-cache-dir", "--mrlcheck-no-cache", "--mrlcheck-offline", "--mrlcheck-device"]


def test_one_edit_of_the_table_reaches_both_front_doors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tuple(dataclasses.replace(o, help=f"PLUGIN-{o.name}", command_help=f"COMMAND-{o.name}")
                  if o.name == "device" else o for o in options.OPTIONS)
    monkeypatch.setattr(options, "OPTIONS", table)
    monkeypatch.setattr(options, "COMMAND_OPTIONS", tuple(o for o in table if o.command_help))
    assert main(["scan", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--device DEVICE" in out and "COMMAND-device" in out and "PLUGIN-device" not in out
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["  --mrlcheck-device=VALUE", "*PLUGIN-device",
                                 "*ini twin of --mrlcheck-device: PLUGIN-device"])
    assert "COMMAND-device" not in result.stdout.str()


def test_the_offline_hint_names_the_commands_flag(project: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", *FAKE, "--offline", "--cache-dir", "cache"])
    err = capsys.readouterr().err
    assert code == 2
    assert_clean_output(err)
    assert "offline: would need to encode 160 texts (query role) with fake_encoder:encode; 0 of 160 are cached" in err
    assert "hint: run once without --offline to fill the cache" in err
    assert "--mrlcheck-" not in err
    assert encoded_lines(project) == []


def test_the_offline_hint_under_pytest_names_the_plugins_flag(project: pytest.Pytester) -> None:
    (project.path / "demo.mrl.yaml").write_text(FAKE_SPEC)
    result = project.runpytest("--mrlcheck-offline", "--mrlcheck-no-cache")
    result.stdout.fnmatch_lines(["*hint: run once without --mrlcheck-offline to fill the cache*"])


def _same(a: Spec, b: Spec) -> bool:
    """Equal but for the lines a YAML file records."""
    def unlined(spec: Spec) -> Spec:
        data = dataclasses.replace(spec.task.data, line=0)
        return dataclasses.replace(spec, line=0, model=dataclasses.replace(spec.model, line=0),
                                   task=dataclasses.replace(spec.task, line=0, data=data))
    return unlined(a) == unlined(b)


@pytest.mark.parametrize("extra", [
    pytest.param([], id="defaults"),
    pytest.param(["--metric", "pearson", "--limit", "40", "--similarity", "dot", "--name", "mine"], id="options"),
    pytest.param(["--no-header"], id="no-header"),
    pytest.param(["--columns", "sentence2,sentence1,score"], id="columns"),
])
def test_the_options_are_the_spec_a_file_with_their_raw_mapping_holds(
    project: pytest.Pytester, extra: list[str]
) -> None:
    [target] = targets(build_parser().parse_args(["scan", *FAKE, *extra]))
    path = project.path / f"{target.spec.name}.mrl.yaml"
    path.write_text(yaml.safe_dump(target.raw, sort_keys=False))
    [from_file] = load_specs(path, require_checks=False)
    assert _same(target.spec, from_file)
    assert target.spec.path == path


def test_a_parser_error_names_the_option_and_the_spec_key(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["scan", *FAKE[:4], "--data", "data/pairs.csv", "--name", "no/slash"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("mrlcheck: error: --name: name: expected a name of letters, digits and _ . + @ -, "
                          "got str 'no/slash'"), err
    code = main(["scan", *FAKE[:4], "--data", "data", "--kind", "retrieval", "--columns", "a,b,c"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.splitlines()
    assert lines[0] == "mrlcheck: error: --columns: task.data.columns: unknown key 'columns'", err
    assert lines[1].startswith("  hint: --columns names the two text columns and the score column of an sts file")
    assert_clean_output(err)


def _verdict(passed: bool) -> Verdict:
    return Verdict("prefix[8]", "prefix", passed, 0.4, 0.3, "0.4000 ≥ 0.3",
                   (Row("prefix[8]", 0.4, "≥ 0.3", 0.1, passed),))


def test_records_built_from_results_match_the_records_of_item_payloads() -> None:
    summary = {"id": "a.mrl.yaml::s", "name": "s", "encoding": {"encoded": 5, "cache_hits": 2, "canary": 0}}
    verdicts = [JudgedCheck("a.mrl.yaml::s::prefix[8]", _verdict(True), "passed"),
                JudgedCheck("a.mrl.yaml::s::prefix[16]", _verdict(False), "xfailed")]
    payloads = [{"spec": "a.mrl.yaml::s", "item": c.item, "worker": "main", "check": c.verdict.to_dict(),
                 "error": None, "summary": summary, "outcome": c.outcome} for c in verdicts]
    payloads.append({"spec": "b.mrl.yaml::t", "item": "b.mrl.yaml::t::prefix[8]", "worker": "main",
                     "check": _verdict(True).to_dict(), "error": "b: not evaluated", "summary": None,
                     "outcome": "failed"})
    from_payloads = build_report(payloads)
    from_results = report_from_records([
        spec_record("a.mrl.yaml::s", summary, verdicts),
        spec_record("b.mrl.yaml::t", None, [JudgedCheck("b.mrl.yaml::t::prefix[8]", _verdict(True), "failed")],
                    error="b: not evaluated"),
    ])
    for report in (from_payloads, from_results):
        report.pop("created")
    assert from_results == from_payloads
    assert from_results["totals"] == {"specs": 2, "checks": 3, "failed": 1, "passed": 1, "xfailed": 1,
                                      "encoded": 5, "cache_hits": 2}


def test_the_command_reads_the_option_table_without_importing_pytest() -> None:
    code = ("import sys; from pytest_mrlcheck.cli import main; main(['scan', '--help']); "
            "print(sorted(m for m in ('pytest', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "--cache-dir DIR" in done.stdout and done.stdout.rstrip().endswith("[]")


def test_cache_hints_name_the_command_flags(tmp_path: Path) -> None:
    """A cache problem met by the command names its --cache-dir/--no-cache, not pytest's spelling."""
    from pytest_mrlcheck.errors import CacheError
    from pytest_mrlcheck.store import SqliteStore

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for prefix in ("--", "--mrlcheck-"):
        with pytest.raises(CacheError) as caught:
            SqliteStore(blocker / "cache", prefix).get_many("model", [b"k" * 32])
        hint = caught.value.hint or ""
        assert f"{prefix}cache-dir" in hint and f"{prefix}no-cache" in hint, hint
