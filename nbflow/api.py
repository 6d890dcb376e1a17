"""The library facade: what the CLI (and later the Jupyter server) call; no logic elsewhere."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from . import loader
from .clock import Clock
from .errors import Problem, RunNotFound, UsageError, WorkflowFileError
from .model import Workflow
from .params import NotebookParameter, notebook_parameters
from .project import Project
from .rundoc import run_document
from .runner import Observer, Runner, create_run
from .store import Store


def open_store(project: Project) -> Store:
    if project.database_url.startswith("sqlite:///"):
        project.state_dir.mkdir(parents=True, exist_ok=True)
    return Store(project.database_url)


def _shown(path: Path) -> Path:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def workflow_path(project: Project, name_or_path: str) -> Path:
    """A workflow given as a file path, a file name in `workflows/`, or a workflow name."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise UsageError(f"{name_or_path}: no such workflow file")
        return candidate
    for path in project.workflow_files():
        if path.stem == name_or_path:
            return _shown(path)
    for path in project.workflow_files():
        workflow, _ = loader.check_file(path, project.root)
        if workflow is not None and workflow.name == name_or_path:
            return _shown(path)
    known = ", ".join(p.stem for p in project.workflow_files()) or "none"
    raise UsageError(
        f"no workflow {name_or_path!r} in {project.relative(project.workflows_dir)}/ (found: {known})"
    )


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
    for path in paths:
        _, found = loader.check_file(path, project.root)
        problems.extend(found)
    return paths, problems


def load(project: Project, name_or_path: str) -> Workflow:
    return loader.load_workflow(workflow_path(project, name_or_path), project.root)


def run_parameters(workflow: Workflow, overrides: dict[str, Any]) -> dict[str, Any]:
    """The workflow's parameters with run overrides; an unknown name is a usage error."""
    unknown = [name for name in overrides if name not in workflow.parameters]
    if unknown:
        declared = ", ".join(workflow.parameters) or "none"
        raise UsageError(
            f"workflow {workflow.name!r} has no parameter {unknown[0]!r} (its parameters: {declared})"
        )
    return {**workflow.parameters, **overrides}


def run(
    project: Project,
    name_or_path: str,
    *,
    overrides: dict[str, Any] | None = None,
    parallel: int | None = None,
    observer: Observer | None = None,
    trigger_type: str = "manual",
    clock: Clock | None = None,
    on_created: Any = None,
) -> dict[str, Any]:
    """Run a workflow to its end and return the run document."""
    workflow = load(project, name_or_path)
    if workflow.root != project.root:
        project = Project(workflow.root)  # a file in another project's workflows/ runs there
    parameters = run_parameters(workflow, overrides or {})
    clock = clock or Clock()
    store = open_store(project)
    try:
        now = clock.now()
        run_id = create_run(
            store,
            workflow,
            project,
            parameters=parameters,
            trigger_type=trigger_type,
            trigger_time=now,
            now=now,
        )
        if on_created:
            on_created(run_id, workflow)
        runner = Runner(
            workflow,
            project,
            store,
            run_id,
            parameters=parameters,
            trigger_type=trigger_type,
            trigger_time=now,
            parallel=parallel,
            clock=clock,
            observer=observer,
        )
        asyncio.run(runner.run())
        return show(project, run_id, store=store)
    finally:
        store.close()


def list_runs(
    project: Project, workflow: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    store = open_store(project)
    try:
        return [run_document({**r, "tasks": []}) for r in store.list_runs(workflow, limit)]
    finally:
        store.close()


def show(project: Project, run_id: int, store: Store | None = None) -> dict[str, Any]:
    own = store is None
    store = store or open_store(project)
    try:
        found = store.get_run(run_id)
    finally:
        if own:
            store.close()
    if found is None:
        raise RunNotFound(f"no run {run_id} in {project.relative(project.state_dir)}")
    return run_document(found)


def notebook_params(project: Project, path: str) -> list[NotebookParameter]:
    candidate = Path(path)
    if not candidate.is_absolute() and not candidate.exists():
        candidate = project.root / path
    return notebook_parameters(candidate)


__all__ = [
    "WorkflowFileError",
    "list_runs",
    "load",
    "notebook_params",
    "run",
    "show",
    "validate",
    "workflow_path",
]
