"""Notebook parameters: a notebook's `parameters` cell read as Python, or why it cannot be.

Each parameter's name, type, default and help, as papermill would inject after the cell.

Declared types (an annotation, or a `# type:` comment as papermill reads them) are read
here; whether a value fits one is `core/paramtypes.py`.
"""

from __future__ import annotations

import ast
import io
import os
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import UsageError

_NO_DEFAULT = object()


@dataclass(frozen=True)
class NotebookParameter:
    name: str
    type: str | None  # the annotation, the `# type:` comment, or the type of a literal default
    default: Any  # the value when the default is a literal
    default_text: str  # the default as written
    help: str  # the comment on the same line
    declared: bool = False  # `type` comes from an annotation or a `# type:` comment

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "declared": self.declared,
            "default": self.default if self.default is not _NO_DEFAULT else None,
            "default_text": self.default_text,
            "literal": self.default is not _NO_DEFAULT,
            "help": self.help,
        }


@dataclass(frozen=True)
class ParametersCell:
    """What a notebook's `parameters` cell declares, or why nbflow cannot tell."""

    present: bool  # the notebook has a code cell tagged `parameters`
    parameters: tuple[NotebookParameter, ...] = ()
    error: str | None = None  # the cell is not Python, even as IPython would run it
    python: bool = True  # a Python notebook; others get their parameters without checks

    def get(self, name: str) -> NotebookParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]


def parameters_cell(nb: Any) -> Any | None:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


# -- reading the cell --------------------------------------------------------------------


def _comments(source: str) -> dict[int, str]:
    found: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def _type_comment(comment: str) -> tuple[str | None, str]:
    """(type, help) of a trailing comment: `# type: int  products to keep` gives both.

    papermill takes the word after `type:` as the type; a longer expression that parses
    (`list[str] | None`) is taken whole here, and the rest is the help.
    """
    if not comment.startswith("type:"):
        return None, comment
    words = comment[len("type:") :].split()
    for end in range(len(words), 0, -1):
        candidate = " ".join(words[:end])
        try:
            ast.parse(candidate, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if candidate == "ignore":  # mypy's `# type: ignore` declares nothing
            break
        return candidate, " ".join(words[end:])
    return None, comment


def _as_ipython_runs_it(source: str) -> str | None:
    """The cell as IPython runs it (`x = !ls`, `%magic`), or None when IPython cannot say.

    IPython comes with ipykernel. Its transforms keep one line per line (but a `%%cell`
    magic, which becomes one call), so line numbers still point into the cell.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return None
    try:
        return str(TransformerManager().transform_cell(source))
    except Exception:  # IPython's transformers raise several kinds on broken input
        return None


def _blank_magic_lines(source: str) -> str:
    """Whole-line magics and shell escapes blanked: the last resort for an odd cell."""
    lines = source.splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _parse(source: str) -> tuple[ast.Module | None, str | None]:
    try:
        return ast.parse(source), None
    except SyntaxError as exc:
        return None, (f"line {exc.lineno}: {exc.msg}" if exc.lineno else exc.msg)
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, str(exc) or type(exc).__name__


def read_parameters_source(source: str) -> tuple[list[NotebookParameter], str | None]:
    """The parameters a cell declares, and why it cannot be read (None when it can).

    Plain Python first; else the cell as IPython would run it (`files = !ls`,
    `%matplotlib inline`), since papermill injects after such cells too; else with
    whole-line magics blanked.
    """
    text = source
    tree, error = _parse(text)
    if tree is None:
        blanked = _blank_magic_lines(source)
        candidates: tuple[Callable[[], str | None], ...] = (
            lambda: _as_ipython_runs_it(source),
            lambda: blanked,
            lambda: _as_ipython_runs_it(blanked),
        )
        for make in candidates:
            candidate = make()
            if candidate is None:
                continue
            parsed, _ = _parse(candidate)
            if parsed is not None:
                tree, text = parsed, candidate
                break
    if tree is None:
        return [], error
    comments = _comments(text)
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
        default_text = ast.get_source_segment(text, value) or ""
        if text is not source and node.lineno == node.end_lineno:
            written = source.splitlines()[node.lineno - 1 : node.lineno]
            if written and written[0] != text.splitlines()[node.lineno - 1]:
                default_text = written[0].partition("=")[2].strip()  # `!ls`, as written
        try:
            default: Any = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            default = _NO_DEFAULT
        end = getattr(node, "end_lineno", node.lineno) or node.lineno
        commented_type, help_text = _type_comment(comments.get(end, comments.get(node.lineno, "")))
        declared = True
        if annotation is not None:
            type_name: str | None = ast.get_source_segment(text, annotation)
        elif commented_type is not None:
            type_name = commented_type
        else:
            declared = False
            if default is _NO_DEFAULT:
                type_name = None
            else:
                type_name = type(default).__name__ if default is not None else "None"
        found[target.id] = NotebookParameter(
            target.id, type_name, default, default_text, help_text, declared
        )
    return list(found.values()), None


def parse_parameters_source(source: str) -> list[NotebookParameter]:
    """Top-level assignments of a parameters cell (none when it cannot be read)."""
    return read_parameters_source(source)[0]


def _is_python(nb: Any) -> bool:
    meta = nb.get("metadata", {})
    language = (meta.get("kernelspec") or {}).get("language") or (
        meta.get("language_info") or {}
    ).get("name")
    return not language or str(language).lower() == "python"


# Cells already read, by file and its modification: the scheduler re-checks workflow files
# every tick, and a notebook with outputs can be megabytes of JSON.
_READ: dict[tuple[str, int, int], ParametersCell] = {}


def read_parameters(path: Path) -> ParametersCell:
    """The notebook's `parameters` cell as nbflow reads it."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such notebook") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the notebook ({exc.strerror or exc})") from None
    # abspath, not resolve: no realpath per task (a 1,000-task file asks 2,000 times)
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    if key in _READ:
        return _READ[key]
    try:
        # A Databricks notebook is read converted: its widgets are its parameters.
        from ..databricks.source_notebook import read_notebook

        nb = read_notebook(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such notebook") from None
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        raise UsageError(f"{path}: not a readable notebook ({exc})") from None
    cell = parameters_cell(nb)
    if cell is None:
        found = ParametersCell(present=False, python=_is_python(nb))
    elif not _is_python(nb):
        found = ParametersCell(present=True, python=False)
    else:
        declared, error = read_parameters_source(cell.source)
        found = ParametersCell(present=True, parameters=tuple(declared), error=error)
    if len(_READ) >= 256:
        _READ.clear()
    _READ[key] = found
    return found


def notebook_parameters(path: Path) -> list[NotebookParameter]:
    """The parameters a notebook declares; an empty list when it has no parameters cell."""
    return list(read_parameters(path).parameters)


def unreadable_cell(shown: str, cell: ParametersCell) -> str:
    """The sentence for a parameters cell nbflow cannot read."""
    return (
        f"the parameters cell of {shown} cannot be read as Python ({cell.error}), "
        "so nbflow cannot tell which parameters to inject"
    )
