"""BEIR folders for tests: a generated retrieval corpus with its spec, and a three-document one for loaders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pytest_mrlcheck.spec import DataSpec
from tests.support.helpers import WORDS

RETRIEVAL_SPEC = """
name: fake-search
model:
  provider: python
  callable: fake_encoder:encode
  prompts: {query: "find: ", document: null}
task:
  kind: retrieval
  data:
    path: beir
  metric: ndcg@10
checks:
  prefix: {16: 0.2, 64: 0.4}
  random: {dims: [16], samples: 8, margin: -1.0}
"""


def write_beir(folder: Path, docs: int = 60, seed: int = 0) -> tuple[list[str], list[str], dict[str, dict[str, int]]]:
    """Documents of 8 words; each query repeats 4 words of one document (and one of another)."""
    rng = np.random.default_rng(seed)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    texts = [" ".join(rng.choice(WORDS, 8, replace=False)) for _ in range(docs)]
    doc_ids = [f"d{i}" for i in range(docs)]
    with (folder / "corpus.jsonl").open("w") as handle:
        for identifier, text in zip(doc_ids, texts, strict=True):
            handle.write(json.dumps({"_id": identifier, "title": identifier.upper(), "text": text}) + "\n")
    queries, qrels = [], {}
    with (folder / "queries.jsonl").open("w") as handle:
        for i in range(0, docs, 2):
            words = texts[i].split()[:4]
            queries.append(" ".join(words))
            handle.write(json.dumps({"_id": f"q{i}", "text": queries[-1]}) + "\n")
            qrels[f"q{i}"] = {doc_ids[i]: 2, doc_ids[(i + 1) % docs]: 1}
        handle.write(json.dumps({"_id": "q-unjudged", "text": "nothing judged"}) + "\n")
    with (folder / "qrels" / "test.tsv").open("w") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query, judged in qrels.items():
            for doc, grade in judged.items():
                handle.write(f"{query}\t{doc}\t{grade}\n")
    return doc_ids, texts, qrels


def write_small_beir(folder: Path, qrels: str | None = None) -> Path:
    """Three documents and two queries; ``qrels`` replaces the judgement file's text."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = [{"_id": "d1", "title": "A", "text": "about rivers"}, {"_id": "d2", "title": "", "text": "about bread"},
            {"_id": "d3", "title": "C", "text": "about music"}]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n", encoding="utf-8")
    queries = [{"_id": "q1", "text": "a river"}, {"_id": "q2", "text": "some bread"}]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n", encoding="utf-8")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text(
        qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n", encoding="utf-8")
    return folder


def beir_spec(folder: Path, split: str = "test") -> DataSpec:
    """The data section of a BEIR folder."""
    return DataSpec(path=folder, format="beir", columns={}, header=True, split=split)
