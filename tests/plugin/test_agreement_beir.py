"""``kind: agreement`` on a BEIR folder: the judged queries against the corpus, embedded exactly as retrieval does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.tasks.agreement import score_views
from tests.support.beir import RETRIEVAL_SPEC, write_beir
from tests.support.helpers import assert_clean_output, encoded_lines

AGREEMENT_SPEC = """
name: fake-agreement
model:
  provider: python
  callable: fake_encoder:encode
  prompts: {query: "find: ", document: null}
task:
  kind: agreement
  data: {path: beir, format: beir, split: test}
  metric: overlap@10
checks:
  prefix: {16: 0.2}
"""


def test_agreement_and_retrieval_on_one_beir_folder_share_every_vector(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    doc_ids, texts, qrels = write_beir(fake_project.path / "beir")
    write_spec(RETRIEVAL_SPEC, name="search")
    fake_project.runpytest("--mrlcheck-json", "search.json").assert_outcomes(passed=3)
    first = encoded_lines(fake_project)
    assert first  # the retrieval spec encoded queries and documents
    (fake_project.path / "search.mrl.yaml").unlink()
    write_spec(AGREEMENT_SPEC, name="agree")
    result = fake_project.runpytest("--mrlcheck-json", "agree.json")
    result.assert_outcomes(passed=1)
    assert encoded_lines(fake_project) == first  # the agreement spec encoded nothing
    search = json.loads((fake_project.path / "search.json").read_text())["specs"][0]
    agree = json.loads((fake_project.path / "agree.json").read_text())["specs"][0]
    assert agree["task"]["units"] == search["task"]["units"] == len(qrels)  # the judged queries, not sampled ones
    assert agree["task"]["dataset_fingerprint"] == search["task"]["dataset_fingerprint"]

    # the score, recomputed independently: the judged queries with the query prompt against "{title} {text}"
    import importlib
    import sys

    sys.path.insert(0, str(fake_project.path))
    try:
        encode = importlib.import_module("fake_encoder").encode
    finally:
        sys.path.remove(str(fake_project.path))
    queries = [line.split("\t", 1)[1] for line in first if line.startswith("query\t")]
    documents = [f"{doc.upper()} {text}" for doc, text in zip(doc_ids, texts, strict=True)]
    judged = [q for q in queries if q.removeprefix("find: ") != "nothing judged"]
    q_vecs = np.asarray(encode(judged, "query"), dtype=np.float64)
    d_vecs = np.asarray(encode(documents, "document"), dtype=np.float64)
    expected = score_views(q_vecs, d_vecs, [(0, 16)], np.zeros((64, 0)), 64, "overlap@10")
    assert agree["scores"]["prefix[16]"] == pytest.approx(float(expected[0]), abs=1e-6)


def test_agreement_on_a_beir_folder_refuses_task_queries(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_beir(fake_project.path / "beir")
    write_spec(AGREEMENT_SPEC.replace("  metric: overlap@10", "  queries: {count: 5}\n  metric: overlap@10"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*demo.mrl.yaml:*: task.queries: a BEIR folder brings its own queries*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_agreement_on_a_broken_beir_folder_is_a_clear_failure(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_beir(fake_project.path / "beir")
    (fake_project.path / "beir" / "queries.jsonl").write_bytes(b'{"_id": "q0", "text": "caf\xe9"}\n')
    write_spec(AGREEMENT_SPEC)
    result = fake_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*beir/queries.jsonl: not valid UTF-8 (line 1) (byte 0xe9)*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
