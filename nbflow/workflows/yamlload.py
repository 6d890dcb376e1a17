"""Read YAML as plain Python values plus the line of every key and item.

Scalars follow the YAML 1.2 core schema, without its surprises for people who write
configuration: only `true`/`false` are booleans (`on`, `no`, `yes` stay text), dates stay
text, and a number written with leading zeros (`007`) stays text, since it is an id or a
code rather than a quantity. Quoted scalars are always text. Anchors, aliases and merge
keys (`<<`) work as in YAML, within limits that keep a hostile file cheap to refuse: values
nest at most MAX_DEPTH deep, aliases expand to at most ALIAS_BUDGET values in all (or
ALIAS_FACTOR times the document's own), and an alias may not stand inside the value it names.

The text is parsed by libyaml through PyYAML (about ten times faster than a pure-Python
parser on a large file); nbflow builds the values from its nodes itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..core.errors import YamlError as YamlError  # named through this module too

_PLAIN_TAG = "tag:nbflow,2026:plain"

# Nesting deeper than this is no configuration anyone writes; it also keeps the builder's
# recursion far from Python's limit. libyaml itself stops at 1000 levels.
MAX_DEPTH = 100
# Values created by following aliases, beyond the document's own, may number this many or
# ALIAS_FACTOR times the document's own values (anchored defaults merged into each task stay
# well below): a few hundred bytes of nested aliases ("billion laughs") would otherwise
# expand to gigabytes.
ALIAS_BUDGET = 10_000
ALIAS_FACTOR = 4
# Up to this size a file libyaml refuses is parsed again by PyYAML's slower parser, whose
# messages name what it found.
_REWORD_LIMIT = 200_000
# Python refuses to convert longer decimal strings to int (CVE-2020-10735).
_MAX_DIGITS = 4300

# What YAML allows in a stream (its c-printable set); a BOM only at the very start.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


class _PlainResolver(BaseResolver):
    """Leaves untagged plain scalars as text; `resolve_plain` gives them their type."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return _PLAIN_TAG
        return super().resolve(kind, value, implicit)


class _PyComposer(Reader, Scanner, Parser, Composer, _PlainResolver):
    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _PlainResolver.__init__(self)


try:
    from yaml.cyaml import CParser

    class _CComposer(CParser, _PlainResolver):
        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            _PlainResolver.__init__(self)

    _Composer: Any = _CComposer
except ImportError:  # PyYAML built without libyaml: the same nodes, slower
    _Composer = _PyComposer


Path = tuple[Any, ...]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
# The first characters of every scalar that is not text: null, ~, true, false, numbers, .inf.
_MAY_NOT_BE_TEXT = frozenset("~nNtTfF+-.0123456789")


