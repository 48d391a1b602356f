"""One cache shared at corpus scale (200,000 vectors): two processes, and ``-n 2`` over two specs of one
corpus: every text encoded once in total, nobody sees "database is locked". Slow (minutes on a busy
2-core machine), so marked ``slow``."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.store import SqliteStore

pytestmark = pytest.mark.slow
DOCS = 200_000

HASH_ENCODER = '''
"""64 dims from the SHA-256 of each text (fast, deterministic); logs what it encodes."""
import hashlib
import os

import numpy as np


def encode(texts, role):
    with open(os.environ["FAKE_ENCODER_LOG"], "a", encoding="utf-8") as log:
        log.write("".join(f"{role}\\t{t}\\n" for t in texts))
    raw = b"".join(hashlib.sha256(t.encode()).digest() * 2 for t in texts)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), 64).astype(np.float32) - 127.5
'''


def _expected(texts: list[str]) -> np.ndarray:
    raw = b"".join(hashlib.sha256(t.encode()).digest() * 2 for t in texts)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), 64).astype(np.float32) - 127.5


def _encode_all(directory: str, log: str, texts: list[str]) -> None:
    from pytest_mrlcheck.embed import EncodeStats, embed_texts

    class Hashing:
        def identity(self) -> dict[str, str]:
            return {"provider": "hashing"}

        def encode(self, batch: list[str], role: str) -> np.ndarray:
            with Path(log).open("a", encoding="utf-8") as handle:
                handle.write("".join(f"{t}\n" for t in batch))
            return _expected(batch)

    store = SqliteStore(Path(directory))
    matrix = embed_texts(texts, "document", None, Hashing(), store, EncodeStats(), "hashing")
    store.close()
    assert np.array_equal(matrix, _expected(texts))


def test_two_processes_share_a_200k_cache_and_encode_each_text_once(tmp_path: Path) -> None:
    texts = [f"document {i} of the shared corpus" for i in range(DOCS)]
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_encode_all, args=(str(tmp_path / "cache"), str(log), texts))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(900)
        assert worker.exitcode == 0, "a worker failed (see its stderr: 'database is locked'?)"
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == DOCS and len(set(lines)) == DOCS, "each text encoded once in total"
    [summary] = SqliteStore(tmp_path / "cache").model_summaries()
    assert summary.vectors == DOCS


def _write_corpus(folder: Path) -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for i in range(DOCS):
            out.write(json.dumps({"_id": f"d{i}", "text": " ".join(rng.choices(words, k=12))}) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out, \
            (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        for i in range(20):
            out.write(json.dumps({"_id": f"q{i}", "text": " ".join(rng.choices(words, k=6))}) + "\n")
            qrels.write(f"q{i}\td{rng.randrange(DOCS)}\t1\n")


SPEC = """
name: {name}
model:
  provider: python
  callable: hash_encoder:encode
task:
  kind: retrieval
  data:
    path: beir
  metric: ndcg@10
checks:
  prefix: {{16: 0.0, 64: 0.0}}
"""


def test_two_xdist_workers_share_a_200k_cache_and_encode_each_text_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(hash_encoder=HASH_ENCODER)
    monkeypatch.setenv("FAKE_ENCODER_LOG", str(pytester.path / "encoded.log"))
    _write_corpus(pytester.path / "beir")
    for name in ("first", "second"):
        (pytester.path / f"{name}.mrl.yaml").write_text(SPEC.format(name=name), encoding="utf-8")
    result = pytester.runpytest_subprocess("-n", "2", "--mrlcheck-cache-dir", "cache", "-p", "no:cacheprovider",
                                           timeout=1500)
    output = result.stdout.str() + result.stderr.str()
    assert "locked" not in output, output[-3000:]
    result.assert_outcomes(passed=4)
    lines = (pytester.path / "encoded.log").read_text(encoding="utf-8").splitlines()
    roles = Counter(line.split("\t", 1)[0] for line in lines)
    assert len(set(lines)) == len(lines), "each text encoded once in total across both workers"
    assert roles == {"document": DOCS, "query": 20}
