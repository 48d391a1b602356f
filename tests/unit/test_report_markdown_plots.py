"""Markdown report, step-summary append and PNG plots, all from hand-built JSON-report dicts."""

from __future__ import annotations

import copy
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_mrlcheck.report.markdown import append_step_summary, render_markdown
from pytest_mrlcheck.report.plots import plot_name, write_plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _row(view: str, score: float | None, bound: str, ok: bool, limit: float | None = None) -> dict[str, Any]:
    """A verdict row as checks write it into the report: tables and plots read bounds from these."""
    return {"view": view, "score": score, "bound": bound, "gap": None, "ok": ok, "note": "", "baseline": None,
            "limit": limit}


def _check(spec_id: str, name: str, kind: str, outcome: str, value: Any, bound: Any, summary: Any,
           rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "item": f"{spec_id}::{name}",
        "name": name,
        "kind": kind,
        "outcome": outcome,
        "value": value,
        "bound": bound,
        "summary": summary,
        "rows": rows or [],
    }


def tiny_spec() -> dict[str, Any]:
    """64 dims; prefix[32] misses its relative bound, one of two windows is below the segment minimum."""
    sid = "tiny.mrl.yaml::tiny"
    return {
        "id": sid,
        "name": "tiny",
        "file": "/specs/tiny.mrl.yaml",
        "model": {"provider": "python", "name": "acme/embed|v2", "revision": None, "normalize": True},
        "task": {
            "kind": "sts",
            "data": "/data/pairs.csv",
            "split": None,
            "units": 10,
            "texts": 20,
            "dataset_fingerprint": "abc",
        },
        "metric": "spearman",
        "similarity": "cosine",
        "full_dim": 64,
        "full_score": 0.8,
        "scores": {
            "prefix[16]": 0.6,
            "prefix[32]": 0.7,
            "prefix[64]": 0.8,
            "window[0:32]": 0.7,
            "window[32:64]": 0.45,
            "random[16]": {
                "mean": 0.55,
                "sd": 0.02,
                "min": 0.5,
                "max": 0.61,
                "samples": 8,
                "prefix": 0.6,
                "prefix_percentile": 87.5,
            },
        },
        "sweep": {},
        "layout": {"prefixes": [16, 32, 64], "windows": [[0, 32], [32, 64]], "random": [16], "dims": {}},
        "encoding": {"encoded": 20, "cache_hits": 0},
        "checks": [
            _check(sid, "prefix[16]", "prefix", "passed", 0.6, 0.5, "prefix[16] scores 0.6000 ≥ 0.5000",
                   [_row("prefix[16]", 0.6, "≥ 0.5000", True, 0.5)]),
            _check(
                sid,
                "relative[32]",
                "relative",
                "failed",
                0.875,
                0.9,
                "prefix[32] keeps 87.5% of the full score 0.8000; at least 90.0% (0.7200) is required",
                [_row("prefix[32]", 0.7, "≥ 90.0% of full (0.7200)", False, 0.72)],
            ),
            _check(
                sid,
                "segments",
                "segments",
                "failed",
                0.45,
                0.5,
                "1 of 2 windows of 32 dims score below 0.5000 (lowest window[32:64] 0.4500)",
                [_row("window[0:32]", 0.7, "≥ 0.5000", True, 0.5), _row("window[32:64]", 0.45, "≥ 0.5000", False, 0.5)],
            ),
            _check(sid, "random[16]", "random", "xfailed", 0.05, 0.1, "a | b",
                   [_row("prefix[16]", 0.6, "", False), _row("random[16]", 0.55, "prefix − mean ≥ +0.1000", False)]),
        ],
        "error": None,
    }


def passing_spec() -> dict[str, Any]:
    spec = copy.deepcopy(tiny_spec())
    sid = "ok.mrl.yaml::ok"
    spec.update(
        id=sid,
        name="ok",
        scores={"prefix[16]": 0.6, "prefix[64]": 0.8},
        sweep={},
        layout={"prefixes": [16, 64], "windows": [], "random": [], "dims": {}},
        checks=[_check(sid, "prefix[16]", "prefix", "passed", 0.6, 0.5, "fine",
                       [_row("prefix[16]", 0.6, "≥ 0.5000", True)])],
    )
    return spec


