"""``provider: voyage`` through the official ``voyageai`` client, against a local server speaking its wire format."""

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

pytest.importorskip("voyageai")

KEY_ENV = "MRLCHECK_TEST_VOYAGE_KEY"
KEY = "pa-test-DO-NOT-LEAK-0987654321"


def _voyage_spec(url: str, extra: str = "") -> str:
    return FAKE_SPEC.replace(
        "  provider: python\n  callable: fake_encoder:encode",
        f"  provider: voyage\n  name: voyage-3.5\n  base_url: {url}\n  api_key_env: {KEY_ENV}\n"
        f"  batch_size: 32\n  price_per_million_tokens: 0.06{extra}",
    )


def _voyage_server(project: pytest.Pytester, **options: Any) -> Any:
    return serve(embed=fake_embed(project), wire="voyage", dimensions_param="output_dimension", **options)


def _scores(project: pytest.Pytester) -> dict[str, Any]:
    (spec,) = json.loads((project.path / "report.json").read_text())["specs"]
    return dict(spec["scores"])


def test_scores_through_voyage_equal_the_local_provider(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    local = _scores(fake_project)
    monkeypatch.setenv(KEY_ENV, KEY)
    with _voyage_server(fake_project, require_key=KEY) as server:
        write_spec(_voyage_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-cache-dir", "cache",
                                        "--color=no")
        result.assert_outcomes(passed=9)
        requests = server.embedding_requests()
        warm = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--color=no")
    remote = _scores(fake_project)
    for label in ("prefix[8]", "prefix[16]", "prefix[64]", "window[0:16]"):
        assert remote[label] == pytest.approx(local[label], abs=1e-6), label
    assert len(requests) == 5  # 160 texts in batches of 32
    for request in requests:
        assert request.body["model"] == "voyage-3.5" and request.body["input_type"] == "query"
        assert request.body["output_dtype"] == "float" and request.body["encoding_format"] == "base64"
        assert "output_dimension" not in request.body or request.body["output_dimension"] is None
        assert request.headers["authorization"] == f"Bearer {KEY}"
    result.stdout.fnmatch_lines(["embeddings: 160 texts encoded, 0 from cache; API: 5 requests (0 retries), "
                                 "* tokens, about $0.0001"])
    # API providers get a canary by default: the warm run re-checks 8 cached texts in one request
    warm.assert_outcomes(passed=9)
    warm.stdout.fnmatch_lines(["*API: 1 requests (0 retries)*; canaries: 8 cached texts re-encoded*, all match"])
    assert KEY not in result.stdout.str() + warm.stdout.str()
    assert KEY not in (fake_project.path / "report.json").read_text()
    assert KEY.encode() not in (fake_project.path / "cache" / "embeddings.sqlite3").read_bytes()


def test_rate_limits_and_server_errors_are_retried_and_counted(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _voyage_server(fake_project) as server:
        server.script(Fault.rate_limit("0.05"), Fault.server_error(503))
        write_spec(_voyage_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-no-cache", "--color=no")
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["*API: 7 requests (2 retries)*"])


def test_a_rejected_key_is_redacted_and_names_the_variable(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _voyage_server(fake_project, require_key="pa-the-right-one") as server:
        write_spec(_voyage_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--color=no")
    result.assert_outcomes(failed=9)
    output = result.stdout.str() + result.stderr.str()
    assert KEY not in output and "Incorrect API key provided: ***" in output
    result.stdout.fnmatch_lines(["*Voyage API http://127.0.0.1:*/v1 (model 'voyage-3.5') answered HTTP 401*",
                                 f"*hint: check the key in ${KEY_ENV}"])
    assert_clean_output(output)


def test_a_bad_response_fails_and_caches_nothing(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _voyage_server(fake_project) as server:
        server.script(Fault.wrong_count())
        write_spec(_voyage_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-cache-dir", "cache", "--color=no")
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines(["*Voyage API * returned 31 vectors for 32 texts*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
    with sqlite3.connect(fake_project.path / "cache" / "embeddings.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 0


def test_output_dimension_dtype_and_input_type(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with _voyage_server(fake_project) as server:
        write_spec(_voyage_spec(server.url, "\n  output_dtype: int8\n  input_type: false\n  canary: false")
                   + "  server_truncation: {dims: [16], min_cosine: 0.9, max_score_gap: 0.05, reject: [100]}\n")
        result = fake_project.runpytest("--mrlcheck-no-cache", "--mrlcheck-json", "report.json", "--color=no")
        bodies = [r.body for r in server.embedding_requests()]
    result.assert_outcomes(passed=10)
    # the client asks for base64 and decodes it as int8 itself
    assert all(b["output_dtype"] == "int8" and b["input_type"] is None and b["encoding_format"] == "base64"
               for b in bodies)
    assert sorted({b["output_dimension"] for b in bodies if b.get("output_dimension")}) == [16, 100]
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert spec["server_contract"]["reject"]["100"] == {"refused": True, "status": 400}
    assert spec["model"]["provider"] == "voyage"


@pytest.mark.parametrize(("setting", "lines"), [
    ("output_dtype: binary", ["*: model.output_dtype: expected one of float, int8, uint8; got str 'binary'"]),
    ("extra_body: {a: 1}", ["*: model.extra_body: 'extra_body' is not a setting of provider voyage",
                            "*hint: it belongs to provider: openai"]),
    ("input_type: query", ["*: model.input_type: expected true or false, got str 'query'"]),
])
def test_bad_voyage_settings_are_spec_errors(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                             setting: str, lines: list[str]) -> None:
    write_spec(_voyage_spec("http://127.0.0.1:9/v1", f"\n  {setting}"))
    result = fake_project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(lines)
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_int8_vectors_come_back_as_the_servers_integers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from pytest_mrlcheck.providers import ProviderContext
    from pytest_mrlcheck.providers.voyage_api import VoyageEncoder, VoyageSettings
    from tests.support.openai_server import hash_embed, quantize

    monkeypatch.setenv(KEY_ENV, KEY)
    context = ProviderContext(spec_dir=tmp_path, rootdir=tmp_path, device=None, file_digest=lambda p: "",
                              loaded_models={})
    texts = ["alpha beta", "gamma", "delta epsilon zeta"]
    with serve(wire="voyage", dimensions_param="output_dimension") as server:
        for dtype in ("int8", "uint8"):
            encoder = VoyageEncoder(VoyageSettings(name="voyage-3.5", base_url=server.url, api_key_env=KEY_ENV,
                                                   output_dtype=dtype, normalize=False), context)
            vectors = encoder.encode(texts, "document")
            expected = np.stack([quantize(row, dtype) for row in hash_embed(texts)]).astype(np.float32)
            np.testing.assert_array_equal(vectors, expected)
            assert encoder.requests == 1 and encoder.tokens > 0
        assert server.embedding_requests()[-1].body["input_type"] == "document"
    assert "voyage" in repr(encoder).lower() and KEY not in repr(encoder)
    assert encoder.identity()["output_dtype"] == "uint8" and KEY not in json.dumps(encoder.identity())
