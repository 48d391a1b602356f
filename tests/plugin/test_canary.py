"""Canaries: cached vectors are re-checked against the provider; a changed model fails the ``canary`` item."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.canary import CanaryBook, Trust, row_cosines, runtime_changes, sample_keys
from pytest_mrlcheck.embed import EncodePolicy, EncodeStats, embed_texts
from pytest_mrlcheck.errors import EvaluationError
from pytest_mrlcheck.spec import CanarySpec
from pytest_mrlcheck.store import MemoryStore, SqliteStore
from tests.support.helpers import FAKE_SPEC, assert_clean_output
from tests.support.openai_server import EmbeddingServer, serve
from tests.support.providers import KEY, KEY_ENV, fake_embed, openai_spec


def _drifted(base: Callable[[list[str]], np.ndarray], noise: float = 0.15) -> Callable[[list[str]], np.ndarray]:
    """The same model "silently updated": every vector moves a little (cosine about 0.99)."""

    def embed(batch: list[str]) -> np.ndarray:
        vectors = np.asarray(base(batch), dtype=np.float64)
        scale = np.linalg.norm(vectors, axis=1, keepdims=True) / np.sqrt(vectors.shape[1])
        shifts = np.stack([np.random.default_rng(len(text) * 7919 + sum(map(ord, text))).standard_normal(
            vectors.shape[1]) for text in batch])  # per text, so the same text drifts the same way in any batch
        return (vectors + noise * scale * shifts).astype(np.float32)

    return embed


def _report(project: pytest.Pytester) -> dict[str, Any]:
    (spec,) = json.loads((project.path / "report.json").read_text())["specs"]
    return dict(spec)


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--mrlcheck-cache-dir", "cache", "--mrlcheck-json", "report.json", "--color=no",
                             "-rs", *args)


def _inputs(server: EmbeddingServer) -> list[str]:
    return [text for request in server.embedding_requests() for text in request.inputs]


def test_a_model_changed_behind_the_same_name_fails_the_canary_until_refreshed(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    base = fake_embed(fake_project)
    with serve(embed=base) as server:
        write_spec(openai_spec(server.url))
        first = _run(fake_project)
        first.assert_outcomes(passed=9)
        canary = next(c for c in _report(fake_project)["checks"] if c["name"] == "canary")
        assert "nothing to compare" in canary["summary"]

        # a warm run re-encodes 8 cached texts (one request) and finds them unchanged
        served_before = len(server.embedding_requests())
        warm = _run(fake_project)
        warm.assert_outcomes(passed=9)
        assert len(server.embedding_requests()) == served_before + 1
        assert len(_inputs(server)) == 160 + 8
        warm.stdout.fnmatch_lines(["embeddings: 0 texts encoded, 160 from cache; API: 1 requests (0 retries), "
                                   "* tokens, about $*; canaries: 8 cached texts re-encoded for 1 model/role pair, "
                                   "all match"])
        [found] = _report(fake_project)["canary"]
        assert found["status"] == "passed" and found["texts"] == 8 and found["role"] == "query"
        assert found["min_cosine"] == pytest.approx(1.0, abs=1e-6)

        # the provider now serves other vectors under the same model name
        server.embed = _drifted(base)
        stale = _run(fake_project)
        stale.assert_outcomes(failed=9)
        output = stale.stdout.str() + stale.stderr.str()
        assert_clean_output(output)
        stale.stdout.fnmatch_lines([
            "*fake-embedder: the provider returned different vectors for the same settings: 8 cached query texts "
            "re-encoded, mean cosine 0.9*, min 0.9* (min_cosine 0.999); the cached vectors are stale * "
            "--mrlcheck-refresh",
        ])
        assert output.count("not judged on stale vectors (see fake-sts::canary)") >= 8
        checks = {c["name"]: c for c in _report(fake_project)["checks"]}
        assert checks["canary"]["outcome"] == "failed"
        assert checks["canary"]["value"] < 0.999  # the minimum cosine seen
        assert all(c["outcome"] == "failed" for c in checks.values())
        stale.stdout.fnmatch_lines(["*canaries: 8 cached texts re-encoded for 1 model/role pair, 1 stale*"])

        # --mrlcheck-refresh re-encodes every cached text and replaces the vectors
        before = len(_inputs(server))
        refreshed = _run(fake_project, "--mrlcheck-refresh")
        refreshed.assert_outcomes(passed=9)
        assert len(_inputs(server)) == before + 160
        refreshed.stdout.fnmatch_lines(["embeddings: 160 texts encoded, 0 from cache*"])
        _run(fake_project).assert_outcomes(passed=9)  # and the next run trusts the new vectors
        [found] = _report(fake_project)["canary"]
        assert found["status"] == "passed" and found["min_cosine"] == pytest.approx(1.0, abs=1e-6)
    for name in ("report.json",):
        assert KEY not in (fake_project.path / name).read_text()
    assert KEY.encode() not in (fake_project.path / "cache" / "embeddings.sqlite3").read_bytes()


def test_offline_skips_the_canary_with_a_note(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        write_spec(openai_spec(server.url))
        _run(fake_project).assert_outcomes(passed=9)
        served = len(server.embedding_requests())
        server.embed = _drifted(server.embed)
        result = _run(fake_project, "--mrlcheck-offline")
        assert len(server.embedding_requests()) == served
    result.assert_outcomes(passed=8, skipped=1)
    result.stdout.fnmatch_lines(["*0 texts encoded, 160 from cache; canaries: 1 skipped (offline: no encoding)",
                                 "*canary not run: offline: no encoding; the cached vectors were used unchecked*"])


def test_refresh_and_offline_together_are_a_usage_error(fake_project: pytest.Pytester,
                                                         write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC)
    result = fake_project.runpytest("--mrlcheck-refresh", "--mrlcheck-offline")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--mrlcheck-refresh * --mrlcheck-offline forbids encoding: use one of them*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_canary_encodes_count_against_the_encode_budget(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        write_spec(openai_spec(server.url))
        _run(fake_project).assert_outcomes(passed=9)
        over = _run(fake_project, "--mrlcheck-max-encode", "7")
        over.assert_outcomes(failed=9)
        over.stdout.fnmatch_lines(["*budget: encoding 8 more texts for the canary with fake-embedder would exceed "
                                   "--mrlcheck-max-encode 7*"])
        assert_clean_output(over.stdout.str() + over.stderr.str())
        _run(fake_project, "--mrlcheck-max-encode", "8").assert_outcomes(passed=9)


def test_canary_settings_per_model(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        write_spec(openai_spec(server.url, "\n  canary: {sample: 3, min_cosine: 0.5}"))
        _run(fake_project).assert_outcomes(passed=9)
        server.embed = _drifted(server.embed)
        before = len(_inputs(server))
        _run(fake_project).assert_outcomes(passed=9)  # a drift of cosine 0.99 is within 0.5
        assert len(_inputs(server)) == before + 3
        [found] = _report(fake_project)["canary"]
        assert found["texts"] == 3 and found["threshold"] == 0.5 and found["mean_cosine"] < 0.999

        write_spec(openai_spec(server.url, "\n  canary: false"))
        before = len(_inputs(server))
        _run(fake_project).assert_outcomes(passed=8)  # no canary item, nothing re-encoded
        assert len(_inputs(server)) == before


def test_a_local_model_gets_no_canary_by_default(fake_project: pytest.Pytester,
                                                 write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC)
    _run(fake_project).assert_outcomes(passed=8)
    _run(fake_project).assert_outcomes(passed=8)
    assert _report(fake_project)["canary"] == []
    write_spec(FAKE_SPEC.replace("callable: fake_encoder:encode", "callable: fake_encoder:encode\n  canary: true"))
    _run(fake_project).assert_outcomes(passed=9)  # asked for: the python callable is re-run on 8 texts
    [found] = _report(fake_project)["canary"]
    assert found["status"] == "passed" and found["texts"] == 8


@pytest.mark.parametrize(("setting", "lines"), [
    ("canary: {samples: 4}", ["*demo.mrl.yaml:*: model.canary.samples: unknown key 'samples'",
                              "*hint: did you mean 'sample'?"]),
    ("canary: {sample: 0}", ["*: model.canary.sample: expected a whole number ≥ 1, got 0",
                             "*hint: *to turn it off write canary: false"]),
    ("canary: {min_cosine: 2}", ["*: model.canary.min_cosine: expected a number in ?-1, 1?, got 2"]),
    ("canary: sometimes", ["*: model.canary: expected true, false or a mapping, got str 'sometimes'"]),
])
def test_bad_canary_settings_are_spec_errors(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                             setting: str, lines: list[str]) -> None:
    write_spec(openai_spec("http://127.0.0.1:9/v1", f"\n  {setting}"))
    result = fake_project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(lines)
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_precomputed_vectors_take_no_canary(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(FAKE_SPEC.replace("  provider: python\n  callable: fake_encoder:encode",
                                 "  provider: precomputed\n  path: vectors.npz\n  canary: true"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*model.canary: precomputed vectors cannot be re-encoded, so there is no canary*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


# --------------------------------------------------------------------------- local runtime, unit level


class _LocalEncoder:
    """A local model whose runtime (library versions, dtype, device) the test sets."""

    def __init__(self, runtime: dict[str, Any], shift: float = 0.0) -> None:
        self._runtime = runtime
        self.shift = shift
        self.encoded: list[str] = []

    def identity(self) -> dict[str, Any]:
        return {"provider": "sentence-transformers", "weights": {"hub": "m", "revision": "r"}}

    def runtime(self) -> dict[str, Any]:
        return dict(self._runtime)

    def encode(self, texts: Sequence[str], role: str) -> np.ndarray:
        self.encoded += list(texts)
        rows = [np.random.default_rng(sum(map(ord, t))).standard_normal(16) for t in texts]
        vectors = np.asarray(rows)
        if self.shift:
            vectors = vectors + self.shift * np.random.default_rng(1).standard_normal(vectors.shape)
        return vectors.astype(np.float32)


TEXTS = [f"text number {i}" for i in range(40)]
R1 = {"torch": "2.3.0", "transformers": "4.44.0", "sentence-transformers": "3.0.1", "device": "cpu",
      "dtype": "float32"}


def _embed(encoder: _LocalEncoder, store: Any, stats: EncodeStats | None = None,
           policy: EncodePolicy | None = None) -> CanaryBook:
    book = CanaryBook()
    embed_texts(TEXTS, "query", None, encoder, store, stats or EncodeStats(), "local-model", policy or EncodePolicy(),
                trust=Trust(None, book))
    return book


@pytest.mark.parametrize("make_store", [MemoryStore, "sqlite"])
def test_a_runtime_change_triggers_a_canary_for_a_local_model(tmp_path: Path, make_store: Any) -> None:
    store = SqliteStore(tmp_path / "cache") if make_store == "sqlite" else MemoryStore()
    first = _LocalEncoder(R1)
    book = _embed(first, store)
    assert book.results == {} and len(first.encoded) == 40
    same = _LocalEncoder(R1)
    assert _embed(same, store).results == {} and same.encoded == []  # canaries are off for local models

    upgraded = {**R1, "torch": "2.4.0"}
    again = _LocalEncoder(upgraded)
    [result] = _embed(again, store).results.values()
    assert result.status == "passed" and result.texts == 8 and len(again.encoded) == 8
    assert result.reason == "torch 2.3.0 → 2.4.0"
    assert _embed(_LocalEncoder(upgraded), store).results == {}  # the new runtime was recorded

    half = {**upgraded, "dtype": "float16"}
    changed = _LocalEncoder(half, shift=0.5)
    stats = EncodeStats()
    [result] = _embed(changed, store, stats).results.values()
    assert result.failed and result.reason == "dtype float32 → float16"
    assert result.min_cosine is not None and result.min_cosine < 0.999
    assert stats.canary == 8 and stats.encoded == 0
    [result] = _embed(_LocalEncoder(half, shift=0.5), store).results.values()
    assert result.failed  # a failed canary does not accept the new runtime
    with pytest.raises(EvaluationError, match="for the canary"):
        _embed(_LocalEncoder(half), store, policy=EncodePolicy(max_encode=5))
    book = _embed(_LocalEncoder(half), store, policy=EncodePolicy(offline=True))
    assert [r.status for r in book.results.values()] == ["skipped"]
    if isinstance(store, SqliteStore):
        store.close()


def test_cache_info_shows_the_recorded_runtime(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mrlcheck.cli import main

    store = SqliteStore(tmp_path / "cache")
    _embed(_LocalEncoder(R1), store)
    store.close()
    monkeypatch.chdir(tmp_path)
    assert main(["cache", "info", "--cache-dir", "cache"]) == 0
    out = capsys.readouterr().out
    for part in ("runtime: torch 2.3.0, transformers", "4.44.0, sentence-transformers 3.0.1;", "float32 on cpu"):
        assert part in out  # the table wraps the model column


def test_an_old_cache_without_the_runtimes_table_stays_readable(tmp_path: Path) -> None:
    import sqlite3

    store = SqliteStore(tmp_path / "cache")
    store.put_many("k" * 64, "{}", {b"x" * 32: np.ones(4, dtype=np.float32)})
    assert store.runtime_of("k" * 64) is None and store.runtimes() == {}
    store.close()
    with sqlite3.connect(tmp_path / "cache" / "embeddings.sqlite3") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "runtimes" not in tables  # reading creates nothing
    store = SqliteStore(tmp_path / "cache")
    store.record_runtime("k" * 64, R1)
    assert store.runtime_of("k" * 64) == R1
    assert store.delete_models(["k" * 64]) == {"k" * 64: 1}
    assert store.runtime_of("k" * 64) is None
    store.close()


def test_the_sentence_transformers_runtime_reads_the_loaded_model(tmp_path: Path) -> None:
    import importlib.metadata

    from pytest_mrlcheck.providers import ProviderContext
    from pytest_mrlcheck.providers.sentence_transformers import SentenceTransformersEncoder
    from pytest_mrlcheck.spec import ModelSpec

    class Loaded:
        class device:  # mimics torch.device
            type = "cuda"

        dtype = "torch.bfloat16"

    context = ProviderContext(spec_dir=tmp_path, rootdir=tmp_path, device="cuda:1", file_digest=lambda p: "d",
                              loaded_models={})
    encoder = SentenceTransformersEncoder(ModelSpec(provider="sentence-transformers", name="org/some-model"), context)
    before = encoder.runtime()
    assert before["device"] == "cuda" and "dtype" not in before
    assert before["sentence-transformers"] == importlib.metadata.version("sentence-transformers")
    context.loaded_models[encoder._load_key()] = Loaded()
    after = encoder.runtime()
    assert after["device"] == "cuda" and after["dtype"] == "bfloat16"
    assert runtime_changes(before, after) == []  # dtype was unknown before loading: not a change
    assert runtime_changes({**after, "torch": "0.1"}, after) == [f"torch 0.1 → {after['torch']}"]


def test_sample_and_cosine_helpers() -> None:
    keys = [bytes([i]) * 4 for i in range(50)]
    chosen = sample_keys(keys, 8)
    assert len(set(chosen)) == 8 and chosen == sample_keys(list(reversed(keys)), 8)  # seeded, order-free
    assert sample_keys(keys[:3], 8) == sorted(keys[:3])
    a = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    expected = [1.0, 1 / np.sqrt(2), 0.0]
    assert row_cosines(a, b) == pytest.approx(expected)
    assert CanarySpec().sample == 8
