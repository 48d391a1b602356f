"""``provider: cohere`` through the official ``cohere`` client, against a local server speaking Embed v2."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output
from tests.support.openai_server import Fault, hash_embed, quantize, serve
from tests.support.providers import fake_embed

pytest.importorskip("cohere")

KEY_ENV = "MRLCHECK_TEST_COHERE_KEY"
KEY = "co-test-DO-NOT-LEAK-5647382910"


def _cohere_spec(url: str, extra: str = "") -> str:
    return FAKE_SPEC.replace(
        "  provider: python\n  callable: fake_encoder:encode",
        f"  provider: cohere\n  name: embed-v4.0\n  base_url: {url}\n  api_key_env: {KEY_ENV}\n"
        f"  batch_size: 32{extra}",
    )


def _cohere_server(**options: Any) -> Any:
    return serve(wire="cohere", dimensions_param="output_dimension", **options)


def _base(url: str) -> str:
    return url.removesuffix("/v1")  # the client adds /v2/embed itself


def test_scores_through_cohere_equal_the_local_provider(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    (local,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    monkeypatch.setenv(KEY_ENV, KEY)
    with _cohere_server(embed=fake_embed(fake_project), require_key=KEY) as server:
        write_spec(_cohere_spec(_base(server.url)))
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
        assert request.path == "/v2/embed"
        assert request.body["model"] == "embed-v4.0" and request.body["input_type"] == "search_query"
        assert request.body["embedding_types"] == ["float"] and "output_dimension" not in request.body
        assert request.headers["authorization"] == f"Bearer {KEY}"
    result.stdout.fnmatch_lines(["embeddings: 160 texts encoded, 0 from cache; API: 5 requests (0 retries), "
                                 "1,120 tokens"])  # Cohere's billed input tokens
    warm.assert_outcomes(passed=9)
    warm.stdout.fnmatch_lines(["*canaries: 8 cached texts re-encoded*, all match"])
    assert KEY not in result.stdout.str() + warm.stdout.str()
    assert KEY not in (fake_project.path / "report.json").read_text()
    assert KEY.encode() not in (fake_project.path / "cache" / "embeddings.sqlite3").read_bytes()


def test_rate_limits_are_retried_and_a_rejected_key_is_redacted(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _cohere_server(embed=fake_embed(fake_project)) as server:
        server.script(Fault.rate_limit("0.05"), Fault.server_error(503))
        write_spec(_cohere_spec(_base(server.url)))
        retried = fake_project.runpytest("--mrlcheck-no-cache", "--color=no")
    retried.assert_outcomes(passed=9)
    retried.stdout.fnmatch_lines(["*API: 7 requests (2 retries)*"])
    with _cohere_server(embed=fake_embed(fake_project), require_key="co-the-right-one") as server:
        write_spec(_cohere_spec(_base(server.url)))
        rejected = fake_project.runpytest("--mrlcheck-no-cache", "--color=no")
    rejected.assert_outcomes(failed=9)
    output = rejected.stdout.str() + rejected.stderr.str()
    assert KEY not in output and "Incorrect API key provided: ***" in output
    rejected.stdout.fnmatch_lines(["*Cohere API http://127.0.0.1:* (model 'embed-v4.0') answered HTTP 401*",
                                   f"*hint: check the key in ${KEY_ENV}"])
    assert_clean_output(output)


def test_a_bad_response_fails_and_caches_nothing(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _cohere_server(embed=fake_embed(fake_project)) as server:
        server.script(Fault.wrong_count())
        write_spec(_cohere_spec(_base(server.url)))
        result = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--color=no")
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines(["*Cohere API * returned 31 vectors for 32 texts*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
    with sqlite3.connect(fake_project.path / "cache" / "embeddings.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 0


def test_server_truncation_through_output_dimension(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _cohere_server(embed=fake_embed(fake_project)) as server:
        write_spec(_cohere_spec(_base(server.url), "\n  canary: false")
                   + "  server_truncation: {dims: [16], min_cosine: 0.999, max_norm_error: 0.01, reject: [100]}\n")
        result = fake_project.runpytest("--mrlcheck-no-cache", "-k", "server_truncation", "--color=no")
        sizes = sorted({r.body["output_dimension"] for r in server.embedding_requests()
                        if "output_dimension" in r.body})
    result.assert_outcomes(passed=2)
    assert sizes == [16, 100]


@pytest.mark.parametrize("kind", ["int8", "uint8", "binary", "ubinary"])
def test_integer_and_binary_embeddings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    from pytest_mrlcheck.providers import ProviderContext
    from pytest_mrlcheck.providers.cohere_api import CohereEncoder, CohereSettings

    monkeypatch.setenv(KEY_ENV, KEY)
    context = ProviderContext(spec_dir=tmp_path, rootdir=tmp_path, device=None, file_digest=lambda p: "",
                              loaded_models={})
    texts = ["alpha beta", "gamma", "delta epsilon zeta"]
    with _cohere_server() as server:
        encoder = CohereEncoder(CohereSettings(name="embed-v4.0", base_url=_base(server.url), api_key_env=KEY_ENV,
                                               embedding_type=kind, normalize=False), context)
        vectors = encoder.encode(texts, "document")
        body = server.embedding_requests()[-1].body
    assert body["embedding_types"] == [kind] and body["input_type"] == "search_document"
    full = hash_embed(texts)
    if kind in ("int8", "uint8"):
        expected = np.stack([quantize(row, kind) for row in full]).astype(np.float32)
    else:
        expected = np.where(full > 0, 1.0, -1.0).astype(np.float32)  # one ±1 per dimension, unpacked
    np.testing.assert_array_equal(vectors, expected)
    assert encoder.identity()["embedding_type"] == kind and KEY not in json.dumps(encoder.identity())


@pytest.mark.parametrize(("setting", "lines"), [
    ("embedding_type: int4", ["*: model.embedding_type: expected one of float, int8, uint8, binary, ubinary; "
                              "got str 'int4'"]),
    ("embedding_type: binary\n  dimensions: 100", ["*: model.dimensions: binary embeddings pack 8 dimensions per "
                                                   "byte; 100 is not a multiple of 8"]),
    ("output_dtype: int8", ["*: model.output_dtype: 'output_dtype' is not a setting of provider cohere",
                            "*hint: it belongs to provider: voyage"]),
])
def test_bad_cohere_settings_are_spec_errors(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                             setting: str, lines: list[str]) -> None:
    write_spec(_cohere_spec("http://127.0.0.1:9", f"\n  {setting}"))
    result = fake_project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(lines)
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_too_many_texts_per_request_is_a_clear_error(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    write_spec(_cohere_spec("http://127.0.0.1:9").replace("batch_size: 32", "batch_size: 200"))
    result = fake_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines(["*batch_size must be ≤ 96 (Cohere's limit of texts per request), got 200*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
