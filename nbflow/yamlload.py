"""Read YAML as plain Python values plus the line of every key and item.

Scalars follow the YAML 1.2 core schema, without its surprises for people who write
configuration: only `true`/`false` are booleans (`on`, `no`, `yes` stay text), dates stay
text, and a number written with leading zeros (`007`) stays text, since it is an id or a
code rather than a quantity. Quoted scalars are always text. Anchors, aliases and merge
keys (`<<`) work as in YAML.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

_PLAIN_TAG = Tag(suffix="tag:nbflow,2026:plain")


class _PlainResolver(VersionedResolver):
    """Leaves untagged plain scalars as text; `resolve_plain` gives them their type."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return _PLAIN_TAG
        return super().resolve(kind, value, implicit)


Path = tuple[Any, ...]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


class YamlError(Exception):
    """The text is not YAML; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.line = line


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
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return int(text)
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


def _tag(node: Node) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", tag)
    return value if isinstance(value, str) else None


def _scalar(node: ScalarNode) -> Any:
    tag = _tag(node) or ""
    # ruamel marks the fold points of a folded (>) scalar with BEL in the raw value.
    text = node.value.replace("\a", "") if node.style == ">" else node.value
    if tag == _PLAIN_TAG.value:
        return text if node.style not in (None, "") else resolve_plain(text)
    if tag.endswith(":str") or (node.style not in (None, "")):
        if tag.endswith(":int") and _INT.match(text):
            return int(text)
        if tag.endswith(":float"):
            return float(text)
        return text
    if tag.endswith(":int"):
        try:
            return int(text, 0)
        except ValueError:
            return text
    if tag.endswith(":float"):
        try:
            return float(text)
        except ValueError:
            return text
    if tag.endswith(":bool") and text in _BOOL:
        return _BOOL[text]
    return resolve_plain(text)


class _Builder:
    def __init__(self, doc: Document):
        self.doc = doc

    def build(self, node: Node, path: Path, record: bool = True) -> Any:
        if record:
            self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        return None

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        own: set[Any] = set()
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.value == "<<"
                and key_node.style is None
            ):
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if isinstance(source, MappingNode):
                        saved = dict(self.doc.lines)
                        for k, v in self._mapping(source, path).items():
                            merged.setdefault(k, v)
                            self.doc.merged.setdefault(path + (k,), key_node.start_mark.line + 1)
                        self._keep_own_lines(saved, path, result)
                continue
            key = self.build(key_node, path, record=False)
            if isinstance(key, (list, dict)):
                key = str(key)
            line = key_node.start_mark.line + 1
            own.add(key)
            if key in result:
                self.doc.duplicates.append((path + (key,), line))
            self.doc.lines[path + (key,)] = line
            result[key] = self.build(value_node, path + (key,), record=False)
        for k, v in merged.items():
            result.setdefault(k, v)
        for k in own:
            self.doc.merged.pop(path + (k,), None)
        return result

    def _keep_own_lines(self, saved: dict[Path, int], path: Path, own: dict[Any, Any]) -> None:
        """After a merge: the lines of keys written before the `<<` are theirs, not the anchor's."""
        lines = self.doc.lines
        for p in list(lines):
            if p in saved:
                lines[p] = saved[p]
            elif len(p) > len(path) and p[: len(path)] == path and p[len(path)] in own:
                del lines[p]


def load(text: str) -> Document:
    """Parse one YAML document; raise YamlError with the line for text that is not YAML."""
    doc = Document(data=None)
    try:
        yaml = YAML(typ="rt")
        # No implicit resolvers: plain scalars keep the default tag and resolve_plain decides,
        # so only a tag the author wrote (`!!str 12`) overrides the rules above.
        yaml.Resolver = _PlainResolver
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlError(f"invalid YAML: {message}", line) from None
    except Exception as exc:  # ruamel raises a few non-marked errors (e.g. duplicate anchors)
        raise YamlError(f"invalid YAML: {exc}", None) from None
    if node is None:
        return doc
    doc.data = _Builder(doc).build(node, ())
    return doc
