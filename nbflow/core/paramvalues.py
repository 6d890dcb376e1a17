"""Parameter values, pure: `-p NAME=VALUE` text, text UTF-8 cannot carry, precedence.

What a `-p` value reads as (JSON, or papermill's `True`/`False`/`None`, else the text), the
one sentence for text no notebook, log or history could hold, and which of a workflow's and
a task's values a notebook receives.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from .errors import UsageError

# -- text that cannot travel -------------------------------------------------------------


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)


def surrogate_problem(value: Any) -> str | None:
    """A sentence when text in `value` holds a lone surrogate, which UTF-8 cannot encode.

    Such text comes from undecodable bytes on a command line or a `\\udXXX` escape; it
    could not be written to a notebook, a log or the run history, so it is refused first.
    """
    for text in _texts(value):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"the text holds a lone surrogate (U+{ord(text[exc.start]):04X} at character "
                f"{exc.start + 1}), which is not valid Unicode; give the value as UTF-8 text"
            )
    return None


# -- values from the command line --------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# Python's spellings, which papermill's `-p` reads as these values.
PYTHON_CONSTANTS = {"True": True, "False": False, "None": None}


def parse_cli_value(text: str) -> Any:
    """A `-p` value: JSON when it parses as JSON; `True`, `False` and `None` as papermill's
    `-p` reads them; else the text itself (`007` stays text)."""
    if text in PYTHON_CONSTANTS:
        return PYTHON_CONSTANTS[text]
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError:
        return text


def _finite_float(text: str) -> float:
    """A JSON number as a float; one too large for a float (`1e999`) stays text, as NaN does:
    infinity would be stored and then answered in no JSON a browser reads."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`NAME=VALUE` pairs from the command line."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-p {item!r}: expected NAME=VALUE")
        if not name.isidentifier():
            raise UsageError(f"-p {item!r}: {name!r} is not a valid parameter name")
        problem = surrogate_problem(value)
        if problem:
            raise UsageError(f"-p {name}: {problem}")
        out[name] = parse_cli_value(value)
    return out


# -- precedence --------------------------------------------------------------------------


def notebook_inputs(
    declared: list[str], workflow_params: dict[str, Any], task_params: dict[str, Any]
) -> dict[str, Any]:
    """What to inject: workflow parameters the notebook declares, then the task's own."""
    values = {name: workflow_params[name] for name in declared if name in workflow_params}
    values.update(task_params)
    return values
