"""``provider: gemini`` through the official ``google-genai`` client, against a local server speaking its API."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output
from tests.support.openai_server import Fault, serve
from tests.support.providers import fake_embed

pytest.importorskip("google.genai")

KEY_ENV = "MRLCHECK_TEST_GEMINI_KEY"
KEY = "AIza-test-DO-NOT-LEAK-1122334455"
MODEL = "gemini-embedding-001"


def _gemini_spec(url: str, extra: str = "") -> str:
    return FAKE_SPEC.replace(
        "  provider: python\n  callable: fake_encoder:encode",
        f"  provider: gemini\n  name: {MODEL}\n  base_url: {url}\n  api_key_env: {KEY_ENV}\n  batch_size: 32{extra}",
    )


def _gemini_server(project: pytest.Pytester, **options: Any) -> Any:
    return serve(embed=fake_embed(project), wire="gemini", **options)


def _base(url: str) -> str:
    return url.removesuffix("/v1")  # the client adds /v1beta/models/…


def test_scores_through_gemini_equal_the_local_provider(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    (local,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    monkeypatch.setenv(KEY_ENV, KEY)
    with _gemini_server(fake_project, require_key=KEY) as server:
        write_spec(_gemini_spec(_base(server.url)))
        result = fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-cache-dir", "cache",
                                        "--color=no")
        requests = server.embedding_requests()
        warm = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--color=no")
    result.assert_outcomes(passed=9)
    (remote,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    for label in ("prefix[8]", "prefix[16]", "prefix[64]", "window[0:16]"):
        assert remote["scores"][label] == pytest.approx(local["scores"][label], abs=1e-6), label
    assert len(requests) == 5
    for request in requests:
        assert request.path.endswith(f"/models/{MODEL}:batchEmbedContents")  # the API version is the client's
        assert KEY not in request.path and request.headers["x-goog-api-key"] == KEY
        assert {item["taskType"] for item in request.body["requests"]} == {"RETRIEVAL_QUERY"}
        assert all("outputDimensionality" not in item for item in request.body["requests"])
    result.stdout.fnmatch_lines(["embeddings: 160 texts encoded, 0 from cache; API: 5 requests (0 retries), *"])
    warm.assert_outcomes(passed=9)
    warm.stdout.fnmatch_lines(["*canaries: 8 cached texts re-encoded*, all match"])
    assert KEY not in result.stdout.str() + warm.stdout.str()
    assert KEY not in (fake_project.path / "report.json").read_text()
    assert KEY.encode() not in (fake_project.path / "cache" / "embeddings.sqlite3").read_bytes()


def test_retries_and_a_rejected_key(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _gemini_server(fake_project) as server:
        server.script(Fault.rate_limit("0.05"), Fault.server_error(503))
        write_spec(_gemini_spec(_base(server.url)))
        retried = fake_project.runpytest("--mrlcheck-no-cache", "--color=no")
    retried.assert_outcomes(passed=9)
    retried.stdout.fnmatch_lines(["*API: 7 requests (2 retries)*"])
    with _gemini_server(fake_project, require_key="AIza-the-right-one") as server:
        write_spec(_gemini_spec(_base(server.url)))
        rejected = fake_project.runpytest("--mrlcheck-no-cache", "--color=no")
    rejected.assert_outcomes(failed=9)
    output = rejected.stdout.str() + rejected.stderr.str()
    assert KEY not in output and "Incorrect API key provided: ***" in output
    rejected.stdout.fnmatch_lines([f"*Gemini API http://127.0.0.1:* (model '{MODEL}') answered HTTP 401*",
                                   f"*hint: check the key in ${KEY_ENV}"])
    assert_clean_output(output)


def test_a_bad_response_fails_and_caches_nothing(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _gemini_server(fake_project) as server:
        server.script(Fault.wrong_count())
        write_spec(_gemini_spec(_base(server.url)))
        result = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--color=no")
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines(["*Gemini API * returned 31 vectors for 32 texts*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
    with sqlite3.connect(fake_project.path / "cache" / "embeddings.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 0


def test_non_unit_vectors_below_the_full_size_show_in_the_norm_check(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _gemini_server(fake_project, renormalize=False) as server:  # as Gemini does below its full size
        write_spec(_gemini_spec(_base(server.url), "\n  canary: false\n  task_type: SEMANTIC_SIMILARITY")
                   + "  server_truncation: {dims: [16], min_cosine: 0.999, max_norm_error: 0.01}\n")
        result = fake_project.runpytest("--mrlcheck-no-cache", "-k", "server_truncation", "--color=no")
        items = [item for r in server.embedding_requests() for item in r.body["requests"]]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["at 16 dims the server returned vectors that are not unit length*"])
    assert {item.get("outputDimensionality") for item in items} == {None, 16}
    assert {item["taskType"] for item in items} == {"SEMANTIC_SIMILARITY"}


@pytest.mark.parametrize(("setting", "lines"), [
    ("task_type: retrieval", ["*: model.task_type: expected one of auto, none, SEMANTIC_SIMILARITY, *; "
                              "got str 'retrieval'"]),
    ("embedding_type: int8", ["*: model.embedding_type: 'embedding_type' is not a setting of provider gemini",
                              "*hint: it belongs to provider: cohere"]),
])
def test_bad_gemini_settings_are_spec_errors(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                             setting: str, lines: list[str]) -> None:
    write_spec(_gemini_spec("http://127.0.0.1:9", f"\n  {setting}"))
    result = fake_project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(lines)
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_too_many_texts_per_request_is_a_clear_error(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    write_spec(_gemini_spec("http://127.0.0.1:9").replace("batch_size: 32", "batch_size: 150"))
    result = fake_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines(["*batch_size must be ≤ 100 (Gemini's limit of texts per request), got 150*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
