"""Precision views: labels, codes against sentence-transformers, Hamming ranking, scores per task kind."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_mrlcheck.quantize import (
    calibration_ranges,
    hamming,
    packed_bits,
    prepare_slice,
    represent,
    scalar_codes,
)
from pytest_mrlcheck.views import PRECISIONS, View, bytes_per_vector, parse_size, prefix_label, window_label
from tests.support.sts import distinct_pairs

# --------------------------------------------------------------------------- the View value type


def test_float32_labels_are_unchanged() -> None:
    assert prefix_label(128) == "prefix[128]" == View.prefix(128).label
    assert window_label(0, 64) == "window[0:64]" == View.window(0, 64).label
    assert View("random", 0, 16).label == "random[16]"
    assert View("dims", name="first-half").label == "dims[first-half]"


def test_precision_labels_and_item_sizes() -> None:
    assert View.prefix(128, "int8").label == "prefix[128]@int8"
    assert View.window(0, 64, "binary").label == "window[0:64]@binary"
    assert View.prefix(128, "int8").item == "128@int8"
    assert View.prefix(128).item == "128"
    assert View.parse("prefix[128]@int8") == View.prefix(128, "int8")
    assert View.parse("window[16:80]") == View.window(16, 80)


@pytest.mark.parametrize("text", ["prefix[128]@float32", "prefix[12a]", "window[3]", "prefix[1]@int4",
                                  "prefix[128]@", "thing[3]"])
def test_parse_rejects_what_label_never_produces(text: str) -> None:
    with pytest.raises(ValueError, match="not a view label"):
        View.parse(text)


views = st.one_of(
    st.builds(View.prefix, st.integers(1, 4096), st.sampled_from(PRECISIONS)),
    st.builds(lambda s, w, p: View.window(s, s + w, p), st.integers(0, 4096), st.integers(1, 512),
              st.sampled_from(PRECISIONS)),
    st.builds(lambda k: View("random", 0, k), st.integers(1, 4096)),
    st.builds(lambda n: View("dims", name=n), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,12}", fullmatch=True)),
)


@given(views)
def test_label_round_trip(view: View) -> None:
    assert View.parse(view.label) == view
    assert View.parse(view.label).label == view.label


@pytest.mark.parametrize(("dims", "precision", "expected"), [
    (384, "float32", 1536), (384, "float16", 768), (384, "int8", 384), (384, "uint8", 384),
    (384, "binary", 48), (100, "ubinary", 13), (1, "binary", 1),
])
def test_bytes_per_vector(dims: int, precision: str, expected: int) -> None:
    assert bytes_per_vector(dims, precision) == expected


def test_parse_size() -> None:
    assert parse_size("128") == (128, "float32")
    assert parse_size("256@binary") == (256, "binary")
    for bad in ("128@int4", "x@int8", "@int8"):
        with pytest.raises(ValueError, match=r"precision|size"):
            parse_size(bad)


# --------------------------------------------------------------------------- parity with quantize_embeddings

quantization = pytest.importorskip("sentence_transformers.util.quantization")


def _vectors(seed: int, rows: int = 50, dims: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, dims)) * np.linspace(2.0, 0.1, dims)).astype(np.float32)


@pytest.mark.parametrize("precision", ["int8", "uint8"])
@pytest.mark.parametrize("seed", range(5))
def test_scalar_codes_match_quantize_embeddings(precision: str, seed: int) -> None:
    embeddings = _vectors(seed)
    expected = quantization.quantize_embeddings(embeddings, precision)
    codes = scalar_codes(embeddings, calibration_ranges(embeddings), precision)
    assert codes.dtype == expected.dtype
    np.testing.assert_array_equal(codes, expected)


@pytest.mark.parametrize("precision", ["int8", "uint8"])
@pytest.mark.parametrize("seed", range(5))
def test_scalar_codes_with_calibration_match_quantize_embeddings(precision: str, seed: int) -> None:
    embeddings, calibration = _vectors(seed), _vectors(seed + 100, rows=30)
    embeddings[0] *= 5.0  # outside the calibration range: clipped to the first and last buckets
    expected = quantization.quantize_embeddings(embeddings, precision, calibration_embeddings=calibration)
    np.testing.assert_array_equal(scalar_codes(embeddings, calibration_ranges(calibration), precision), expected)


def test_constant_dimension_gets_a_unit_bucket_as_in_quantize_embeddings() -> None:
    embeddings = _vectors(7)
    embeddings[:, 3] = 0.25
    for precision in ("int8", "uint8"):
        expected = quantization.quantize_embeddings(embeddings, precision)
        np.testing.assert_array_equal(scalar_codes(embeddings, calibration_ranges(embeddings), precision), expected)


@pytest.mark.parametrize("precision", ["binary", "ubinary"])
@pytest.mark.parametrize("dims", [8, 13, 40, 64])
def test_packed_bits_match_quantize_embeddings(precision: str, dims: int) -> None:
    embeddings = _vectors(dims, dims=dims)
    embeddings[0, 0] = 0.0  # exactly zero is not > 0
    expected = quantization.quantize_embeddings(embeddings, precision)
    packed = packed_bits(embeddings, precision)
    assert packed.dtype == expected.dtype
    np.testing.assert_array_equal(packed, expected)


def _plain_hamming(a: bytes, b: bytes) -> int:
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("dims", [8, 20, 64])
def test_binary_dot_is_k_minus_twice_hamming(dims: int) -> None:
    left, right = _vectors(1, rows=12, dims=dims), _vectors(2, rows=9, dims=dims)
    packed_l, packed_r = packed_bits(left, "ubinary"), packed_bits(right, "ubinary")
    loop = np.array([[_plain_hamming(a.tobytes(), b.tobytes()) for b in packed_r] for a in packed_l])
    np.testing.assert_array_equal(hamming(packed_l, packed_r), loop)
    dots = represent(left, "binary") @ represent(right, "binary").T
    np.testing.assert_array_equal(dots, dims - 2 * loop)


def test_binary_retrieval_ranks_by_hamming_like_a_plain_loop() -> None:
    from pytest_mrlcheck.tasks import retrieval

    queries, docs = _vectors(3, rows=15, dims=48), _vectors(4, rows=300, dims=48)
    k, view = 10, (0, 24)
    q = represent(queries[:, view[0]:view[1]], "binary")
    d = represent(docs[:, view[0]:view[1]], "binary")
    indices, _ = retrieval.top_k(q, d, [(0, 24)], k, "dot", chunk_docs=64)
    packed_q = packed_bits(queries[:, :24], "ubinary")
    packed_d = packed_bits(docs[:, :24], "ubinary")
    for row, query in enumerate(packed_q):
        distances = [_plain_hamming(query.tobytes(), doc.tobytes()) for doc in packed_d]
        expected = sorted(range(len(distances)), key=lambda i: (distances[i], i))[:k]
        assert [distances[i] for i in indices[0, row]] == [distances[i] for i in expected]
        assert set(indices[0, row][np.array([distances[i] for i in indices[0, row]]) < distances[expected[-1]]]) \
            <= set(expected)


def test_float16_round_trip_and_float32_identity() -> None:
    rows = _vectors(5)
    np.testing.assert_allclose(represent(rows, "float32"), prepare_slice(rows, 0, rows.shape[1], "cosine"),
                               atol=1e-6)
    half = represent(rows, "float16", similarity="dot")
    np.testing.assert_array_equal(half, rows.astype(np.float16).astype(np.float64))


# --------------------------------------------------------------------------- STS scores vs the evaluator


def _fake_sentence_transformer(encode: object) -> object:
    """A real ``SentenceTransformer`` whose only module returns the fake encoder's vectors."""
    import torch
    from sentence_transformers import SentenceTransformer

    class FakeModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))

        def tokenize(self, texts: list[str], **_: object) -> dict[str, object]:
            return {"texts": list(texts), "size": torch.tensor([len(texts)])}

        def forward(self, features: dict[str, object], **_: object) -> dict[str, object]:
            vectors = encode(features["texts"], "query")  # type: ignore[operator]
            features["sentence_embedding"] = torch.tensor(np.asarray(vectors), dtype=torch.float32)
            return features

    return SentenceTransformer(modules=[FakeModule()], device="cpu")


