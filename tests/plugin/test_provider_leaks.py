"""Leak probes: every malformed reply of an OpenAI-compatible server fails the spec with a message,
and the API key appears in no output, no JUnit XML, no JSON report, and no traceback is printed
(even with ``-l``, which prints every frame's locals, and ``--tb=long``)."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.errors import ProviderError
from pytest_mrlcheck.providers import ProviderContext
from pytest_mrlcheck.providers.openai_api import OpenAIEncoder, OpenAISettings
from pytest_mrlcheck.store import MemoryStore
from tests.support.helpers import FAKE_SPEC, assert_clean_output
from tests.support.openai_server import Fault, serve
from tests.support.providers import fake_embed

KEY_ENV = "MRLCHECK_LEAK_PROBE_CREDENTIAL"  # a name without KEY/TOKEN: the generic redaction must not be what saves us
KEY = "sk-probe-9f3Kq7LmZx0WvB2nR8tY4uE6iO1pA5sD"
PACKAGE = str(Path(__file__).resolve().parents[2] / "pytest_mrlcheck")


def _items(inputs: list[str], embedding: Callable[[int], Any]) -> list[dict[str, Any]]:
    return [{"object": "embedding", "index": i, "embedding": embedding(i)} for i in range(len(inputs))]


def _body(inputs: list[str], embedding: Callable[[int], Any], **extra: Any) -> bytes:
    return json.dumps({"object": "list", "data": _items(inputs, embedding), "model": "m", **extra}).encode()


def _json(value: Any) -> Callable[[list[str]], bytes]:
    return lambda inputs: json.dumps(value).encode()


def _b64(values: list[float]) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode()


GOOD = [0.1] * 64

# (id, fault, what the failure says) — the key is in some replies: clients must redact echoes.
PROBES: list[tuple[str, Fault, str]] = [
    ("huge-int-in-embedding", Fault.raw(lambda x: _body(x, lambda i: [10**400] * 64)), "too large for a float"),
    ("huge-int-in-base64-slot", Fault.raw(lambda x: _body(x, lambda i: 10**400)), "neither a list of numbers"),
    ("huge-int-index", Fault.raw(lambda x: json.dumps(
        {"data": [{"index": 10**30, "embedding": GOOD} for _ in x]}).encode()), "invalid index"),
    ("huge-int-usage", Fault.raw(lambda x: _body(x, lambda i: GOOD, usage={"total_tokens": 10**400})), ""),
    ("float-usage", Fault.raw(lambda x: _body(x, lambda i: GOOD, usage={"total_tokens": 1e308})), ""),
    ("nested-usage", Fault.raw(lambda x: _body(x, lambda i: GOOD, usage=[[{"total_tokens": 5}]])), ""),
    ("5000-digit-int", Fault.raw(lambda x: b'{"data": [{"index": 0, "embedding": [' + b"9" * 5000 + b']}]}'),
     "not valid JSON"),
    ("deep-nesting", Fault.raw(lambda x: b"[" * 200_000 + b"]" * 200_000), "not valid JSON"),
    ("deep-nesting-in-data", Fault.raw(lambda x: b'{"data": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
     "not valid JSON"),
    ("nested-lists", Fault.raw(lambda x: _body(x, lambda i: [[0.1, 0.2]] * 32)), "neither a list of numbers"),
    ("embedding-dict", Fault.raw(lambda x: _body(x, lambda i: {"values": GOOD})), "neither a list of numbers"),
    ("embedding-null", Fault.raw(lambda x: _body(x, lambda i: None)), "neither a list of numbers"),
    ("embedding-bools", Fault.raw(lambda x: _body(x, lambda i: [True] * 64)), "neither a list of numbers"),
    ("embedding-strings", Fault.raw(lambda x: _body(x, lambda i: ["0.1"] * 64)), "neither a list of numbers"),
    ("embedding-empty", Fault.raw(lambda x: _body(x, lambda i: [])), "empty embedding"),
    ("nan-literal", Fault.raw(lambda x: _body(x, lambda i: [float("nan")] * 64)), "NaN or infinite"),
    ("infinity-literal", Fault.raw(lambda x: _body(x, lambda i: [1e999] * 64)), "NaN or infinite"),
    ("float-beyond-float32", Fault.raw(lambda x: _body(x, lambda i: [1e300] * 64)), "NaN or infinite"),
    ("mixed-dims", Fault.raw(lambda x: _body(x, lambda i: GOOD[: 64 - i % 2])), "different dimensions"),
    ("bad-base64", Fault.raw(lambda x: _body(x, lambda i: "!!not base64!!")), "not valid base64"),
    ("base64-odd-length", Fault.raw(lambda x: _body(x, lambda i: base64.b64encode(b"abc").decode())),
     "not a whole number of float32"),
    ("index-as-string", Fault.raw(lambda x: json.dumps(
        {"data": [{"index": str(i), "embedding": GOOD} for i in range(len(x))]}).encode()), "invalid index"),
    ("index-as-bool", Fault.raw(lambda x: json.dumps(
        {"data": [{"index": True, "embedding": GOOD} for _ in x]}).encode()), "invalid index"),
    ("index-negative", Fault.raw(lambda x: json.dumps(
        {"data": [{"index": -1, "embedding": GOOD} for _ in x]}).encode()), "invalid index"),
    ("index-float", Fault.raw(lambda x: json.dumps(
        {"data": [{"index": float(i), "embedding": GOOD} for i in range(len(x))]}).encode()), "invalid index"),
    ("items-not-objects", Fault.raw(lambda x: json.dumps({"data": [GOOD for _ in x]}).encode()), "invalid index"),
    ("data-dict", Fault.raw(_json({"data": {"0": GOOD}})), "without a 'data' list"),
    ("data-string", Fault.raw(_json({"data": "nope"})), "without a 'data' list"),
    ("body-list", Fault.raw(_json([1, 2, 3])), "without a 'data' list"),
    ("body-string", Fault.raw(_json("embeddings")), "without a 'data' list"),
    ("body-null", Fault.raw(_json(None)), "without a 'data' list"),
    ("body-number", Fault.raw(_json(42)), "without a 'data' list"),
    ("wrong-count", Fault.wrong_count(), "vectors for 32 texts"),
    ("duplicate-index", Fault.duplicate_index(), "index 0 twice"),
    ("not-utf8", Fault.raw(lambda x: b"\xff\xfe\xfa garbage \x80\x81"), "not valid JSON"),
    ("empty-body", Fault.raw(lambda x: b""), "not valid JSON"),
    ("truncated-json", Fault.truncated(), "not valid JSON"),
    ("html-page", Fault.not_json(), "not valid JSON"),
    ("gzip-garbage", Fault.raw(lambda x: b"this is not gzip at all", headers=(("Content-Encoding", "gzip"),)),
     "could not be read"),
    ("deflate-garbage", Fault.raw(lambda x: b"\x00\x01\x02", headers=(("Content-Encoding", "deflate"),)),
     "not valid JSON (0 bytes"),  # httpx decodes these three bytes to nothing
    ("200-with-error", Fault.raw(_json({"error": {"message": "quota exceeded", "type": "insufficient_quota"}})),
     "HTTP 200 with an error instead of embeddings: quota exceeded"),
    ("200-error-echoes-key", Fault.raw(_json({"error": {"message": f"Incorrect API key provided: {KEY}"}})),
     "Incorrect API key provided: ***"),
    ("200-body-echoes-key", Fault.raw(_json({"detail": f"key={KEY}", "data": None})), "without a 'data' list"),
    ("html-echoes-key", Fault.raw(lambda x: f"<html>bad key {KEY}</html>".encode()), "not valid JSON"),
    ("html-key-at-preview-cut", Fault.raw(lambda x: ("x" * 100 + KEY).encode()), "not valid JSON"),
    ("400-key-at-message-cut", Fault.raw(_json({"error": {"message": "y" * 280 + KEY}}), status=400),
     "answered HTTP 400"),
    ("400-nested-error", Fault.raw(_json({"error": {"message": {"deep": [[KEY]]}}}), status=400),
     "answered HTTP 400"),
    ("400-not-json-with-key", Fault.raw(lambda x: f"denied for {KEY}".encode(), status=400), "answered HTTP 400"),
    ("401-echoes-key", Fault.raw(_json({"error": {"message": f"Incorrect API key provided: {KEY}"}}), status=401),
     "answered HTTP 401"),
    ("500s-echo-key", Fault.raw(_json({"error": {"message": f"backend saw {KEY}"}}), status=500),
     "gave up after 0 retries"),
    ("302-redirect", Fault.raw(_json({}), status=302, headers=(("Location", f"http://127.0.0.1:9/?k={KEY}"),)),
     "connection error"),  # the client follows the redirect (to a closed port)
    ("header-echoes-key", Fault.raw(_json({"error": {"message": "nope"}}), status=403,
                                    headers=(("X-Echo", KEY),)), "answered HTTP 403"),
]


def _spec(url: str) -> str:
    return FAKE_SPEC.replace(
        "  provider: python\n  callable: fake_encoder:encode",
        f"  provider: openai\n  name: fake-embedder\n  base_url: {url}\n  api_key_env: {KEY_ENV}\n"
        "  batch_size: 32\n  max_retries: 0\n  concurrency: 1\n  price_per_million_tokens: 0.02",
    )


def _assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        for start in range(0, len(KEY) - 12, 4):  # not even a 12-character fragment
            assert KEY[start : start + 12] not in text, KEY[start : start + 12]


@pytest.mark.parametrize(("fault", "message"), [(f, m) for _, f, m in PROBES], ids=[name for name, _, _ in PROBES])
def test_a_malformed_reply_fails_cleanly_and_never_shows_the_key(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    fault: Fault, message: str
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        server.script(fault)
        write_spec(_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-no-cache", "--color=no", "-l", "--tb=long", "-rA",
                                        "--junitxml", "junit.xml", "--mrlcheck-json", "report.json")
        sent = server.embedding_requests()
    output = result.stdout.str() + result.stderr.str()
    assert_clean_output(output)
    assert sent and sent[0].headers["authorization"] == f"Bearer {KEY}"  # the key did go to the server
    report = (fake_project.path / "report.json").read_text()
    _assert_no_key(output, (fake_project.path / "junit.xml").read_text(), report)
    if message:
        result.assert_outcomes(failed=9)
        assert message in output, output[-3000:]
        assert "fake-embedder" in output
    else:  # an absurd usage count is not a reason to fail: the tokens are estimated instead
        result.assert_outcomes(passed=9)


# --------------------------------------------------------------------------- no frame holds the key


@pytest.fixture
def encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OpenAIEncoder:
    monkeypatch.setenv(KEY_ENV, KEY)
    for name in ("OPENAI_BASE_URL", "OPENAI_LOG"):
        monkeypatch.delenv(name, raising=False)
    context = ProviderContext(spec_dir=tmp_path, rootdir=tmp_path, device=None,
                              file_digest=MemoryStore().file_digest, loaded_models={})
    return OpenAIEncoder(OpenAISettings(name="m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV,
                                        max_retries=0, timeout=5.0), context)


def _package_frames_holding_the_key() -> list[str]:
    holders = []
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith(PACKAGE):
            for name, value in frame.f_locals.items():
                if isinstance(value, str) and KEY in value:
                    holders.append(f"{frame.f_code.co_name}:{name}")
        frame = frame.f_back  # type: ignore[assignment]
    return holders


def test_no_package_frame_holds_the_key_while_a_reply_is_parsed(
    encoder: OpenAIEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    original = OpenAIEncoder._parse

    def spy(self: OpenAIEncoder, *args: Any, **kwargs: Any) -> Any:
        seen.append(_package_frames_holding_the_key())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(OpenAIEncoder, "_parse", spy)
    with serve() as server:
        encoder = OpenAIEncoder(encoder.settings.__class__(**{**vars(encoder.settings), "base_url": server.url}),
                                encoder.context)
        server.script(Fault.raw(lambda x: _body(x, lambda i: [10**400] * 64)))
        with pytest.raises(ProviderError, match="too large for a float") as caught:
            encoder.encode(["a", "b"], "document")
    assert seen == [[]]
    _assert_no_key(str(caught.value), repr(caught.value))


def test_the_provider_redacts_its_own_key(encoder: OpenAIEncoder) -> None:
    assert encoder.redact(f"got {KEY} twice: {KEY}") == "got *** twice: ***"


def test_an_escaping_exception_is_wrapped_without_its_frames(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a provider lets escape (here: a bug injected into its parser), the run shows a message
    and the key from the frames' arguments is never rendered, with -l and --full-trace."""

    def broken(self: OpenAIEncoder, content: bytes, count: int, *rest: Any) -> Any:
        secret_copy = KEY  # noqa: F841 - a local holding the key, in a frame that raises
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(OpenAIEncoder, "_parse", broken)
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve() as server:
        write_spec(_spec(server.url))
        result = fake_project.runpytest("--mrlcheck-no-cache", "-l", "--full-trace", "--junitxml", "junit.xml")
    output = result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=9)
    assert "encoding with openai:fake-embedder failed: OverflowError: int too large to convert to float" in output
    _assert_no_key(output, (fake_project.path / "junit.xml").read_text())


