"""Parameters: a notebook's `parameters` cell read as Python, `-p` values, and precedence."""

from __future__ import annotations

import ast
import io
import json
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError

_NO_DEFAULT = object()


@dataclass(frozen=True)
class NotebookParameter:
    name: str
    type: str | None  # the annotation, or the type of a literal default
    default: Any  # the value when the default is a literal
    default_text: str  # the default as written
    help: str  # the comment on the same line

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default if self.default is not _NO_DEFAULT else None,
            "default_text": self.default_text,
            "literal": self.default is not _NO_DEFAULT,
            "help": self.help,
        }


def parameters_cell(nb: Any) -> Any | None:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def _comments(source: str) -> dict[int, str]:
    found: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def parse_parameters_source(source: str) -> list[NotebookParameter]:
    """Top-level assignments of a parameters cell, read with Python's own parser.

    IPython magics and shell escapes are blanked first so the rest still parses.
    """
    lines = source.splitlines()
    cleaned = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        return []
    comments = _comments(cleaned)
    found: dict[str, NotebookParameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, annotation, value = node.targets[0], None, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, annotation, value = node.target, node.annotation, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        text = ast.get_source_segment(cleaned, value) or ""
        try:
            default: Any = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            default = _NO_DEFAULT
        if annotation is not None:
            type_name: str | None = ast.get_source_segment(cleaned, annotation)
        elif default is _NO_DEFAULT:
            type_name = None
        else:
            type_name = type(default).__name__ if default is not None else "None"
        end = getattr(node, "end_lineno", node.lineno) or node.lineno
        help_text = comments.get(end, comments.get(node.lineno, ""))
        found[target.id] = NotebookParameter(target.id, type_name, default, text, help_text)
    return list(found.values())


def notebook_parameters(path: Path) -> list[NotebookParameter]:
    """The parameters a notebook declares; an empty list when it has no parameters cell.

    A Databricks notebook is read converted: its widgets are its parameters.
    """
    from .databricks.source_notebook import read_notebook

    try:
        nb = read_notebook(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such notebook") from None
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        raise UsageError(f"{path}: not a readable notebook ({exc})") from None
    cell = parameters_cell(nb)
    return parse_parameters_source(cell.source) if cell is not None else []


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_cli_value(text: str) -> Any:
    """A `-p` value: JSON when it parses as JSON, else the text itself (`007` stays text)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return text


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
        out[name] = parse_cli_value(value)
    return out


def notebook_inputs(
    declared: list[str], workflow_params: dict[str, Any], task_params: dict[str, Any]
) -> dict[str, Any]:
    """What to inject: workflow parameters the notebook declares, then the task's own."""
    values = {name: workflow_params[name] for name in declared if name in workflow_params}
    values.update(task_params)
    return values