@pytest.fixture
def fake_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from tests.support.helpers import FAKE_ENCODER

    (tmp_path / "fake_encoder.py").write_text(FAKE_ENCODER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("FAKE_DIM", raising=False)
    sys.modules.pop("fake_encoder", None)
    import fake_encoder  # type: ignore[import-not-found]

    yield fake_encoder
    sys.modules.pop("fake_encoder", None)  # other tests import their own fake encoder


def _evaluate(spec_text: str, folder: Path) -> object:
    from pytest_mrlcheck.evaluation import RunContext, evaluate
    from pytest_mrlcheck.spec import load_specs
    from pytest_mrlcheck.store import MemoryStore

    path = folder / "p.mrl.yaml"
    path.write_text(spec_text, encoding="utf-8")
    return evaluate(load_specs(path)[0], RunContext(store=MemoryStore(), rootdir=folder))


STS_SPEC = """
model: {provider: python, callable: fake_encoder:encode}
task: {kind: sts, data: {path: data/pairs.csv}}
views: {prefix: [8, 16, 32, 64], precision: [float16, int8, uint8, binary, ubinary]}
checks: {prefix: {16: 0.1}}
"""


def test_sts_int8_equals_embedding_similarity_evaluator(tmp_path: Path, fake_module: object) -> None:
    evaluation = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
    data = distinct_pairs(tmp_path / "data" / "pairs.csv")
    result = _evaluate(STS_SPEC, tmp_path)
    rows = list(csv.DictReader(data.read_text(encoding="utf-8").splitlines()))
    model = _fake_sentence_transformer(fake_module.encode)  # type: ignore[attr-defined]
    for precision in ("int8", "uint8"):
        for k in (8, 16, 32, 64):
            evaluator = evaluation.EmbeddingSimilarityEvaluator(
                [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows],
                precision=precision, truncate_dim=k, similarity_fn_names=["cosine"])
            expected = evaluator(model)["spearman_cosine"]
            assert result.scores[prefix_label(k, precision)] == pytest.approx(expected, abs=1e-6)  # type: ignore[attr-defined]


def test_sts_binary_differs_from_the_evaluator_by_design(tmp_path: Path, fake_module: object) -> None:
    """Hamming here; sentence-transformers takes the cosine of the unpacked 0/1 bits."""
    from pytest_mrlcheck.tasks.ranking import spearman_columns

    data = distinct_pairs(tmp_path / "data" / "pairs.csv")
    result = _evaluate(STS_SPEC, tmp_path)
    rows = list(csv.DictReader(data.read_text(encoding="utf-8").splitlines()))
    gold = np.array([float(r["score"]) for r in rows])
    left = np.asarray(fake_module.encode([r["sentence1"] for r in rows], "q"), dtype=np.float32)  # type: ignore[attr-defined]
    right = np.asarray(fake_module.encode([r["sentence2"] for r in rows], "q"), dtype=np.float32)  # type: ignore[attr-defined]
    k = 16
    packed_l, packed_r = packed_bits(left[:, :k], "ubinary"), packed_bits(right[:, :k], "ubinary")
    negative_hamming = -np.array([_plain_hamming(a.tobytes(), b.tobytes()) for a, b in zip(packed_l, packed_r,
                                                                                             strict=True)])
    expected = spearman_columns(negative_hamming[:, None].astype(np.float64), gold)[0]
    scores = result.scores  # type: ignore[attr-defined]
    assert scores[prefix_label(k, "binary")] == pytest.approx(expected, abs=1e-9)
    assert scores[prefix_label(k, "ubinary")] == scores[prefix_label(k, "binary")]
    a, b = np.unpackbits(packed_l, axis=1).astype(float), np.unpackbits(packed_r, axis=1).astype(float)
    cosine_bits = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    their = spearman_columns(cosine_bits[:, None], gold)[0]
    assert their != pytest.approx(expected, abs=1e-3)


# --------------------------------------------------------------------------- funnel: binary shortlist + rescore


@pytest.mark.parametrize("rerank_precision", ["float32", "int8"])
def test_binary_shortlist_funnel_matches_a_plain_pipeline(rerank_precision: str) -> None:
    from pytest_mrlcheck.tasks import funnel, retrieval

    queries, docs = _vectors(8, rows=12, dims=32), _vectors(9, rows=200, dims=32)
    qrels = {f"q{q}": {f"d{(7 * q) % 200}": 1, f"d{(7 * q + 1) % 200}": 2} for q in range(12)}
    relevance = retrieval.Relevance.from_qrels(qrels, [f"q{q}" for q in range(12)], [f"d{d}" for d in range(200)])
    found = funnel.funnel(queries, docs, relevance, "ndcg@10", 32, 40, None, None, "binary", rerank_precision)
    packed_q, packed_d = packed_bits(queries, "ubinary"), packed_bits(docs, "ubinary")
    if rerank_precision == "int8":
        unit_d = prepare_slice(docs, 0, 32, "cosine")
        ranges = calibration_ranges(unit_d)
        stored_q = scalar_codes(prepare_slice(queries, 0, 32, "cosine"), ranges, "int8").astype(np.float64)
        stored_d = scalar_codes(unit_d, ranges, "int8").astype(np.float64)
    else:
        stored_q, stored_d = queries.astype(np.float64), docs.astype(np.float64)
    ranked = []
    for q in range(12):
        distances = [_plain_hamming(packed_q[q].tobytes(), d.tobytes()) for d in packed_d]
        shortlist = sorted(range(200), key=lambda i: (distances[i], i))[:40]
        cosine = {i: float(stored_q[q] @ stored_d[i] / np.linalg.norm(stored_q[q]) / np.linalg.norm(stored_d[i]))
                  for i in shortlist}
        ranked.append(sorted(shortlist, key=lambda i: -cosine[i])[:10])
    expected = retrieval.metric_values(np.array(ranked)[None], relevance.select(np.arange(12)), ["ndcg@10"])
    assert found["score"] == pytest.approx(float(np.mean(expected["ndcg@10"])), abs=1e-9)
    assert found["shortlist_precision"] == "binary" and found["shortlist_bytes_per_vector"] == 4
    assert found["rerank_bytes_per_vector"] == (32 if rerank_precision == "int8" else 128)


# --------------------------------------------------------------------------- the pair fast path

def _represented_similarities(similarity: str, views: list[View], vectors: np.ndarray, left: np.ndarray,
                              right: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """One view at a time through :func:`represent`: the plain, slow definition of a view's similarity."""
    columns = []
    for view in views:
        rows = vectors[:, view.start : view.end]
        ranges = (calibration_ranges(prepare_slice(calibration, view.start, view.end, similarity))
                  if view.precision in ("int8", "uint8") else None)
        coded = represent(rows, view.precision, "dot" if view.precision in ("binary", "ubinary") else similarity,
                          ranges)
        columns.append(np.einsum("ij,ij->i", coded[left], coded[right]))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize(("own_calibration", "covered"), [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("dim", [48, 1100])
def test_pair_similarities_equal_one_view_at_a_time(similarity: str, own_calibration: bool, covered: bool,
                                                    dim: int) -> None:
    from pytest_mrlcheck.precision_eval import pair_similarities

    rng = np.random.default_rng(dim)
    vectors = rng.standard_normal((60, dim)).astype(np.float32)
    vectors[7, :16] = 0.0  # a zero slice: its renormalisation stays zero, its cosine 0
    vectors[9, 20:] = vectors[9, 20]  # a constant tail
    calibration = vectors if own_calibration else rng.standard_normal((40, dim)).astype(np.float32)
    left, right = rng.integers(0, 50, 90), rng.integers(0, 50, 90)  # vectors 50..59 in no pair
    if covered:  # every vector in some pair (as in an STS file): the ranges come from the pairs' sides
        left[:60] = rng.permutation(60)
    views = [View.prefix(k, p) for k in (8, 16, dim) for p in PRECISIONS[1:]]
    views += [View.window(0, 16, "int8"), View.window(8, 40, "uint8"), View.window(16, 48, "binary"),
              View.window(4, 20, "float16")]
    ordered, found = pair_similarities(similarity, views, vectors, left, right, calibration)
    assert ordered == views
    expected = _represented_similarities(similarity, views, vectors, left, right, calibration)
    np.testing.assert_allclose(found, expected, rtol=1e-12, atol=1e-9 * (1 if similarity == "cosine" else dim))
