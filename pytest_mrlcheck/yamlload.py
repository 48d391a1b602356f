"""Safe YAML loading that remembers where every mapping and key came from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError

# Nodes a document may hold once every alias is expanded: far above any real spec, far below
# what a "billion laughs" document would need to exhaust memory when its values are walked.
MAX_EXPANDED_NODES = 100_000
# Deeper nesting than this is refused (PyYAML's composer recurses once per level).
MAX_DEPTH = 200
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class LineDict(dict[Any, Any]):
    """A mapping from YAML that knows its own line and the line of each key (1-based).

    Built in code (an empty default for an omitted section), it is a complete object too:
    ``LineDict(line=n)`` has no keys, and every ``line_of`` answers ``n``.
    """

    line: int
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, line: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.key_lines = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML that knows its line (1-based)."""

    line: int

    def __init__(self, *args: Any, line: int = 0) -> None:
        super().__init__(*args)
        self.line = line


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry line numbers; duplicate keys are errors."""

    source: Path


_UNUSUAL = re.compile("[^\n\r\x20-\x7e\u00a0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
"""Characters whose reading libyaml and PyYAML's reader may differ on (tabs, controls, BOMs, astral planes):
a text holding one goes to the pure-Python loader (``tests/unit/test_spec_properties.py`` compares)."""

_HAS_LIBYAML = hasattr(yaml, "CSafeLoader")
_FastBase: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FastLineLoader(_FastBase):  # type: ignore[misc]  # libyaml's parser when PyYAML has it
    """The same loader on libyaml's parser: about 10 times faster; its errors are not shown (see below)."""

    source: Path


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict(line=node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise SpecError(
                "a mapping key must be a plain value",
                path=loader.source,
                line=key_node.start_mark.line + 1,
            ) from None
        if key in result:
            raise SpecError(
                f"duplicate key {key!r} (first on line {result.key_lines[key]})",
                path=loader.source,
                line=key_node.start_mark.line + 1,
                hint="YAML keeps only the last of duplicate keys; remove one of them",
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    return LineList((loader.construct_object(child, deep=True) for child in node.value),
                    line=node.start_mark.line + 1)


def _construct_str(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    value = loader.construct_scalar(node)
    assert isinstance(value, str)
    if _BAD_TEXT.search(value):
        raise SpecError(
            "a text holds a NUL character or an unpaired surrogate escape (\\uD800-\\uDFFF)",
            path=loader.source,
            line=node.start_mark.line + 1,
            hint="texts must be valid Unicode: write the character itself or a \\U escape of a real code point",
        )
    return value


_OCTAL_OR_SEXAGESIMAL = re.compile(r"^[-+]?(0[0-7_]+|[0-9][0-9_]*(:[0-5]?[0-9])+)$")


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if _OCTAL_OR_SEXAGESIMAL.match(text):
        raise SpecError(
            f"{text!r} is ambiguous: YAML 1.1 reads it as the number "
            f"{yaml.SafeLoader.construct_yaml_int(loader, node)}",
            path=loader.source,
            line=node.start_mark.line + 1,
            hint="write the number in plain decimal without leading zeros (16, not 016), or quote a text",
        )
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    assert isinstance(value, int)
    return value


for _loader in (_LineLoader, _FastLineLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    _loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
    _loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _check_size(path: Path, root: yaml.Node) -> None:
    """Refuse documents whose aliases expand beyond :data:`MAX_EXPANDED_NODES` nodes.

    Counts each node as often as aliases make it appear (memoised per node, so the count itself
    is cheap) and names the line of the innermost collection that is too large.
    """
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: no recursion on deep documents
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done or not children:
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_EXPANDED_NODES + 1)
            continue
        if id(node) in entered:
            raise SpecError("an alias (*name) refers to a value that contains it", path=path,
                            line=node.start_mark.line + 1, hint="a spec cannot hold a value inside itself")
        entered.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    if sizes[id(root)] <= MAX_EXPANDED_NODES:
        return
    culprit = root
    while True:
        bigger = [child for child in _children(culprit) if sizes[id(child)] > MAX_EXPANDED_NODES]
        if not bigger:
            break
        culprit = bigger[0]
    raise SpecError(
        f"this value expands to more than {MAX_EXPANDED_NODES:,} YAML nodes through aliases (*name)",
        path=path,
        line=culprit.start_mark.line + 1,
        hint="a spec needs no nested aliases; write the values out, or reuse one alias at most a few times",
    )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _check_depth(path: Path, text: str, loader: type[Any] = yaml.SafeLoader) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before PyYAML's recursive composer meets it."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark is not None else None
                    raise SpecError(f"values are nested more than {MAX_DEPTH} levels deep", path=path,
                                    line=line, hint="a spec is a few levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # the loader reports syntax errors with their line


def _code_point(character: int | str) -> int:
    return character if isinstance(character, int) else ord(character[:1] or "\0")


def _bytes_line(path: Path, offset: int) -> int:
    """The line (from 1) of a byte offset in ``path``."""
    try:
        return path.read_bytes()[:offset].count(b"\n") + 1
    except OSError:
        return 1


def _documents(loader: Any, path: Path, mappings_only: bool = False) -> list[tuple[Any, int]]:
    """Every document ``loader`` composes, with its first line; YAML errors are raised as they are.

    ``mappings_only``: any other document raises a ``YAMLError`` (libyaml marks an empty document's
    line differently from PyYAML, so such a file is left to the pure-Python loader)."""
    loader.source = path
    documents: list[tuple[Any, int]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if mappings_only and not isinstance(node, yaml.MappingNode):
                raise yaml.YAMLError("not a mapping: left to the pure-Python loader")
            if node is None:
                continue
            _check_size(path, node)
            documents.append((loader.construct_document(node), node.start_mark.line + 1))
    finally:
        loader.dispose()
    return documents


def load_documents(path: Path) -> list[tuple[Any, int]]:
    """Every YAML document of ``path`` with the line it starts on; syntax errors become SpecError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the spec file: {exc.strerror}", path=path) from None
    except UnicodeDecodeError as exc:
        raise SpecError("the spec file is not valid UTF-8", path=path, line=_bytes_line(path, exc.start),
                        hint="save the file as UTF-8") from None
    if _HAS_LIBYAML and not _UNUSUAL.search(text):
        try:
            _check_depth(path, text, _FastLineLoader)
            return _documents(_FastLineLoader(text), path, mappings_only=True)
        except yaml.YAMLError:
            pass  # refused by libyaml: PyYAML's own parser names the problem and its line below
    _check_depth(path, text)
    try:
        loader = _LineLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character the YAML reader refuses
        raise SpecError(
            f"YAML cannot contain the control character U+{_code_point(exc.character):04X}",
            path=path,
            line=text.count("\n", 0, exc.position) + 1,
            hint="remove the control character (only tab, newline and printable text are allowed)",
        ) from None
    try:
        return _documents(loader, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise SpecError(
            f"YAML syntax error: {problem}{context}",
            path=path,
            line=line,
            hint="check indentation and that every 'key: value' has a space after the colon",
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {exc}", path=path) from None
