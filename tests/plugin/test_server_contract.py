"""The server's truncation contract against a fake OpenAI-compatible server that misbehaves on demand."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output
from tests.support.openai_server import EmbeddingServer, serve
from tests.support.providers import KEY, KEY_ENV, fake_embed, openai_spec

CONTRACT = ("  server_truncation: {dims: [16, 32], min_cosine: 0.999, max_norm_error: 0.01, reject: [100, 4096], "
            "order_invariance: true, batch_invariance: [1, 8]}\n")


def _run(project: pytest.Pytester, server_options: dict[str, Any], write_spec: Callable[..., Path],
         *args: str) -> tuple[pytest.RunResult, EmbeddingServer]:
    with serve(embed=fake_embed(project), **server_options) as server:
        write_spec(openai_spec(server.url, "\n  canary: false") + CONTRACT)
        result = project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache", "--color=no", "-rs",
                                   "-k", "server_truncation", *args)
    return result, server


def _contract(project: pytest.Pytester) -> dict[str, Any]:
    (spec,) = json.loads((project.path / "report.json").read_text())["specs"]
    return dict(spec["server_contract"])


def _checks(project: pytest.Pytester) -> dict[str, dict[str, Any]]:
    (spec,) = json.loads((project.path / "report.json").read_text())["specs"]
    return {check["name"]: check for check in spec["checks"]}


def test_a_well_behaved_server_keeps_the_contract(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    result, server = _run(fake_project, {}, write_spec)
    result.assert_outcomes(passed=5)
    contract = _contract(fake_project)
    # norms at 16 and 32 (1 request each), 2 refused sizes, reference + shuffled, 32 batches of 1, 4 of 8
    assert contract["requests"] == 2 + 2 + 1 + 1 + 32 + 4
    assert contract["texts"] == 32 and contract["role"] == "query"
    assert contract["reject"] == {"100": {"refused": True, "status": 400}, "4096": {"refused": True, "status": 400}}
    for k in ("16", "32"):
        assert contract["norms"][k]["max_error"] < 1e-5
    assert contract["order"]["min_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert {size: found["texts"] for size, found in contract["batch"].items()} == {"1": 32, "8": 32}
    sizes = [len(r.inputs) for r in server.embedding_requests() if r.body.get("dimensions") is None]
    assert sizes.count(1) == 32 and sizes.count(8) == 4
    checks = _checks(fake_project)
    assert "42 live requests for the contract" in checks["server_truncation[reject]"]["summary"]
    assert "norms 1.0000…1.0000" in " ".join(r["note"] for r in checks["server_truncation[16]"]["rows"])
    # the contract's requests are in the API line, and the key is nowhere but in the requests
    result.stdout.fnmatch_lines(["*; API: * requests (0 retries)*"])
    assert KEY not in (fake_project.path / "report.json").read_text() and KEY not in result.stdout.str()


def test_vectors_truncated_without_renormalising_fail_on_their_norms(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    result, _ = _run(fake_project, {"renormalize": False}, write_spec)
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["at 16 dims the server returned vectors that are not unit length: norms *…* "
                                 "(|norm − 1| up to *, allowed 0.01); it truncates without renormalising"])
    checks = _checks(fake_project)
    assert checks["server_truncation[16]"]["outcome"] == "failed"
    assert checks["server_truncation[32]"]["outcome"] == "failed"
    # the cosine with the renormalised prefix alone cannot see it
    assert all(row["ok"] for row in checks["server_truncation[16]"]["rows"] if row["view"].startswith("cosine"))


def test_a_server_accepting_impossible_sizes_fails_with_what_came_back(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    result, _ = _run(fake_project, {"accept_any_dimensions": True}, write_spec)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["the server accepted sizes it must refuse: dimensions=100 → 64-dim vectors, norm "
                                 "1.0000; dimensions=4096 → 64-dim vectors, norm 1.0000 (a 4xx was expected; "
                                 "42 live requests for the contract)"])


def test_order_dependence_fails_order_invariance(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    result, _ = _run(fake_project, {"order_dependent": True}, write_spec)
    checks = _checks(fake_project)
    assert checks["server_truncation[order_invariance]"]["outcome"] == "failed"
    result.stdout.fnmatch_lines(["the same texts shuffled give different vectors: shuffled: min cosine 0.9* < 0.999*"])


def test_batch_dependence_fails_batch_invariance_only(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    result, _ = _run(fake_project, {"batch_dependent": True}, write_spec)
    result.assert_outcomes(passed=4, failed=1)
    checks = _checks(fake_project)
    assert checks["server_truncation[order_invariance]"]["outcome"] == "passed"
    assert checks["server_truncation[batch_invariance]"]["outcome"] == "failed"
    result.stdout.fnmatch_lines(["the same texts sent in other batch sizes give different vectors: batch 1: min "
                                 "cosine 0.9* < 0.999; batch 8: min cosine 0.9* < 0.999*"])


def test_offline_skips_the_live_contract(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        write_spec(openai_spec(server.url, "\n  canary: false") + CONTRACT)
        fake_project.runpytest("--mrlcheck-cache-dir", "cache", "-k", "server_truncation").assert_outcomes(passed=5)
        served = len(server.embedding_requests())
        result = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--mrlcheck-offline", "-rs",
                                        "-k", "server_truncation")
        assert len(server.embedding_requests()) == served
    result.assert_outcomes(passed=2, skipped=3)
    result.stdout.fnmatch_lines(["*offline: the server's contract is checked against the live endpoint*"])


@pytest.mark.parametrize(("check", "lines"), [
    ("{dims: [16, 32], reject: [32, 4096]}",
     ["*: checks.server_truncation.reject: size 32 is both in dims (valid) and in reject (must be refused)"]),
    ("{dims: [16], reject: [8]}",
     ["*: checks.server_truncation.reject: size 8 is a valid size for this model (the spec uses it elsewhere)*",
      "*hint: reject lists impossible sizes*"]),
    ("{reject: [4096], max_norm_error: 0.01}",
     ["*: checks.server_truncation.max_norm_error: max_norm_error checks the norms of vectors requested at the "
      "sizes in dims"]),
    ("{dims: [16], order_invariance: yes-please}",
     ["*: checks.server_truncation.order_invariance: expected true or false, got str 'yes-please'"]),
    ("{dims: [16], batch_invariance: [0]}",
     ["*: checks.server_truncation.batch_invariance: expected a whole number ≥ 1, got 0"]),
    ("{dims: [16], rejects: [4096]}",
     ["*: checks.server_truncation.rejects: unknown key 'rejects'", "*hint: did you mean 'reject'?"]),
])
def test_bad_contract_settings_are_spec_errors(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                               check: str, lines: list[str]) -> None:
    write_spec(openai_spec("http://127.0.0.1:9/v1") + f"  server_truncation: {check}\n")
    result = fake_project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(lines)
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_invariance_checks_on_precomputed_vectors_are_spec_errors(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("  provider: python\n  callable: fake_encoder:encode",
                                 "  provider: precomputed\n  path: vectors.npz")
               + "  server_truncation: {order_invariance: true, batch_invariance: [1, 32]}\n")
    result = fake_project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*: checks.server_truncation.order_invariance: precomputed vectors are read from a "
                                 "file: there is no server to ask for another order, other batches or other sizes",
                                 "*hint: run this check against the provider that produced the vectors*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_contract_checks_need_a_server(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC + "  server_truncation: {order_invariance: true}\n")
    result = fake_project.runpytest("-k", "server_truncation")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*checks.server_truncation: provider python cannot truncate server-side*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
