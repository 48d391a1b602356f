"""ANN index views: the issue's spec through the plugin, the index cache, recall against faiss, bad input."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.errors import SpecError
from pytest_mrlcheck.spec import load_specs
from tests.support.beir import write_beir
from tests.support.helpers import assert_clean_output

faiss = pytest.importorskip("faiss", reason="index views need faiss-cpu (pip install 'pytest-mrlcheck[index]')")

SPEC = """
name: idx
model: {provider: python, callable: fake_encoder:encode}
task: {kind: retrieval, data: {path: beir}, metric: ndcg@10}
views:
  prefix: [16, 32, 64]
  index:
    - {kind: hnsw, M: 16, ef_construction: 200, ef_search: 64}
    - {kind: ivf_flat, nlist: 16, nprobe: 4}
    - {kind: ivf_pq, nlist: 16, nprobe: 4, m: 8}
    - {kind: binary_flat}           # Hamming over sign bits, exact
checks:
  index:
    hnsw: {32: {recall_vs_exact: 0.95}, 64: {metric: 0.30}}
    ivf_flat: {64: {recall_vs_exact: 0.999}}
"""
IDS = ["index[hnsw@32]", "index[hnsw@64]", "index[ivf_flat@64]"]
KINDS = ("hnsw", "ivf_flat", "ivf_pq", "binary_flat")


def esc(pattern: str) -> str:
    return pattern.replace("[", "[[]")


@pytest.fixture
def index_project(fake_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("FAKE_DIM", "64")
    write_beir(fake_project.path / "beir", docs=400)
    return fake_project


def _report(project: pytest.Pytester, name: str = "report.json") -> dict[str, Any]:
    (spec,) = json.loads((project.path / name).read_text(encoding="utf-8"))["specs"]
    return dict(spec)


def _by_view(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["view"]: entry for entry in spec["index"]}


def test_issue_spec_ids_outcomes_json_and_tables(index_project: pytest.Pytester,
                                                 write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC)
    collected = index_project.runpytest("--collect-only", "-q")
    collected.stdout.fnmatch_lines([esc(f"demo.mrl.yaml::idx::{name}") for name in IDS])
    result = index_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-cache-dir", "cache",
                                     "--mrlcheck-tables", "all", "--color=no")
    spec = _report(index_project)
    assert spec["error"] is None
    views = _by_view(spec)
    assert sorted(views) == sorted(f"prefix[{k}]#{kind}" for k in (16, 32, 64) for kind in KINDS)
    for entry in views.values():
        assert 0.0 <= entry["recall_vs_exact"] <= 1.0 and 0.0 <= entry["overlap_full"] <= 1.0
        assert entry["vectors"] == 400 and entry["memory_bytes"] > 0 and entry["query_seconds"] > 0
        assert entry["cached"] is False and entry["build_seconds"] >= 0
    scores = spec["scores"]
    for k in (16, 32, 64):
        # exhaustive search at float32 is the plain prefix score; the exact binary index is the @binary view
        assert views[f"prefix[{k}]#hnsw"]["exact_metric"] == pytest.approx(scores[f"prefix[{k}]"], abs=1e-9)
        assert views[f"prefix[{k}]#binary_flat"]["recall_vs_exact"] == 1.0
    assert views["prefix[64]#ivf_flat"]["recall_vs_exact"] < 0.999  # 4 of 16 lists miss some neighbours
    assert views["prefix[64]#ivf_pq"]["code_bytes_per_vector"] < views["prefix[64]#ivf_flat"]["code_bytes_per_vector"]
    outcomes = {check["name"]: check["outcome"] for check in spec["checks"]}
    hnsw32, hnsw64 = views["prefix[32]#hnsw"], views["prefix[64]#hnsw"]
    assert outcomes == {"index[hnsw@32]": "passed" if hnsw32["recall_vs_exact"] >= 0.95 else "failed",
                        "index[hnsw@64]": "passed" if hnsw64["metric"] >= 0.30 else "failed",
                        "index[ivf_flat@64]": "failed"}
    result.stdout.fnmatch_lines([esc("*prefix[64]#ivf_flat: recall vs exact 0.*below 0.9990*"),
                                 "*index views (ndcg@10 through the index*", esc("*prefix[64]#binary_flat*"),
                                 "*ANN memory*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_warm_run_loads_every_index_and_gives_the_same_numbers(index_project: pytest.Pytester,
                                                               write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC)
    index_project.runpytest("--mrlcheck-json", "cold.json", "--mrlcheck-cache-dir", "cache")
    files = sorted((index_project.path / "cache" / "indexes").glob("*.faissindex"))
    assert len(files) == 12
    stamps = [f.stat().st_mtime_ns for f in files]
    index_project.runpytest("--mrlcheck-json", "warm.json", "--mrlcheck-cache-dir", "cache")
    cold, warm = _by_view(_report(index_project, "cold.json")), _by_view(_report(index_project, "warm.json"))
    assert all(entry["cached"] for entry in warm.values())
    assert [f.stat().st_mtime_ns for f in files] == stamps  # nothing rebuilt or rewritten
    for view, entry in cold.items():
        for key in ("metric", "recall_vs_exact", "overlap_full", "memory_bytes", "build_seconds"):
            assert warm[view][key] == entry[key], (view, key)


def test_two_cold_runs_are_equal_and_no_cache_writes_nothing(index_project: pytest.Pytester,
                                                            write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC)
    for name in ("one.json", "two.json"):
        index_project.runpytest("--mrlcheck-json", name, "--mrlcheck-no-cache")
    one, two = _by_view(_report(index_project, "one.json")), _by_view(_report(index_project, "two.json"))
    for view, entry in one.items():
        assert not entry["cached"]
        for key in ("metric", "recall_vs_exact", "overlap_full", "memory_bytes"):
            assert two[view][key] == entry[key], (view, key)
    assert not list(index_project.path.rglob("*.faissindex"))


def test_a_damaged_cached_index_is_moved_aside_and_rebuilt(index_project: pytest.Pytester,
                                                           write_spec: Callable[..., Path]) -> None:
    write_spec(SPEC.replace("prefix: [16, 32, 64]", "prefix: [64]"))
    index_project.runpytest("--mrlcheck-json", "cold.json", "--mrlcheck-cache-dir", "cache")
    files = sorted((index_project.path / "cache" / "indexes").glob("*.faissindex"))
    damaged = files[0]
    damaged.write_bytes(damaged.read_bytes()[:40])
    result = index_project.runpytest("--mrlcheck-json", "warm.json", "--mrlcheck-cache-dir", "cache",
                                     "-W", "default")
    result.stdout.fnmatch_lines([f"*the cached index {damaged.name} could not be used*moved to*corrupt*"])
    assert damaged.with_name(damaged.name + ".corrupt").is_file() and damaged.is_file()
    cold, warm = _by_view(_report(index_project, "cold.json")), _by_view(_report(index_project, "warm.json"))
    assert sum(not entry["cached"] for entry in warm.values()) == 1
    assert {v: e["metric"] for v, e in warm.items()} == {v: e["metric"] for v, e in cold.items()}
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_precision_taking_kinds_label_and_score_their_codes(index_project: pytest.Pytester,
                                                            write_spec: Callable[..., Path]) -> None:
    write_spec("""
        name: idx
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: retrieval, data: {path: beir}, metric: ndcg@10}
        views:
          prefix: [32, 64]
          precision: [int8]
          index:
            - {kind: hnsw, precision: int8}
            - {kind: ivf_flat, precision: float16, nlist: 8, nprobe: 8}
        checks:
          index: {hnsw: {"64@int8": {recall_vs_exact: 0.9}}}
        """)
    collected = index_project.runpytest("--collect-only", "-q")
    collected.stdout.fnmatch_lines([esc("demo.mrl.yaml::idx::index[hnsw@64@int8]")])
    result = index_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache", "--mrlcheck-tables",
                                     "all", "--color=no")
    views = _by_view(_report(index_project))
    assert sorted(views) == ["prefix[32]@float16#ivf_flat", "prefix[32]@int8#hnsw", "prefix[64]@float16#ivf_flat",
                             "prefix[64]@int8#hnsw"]
    # nprobe = nlist visits every list: the IVF index is exhaustive over its float16 codes
    assert views["prefix[64]@float16#ivf_flat"]["recall_vs_exact"] == 1.0
    assert views["prefix[64]@int8#hnsw"]["code_bytes_per_vector"] == 64
    assert views["prefix[64]@float16#ivf_flat"]["code_bytes_per_vector"] == 2 * 64 + 1
    result.stdout.fnmatch_lines(["*score by size and precision*", esc("*prefix[64]#hnsw*")])


# ----------------------------------------------------------------------------- against faiss itself


def test_recall_matches_a_direct_faiss_computation(tmp_path: Path) -> None:
    from pytest_mrlcheck.index_views import _BATCH, SearchTask, evaluate_indexes
    from pytest_mrlcheck.views import plan_views

    rng = np.random.default_rng(7)
    docs = rng.standard_normal((3000, 48)).astype(np.float32)
    queries = (docs[rng.choice(3000, 200, replace=False)] + 0.8 * rng.standard_normal((200, 48))).astype(np.float32)
    spec_path = tmp_path / "s.mrl.yaml"
    spec_path.write_text(textwrap.dedent("""
        model: {provider: python, callable: enc:encode}
        task: {kind: retrieval, data: {path: beir}, metric: ndcg@10}
        views:
          prefix: [24, 48]
          index: [{kind: hnsw, M: 8, ef_construction: 40, ef_search: 16}, {kind: ivf_flat, nlist: 64, nprobe: 3}]
        checks: {prefix: {24: 0}}
        """), encoding="utf-8")
    (spec,) = load_specs(spec_path)
    task = SearchTask(queries, docs, 10, "cosine", None, lambda rows: 0.0)
    found = {r.view.label: r for r in evaluate_indexes(spec, plan_views(spec, 48), task, None)}

    def unit(rows: np.ndarray) -> np.ndarray:  # float32 as the plugin renormalises (an HNSW graph is that sensitive)
        rows = np.asarray(rows, dtype=np.float32)
        return np.ascontiguousarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))

    for k in (24, 48):
        q, d = unit(queries[:, :k]), unit(docs[:, :k])
        flat = faiss.IndexFlatIP(k)
        flat.add(d)
        _, truth = flat.search(q, 10)
        faiss.omp_set_num_threads(1)
        hnsw = faiss.IndexHNSWFlat(k, 8, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 40
        for begin in range(0, len(d), _BATCH):  # the insertion order shapes an HNSW graph: add as the plugin does
            hnsw.add(d[begin : begin + _BATCH])
        hnsw.hnsw.efSearch = 16
        quantizer = faiss.IndexFlatIP(k)
        ivf = faiss.IndexIVFFlat(quantizer, k, 64, faiss.METRIC_INNER_PRODUCT)
        ivf.train(d)
        ivf.add(d)
        ivf.nprobe = 3
        faiss.omp_set_num_threads(2)
        for kind, index in (("hnsw", hnsw), ("ivf_flat", ivf)):
            _, got = index.search(q, 10)
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True)])
            assert found[f"prefix[{k}]#{kind}"].recall_vs_exact == pytest.approx(recall, abs=1e-12), (kind, k)
            full = [len(set(a) & set(b)) / 10 for a, b in zip(got, _full_truth(queries, docs), strict=True)]
            assert found[f"prefix[{k}]#{kind}"].overlap_full == pytest.approx(np.mean(full), abs=1e-12)
    assert found["prefix[24]#ivf_flat"].recall_vs_exact < 1.0  # the cross-check compares something non-trivial


def _full_truth(queries: np.ndarray, docs: np.ndarray) -> np.ndarray:
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    d = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(docs.shape[1])
    flat.add(np.ascontiguousarray(d, dtype=np.float32))
    _, rows = flat.search(np.ascontiguousarray(q, dtype=np.float32), 10)
    return np.asarray(rows)


# ----------------------------------------------------------------------------- bad input

BASE = """
model: {{provider: python, callable: fake_encoder:encode}}
task: {{kind: {kind}, data: {{path: beir, format: {fmt}}}, metric: {metric}}}
views:
  index:
{index}
checks:
{checks}
"""


def _load(tmp_path: Path, index: str, checks: str = "  prefix: {16: 0}", kind: str = "retrieval",
          metric: str = "ndcg@10") -> Any:
    path = tmp_path / "bad.mrl.yaml"
    fmt = "csv" if kind == "sts" else "beir"
    path.write_text(BASE.format(kind=kind, metric=metric, fmt=fmt, index=textwrap.indent(index, "    "), checks=checks),
                    encoding="utf-8")
    return load_specs(path)


@pytest.mark.parametrize(("index", "checks", "where", "words"), [
    ("- {kind: hnws}", "  prefix: {16: 0}", "views.index[0].kind", "did you mean 'hnsw'"),
    ("- {kind: hnsw, nprobe: 4}", "  prefix: {16: 0}", "views.index[0] (hnsw).nprobe", "unknown key 'nprobe'"),
    ("- {kind: hnsw, M: 0}", "  prefix: {16: 0}", "views.index[0].M", "≥ 1"),
    ("- {kind: ivf_pq, nlist: 8}", "  prefix: {16: 0}", "views.index[0].m", "missing required key 'm'"),
    ("- {kind: ivf_pq, m: 10, sizes: [64]}", "  prefix: {16: 0}", "views.index[0].m", "does not divide the size 64"),
    ("- {kind: binary_flat, precision: int8}", "  prefix: {16: 0}", "views.index[0].precision",
     "already stores one sign bit"),
    ("- {kind: ivf_pq, m: 8, precision: int8}", "  prefix: {16: 0}", "views.index[0].precision",
     "cannot take precision"),
    ("- {kind: ivf_flat, nlist: 4, nprobe: 8}", "  prefix: {16: 0}", "views.index[0].nprobe", "more than the 4 lists"),
    ("- {kind: hnsw}\n- {kind: hnsw, M: 32}", "  prefix: {16: 0}", "views.index[1].kind", "listed twice"),
    ("- {kind: hnsw}", "  index: {ivf_flat: {16: {recall_vs_exact: 0.9}}}", "checks.index.ivf_flat.16",
     "no ivf_flat index is listed"),
    ("- {kind: hnsw}", "  index: {hnsw: {16: {recall: 0.9}}}", "checks.index.hnsw.16.recall",
     "unknown key 'recall'"),
    ("- {kind: hnsw, sizes: [32]}", "  index: {hnsw: {16: {metric: 0.9}}}", "checks.index.hnsw.16",
     "size 16 is not planned"),
    ("- {kind: hnsw}", "  index: {hnsw: {\"16@int8\": {metric: 0.9}}}", "checks.index.hnsw.16@int8",
     "no hnsw index at int8"),
    ("- {kind: hnsw, max_build_seconds: 0}", "  prefix: {16: 0}", "views.index[0].max_build_seconds", "positive"),
])
def test_bad_index_parts_name_file_line_and_key(tmp_path: Path, index: str, checks: str, where: str,
                                                words: str) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, index, checks)
    text = str(caught.value)
    assert f"bad.mrl.yaml:{caught.value.line}: {where}: " in text and words in text, text
    assert caught.value.line is not None and caught.value.line >= 5


@pytest.mark.parametrize(("kind", "metric", "words"), [
    ("sts", "spearman", "task kind sts does not search a corpus"),
    ("agreement", "rank_correlation@50", "needs every similarity"),
])
def test_index_views_need_a_ranking_task(tmp_path: Path, kind: str, metric: str, words: str) -> None:
    with pytest.raises(SpecError, match=words) as caught:
        _load(tmp_path, "- {kind: hnsw}", kind=kind, metric=metric)
    assert "views.index" in str(caught.value)


@pytest.mark.parametrize(("index", "words"), [
    ("{kind: ivf_flat, nlist: 5000}", "views.index[0].nlist: 5000 lists for a corpus of 400 vectors"),
    ("{kind: ivf_pq, m: 24}", "views.index[0].m: PQ m = 24 does not divide the size 16"),
    ("{kind: ivf_pq, m: 8, nbits: 12}", "views.index[0].nbits: 12-bit PQ codes need at least 4096 vectors"),
    ("{kind: hnsw, max_build_seconds: 0.000001}",
     "views.index[0].max_build_seconds: building prefix[16]#hnsw took over the budget of 1e-06 s"),
])
def test_evaluation_limits_fail_the_items_with_clear_messages(index_project: pytest.Pytester,
                                                              write_spec: Callable[..., Path], index: str,
                                                              words: str) -> None:
    write_spec(SPEC.split("views:")[0] + f"views:\n  prefix: [16, 64]\n  index: [{index}]\n"
               "checks: {prefix: {16: 0}}\n")
    result = index_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([esc(f"*demo.mrl.yaml:*: {words}*")])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_a_corpus_over_the_budget_is_refused(index_project: pytest.Pytester, write_spec: Callable[..., Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    # the module as sys.modules holds it (an earlier in-process run may have left a stale package attribute)
    index_views = importlib.import_module("pytest_mrlcheck.index_views")
    monkeypatch.setattr(index_views, "MAX_CORPUS", 100)
    write_spec(SPEC.split("views:")[0] + "views:\n  index: [{kind: hnsw}]\nchecks: {prefix: {16: 0}}\n")
    result = index_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*views.index: the corpus has 400 vectors, more than the 100 an index view is built "
                                 "over (the budget of index views)*"])


def test_missing_faiss_names_the_extra(index_project: pytest.Pytester, write_spec: Callable[..., Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    write_spec(SPEC)
    monkeypatch.setitem(sys.modules, "faiss", None)  # "import faiss" now raises ImportError
    result = index_project.runpytest("--mrlcheck-no-cache")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*demo.mrl.yaml:7: views.index: index views need faiss, which is not installed*",
                                 esc("*pip install 'pytest-mrlcheck[index]'*")])
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_agreement_scores_overlap_with_the_full_ranking_through_the_index(index_project: pytest.Pytester,
                                                                         write_spec: Callable[..., Path]) -> None:
    write_spec("""
        name: agree
        model: {provider: python, callable: fake_encoder:encode}
        task: {kind: agreement, data: {path: beir, format: beir}, metric: overlap@10}
        views:
          prefix: [32, 64]
          index: [{kind: hnsw}, {kind: binary_flat}]
        checks:
          index: {hnsw: {64: {recall_vs_exact: 0.9, metric: 0.9}}}
        """)
    result = index_project.runpytest("--mrlcheck-json", "report.json", "--mrlcheck-no-cache")
    spec = _report(index_project)
    views = _by_view(spec)
    for k in (32, 64):
        for kind in ("hnsw", "binary_flat"):
            entry = views[f"prefix[{k}]#{kind}"]
            assert entry["metric"] == pytest.approx(entry["overlap_full"], abs=1e-12)  # overlap@10 is the metric
        # exhaustive float32 search at k is the plain agreement score of prefix[k]
        assert views[f"prefix[{k}]#hnsw"]["exact_metric"] == pytest.approx(spec["scores"][f"prefix[{k}]"], abs=1e-9)
    assert views["prefix[64]#hnsw"]["exact_metric"] == pytest.approx(1.0)
    expected = "passed" if min(views["prefix[64]#hnsw"]["recall_vs_exact"], views["prefix[64]#hnsw"]["metric"]) \
        >= 0.9 else "failed"
    result.assert_outcomes(**{expected: 1})


def test_markdown_and_plot_show_the_index_views(index_project: pytest.Pytester,
                                                write_spec: Callable[..., Path]) -> None:
    pytest.importorskip("matplotlib")
    write_spec(SPEC)
    result = index_project.runpytest("--mrlcheck-no-cache", "--mrlcheck-markdown", "report.md", "--mrlcheck-plots",
                                     "plots")
    text = (index_project.path / "report.md").read_text(encoding="utf-8")
    assert "Index views:" in text and "| view | metric | exact | recall vs exact |" in text
    assert "❌ **`prefix[64]#ivf_flat`**" in text
    (plot,) = (index_project.path / "plots").glob("*.png")
    assert plot.stat().st_size > 10_000
    assert_clean_output(result.stdout.str() + result.stderr.str())


@pytest.mark.parametrize(("label", "view"), [
    ("prefix[128]#hnsw", ("prefix", 0, 128, "", "float32", "hnsw")),
    ("prefix[128]@int8#hnsw", ("prefix", 0, 128, "", "int8", "hnsw")),
    ("prefix[64]#binary_flat", ("prefix", 0, 64, "", "float32", "binary_flat")),
])
def test_index_labels_come_from_the_view_and_parse_back(label: str, view: tuple[Any, ...]) -> None:
    from pytest_mrlcheck.views import View

    parsed = View.parse(label)
    assert (parsed.kind, parsed.start, parsed.end, parsed.name, parsed.precision, parsed.index) == view
    assert parsed.label == label and parsed.at("float16").index == view[5]


@pytest.mark.parametrize("label", ["window[0:64]#hnsw", "prefix[128]@float32#hnsw", "prefix[128]#HNSW"])
def test_labels_an_index_view_cannot_have_are_refused(label: str) -> None:
    from pytest_mrlcheck.views import View

    with pytest.raises(ValueError, match="not a view label"):
        View.parse(label)
