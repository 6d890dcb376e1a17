"""The workflow files: finding one by name or path, checking, loading, a notebook's parameters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import (
    Problem,
    UsageError,
    WorkflowNotFound,
)
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..workflows.model import Workflow
    from ..workflows.paramcell import NotebookParameter

from .modules import (
    catalog,
    loader,
    paramcell,
    params_module,
    runfiles,
    secrets_module,
)


def _shown(path: Path) -> Path:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def workflow_path(project: Project, name_or_path: str) -> Path:
    """A workflow given as a file path, a file name in `workflows/`, or a workflow name."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise WorkflowNotFound(f"{name_or_path}: no such workflow file")
        return candidate
    return _shown(workflow_named(project, name_or_path))


def workflow_named(project: Project, name: str) -> Path:
    """The file in `workflows/` of the workflow called `name` (see `catalog.find`)."""
    return catalog.find(project, name)


def validate(project: Project, files: list[str] | None = None) -> tuple[list[Path], list[Problem]]:
    """Check workflow files (default: all of `workflows/`); return the files and problems."""
    paths = (
        [workflow_path(project, f) for f in files]
        if files
        else [_shown(p) for p in project.workflow_files()]
    )
    if not paths:
        raise UsageError(f"no workflow files in {project.workflows_dir}")
    problems: list[Problem] = []
    checked: dict[Path, Workflow | None] = {}
    for path in paths:
        checked[path.resolve()], found = loader.check_file(path, project.root)
        problems.extend(found)
    # In the same pass: a file with problems of its own still has its calls checked.
    known = catalog.by_name(project, checked)  # the other files read once for both checks
    problems.extend(catalog.check_children(project, paths, known))
    problems.extend(catalog.check_after(project, paths, known))
    return paths, problems


def load(project: Project, name_or_path: str) -> Workflow:
    return loader.load_workflow(workflow_path(project, name_or_path), project.root)


def run_parameters(workflow: Workflow, overrides: dict[str, Any]) -> dict[str, Any]:
    """The workflow's parameters with run overrides, checked before anything is recorded.

    Secret parameters read `***` here (as the run keeps them); their variables must be set.
    """
    params_module.check_overrides(workflow, overrides)
    secrets_module.values(workflow.secrets)
    return {**workflow.parameters, **overrides}


def notebook_params(project: Project, path: str) -> list[NotebookParameter]:
    """The parameters a notebook declares; a cell nbflow cannot read is a usage error."""
    candidate = Path(path)
    if not candidate.is_absolute() and not candidate.exists():
        candidate = project.root / path
    cell = paramcell.read_parameters(candidate)
    if cell.error is not None:
        raise UsageError(paramcell.unreadable_cell(path, cell))
    return list(cell.parameters)


def run_file(project: Project, path: str, *, content: bool = True) -> dict[str, Any]:
    """A file of the runs folder as a Jupyter contents model (read-only)."""
    return runfiles.file_model(project, path, content=content)