def error_spec() -> dict[str, Any]:
    sid = "broken.mrl.yaml::broken"
    return {
        "id": sid,
        "checks": [_check(sid, "prefix[16]", "prefix", "failed", None, None, None)],
        "error": "broken.mrl.yaml: checks.prefix.512 asks for 512 dimensions but the model gives 64\n"
        "  hint: use sizes up to 64 ```",
    }


def report_of(*specs: dict[str, Any]) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    for spec in specs:
        for check in spec["checks"]:
            outcomes[check["outcome"]] = outcomes.get(check["outcome"], 0) + 1
    return {
        "schema": "pytest-mrlcheck/report/1",
        "plugin_version": "0.1.0",
        "created": "2024-05-01T12:00:00+00:00",
        "specs": list(specs),
        "totals": {
            "specs": len(specs),
            "checks": sum(outcomes.values()),
            **dict(sorted(outcomes.items())),
            "encoded": 20,
            "cache_hits": 5,
        },
    }


EXPECTED_TINY = """\
## ❌ mrlcheck: 2 failed, 1 passed, 1 xfailed

1 spec · 4 checks · 20 texts encoded, 5 from cache · pytest-mrlcheck 0.1.0 · 2024-05-01T12:00:00+00:00

### ❌ tiny

{description}

`tiny.mrl.yaml::tiny` · 2/4 checks ok · 20 texts encoded, 0 from cache

| view | score | of full | bound | status |
|---|---:|---:|---|---|
| `prefix[16]` | 0.6000 | 75.0% | ≥ 0.5000 | ✅ pass |
| `prefix[32]` | 0.7000 | 87.5% | ≥ 90.0% of full (0.7200) | ❌ FAIL |
| `prefix[64]` | 0.8000 | 100.0% |  |  |
| `random[16]` | 0.5500 ± 0.0200 (prefix beats 88%) | 68.8% | prefix − mean ≥ +0.1000 | ⚠️ xfail |
| `window[0:32]` | 0.7000 | 87.5% | ≥ 0.5000 | ✅ pass |
| `window[32:64]` | 0.4500 | 56.2% | ≥ 0.5000 | ❌ FAIL |

- ✅ `prefix[16]`: prefix\\[16\\] scores 0.6000 ≥ 0.5000
- ❌ `relative[32]`: prefix\\[32\\] keeps 87.5% of the full score 0.8000; at least 90.0% (0.7200) is required
- ❌ `segments`: 1 of 2 windows of 32 dims score below 0.5000 (lowest window\\[32:64\\] 0.4500)
- ⚠️ `random[16]` *(expected failure)*: a \\| b
""".format(
    description="**acme/embed\\|v2** (python) · sts on `pairs.csv` · spearman of cosine similarity · "
    "10 pairs, 20 texts · 64 dims · full score **0.8000**"
)


def test_markdown_exact_for_a_small_report() -> None:
    assert render_markdown(report_of(tiny_spec())) == EXPECTED_TINY


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def _table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_pipes_in_text_never_break_a_table_row() -> None:
    spec = tiny_spec()
    spec["layout"]["dims"] = {"a|b": 3}
    spec["scores"]["dims[a|b]"] = 0.5
    spec["checks"].append(_check(spec["id"], "dims[a|b]", "dims", "failed", 0.5, 0.6, "x | y | z",
                                 [_row("dims[a|b]", 0.5, "≥ 0.6000", False)]))
    markdown = render_markdown(report_of(spec))
    rows = _table_lines(markdown)
    assert rows and all(_unescaped_pipes(row) == 6 for row in rows), rows
    assert "| `dims[a\\|b]` | 0.5000 | 62.5% | ≥ 0.6000 | ❌ FAIL |" in rows
    assert "- ❌ `dims[a|b]`: x \\| y \\| z" in markdown  # outside tables a code span keeps its pipe


def test_rendered_html_shows_the_text_exactly() -> None:
    markdown_it = pytest.importorskip("markdown_it")  # a dependency of rich
    spec = tiny_spec()
    spec["layout"]["dims"] = {"a|b": 3}
    spec["scores"]["dims[a|b]"] = 0.5
    spec["checks"].append(_check(spec["id"], "dims[a|b]", "dims", "failed", 0.5, 0.6, "x | y `z` *w* <b>"))
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(render_markdown(report_of(spec)))
    assert html.count("<tr>") == 1 + 7  # header + 3 prefixes, random, 2 windows, dims
    assert "<td><code>dims[a|b]</code></td>" in html
    assert "<li>❌ <code>dims[a|b]</code>: x | y `z` *w* &lt;b&gt;</li>" in html
    assert "<strong>acme/embed|v2</strong>" in html


