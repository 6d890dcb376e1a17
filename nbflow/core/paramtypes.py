"""Declared parameter types: whether a value fits a type as a notebook writes it; no I/O.

A type is the text of an annotation or of a `# type:` comment (`list[str] | None`); it is
read with `ast`, never evaluated, so `validate`, `-p`, the REST API and the lab dialog refuse
the same values without importing anything the notebook names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any, Protocol

from . import references


class Declared(Protocol):
    """A parameter as far as its type goes (a notebook's `NotebookParameter`)."""

    @property
    def type(self) -> str | None: ...

    @property
    def declared(self) -> bool: ...


_LISTS = ("list", "List", "tuple", "Tuple", "Sequence", "MutableSequence", "Iterable")
_DICTS = ("dict", "Dict", "Mapping", "MutableMapping")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


_SIMPLE: dict[str, Any] = {
    "int": _is_int,
    "float": lambda v: _is_int(v) or isinstance(v, float),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "None": lambda v: v is None,
    "NoneType": lambda v: v is None,
    "Any": lambda v: True,
    "object": lambda v: True,
    **dict.fromkeys(_LISTS, _is_list),
    **dict.fromkeys(_DICTS, _is_dict),
}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List, t.Optional
        return node.attr
    return None


def _any_fits(results: Iterable[bool | None]) -> bool | None:
    found = list(results)
    if any(r is True for r in found):
        return True
    return False if all(r is False for r in found) else None


def _all_fit(results: Iterable[bool | None]) -> bool:
    """Every element fits (one whose fit nbflow cannot tell counts as fitting)."""
    return not any(r is False for r in results)


def _fits(node: ast.expr, value: Any) -> bool | None:
    """Whether `value` fits the annotation `node`; None when nbflow cannot tell."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return value is None
        if isinstance(node.value, str):  # a forward reference: "int"
            try:
                return _fits(ast.parse(node.value, mode="eval").body, value)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return None
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _any_fits([_fits(node.left, value), _fits(node.right, value)])
    if isinstance(node, ast.Subscript):
        base = _name(node.value)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Optional":
            return True if value is None else _fits(args[0], value)
        if base == "Union":
            return _any_fits(_fits(a, value) for a in args)
        if base == "Annotated":
            return _fits(args[0], value)
        if base == "Literal":
            options = [a.value for a in args if isinstance(a, ast.Constant)]
            if len(options) < len(args):
                return None
            return any(type(o) is type(value) and o == value for o in options)
        if base in _LISTS:
            if not isinstance(value, list):
                return False
            if base in ("tuple", "Tuple") and not (
                len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is ...
            ):
                return True  # a fixed-length tuple: its shape is the notebook's business
            return _all_fit(_fits(args[0], item) for item in value)
        if base in _DICTS:
            if not isinstance(value, dict):
                return False
            return _all_fit(_fits(args[-1], item) for item in value.values())
        return None
    check = _SIMPLE.get(_name(node) or "")
    return bool(check(value)) if check else None


def describe(value: Any) -> str:
    """A value as a message shows it: its Python spelling, and its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text if value is None else f"{text} ({type(value).__name__})"


def type_problem(parameter: Declared, value: Any) -> str | None:
    """Why `value` does not fit the parameter's declared type; None when it fits.

    Only declared types are checked (an annotation or a `# type:` comment): the type of a
    literal default (`n = 5`) is no promise, as papermill sees it too, and an annotation
    nbflow does not know (`datetime.date`) lets every value through.
    """
    if not parameter.declared or not parameter.type:
        return None
    try:
        node = ast.parse(parameter.type, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if _fits(node, value) is False:
        return f"expected {parameter.type}, got {describe(value)}"
    return None


def type_known(value: Any) -> bool:
    """Whether a value's type is known before the run (no `{{reference}}` decides it)."""
    if isinstance(value, str):
        return not references.is_whole(value)
    if isinstance(value, (list, dict)):
        return not references.find(value)
    return True