# --------------------------------------------------------------------------- credentials in base_url

PASSWORD = "hunter2-Zq81xLp"


@pytest.mark.parametrize("where", ["spec", "environment"])
def test_credentials_in_base_url_are_refused_and_never_printed(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        url = server.url.replace("http://", f"http://alice:{PASSWORD}@")
        if where == "spec":
            write_spec(_spec(url))
        else:
            monkeypatch.setenv("OPENAI_BASE_URL", url)
            write_spec(_spec("X").replace("  base_url: X\n", ""))
        result = fake_project.runpytest("--mrlcheck-no-cache", "--color=no", "--junitxml", "junit.xml",
                                        "--mrlcheck-json", "report.json")
        sent = server.embedding_requests()
    output = result.stdout.str() + result.stderr.str()
    assert_clean_output(output)
    result.assert_outcomes(failed=9)
    name = "model.base_url" if where == "spec" else "$OPENAI_BASE_URL"
    assert f"{name} '{url.replace(f'alice:{PASSWORD}', '***')}' carries credentials (user:password@)" in output
    assert sent == []  # refused before anything is sent
    files = [(fake_project.path / name).read_text() for name in ("junit.xml", "report.json")]
    for text in (output, *files):
        assert PASSWORD not in text and "alice" not in text


@pytest.mark.parametrize("url", [
    f"https://alice:{PASSWORD}@host:notaport/v1",
    f"ftp://alice:{PASSWORD}@host/v1",
    f"https://alice:p@{PASSWORD}@host/v1",  # an unencoded @ in the password
])
def test_a_bad_url_with_credentials_is_masked(url: str, tmp_path: Path) -> None:
    from pytest_mrlcheck.guard import redact
    from pytest_mrlcheck.providers.openai_api import check_no_credentials, display_url, mask_credentials

    with pytest.raises(ProviderError) as refused:
        check_no_credentials(url, "model.base_url")
    messages = [str(refused.value)]
    if "@host/" not in url or url.startswith("ftp"):
        with pytest.raises(ProviderError) as invalid:
            display_url(url)
        messages.append(str(invalid.value))
    else:
        messages.append(display_url(url))
    for message in messages:
        assert PASSWORD not in message and "alice" not in message and "host" in message
    assert PASSWORD not in mask_credentials(url) and PASSWORD not in redact(f"see {url} now")


@pytest.mark.parametrize(("provider", "where"), [("voyage", "spec"), ("voyage", "env"), ("cohere", "spec"),
                                                 ("cohere", "env"), ("gemini", "spec")])  # gemini reads no URL variable
def test_hosted_providers_refuse_credentials_in_their_url_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, where: str
) -> None:
    from pytest_mrlcheck.providers.cohere_api import CohereEncoder, CohereSettings
    from pytest_mrlcheck.providers.gemini_api import GeminiEncoder, GeminiSettings
    from pytest_mrlcheck.providers.voyage_api import VoyageEncoder, VoyageSettings

    classes: dict[str, tuple[Any, Any]] = {"voyage": (VoyageEncoder, VoyageSettings),
                                           "cohere": (CohereEncoder, CohereSettings),
                                           "gemini": (GeminiEncoder, GeminiSettings)}
    encoder_class, settings_class = classes[provider]
    url = f"http://alice:{PASSWORD}@127.0.0.1:9/v1"
    if where == "env":
        monkeypatch.setenv(encoder_class.URL_ENV, url)
        settings = settings_class(name="m", api_key_env=KEY_ENV)
    else:
        settings = settings_class(name="m", base_url=url, api_key_env=KEY_ENV)
    monkeypatch.setenv(KEY_ENV, KEY)
    context = ProviderContext(spec_dir=tmp_path, rootdir=tmp_path, device=None, file_digest=lambda p: "",
                              loaded_models={})
    encoder = encoder_class(settings, context)
    with pytest.raises(ProviderError) as refused:
        encoder.encode(["alpha"], "query")
    message = str(refused.value)
    assert "carries credentials" in message
    assert PASSWORD not in message and KEY not in message
