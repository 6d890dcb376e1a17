"""Workflow files written for the JupyterLab extension: generated or given a task, checked first.

The text comes from `yamltext.py` (a new file, or a task appended with comments and order
kept). It goes to a temporary file next to the target, is checked by nbflow's own loader, and
only then is renamed over the target: a text with problems never replaces anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.errors import Conflict, Problem, UsageError, WorkflowFileError
from ..core.paramtypes import type_problem
from . import catalog, loader
from .model import Workflow
from .paramcell import read_parameters, unreadable_cell
from .project import Project
from .schema import KEY_PATTERN
from .yamltext import add_task_text, new_workflow_text, notebook_task

# Stricter than the schema's NAME_PATTERN: the name is also the file's name, so no leading dot.
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

RUN_HEADER = (
    "# Written by the nbflow JupyterLab extension to run one notebook now. nbflow keeps it\n"
    "# so the run can be repaired; it is not one of the project's workflows.\n"
)


def key_for(notebook: str) -> str:
    """A task key from a notebook's file name (`notebooks/Sales report.ipynb` → `Sales_report`)."""
    stem = PurePosixPath(notebook.replace("\\", "/")).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "notebook"


def run_workflow_name(notebook: str) -> str:
    """The name of the one-task workflow that runs a notebook now: `notebook-<stem>`."""
    stem = PurePosixPath(notebook.replace("\\", "/")).stem
    return "notebook-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.") or "notebook")


def check_values(values: Any, where: str = "parameters") -> None:
    """Parameter values must be JSON values; NaN and infinities are not."""
    if isinstance(values, float) and not math.isfinite(values):
        raise UsageError(f"{where}: {values} is not a JSON number")
    if isinstance(values, dict):
        for name, value in values.items():
            check_values(value, f"{where}.{name}")
    elif isinstance(values, list):
        for i, value in enumerate(values):
            check_values(value, f"{where}[{i}]")


def write_checked(
    target: Path,
    text: str,
    project: Project,
    *,
    mode: str,
    expect: bytes | None = None,
    tolerated: Callable[[Problem], bool] | None = None,
) -> Workflow | None:
    """Write `text` to `target` if nbflow's loader finds no problem in it; what it loaded.

    `mode`: "new" (the target must not exist), "replace" (the target must still hold
    `expect`) or "overwrite". The text goes to a temporary file in the target's folder
    first, is checked there and is renamed over the target, so the target is never half
    written, and on any problem it is left as it was. `tolerated` lets a caller accept
    problems it has already told the user about (an imported job's missing notebook).
    The workflow returned is the one the loader built from the text, as the target's (None
    when a tolerated problem left it unusable): a caller that runs it need not read the
    file again.
    """
    shown = project.relative(target)
    temp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        workflow, problems = loader.check_file(temp, project.root)
        problems = [p for p in problems if not (tolerated and tolerated(p))]
        if problems:
            raise WorkflowFileError([Problem(shown, p.line, p.message) for p in problems])
        if mode == "new":
            try:
                os.link(temp, target)  # fails if the target exists, even one made just now
            except FileExistsError:
                raise Conflict(f"{shown} already exists") from None
            except OSError:  # a file system without hard links
                if target.exists():
                    raise Conflict(f"{shown} already exists") from None
                os.replace(temp, target)
        elif mode == "replace":
            if target.read_bytes() != expect:
                raise Conflict(f"{shown} changed while it was being edited; try again")
            shutil.copymode(target, temp)
            os.replace(temp, target)
        else:
            os.replace(temp, target)
    except OSError as exc:
        raise UsageError(f"cannot write {shown}: {exc.strerror or exc}") from None
    finally:
        temp.unlink(missing_ok=True)
    if workflow is None:
        return None
    # Loaded from the temporary file: named and placed as the target would be.
    named = workflow.settings.name if workflow.settings else None
    return dataclasses.replace(workflow, path=target.resolve(), name=named or target.stem)


def checked_notebook(project: Project, notebook: str, parameters: dict[str, Any]) -> str:
    """The notebook's path as a workflow file writes it, after checking it and the parameters.

    Every parameter name must be declared in the notebook's `parameters` cell.
    """
    if "{{" in notebook:
        raise UsageError(f"notebook: {notebook!r}: a path with '{{{{' is not supported here")
    given = Path(notebook)
    if given.is_absolute():
        try:
            given = given.relative_to(project.root)
        except ValueError:
            pass
    written = PurePosixPath(os.path.normpath(given)).as_posix()
    path = project.root / written
    if path.suffix != ".ipynb":
        raise UsageError(f"notebook: {notebook!r} is not an .ipynb notebook")
    if not path.is_file():
        raise UsageError(f"notebook: {notebook!r}: no such notebook")
    cell = read_parameters(path)
    if cell.error is not None and parameters:
        raise UsageError(f"parameters: {unreadable_cell(written, cell)}")
    declared = cell.names
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        names = ", ".join(repr(n) for n in unknown)
        known = ", ".join(declared) or "none: it has no cell tagged `parameters`"
        raise UsageError(
            f"parameters: {written} declares no parameter {names} (its parameters: {known})"
        )
    check_values(parameters)
    for p in cell.parameters:
        problem = type_problem(p, parameters[p.name]) if p.name in parameters else None
        if problem:
            raise UsageError(f"parameters.{p.name}: {problem}")
    return written