def test_markup_in_names_is_escaped() -> None:
    spec = tiny_spec()
    spec["name"] = "*bold* _it_ <b>x</b> [l](u) `c`"
    markdown = render_markdown(report_of(spec))
    assert "### ❌ \\*bold\\* \\_it\\_ \\<b\\>x\\</b\\> \\[l\\](u) \\`c\\`" in markdown


def test_failing_and_errored_specs_come_first_and_errors_are_shown() -> None:
    markdown = render_markdown(report_of(passing_spec(), tiny_spec(), error_spec()))
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert headings == ["### ❌ tiny", "### ❌ broken.mrl.yaml::broken", "### ✅ ok"]
    assert "**1 not evaluated**" in markdown.splitlines()[2]
    section = markdown.split("### ❌ broken.mrl.yaml::broken")[1].split("### ")[0]
    assert "**not evaluated**" in section
    # the error sits in a fence longer than any backtick run inside it
    assert "````text\nbroken.mrl.yaml: checks.prefix.512 asks for 512 dimensions" in section
    assert "  hint: use sizes up to 64 ```\n````" in section
    assert "- ❌ `prefix[16]`: not evaluated" in section
    assert "| view |" not in section


def windows_spec(n: int = 40, failing: tuple[int, ...] = (17, 18, 30)) -> dict[str, Any]:
    spec = tiny_spec()
    spec["full_dim"] = 8 * n + 8
    windows = [[8 * i, 8 * i + 16] for i in range(n)]
    spec["layout"]["windows"] = windows
    for key in [key for key in spec["scores"] if key.startswith("window[")]:
        del spec["scores"][key]
    for i, (start, end) in enumerate(windows):
        score = 0.6 + 0.003 * ((i * 7) % n)  # distinct, unordered
        spec["scores"][f"window[{start}:{end}]"] = 0.4 + 0.001 * i if i in failing else score
    spec["checks"][2] = _check(
        spec["id"],
        "segments",
        "segments",
        "failed",
        0.4,
        0.5,
        f"{len(failing)} of {n} windows of 16 dims score below 0.5000",
        [_row(f"window[{start}:{end}]", spec["scores"][f"window[{start}:{end}]"], "≥ 0.5000", i not in failing, 0.5)
         for i, (start, end) in enumerate(windows)],
    )
    return spec


