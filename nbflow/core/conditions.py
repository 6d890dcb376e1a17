"""Condition tasks: compare two resolved values by the typed rules of semantics.md."""

from __future__ import annotations

import math
import operator
from typing import Any

from .errors import ConditionError as ConditionError  # named through this module too

_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


# Spellings people write for an operator, from other languages or with the two characters
# swapped; difflib finds none of these (`=<` and `<=` share one character in order).
_SPELLINGS = {
    "=": "==",
    "===": "==",
    "eq": "==",
    "is": "==",
    "<>": "!=",
    "=!": "!=",
    "!==": "!=",
    "ne": "!=",
    "≠": "!=",
    "=<": "<=",
    "≤": "<=",
    "le": "<=",
    "lte": "<=",
    "=>": ">=",
    "≥": ">=",
    "ge": ">=",
    "gte": ">=",
    "lt": "<",
    "gt": ">",
}


def suggest_operator(text: str) -> str | None:
    """The operator a wrong spelling most likely means (`=<` gives `<=`), or None."""
    return _SPELLINGS.get(text.strip().lower())


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def evaluate(left: Any, op: str, right: Any) -> bool:
    """Numbers (or numeric strings) compare as numbers, booleans as booleans, else text."""
    compare = _OPS[op]
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return bool(compare(a, b))
    p, q = _boolean(left), _boolean(right)
    if p is not None and q is not None and op in ("==", "!="):
        return bool(compare(p, q))
    if op in ("==", "!="):
        return bool(compare(_text(left), _text(right)))
    raise ConditionError(f"cannot compare {left!r} {op} {right!r}: {op} needs two numbers")
