"""Property-based tests of the spec loader: documents of the schema in ``tests/support/spec_schema.py``,
mutated (a key omitted, null, empty, of every wrong type, huge, Unicode digits, random text, nested
garbage), and raw random text or bytes as a spec file. The only allowed outcomes: a list of
:class:`Spec`, or an error of the package's hierarchy naming the file and a line."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytest_mrlcheck.errors import MrlcheckError
from pytest_mrlcheck.spec import Spec, load_specs
from tests.support import spec_schema

DOCUMENTS = dict(spec_schema.documents())
PATHS = {kind: list(spec_schema.key_paths(doc)) for kind, doc in DOCUMENTS.items()}
SLOW = settings(settings.get_profile("mrlcheck-slow"))

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_UNICODE_DIGITS = st.text(st.characters(whitelist_categories=("Nd", "No")), min_size=1, max_size=8)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.just(""), st.integers(-(2**70), 2**70), st.sampled_from([10**100, -(10**100), 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True), _TEXT, _UNICODE_DIGITS,
    st.sampled_from(["16", "0x10", "1e9", "1_000", "-0", "8:16", "nan", "{split}", "{", "}", "{x}", "~", ".."]),
)
GARBAGE = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_TEXT, st.integers(-(2**40), 2**40), _UNICODE_DIGITS), children, max_size=4),
    ),
    max_leaves=12,
)


def _check(path: Path) -> None:
    """A list of specs, or a located error of the package: anything else fails the property."""
    outcome: list[Spec] | MrlcheckError
    try:
        outcome = load_specs(path)
    except MrlcheckError as error:
        outcome = error
    if isinstance(outcome, MrlcheckError):
        name = type(outcome).__name__
        assert getattr(outcome, "path", None) == path, f"{name} without the file: {outcome}"
        line = getattr(outcome, "line", None)
        assert isinstance(line, int) and line >= 1, f"{name} without a line: {outcome}"
    else:
        assert outcome and all(isinstance(spec, Spec) for spec in outcome)


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A full document of the schema with one to three keys omitted or replaced by garbage."""
    kind = draw(st.sampled_from(sorted(DOCUMENTS)))
    doc = DOCUMENTS[kind]
    for _ in range(draw(st.integers(1, 3))):
        paths = list(spec_schema.key_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        omit = draw(st.booleans())
        doc = spec_schema.without(doc, path) if omit else spec_schema.replaced(doc, path, draw(GARBAGE))
    return doc


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties") / "demo.mrl.yaml"


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _mutated_document_property(spec_path: Path, doc: dict[str, Any]) -> None:
    spec_path.write_text(_dump(doc), encoding="utf-8")
    _check(spec_path)


def _raw_text_property(spec_path: Path, text: str) -> None:
    spec_path.write_text(text, encoding="utf-8")
    _check(spec_path)


def _raw_bytes_property(spec_path: Path, data: bytes) -> None:
    spec_path.write_bytes(data)
    _check(spec_path)


# YAML-looking text: the loader's own syntax (anchors, tags, flow collections, keys) in random order.
_TOKENS = st.sampled_from([
    "name: a", "model:", "task:", "checks:", "views:", "kind: sts", "prefix:", "{8: 0.5}", "- ", "---", "...",
    ": ", "\n", "\n  ", "{", "}", "[", "]", ",", "&a ", "*a", "!!python/object:os.system ", "!!binary ", "'", '"',
    "16", "١٦", "0x10", "1e999", "~", "? ", "#", "\t", "\r\n", "\ufeff", "\x00", "%YAML 1.1\n", "<<: *a",
])
YAMLISH = st.lists(_TOKENS, max_size=40).map("".join)


@given(doc=mutated_documents())
def test_mutated_schema_documents(spec_path: Path, doc: dict[str, Any]) -> None:
    _mutated_document_property(spec_path, doc)


@given(text=st.one_of(YAMLISH, st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
                      st.text(string.printable, max_size=200)))
@example(text="\x1f")  # found here: a raw yaml ReaderError escaped the loader
@example(text="")  # found here: "the file holds no spec" had no line
def test_random_text_as_a_spec_file(spec_path: Path, text: str) -> None:
    _raw_text_property(spec_path, text)


@given(data=st.binary(max_size=300))
@example(data=b"\xff\xfe\x00name")  # found here: "not valid UTF-8" had no line
@example(data=b"")
def test_random_bytes_as_a_spec_file(spec_path: Path, data: bytes) -> None:
    _raw_bytes_property(spec_path, data)


@pytest.mark.slow
@SLOW
@given(doc=mutated_documents())
def test_mutated_schema_documents_many(spec_path: Path, doc: dict[str, Any]) -> None:
    _mutated_document_property(spec_path, doc)


@pytest.mark.slow
@SLOW
@given(text=YAMLISH)
def test_random_text_as_a_spec_file_many(spec_path: Path, text: str) -> None:
    _raw_text_property(spec_path, text)


@pytest.mark.slow
@SLOW
@given(data=st.binary(max_size=300))
def test_random_bytes_as_a_spec_file_many(spec_path: Path, data: bytes) -> None:
    _raw_bytes_property(spec_path, data)


def test_control_character_and_bad_utf8_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "demo.mrl.yaml"
    path.write_text("name: a\nmodel: x\x1f\n", encoding="utf-8")
    with pytest.raises(MrlcheckError) as info:
        load_specs(path)
    assert getattr(info.value, "line", None) == 2 and "control character U+001F" in str(info.value)
    path.write_bytes(b"name: a\n\ntask: \xff\n")
    with pytest.raises(MrlcheckError) as info:
        load_specs(path)
    assert getattr(info.value, "line", None) == 3 and "not valid UTF-8" in str(info.value)


def _lines(value: Any) -> Any:
    """A loaded value with the line of every mapping, key and sequence, to compare two loaders exactly."""
    from pytest_mrlcheck.yamlload import LineDict, LineList

    if isinstance(value, LineDict):
        return ("map", value.line, [(key, value.key_lines[key], _lines(item)) for key, item in value.items()])
    if isinstance(value, LineList):
        return ("seq", value.line, [_lines(item) for item in value])
    return (type(value).__name__, value)


def _both_loaders_agree(spec_path: Path, text: str) -> None:
    """libyaml's fast path gives the pure-Python loader's documents and lines, or leaves the text to it."""
    from pytest_mrlcheck import yamlload

    spec_path.write_text(text, encoding="utf-8")

    def python_only() -> Any:
        fast, yamlload._HAS_LIBYAML = yamlload._HAS_LIBYAML, False
        try:
            return yamlload.load_documents(spec_path)
        finally:
            yamlload._HAS_LIBYAML = fast

    try:
        slow: Any = [(_lines(doc), line) for doc, line in python_only()]
    except MrlcheckError as exc:
        slow = str(exc)
    try:
        fast: Any = [(_lines(doc), line) for doc, line in yamlload.load_documents(spec_path)]
    except MrlcheckError as exc:
        fast = str(exc)
    if isinstance(fast, str) and not isinstance(slow, str):  # libyaml refused a text PyYAML reads: say so
        pytest.fail(f"only the fast path refuses {text!r}: {fast}")
    assert fast == slow


@given(text=st.one_of(YAMLISH, st.builds(_dump, mutated_documents())))
@example(text="a: &x [1, 2]\nb: *x\nc: {d: 'e', f: 016}\n")
@example(text="name: a\n\x07")
def test_the_fast_loader_agrees_with_the_pure_python_one(spec_path: Path, text: str) -> None:
    _both_loaders_agree(spec_path, text)


def test_the_example_specs_load_the_same_on_both_loaders(tmp_path: Path) -> None:
    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.mrl.yaml"))
    assert examples
    for example_file in examples:
        _both_loaders_agree(tmp_path / example_file.name, example_file.read_text(encoding="utf-8"))


def test_plain_specs_take_the_libyaml_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mrlcheck import yamlload

    if not yamlload._HAS_LIBYAML:
        pytest.skip("this PyYAML is built without libyaml")

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the pure-Python loader was used")

    monkeypatch.setattr(yamlload, "_LineLoader", refused)
    example = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.mrl.yaml"))[0]
    assert yamlload.load_documents(example)
    spec = tmp_path / "tabbed.mrl.yaml"
    spec.write_text("name: a\t\n", encoding="utf-8")  # a tab: the pure-Python loader reads it
    with pytest.raises(AssertionError, match="pure-Python"):
        yamlload.load_documents(spec)


@pytest.mark.slow
@SLOW
@given(text=st.one_of(YAMLISH, st.builds(_dump, mutated_documents()),
                      st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)))
def test_the_fast_loader_agrees_with_the_pure_python_one_many(spec_path: Path, text: str) -> None:
    _both_loaders_agree(spec_path, text)
