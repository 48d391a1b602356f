"""The spec loader on bad input: every outcome is a Spec or a SpecError naming file and line.

Table-driven: every optional key of every section omitted, null and empty; sizes written twice
in any spelling; bounds; templates; export paths; alias bombs; Unicode.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_mrlcheck.errors import SpecError
from pytest_mrlcheck.spec import Spec, load_specs, parse_dim_selection
from tests.support import spec_schema
from tests.support.helpers import FAKE_SPEC


def _load(tmp_path: Path, text: str, name: str = "demo.mrl.yaml") -> list[Spec]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_specs(path)


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _error(tmp_path: Path, text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        _load(tmp_path, text)
    error = info.value
    assert error.path is not None and error.path.name == "demo.mrl.yaml", str(error)
    assert error.line is not None and error.line >= 1, str(error)
    return error


DOCUMENTS = dict(spec_schema.documents())


@pytest.mark.parametrize("kind", DOCUMENTS)
def test_every_full_document_of_the_schema_loads(tmp_path: Path, kind: str) -> None:
    (spec,) = _load(tmp_path, _dump(DOCUMENTS[kind]))
    assert spec.name == f"doc-{kind}"


_EMPTY: dict[str, Any] = {"null": None, "empty-mapping": {}, "empty-list": [], "empty-text": ""}
VARIANTS = ("omitted", *_EMPTY)
# Every key path of every document, each omitted, null, {} , [] and "": the cases of the table
# (one test per document and variant keeps pytest's per-test cost off the ~4,400 cases).
TABLE_CASES = sum(len(list(spec_schema.key_paths(doc))) for doc in DOCUMENTS.values()) * len(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", DOCUMENTS)
def test_every_key_omitted_null_or_empty_is_a_spec_or_a_located_error(
    tmp_path: Path, kind: str, variant: str
) -> None:
    doc = DOCUMENTS[kind]
    problems = []
    paths = list(spec_schema.key_paths(doc))
    assert len(paths) > 40
    for path in paths:
        mutated = spec_schema.without(doc, path) if variant == "omitted" else spec_schema.replaced(
            doc, path, _EMPTY[variant])
        text = _dump(mutated)
        optional = path not in spec_schema.REQUIRED and spec_schema.parent(mutated, path)
        try:
            _load(tmp_path, text)
        except SpecError as error:
            if variant == "omitted" and optional:
                # an optional key left out is never an error (unless it was a mapping's last entry)
                problems.append(f"{path}: omitted, but {error}")
            elif error.line is None or error.line < 1 or not error.key:
                problems.append(f"{path}: no line or key in {error}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("queries", ["", "  queries:\n", "  queries: null\n", "  queries: {}\n"])
def test_agreement_without_queries_samples_the_default(tmp_path: Path, queries: str) -> None:
    text = ("name: a\nmodel: {provider: python, callable: m:f}\ntask:\n  kind: agreement\n"
            f"  data: {{path: texts.csv}}\n{queries}checks:\n  prefix: {{8: 0.5}}\n")
    (spec,) = _load(tmp_path, text)
    assert spec.task.options["queries_count"] == 100
    assert spec.task.options["queries_seed"] == 0


SPELLINGS = [
    pytest.param("16: 0.1, \"16\": 0.99", "size 16 is given twice (first on line 4)", id="int-and-text"),
    pytest.param("16: -1.0, 0x10: 0.99", "duplicate key 16*", id="int-and-hex"),
    pytest.param("\"016\": 0.5", "expected a dimension count as the key, got str '016'", id="leading-zero-text"),
    pytest.param("016: 0.5", "'016' is ambiguous: YAML 1.1 reads it as the number 14", id="yaml-octal"),
    pytest.param("\"16 \": 0.5", "expected a dimension count as the key, got str '16 '", id="trailing-space"),
    pytest.param("16.0: 0.5", "expected a whole number as the key, got float 16.0", id="float"),
    pytest.param("true: 0.5", "expected a whole number from 1 to 65,536, got a boolean (True)", id="bool"),
    pytest.param("\"١٦\": 0.5", "expected a dimension count as the key, got str '١٦'", id="arabic-indic"),
    pytest.param("\"１６\": 0.5", "expected a dimension count as the key, got str '１６'", id="fullwidth"),
    pytest.param("\"16\": 0.5, \"١٦\": 0.5", "expected a dimension count as the key, got str '١٦'",
                 id="ascii-and-arabic-indic"),
    pytest.param("1:30: 0.5", "*ambiguous*", id="sexagesimal"),
]


@pytest.mark.parametrize("section", ["prefix", "relative"])
@pytest.mark.parametrize(("entries", "message"), SPELLINGS)
def test_a_size_key_is_one_size_in_one_spelling(tmp_path: Path, section: str, entries: str, message: str) -> None:
    text = ("model: {provider: python, callable: m:f}\ntask: {kind: sts, data: {path: p.csv}}\n"
            f"checks:\n  {section}: {{{entries}}}\n")
    error = _error(tmp_path, text)
    assert error.line in (3, 4)
    import fnmatch

    assert fnmatch.fnmatch(error.message, f"*{message}*"), error.message


def _spec_with(snippet: str) -> str:
    return ("model: {provider: python, callable: m:f}\ntask: {kind: sts, data: {path: p.csv}}\n"
            "checks:\n  prefix: {8: 0.1}\n" + snippet)


DUPLICATES = [
    pytest.param("  geometry: {isoscore: {16: 0.1, \"16\": 0.2}}\n", "size 16 is given twice", id="geometry"),
    pytest.param("  random: {dims: [8, 16, 8]}\n", "repeated sizes: 8", id="random.dims"),
    pytest.param("  server_truncation: {dims: [64, 64]}\n", "repeated sizes: 64", id="server_truncation.dims"),
    pytest.param("views: {prefix: [8, 8]}\n", "repeated sizes: 8", id="views.prefix"),
    pytest.param("views: {random: {dims: [4, 4]}}\n", "repeated sizes: 4", id="views.random.dims"),
    pytest.param("views: {dims: {16: [1], \"16\": [2]}}\n", "the name 16 is given twice", id="views.dims-names"),
    pytest.param("views: {dims: {a: [1, 1]}}\n", "repeated dimension indices: [1]", id="views.dims-list"),
    pytest.param("views: {dims: {a: \"0:8, 4:12\"}}\n", "index 4 is selected twice", id="views.dims-overlap"),
    pytest.param("views: {dims: {a: \"3, 3\"}}\n", "index 3 is selected twice", id="views.dims-repeat"),
    pytest.param("  dims: {1: 0.1, \"1\": 0.2}\nviews: {dims: {\"1\": [0]}}\n", "the name 1 is given twice",
                 id="checks.dims-names"),
    pytest.param("compare: {model: {provider: python, callable: m:g}, pairs: {16: 32, \"16\": 64}}\n",
                 "candidate size 16 is given twice", id="compare.pairs"),
    pytest.param("compare: {model: {provider: python, callable: m:g}, pairs: {\"１６\": 32}}\n",
                 "expected a dimension count as the key", id="compare.pairs-fullwidth"),
    pytest.param("views: {dims: {a: \"١:٣\"}}\n", "not an index or a start:end range", id="views.dims-unicode"),
    pytest.param("views: {dims: {a: \"1_0\"}}\n", "not an index or a start:end range", id="views.dims-underscore"),
    pytest.param("views: {dims: {a: 8:16}}\n", "'8:16' is ambiguous: YAML 1.1 reads it as the number 496",
                 id="views.dims-unquoted-range"),
]


@pytest.mark.parametrize(("snippet", "message"), DUPLICATES)
def test_every_entry_keyed_by_a_size_or_name_appears_once(tmp_path: Path, snippet: str, message: str) -> None:
    error = _error(tmp_path, _spec_with(snippet))
    assert message in error.message, error.message


BOUNDS = [
    pytest.param("  random: {dims: [8], samples: 1000000}\n", "checks.random.samples", "10,000", id="samples"),
    pytest.param("bootstrap: {resamples: 100000000}\n", "bootstrap.resamples", "100,000", id="resamples"),
    pytest.param("views: {dims: {a: \"0:3000000000\"}}\n", "views.dims.a", "65,536", id="dims-range"),
    pytest.param("views: {dims: {a: [3000000000]}}\n", "views.dims.a", "65,535", id="dims-index"),
    pytest.param("views: {windows: {width: 16, step: 100000}}\n", "views.windows.step", "65,536", id="window-step"),
    pytest.param("  segments: {width: 100000, min: 0.1}\n", "checks.segments.width", "65,536", id="segments"),
    pytest.param("  relative: {100000: 0.9}\n", "checks.relative.100000", "65,536", id="prefix-size"),
    pytest.param("  min_dims: {ratio: 0.9, max: 64, step: 99999999}\n", "checks.min_dims.step", "65,536",
                 id="min-dims-step"),
    pytest.param("views: {prefix: [" + ", ".join(map(str, range(1, 1100))) + "]}\n", "views.prefix", "1,024",
                 id="list-length"),
    pytest.param("  random: {dims: [8], seed: 99999999999}\n", "checks.random.seed", "4,294,967,295", id="seed"),
    pytest.param("  prefix: {8: 1" + "0" * 400 + "}\n", "checks.prefix.8", "a number of 401 digits", id="huge-int"),
]


@pytest.mark.parametrize(("snippet", "key", "message"), BOUNDS)
def test_numbers_that_size_work_have_upper_bounds(tmp_path: Path, snippet: str, key: str, message: str) -> None:
    text = _spec_with(snippet).replace("  prefix: {8: 0.1}\n  prefix:", "  prefix:")
    error = _error(tmp_path, text)
    assert error.key == key, str(error)
    assert message in error.message, error.message


@pytest.mark.parametrize(("where", "snippet"), [("task.data.limit", "limit: 99999999999"),
                                                 ("task.queries.count", "queries: {count: 10000000}")])
def test_task_bounds(tmp_path: Path, where: str, snippet: str) -> None:
    data = "{path: t.csv, limit: 99999999999}" if "limit" in snippet else "{path: t.csv}"
    extra = "" if "limit" in snippet else f"  {snippet}\n"
    text = (f"model: {{provider: python, callable: m:f}}\ntask:\n  kind: agreement\n  data: {data}\n{extra}"
            "checks: {prefix: {8: 0.1}}\n")
    assert _error(tmp_path, text).key == where


def test_a_dimension_selection_is_bounded_before_it_is_expanded() -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match="beyond index 65,535"):
        parse_dim_selection("0:3000000000")
    assert time.perf_counter() - start < 0.1
    assert parse_dim_selection("0:3, 7") == (0, 1, 2, 7)
    assert parse_dim_selection(" 65535 ") == (65535,)


TEMPLATES = [
    pytest.param("{title} {text}}", "Single '}' encountered", id="stray-close"),
    pytest.param("{title {text}", "unexpected '{' in field name", id="stray-open"),
    pytest.param("{title} {body}", "unknown field '{body}'", id="unknown-field"),
    pytest.param("{_id}: {text}", "unknown field '{_id}'", id="id-field"),
    pytest.param("{text.upper}", "unknown field", id="attribute"),
    pytest.param("{text!r}", "unknown field", id="conversion"),
    pytest.param("{text:d}", "bad template", id="format-spec"),
    pytest.param("{title}", "must contain {text}", id="no-text"),
    pytest.param("{0}", "unknown field", id="positional"),
]


@pytest.mark.parametrize("source", ["path: beir", "mteb: SciFact"])
@pytest.mark.parametrize(("template", "message"), TEMPLATES)
def test_the_document_template_is_checked_at_collection(
    tmp_path: Path, source: str, template: str, message: str
) -> None:
    quoted = template.replace("'", "''")
    text = (f"model: {{provider: python, callable: m:f}}\ntask:\n  kind: retrieval\n  data:\n    {source}\n"
            f"    document: '{quoted}'\nchecks: {{prefix: {{8: 0.1}}}}\n")
    error = _error(tmp_path, text)
    assert error.key == "task.data.document" and error.line == 6, str(error)
    assert message in error.message, error.message
    assert "{title}" in (error.hint or "")


def test_good_document_templates(tmp_path: Path) -> None:
    for template, expected in (("{{{title}}} {text}", "{{{title}}} {text}"), ("{text:.500}", "{text:.500}")):
        text = (f"model: {{provider: python, callable: m:f}}\ntask:\n  kind: retrieval\n  data:\n    path: b\n"
                f"    document: '{template}'\nchecks: {{prefix: {{8: 0.1}}}}\n")
        (spec,) = _load(tmp_path, text)
        assert spec.task.data.document == expected


def _informed(export: str) -> str:
    return ("model: {provider: python, callable: m:f}\ntask:\n  kind: sts\n"
            "  data: {path: 'd-{split}.csv', split: test}\n"
            f"  informed: {{dims: 8, select_split: validation, export: '{export}'}}\nchecks: {{prefix: {{8: 0.1}}}}\n")


def test_an_export_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    for export in ("out", "out/"):
        error = _error(tmp_path, _informed(export))
        assert error.key == "task.informed.export" and "is a folder" in error.message


def test_an_export_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x", encoding="utf-8")
    error = _error(tmp_path, _informed("plain.txt/deeper/dims.json"))
    assert error.key == "task.informed.export" and "plain.txt is not a folder" in error.message
    (spec,) = _load(tmp_path, _informed("new/dims.json"))
    assert spec.task.informed is not None and spec.task.informed.export == tmp_path / "new" / "dims.json"


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines)


@pytest.mark.parametrize("where", ["kind", "provider", "metric"])
def test_an_alias_bomb_is_refused_fast_and_small(tmp_path: Path, where: str) -> None:
    anchors = _bomb().replace("\n", "\n  ")
    value = {"kind": "task:\n  kind: *a8\n  data: {path: p.csv}\n",
             "provider": "task: {kind: sts, data: {path: p.csv}}\n",
             "metric": "task:\n  kind: sts\n  data: {path: p.csv}\n  metric: *a8\n"}[where]
    model = "model:\n  provider: *a8\n" if where == "provider" else "model: {provider: python, callable: m:f}\n"
    text = f"x-anchors:\n  {anchors}\n{model}{value}checks: {{prefix: {{8: 0.1}}}}\n"
    assert len(_bomb().encode()) < 700
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    error = _error(tmp_path, text)
    assert time.perf_counter() - start < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    assert "expands to more than 100,000 YAML nodes" in error.message
    assert error.line is not None and 2 <= error.line <= 10


def test_an_alias_used_a_few_times_is_fine(tmp_path: Path) -> None:
    text = ("base: &m {provider: python, callable: m:f}\n").replace("base", "x")
    doc = ("model: &m {provider: python, callable: m:f}\ntask: {kind: sts, data: {path: p.csv}}\n"
           "checks: {prefix: {8: 0.1}}\ncompare: {model: *m}\n")
    assert text
    (spec,) = _load(tmp_path, doc)
    assert spec.compare is not None and spec.compare.model.callable == "m:f"


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("a: &a [*a]\n", "refers to a value that contains it", id="recursive-alias"),
    pytest.param("a: " + "[" * 1000 + "]" * 1000 + "\n", "nested more than 200 levels", id="deep-list"),
    pytest.param("a: " + "{b: " * 500 + "1" + "}" * 500 + "\n", "nested more than 200 levels", id="deep-map"),
    pytest.param("name: \"\\ud800\"\n", "unpaired surrogate", id="surrogate"),
    pytest.param("name: \"a\\0b\"\n", "NUL character", id="nul"),
])
def test_hostile_yaml_is_a_located_error(tmp_path: Path, text: str, message: str) -> None:
    assert message in _error(tmp_path, text).message


def test_a_wrong_type_is_never_formatted_in_full(tmp_path: Path) -> None:
    text = FAKE_SPEC.replace("kind: sts", "kind: " + "x" * 100_000)
    error = _error(tmp_path, text)
    assert len(str(error)) < 600


UNICODE_TEXTS = ["Grüße", "数据", "עברית", "🙂 emoji", "e\u0301", "\u200b", "Ω≈ç√"]


@pytest.mark.parametrize("text", UNICODE_TEXTS)
def test_unicode_in_every_text_value(tmp_path: Path, text: str) -> None:
    doc = spec_schema.replaced(DOCUMENTS["sts"], ("model", "prompts", "query"), text)
    doc = spec_schema.replaced(doc, ("task", "data", "columns", "text1"), text)
    doc = spec_schema.replaced(doc, ("checks", "segments", "xfail"), text)
    doc = spec_schema.replaced(doc, ("baseline", "path"), f"baselines/{text}.json")
    (spec,) = _load(tmp_path, _dump(doc), name=f"{text}.mrl.yaml")
    assert spec.model.prompts.query == text
    assert spec.task.data.columns["text1"] == text
    assert spec.checks.segments is not None and spec.checks.segments.xfail == text
    doc = spec_schema.replaced(doc, ("name",), text)
    error = _error_named(tmp_path, _dump(doc), f"{text}.mrl.yaml")
    assert error.key == "name"


def _error_named(tmp_path: Path, text: str, name: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        _load(tmp_path, text, name=name)
    assert info.value.line is not None
    return info.value


def test_a_unicode_file_name_without_a_name_key_says_where_the_name_comes_from(tmp_path: Path) -> None:
    doc = spec_schema.without(DOCUMENTS["sts"], ("name",))
    error = _error_named(tmp_path, _dump(doc), "données.mrl.yaml")
    assert "données" in error.message and "add name:" in (error.hint or "")
