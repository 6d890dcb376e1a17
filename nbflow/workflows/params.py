"""Parameters: a notebook's `parameters` cell read as Python, `-p` values, and precedence.

Declared types (an annotation, or a `# type:` comment as papermill reads them) are checked
here too, so `validate`, `-p` and the REST API refuse the same values the lab dialog does.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import math
import os
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import refcheck, references
from ..core.errors import UsageError

if TYPE_CHECKING:  # the model imports the pydantic schema: `nbflow --help` needs neither
    from .model import Task, Workflow

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
        candidates = (
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


# -- declared types ----------------------------------------------------------------------

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


def type_problem(parameter: NotebookParameter, value: Any) -> str | None:
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


def _type_known(value: Any) -> bool:
    """Whether a value's type is known before the run (no `{{reference}}` decides it)."""
    if isinstance(value, str):
        return not references.is_whole(value)
    if isinstance(value, (list, dict)):
        return not references.find(value)
    return True


# -- what each notebook task receives ----------------------------------------------------


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def notebook_target(task: Task) -> str | None:
    """The notebook path of a notebook task, when it is known before the run."""
    if task.kind != "notebook" or not isinstance(task.target, str) or "{{" in task.target:
        return None
    return task.target


def cell_of(root: Path, task: Task) -> ParametersCell | None:
    """The parameters cell of a notebook task's Python notebook; None when nbflow cannot read
    the notebook (a missing file is reported on its own)."""
    target = notebook_target(task)
    if target is None:
        return None
    path = root / target
    try:
        if path.suffix != ".ipynb" or not path.is_file():
            return None
    except OSError:  # a name too long for the file system: reported on its own
        return None
    try:
        cell = read_parameters(path)
    except UsageError:
        return None
    return cell if cell.python else None


def task_parameter_problems(root: Path, task: Task) -> Iterator[tuple[str | None, str]]:
    """(name, message) for a notebook task's own parameters; name None for the whole task.

    A notebook with a `parameters` cell must declare each of them (papermill would inject
    the others after that cell, and the notebook would never read them); a notebook
    without one takes any name, injected at the top as papermill does.
    """
    cell = cell_of(root, task)
    if cell is None or not cell.present:
        return
    target = str(notebook_target(task))
    if cell.error is not None:
        if task.parameters:
            yield None, f"task {task.key!r}: " + unreadable_cell(target, cell)
        return
    for name, value in task.parameters.items():
        declared = cell.get(name)
        if declared is None:
            hint = did_you_mean(name, cell.names) or (
                f" (its parameters: {', '.join(cell.names) or 'none'})"
            )
            yield name, f"{target} declares no parameter {name!r}{hint}"
        elif _type_known(value):
            if type_problem(declared, value):
                yield name, f"{target} declares {name}: {declared.type}, got {describe(value)}"


def workflow_value_problems(
    root: Path, tasks: Iterable[Task], values: dict[str, Any]
) -> Iterator[tuple[str | None, Task, str]]:
    """(name, task, message) for workflow parameter values; name None for the task's cell.

    A workflow parameter goes to every notebook task whose cell declares that name (and
    that does not set it itself), so its value must fit each such declared type. A cell
    nbflow cannot read would miss them silently: that is a problem too.
    """
    reported: set[str] = set()
    for task in tasks:
        cell = cell_of(root, task)
        if cell is None or not cell.present:
            continue
        target = str(notebook_target(task))
        if cell.error is not None:
            if values and not task.parameters:  # else reported with the task's own
                yield None, task, f"task {task.key!r}: " + unreadable_cell(target, cell)
            continue
        for name, value in values.items():
            declared = cell.get(name)
            if name in reported or name in task.parameters or declared is None:
                continue
            if _type_known(value) and type_problem(declared, value):
                reported.add(name)
                yield (
                    name,
                    task,
                    (
                        f"{target} (task {task.key!r}) declares {name}: {declared.type}, "
                        f"got {describe(value)}"
                    ),
                )


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


def check_overrides(workflow: Workflow, overrides: dict[str, Any]) -> None:
    """Refuse run overrides (`-p`, REST) as `validate` refuses the file's own values.

    An unknown name, text UTF-8 cannot carry, a reference other than `run.*`, or a value
    that does not fit a type a notebook declares for that parameter: one sentence each.
    """
    unknown = [name for name in overrides if name not in workflow.parameters]
    if unknown:
        declared = ", ".join(workflow.parameters) or "none"
        hint = did_you_mean(unknown[0], list(workflow.parameters))
        raise UsageError(
            f"workflow {workflow.name!r} has no parameter {unknown[0]!r}"
            + (hint or f" (its parameters: {declared})")
        )
    secret = [name for name in overrides if name in workflow.secrets]
    if secret:
        raise UsageError(
            f"parameter {secret[0]!r} is secret: its value comes from the environment "
            f"variable {workflow.secrets[secret[0]]}, not from the run's parameters"
        )
    kinds: dict[str, str | None] = {t.key: t.kind for t in workflow.tasks}
    for name, value in overrides.items():
        problem: str | None = surrogate_problem(value)
        for expr in [] if problem else references.find(value):
            problem = refcheck.check_workflow_parameter(expr, kinds)
            if problem:
                problem += f" (write {references.ESCAPE} for a literal '{{{{')"
                break
        if problem:
            raise UsageError(f"parameter {name!r}: {problem}")
    for named, _, value_problem in workflow_value_problems(
        workflow.root, workflow.tasks, overrides
    ):
        raise UsageError(f"parameter {named!r}: {value_problem}" if named else value_problem)


# -- precedence --------------------------------------------------------------------------


def notebook_inputs(
    declared: list[str], workflow_params: dict[str, Any], task_params: dict[str, Any]
) -> dict[str, Any]:
    """What to inject: workflow parameters the notebook declares, then the task's own."""
    values = {name: workflow_params[name] for name in declared if name in workflow_params}
    values.update(task_params)
    return values


def inputs_for(
    source: Path, workflow_params: dict[str, Any], task_params: dict[str, Any]
) -> dict[str, Any]:
    """What to inject into the notebook at `source`, read when the attempt starts.

    Raises UsageError when there are parameters and its cell cannot be read: they would
    otherwise be dropped without a word.
    """
    if not source.is_file():
        return notebook_inputs([], workflow_params, task_params)
    cell = read_parameters(source)
    if cell.error is not None and (workflow_params or task_params):
        raise UsageError(unreadable_cell(source.name, cell))
    return notebook_inputs(cell.names, workflow_params, task_params)