@dataclass
class Document:
    """A loaded YAML document: its value and the line of each path in it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)
    # For a key a merge (`<<: *anchor`) brought in: the line of that `<<` (its own line, in
    # `lines`, is where the anchor's mapping wrote it).
    merged: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest enclosing path that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def resolve_plain(text: str) -> Any:
    """Turn an unquoted scalar into the value it denotes (see the module docstring)."""
    if text and text[0] not in _MAY_NOT_BE_TEXT:
        return text  # most scalars of a large file: keys, names, paths
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        # Longer than Python converts: no quantity has that many digits, so it stays text.
        return int(text) if len(text) <= _MAX_DIGITS else text
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _tagged(node: ScalarNode, tag: str, text: str) -> Any:
    """A scalar with an explicit `!!int`, `!!float` or `!!bool` tag, which its text must fit."""
    kind = tag.rsplit(":", 1)[-1]
    try:
        if kind == "int":
            return int(text) if _INT.match(text) else int(text, 0)
        if kind == "float":
            return float(text)
        return _BOOL[text]
    except (ValueError, KeyError):
        words = {"int": "an integer", "float": "a number", "bool": "true or false"}[kind]
        raise YamlError(
            f"invalid YAML: !!{kind} {_short(text)} is not {words}", _line(node)
        ) from None


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag or ""
    text = node.value
    if node.style == '"' and _SURROGATE.search(text):
        # A `\uD800` escape: no encoding can write it (a notebook, a log, the history).
        raise YamlError("invalid YAML: a lone surrogate escape is not text", _line(node))
    if tag == _PLAIN_TAG:
        return resolve_plain(text)
    if tag.endswith((":int", ":float", ":bool")):
        return _tagged(node, tag, text)
    if tag.endswith(":str") or node.style:
        return text
    return resolve_plain(text)


class _Builder:
    """Values from nodes, recording lines; guards against nesting, cycles and alias bombs."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.built = 0  # values built, aliases expanded included
        self.seen: set[int] = set()  # nodes built at least once (their ids)
        self.open: set[int] = set()  # nodes being built now: an alias to one is a cycle

    def _enter(self, node: Node, path: Path, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise YamlError(
                f"invalid YAML: values nest more than {MAX_DEPTH} levels deep", _line(node)
            )
        self.built += 1
        self.seen.add(id(node))
        expanded = self.built - len(self.seen)
        if expanded > ALIAS_BUDGET and expanded > ALIAS_FACTOR * len(self.seen):
            raise YamlError(
                f"invalid YAML: aliases expand to more than {expanded - 1:,} values, "
                f"over {ALIAS_FACTOR} times what the file writes itself "
                "(aliases inside anchored values multiply)",
                self.doc.line_of(path) or _line(node),
            )

    def build(self, node: Node, path: Path, depth: int = 0, record: bool = True) -> Any:
        self._enter(node, path, depth)
        if record:
            self.doc.lines.setdefault(path, _line(node))
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if id(node) in self.open:
            raise YamlError(
                "invalid YAML: an alias refers to the value that contains it", _line(node)
            )
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [
                    self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                return self._mapping(node, path, depth)
            return None
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        own: set[Any] = set()
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.value == "<<"
                and not key_node.style  # plain: libyaml says "", PyYAML None
            ):
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if isinstance(source, MappingNode):
                        merged_in = self._merge_source(source, path, depth)
                        for k, v in merged_in.items():
                            merged.setdefault(k, v)
                            self.doc.merged.setdefault(path + (k,), key_node.start_mark.line + 1)
                continue
            key = self.build(key_node, path, depth + 1, record=False)
            if isinstance(key, (list, dict)):
                key = str(key)
            line = _line(key_node)
            own.add(key)
            if key in result:
                self.doc.duplicates.append((path + (key,), line))
            self.doc.lines[path + (key,)] = line
            result[key] = self.build(value_node, path + (key,), depth + 1, record=False)
        for k, v in merged.items():
            result.setdefault(k, v)
        for k in own:
            self.doc.merged.pop(path + (k,), None)
        return result

    def _merge_source(self, source: MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        """A `<<` source's keys; their lines are recorded only where this mapping has none.

        Keys written before the `<<` keep their own lines; later ones overwrite. The source is
        read against lines of its own, so a merge costs what the source holds, not the file.
        """
        lines = self.doc.lines
        self.doc.lines = {}
        try:
            merged_in: dict[Any, Any] = self.build(source, path, depth + 1, record=False)
        finally:
            scratch, self.doc.lines = self.doc.lines, lines
        for at, line in scratch.items():
            lines.setdefault(at, line)
        return merged_in


def _invalid(message: str, text: str, position: int | None) -> YamlError:
    line = text.count("\n", 0, position) + 1 if position is not None else None
    return YamlError(f"invalid YAML: {message}", line)


def _compose(composer_class: Any, text: str) -> Node | None:
    # No implicit resolvers: plain scalars keep a tag of their own and resolve_plain decides,
    # so only a tag the author wrote (`!!str 12`) overrides the rules above.
    composer = composer_class(text)
    try:
        return composer.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit (1000)
            raise YamlError(
                f"invalid YAML: values nest more than {MAX_DEPTH} levels deep", line
            ) from None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlError(f"invalid YAML: {message}", line) from None
    except yaml.reader.ReaderError as exc:
        raise _invalid(str(exc.reason), text, exc.position) from None
    except RecursionError:
        # Only the pure-Python parser recurses per level (libyaml stops at 1000 levels).
        line = composer.get_mark().line + 1 if hasattr(composer, "get_mark") else None
        raise YamlError(
            f"invalid YAML: values nest more than {MAX_DEPTH} levels deep", line
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}", None) from None
    finally:
        composer.dispose()


def load(text: str) -> Document:
    """Parse one YAML document; raise YamlError with the line for text that is not YAML."""
    doc = Document(data=None)
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        char = bad.group()
        raise _invalid(
            f"the character {char!r} (U+{ord(char):04X}) is not allowed in YAML", text, bad.start()
        )
    try:
        node = _compose(_Composer, text)
    except YamlError as exc:
        if _Composer is _PyComposer or len(text) > _REWORD_LIMIT or "nest" in exc.message:
            raise
        # libyaml's messages leave out what it found ("found character that cannot start
        # any token"); PyYAML's own parser names it. Asked only once the file is known bad.
        _compose(_PyComposer, text)  # raises its wording of the same problem
        raise  # it accepted what libyaml refused: libyaml's word stands
    if node is None:
        return doc
    doc.data = _Builder(doc).build(node, ())
    return doc
