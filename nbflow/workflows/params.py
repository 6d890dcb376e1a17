"""Workflow parameters against notebooks: the values refused, and what an attempt receives.

A workflow's and a task's values are checked against the `parameters` cell of each notebook
task (`paramcell.py` reads it; `core/paramtypes.py` says whether a value fits a declared
type), so `validate`, `-p` and the REST API refuse the same values; `inputs_for` applies the
precedence of `core/paramvalues.py` when an attempt starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import refcheck, references
from ..core.errors import UsageError
from ..core.hints import did_you_mean
from ..core.paramtypes import describe, type_known, type_problem
from ..core.paramvalues import notebook_inputs, surrogate_problem
from .paramcell import ParametersCell, read_parameters, unreadable_cell

if TYPE_CHECKING:  # the model imports the pydantic schema: `nbflow --help` needs neither
    from .model import Task, Workflow


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
        elif type_known(value):
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
            if type_known(value) and type_problem(declared, value):
                reported.add(name)
                yield (
                    name,
                    task,
                    (
                        f"{target} (task {task.key!r}) declares {name}: {declared.type}, "
                        f"got {describe(value)}"
                    ),
                )


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