def _group(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return match.group(1)


def test_many_windows_are_condensed_keeping_extremes_and_failures() -> None:
    spec = windows_spec()
    markdown = render_markdown(report_of(spec))
    rows = _table_lines(markdown)
    window_rows = [row for row in rows if row.startswith("| `window[")]
    gap_rows = [row for row in rows if row.startswith("| *⋯ ")]
    shown = [_group(r"window\[(\d+):", row) for row in window_rows]
    assert len(window_rows) < 40 / 2
    assert [int(s) for s in shown] == sorted(int(s) for s in shown)  # still in start order
    scores = {label: v for label, v in spec["scores"].items() if label.startswith("window[")}
    ordered = sorted(scores, key=scores.__getitem__)
    must = {*ordered[:3], *ordered[-3:], "window[136:152]", "window[144:160]", "window[240:256]"}
    assert {f"window[{s}:{int(s) + 16}]" for s in shown} >= must
    assert sum(1 for row in window_rows if "❌ FAIL" in row) == 3
    hidden = sum(int(_group(r"⋯ (\d+) more", row)) for row in gap_rows)
    assert hidden + len(window_rows) == 40
    assert all(_unescaped_pipes(row) == 6 for row in rows)
    # a handful of windows is listed in full
    assert (
        len([r for r in _table_lines(render_markdown(report_of(windows_spec(10, (3,))))) if r.startswith("| `window[")])
        == 10
    )


def test_step_summary_is_appended_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n", encoding="utf-8")
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    assert append_step_summary("## first\n", env=env) == target
    assert append_step_summary("## second", env=env) == target
    assert target.read_text(encoding="utf-8") == "# earlier step\n\n## first\n\n## second\n"


def test_step_summary_without_the_variable_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert append_step_summary("## x\n", env={}) is None
    assert append_step_summary("## x\n", env={"GITHUB_STEP_SUMMARY": ""}) is None
    assert list(tmp_path.iterdir()) == []


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert (length, chunk) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plots_one_png_per_evaluated_spec(tmp_path: Path) -> None:
    with_sweep = windows_spec()
    with_sweep["sweep"] = {str(k): 0.5 + k / 1000 for k in range(8, 65, 8)}
    with_sweep["checks"].append(_check(with_sweep["id"], "min_dims", "min_dims", "passed", 24.0, 64.0, "ok"))
    report = report_of(tiny_spec(), error_spec(), passing_spec())
    report["specs"].append({**with_sweep, "id": "sub/dir/w.mrl.yaml::w"})
    out = tmp_path / "plots"
    paths = write_plots(report, out)
    assert [p.name for p in paths] == [
        "tiny.mrl.yaml_tiny.png",
        "ok.mrl.yaml_ok.png",
        "sub_dir_w.mrl.yaml_w.png",
    ]
    assert sorted(out.iterdir()) == sorted(paths)
    sizes = [_png_size(p) for p in paths]
    assert sizes[0][0] > sizes[1][0]  # the window panel makes the figure wider
    assert sizes[0][1] == sizes[1][1]
    for path, (width, height) in zip(paths, sizes, strict=True):
        assert 600 <= width <= 2400 and 400 <= height <= 1200
        assert path.stat().st_size > 20_000  # a drawn figure, not an empty canvas


def test_an_errored_spec_gets_no_plot_and_no_crash(tmp_path: Path) -> None:
    assert write_plots(report_of(error_spec()), tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


def test_plot_file_names_are_safe_and_distinct(tmp_path: Path) -> None:
    assert plot_name("../../etc/passwd") == "etc_passwd.png"
    assert plot_name(":::") == "spec.png"
    one, two = tiny_spec(), tiny_spec()
    one["id"], two["id"] = "a b::c", "a/b::c"  # same slug
    paths = write_plots(report_of(one, two), tmp_path)
    assert len({p.name for p in paths}) == 2
    assert all(p.parent == tmp_path and re.fullmatch(r"[A-Za-z0-9._-]+\.png", p.name) for p in paths)


def test_importing_the_plots_module_does_not_import_matplotlib() -> None:
    code = "import sys, pytest_mrlcheck.report.plots; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- plots of the newer report fields: intervals, baseline/compare, informed, funnel, splits, geometry


def _geometry_values(k: int, outliers: list[int]) -> dict[str, Any]:
    return {
        "isoscore": 1.0 - k / 100,
        "uniformity": -3.0 - k / 50,
        "mean_abs_correlation": 0.05 + k / 1000,
        "effective_rank": 0.9 * k,
        "participation_ratio": 0.7 * k,
        "outliers": outliers,
    }


def rich_spec() -> dict[str, Any]:
    """tiny_spec with every newer field: 3 splits, intervals, compare, informed, funnel, geometry."""
    spec = windows_spec(n=6, failing=(4,))  # 56 dims, windows of 16 every 8
    sid = spec["id"]
    spec["task"]["split"] = "test"
    prefixes = spec["layout"]["prefixes"]
    windows = [f"window[{s}:{e}]" for s, e in spec["layout"]["windows"]]
    spec["intervals"] = {
        label: {"low": spec["scores"][label] - 0.05, "high": spec["scores"][label] + 0.04, "confidence": 0.9}
        for label in [*(f"prefix[{k}]" for k in prefixes), *windows]
    }
    spec["splits"] = {
        split: {label: spec["scores"][label] + shift for label in [*(f"prefix[{k}]" for k in prefixes), *windows]}
        for split, shift in (("train", -0.02), ("dev", 0.03), ("test", 0.0))
    }
    spec["split_correlations"] = {"train~dev": 0.87, "train~test": 0.81, "dev~test": 0.74}
    spec["informed"] = {
        "dims": 32,
        "chosen": list(range(32)),
        "score": 0.74,
        "prefix": 0.7,
        "select_split": "dev",
        "eval_split": "test",
        "method": "greedy",
    }
    spec["layout"]["informed"] = [32]
    spec["scores"]["informed[32]"] = 0.74
    spec["funnel"] = {"shortlist_dims": 16, "shortlist": 50, "rerank_dims": 64, "score": 0.77}
    spec["cost"] = {"16": {"bytes_per_vector": {"float32": 64}, "index_bytes": {"float32": 640}}}
    spec["server_truncation"] = {}
    spec["geometry"] = {str(k): _geometry_values(k, [5] if k == 64 else []) for k in (16, 32, 64)}
    spec["checks"] += [
        {
            **_check(sid, "compare[16]", "compare", "failed", -0.1, -0.05, "acme/embed|v2 vs acme/ref: 1 of 1 worse"),
            "rows": [
                {
                    "view": "prefix[16]",
                    "score": 0.6,
                    "bound": "",
                    "gap": -0.05,
                    "ok": False,
                    "note": "",
                    "baseline": 0.7,
                }
            ],
        },
        {
            **_check(sid, "compare[32]", "compare", "passed", 0.01, -0.05, "acme/embed|v2 vs acme/ref: none worse"),
            "rows": [{"view": "prefix[32] vs prefix[64]", "score": 0.7, "ok": True, "baseline": 0.69}],
        },
        {
            **_check(sid, "geometry[isoscore]", "geometry", "failed", None, None, "isoscore misses"),
            "rows": [
                {"view": "prefix[16]", "score": 0.84, "bound": "≥ 0.5", "ok": True, "limit": 0.5},
                {"view": "prefix[64]", "score": 0.36, "bound": "≥ 0.4", "ok": False, "limit": 0.4},
            ],
        },
        {
            **_check(sid, "geometry[outliers]", "geometry", "failed", None, None, "outliers misses"),
            "rows": [{"view": "prefix[64]", "score": 1.0, "bound": "≤ 0", "ok": False, "note": "outlier dims [5]",
                      "limit": 0}],
        },
    ]
    return spec


def _legend_texts(figure: Any) -> list[str]:
    return [
        text.get_text()
        for ax in figure.axes
        if (legend := ax.get_legend()) is not None
        for text in [*legend.get_texts(), legend.get_title()]
    ]


def test_every_new_field_is_drawn_in_three_panels(tmp_path: Path) -> None:
    from pytest_mrlcheck.report.plots import spec_figure

    spec = rich_spec()
    figure = spec_figure(spec)
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert titles[:3] == [
        "score vs truncation size",
        "sliding windows per data split",
        "embedding geometry by prefix size",
    ]
    assert len(figure.axes) == 4  # the geometry panel's right (uniformity) axis
    legends = "\n".join(_legend_texts(figure))
    for expected in (
        "90% bootstrap interval",
        "reference acme/ref (worst Δ -0.1000)",
        "best 32 dims (chosen on dev): 0.7400",
        "funnel: top 50 by 16 dims, reranked by 64: 0.7700",
        "prefix score on train",
        "test (evaluated)",
        "train",
        "dev",
        "correlation of the window maps: train~dev r = 0.87, train~test r = 0.81, dev~test r = 0.74",
        "IsoScore",
        "uniformity loss, right axis",
        "mean |corr|",
        "bound (missed)",
        "outlier dims over the check's limit",
    ):
        assert expected in legends, expected
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert "Δ -0.1000" in texts  # the failing compare row
    assert "dim 5" in texts  # the outlier annotated at the size where it appears
    assert "vs reference acme/ref" in str(figure.get_suptitle())
    assert "acme/embed|v2" in str(figure.get_suptitle()) and "spearman" in str(figure.get_suptitle())
    for ax in figure.axes[:3]:
        assert ax.get_xlabel() and ax.get_ylabel()

    widths = [spec_figure(s).get_size_inches()[0] for s in (passing_spec(), tiny_spec(), spec)]
    assert widths == sorted(widths) and len(set(widths)) == 3  # the layout follows the panel count

    (path,) = write_plots(report_of(spec), tmp_path)
    width, height = _png_size(path)
    assert width == round(widths[2] * 110) and 1900 <= width <= 2400 and 400 <= height <= 1200
    assert path.stat().st_size > 60_000


def test_a_spec_with_only_some_of_the_new_fields_still_renders(tmp_path: Path) -> None:
    from pytest_mrlcheck.report.plots import spec_figure

    # what a plain report carries: every field, empty
    plain = passing_spec()
    plain.update(intervals={}, splits={}, split_correlations={}, informed=None, funnel=None, cost={}, geometry={})
    plain["server_truncation"] = {}
    assert len(spec_figure(plain).axes) == 1

    geometry_only = passing_spec()  # no windows: prefix and geometry panels
    geometry_only["geometry"] = {"16": _geometry_values(16, []), "64": _geometry_values(64, [3, 9, 12, 40, 41])}
    figure = spec_figure(geometry_only)
    assert [ax.get_title(loc="left") for ax in figure.axes][:2] == [
        "score vs truncation size",
        "embedding geometry by prefix size",
    ]
    assert "dims 3, 9, 12 +2" in [t.get_text() for t in figure.axes[1].texts]

    partial = rich_spec()
    partial["split_correlations"] = {}  # splits without correlations
    partial["splits"]["train"] = {"prefix[16]": 0.5}  # a split without windows
    partial["informed"] = {"dims": 32, "score": 0.74}  # no split named
    partial["funnel"] = {"shortlist_dims": 16, "score": None}  # no funnel score: no marker
    partial["intervals"] = {"prefix[16]": {"low": 0.55, "high": 0.65}}  # one interval, no confidence
    partial["checks"].append(
        {**_check(partial["id"], "baseline", "baseline", "passed", 0.0, -0.005, "fine"), "rows": [{"view": "x"}]}
    )
    legends = "\n".join(_legend_texts(spec_figure(partial)))
    assert "best 32 dims: 0.7400" in legends
    assert "funnel" not in legends and "correlation of the window maps" not in legends
    assert "95% bootstrap interval" in legends

    recorded = windows_spec(n=6, failing=())  # a baseline check with prefix and window rows
    recorded["checks"].append(
        {
            **_check(recorded["id"], "baseline", "baseline", "passed", 0.0, -0.005, "fine"),
            "rows": [
                {"view": label, "score": value, "ok": True, "baseline": value - 0.001}
                for label, value in recorded["scores"].items()
                if isinstance(value, float)
            ],
        }
    )
    assert sum("baseline (recorded)" in text for text in _legend_texts(spec_figure(recorded))) == 2

    paths = write_plots(report_of(geometry_only, partial), tmp_path)  # drawn: matplotlib would warn here
    assert len(paths) == 2
    for path in paths:
        width, height = _png_size(path)
        assert 600 <= width <= 2400 and 400 <= height <= 1200
        assert path.stat().st_size > 20_000


def test_null_geometry_values_do_not_crash(tmp_path: Path) -> None:
    from pytest_mrlcheck.report.plots import spec_figure

    spec = passing_spec()
    spec["geometry"] = {
        "16": dict.fromkeys(("isoscore", "uniformity", "mean_abs_correlation", "effective_rank"), None),
        "64": {**_geometry_values(64, []), "isoscore": None, "outliers": None},
    }
    figure = spec_figure(spec)
    assert "IsoScore" not in "\n".join(_legend_texts(figure))  # no defined value: no curve
    assert "mean |corr|" in "\n".join(_legend_texts(figure))

    undefined = passing_spec()
    undefined["geometry"] = {"16": {"isoscore": None, "uniformity": None, "outliers": []}, "full": {"isoscore": 1}}
    figure = spec_figure(undefined)
    assert "no geometry metric is defined at these sizes" in [t.get_text() for t in figure.axes[1].texts]
    paths = write_plots(report_of(spec, undefined), tmp_path)
    assert len(paths) == 2
    assert all(_png_size(path)[0] == _png_size(paths[0])[0] > 1000 for path in paths)  # two panels each


def test_plotted_bounds_come_from_the_verdict_rows() -> None:
    """Bound markers and the segments line are drawn where the rows' numeric limits say, not parsed from text."""
    from pytest_mrlcheck.report.plots import spec_figure

    spec = tiny_spec()
    legends = "\n".join(_legend_texts(spec_figure(spec)))
    for expected in ("minimum (met)", "relative minimum (missed)", "segments minimum 0.5000", "1 below the minimum"):
        assert expected in legends, expected
    prefix_ax = spec_figure(spec).axes[0]
    relative = [line for line in prefix_ax.get_lines() if line.get_label() == "relative minimum (missed)"]
    assert [tuple(line.get_xydata()[0]) for line in relative] == [(32.0, 0.72)]  # the row's limit, not bound × full
    for check in spec["checks"]:
        check["summary"] = "text the plots must not need"  # rows alone carry what is drawn
        for row in check["rows"]:
            row["bound"] = "?"
    assert "\n".join(_legend_texts(spec_figure(spec))) == legends
    no_limits = tiny_spec()
    for check in no_limits["checks"]:
        for row in check["rows"]:
            row["limit"] = None
    assert "minimum" not in "\n".join(_legend_texts(spec_figure(no_limits)))