def notebook_run_file(
    project: Project, notebook: str, parameters: dict[str, Any]
) -> tuple[Path, str]:
    """Write the one-task workflow that runs `notebook` with `parameters`; (file, name)."""
    target, workflow = notebook_run_workflow(project, notebook, parameters)
    return target, workflow.name


def notebook_run_workflow(
    project: Project, notebook: str, parameters: dict[str, Any]
) -> tuple[Path, Workflow]:
    """Write the one-task workflow that runs `notebook` with `parameters`; (file, workflow).

    The file lives in the state folder, named after the notebook and a digest of its text:
    runs with other values get other files, so each run (and its repairs) keeps its own.
    The workflow is the one the loader checked before the file was written: running it
    needs no second read (repairs read the file).
    """
    written = checked_notebook(project, notebook, parameters)
    name = run_workflow_name(written)
    key = key_for(written)
    text = new_workflow_text(
        {"name": name, "tasks": [notebook_task(key, written, parameters, [])]}, RUN_HEADER
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    target = project.state_dir / "notebooks" / f"{key}-{digest}.yaml"
    workflow = write_checked(target, text, project, mode="overwrite")
    assert workflow is not None and workflow.name == name  # nothing is tolerated here
    return target, workflow


def create_workflow_file(
    project: Project,
    name: str,
    notebook: str,
    *,
    parameters: dict[str, Any],
    schedule: dict[str, Any] | None = None,
    description: str | None = None,
) -> Path:
    """Write `workflows/<name>.yaml` with one notebook task (and a schedule); its path."""
    if not re.match(FILE_NAME_PATTERN, name):
        raise UsageError(
            f"name: {name!r} must start with a letter or digit and contain only letters, "
            "digits, '_', '.' and '-'"
        )
    folder = project.workflows_dir
    for suffix in (".yaml", ".yml"):
        if (folder / f"{name}{suffix}").exists():
            raise Conflict(f"{project.relative(folder / (name + suffix))} already exists")
    for path in project.workflow_files():
        workflow, _ = loader.check_file(path, project.root)
        if workflow is not None and workflow.name == name:
            raise Conflict(f"{project.relative(path)} already defines a workflow named {name!r}")
    written = checked_notebook(project, notebook, parameters)
    content: dict[str, Any] = {"name": name}
    if description:
        content["description"] = description
    if schedule is not None:
        content["schedule"] = {k: v for k, v in schedule.items() if v is not None}
    content["tasks"] = [notebook_task(key_for(written), written, parameters, [])]
    target = folder / f"{name}.yaml"
    write_checked(target, new_workflow_text(content), project, mode="new")
    return target


def add_notebook_task(
    project: Project,
    workflow: str,
    notebook: str,
    *,
    key: str | None = None,
    parameters: dict[str, Any],
    depends_on: list[str],
) -> Path:
    """Append a notebook task to a workflow's file (comments and order kept); its path."""
    path = catalog.find(project, workflow)
    try:
        original = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {project.relative(path)}: {exc.strerror}") from None
    found, problems = loader.check_file(path, project.root)
    if problems or found is None:
        raise WorkflowFileError(problems)  # the file must be fine before nbflow edits it
    written = checked_notebook(project, notebook, parameters)
    key = key if key is not None else key_for(written)
    if not re.match(KEY_PATTERN, key):
        raise UsageError(f"key: {key!r} may only contain letters, digits, '_' and '-'")
    keys = [t.key for t in found.tasks]
    if key in keys:
        raise Conflict(f"workflow {found.name!r} already has a task {key!r}")
    unknown = [d for d in depends_on if d not in keys]
    if unknown:
        raise UsageError(
            f"depends_on: workflow {found.name!r} has no task "
            f"{', '.join(repr(d) for d in unknown)} (its tasks: {', '.join(keys)})"
        )
    task = notebook_task(key, written, parameters, list(dict.fromkeys(depends_on)))
    text = add_task_text(original.decode("utf-8"), task)
    write_checked(path, text, project, mode="replace", expect=original)
    return path
