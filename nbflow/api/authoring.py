"""Writing workflow files from the lab: a new workflow for a notebook, a task added to one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..workflows.project import Project
from .modules import (
    authoring,
)
from .schedules import workflows


def create_workflow(
    project: Project,
    name: str,
    notebook: str,
    *,
    parameters: dict[str, Any] | None = None,
    schedule: dict[str, Any] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Write `workflows/<name>.yaml` running one notebook; its entry as `workflows` lists it."""
    path = authoring.create_workflow_file(
        project,
        name,
        notebook,
        parameters=parameters or {},
        schedule=schedule,
        description=description,
    )
    return _entry(project, path)


def add_task(
    project: Project,
    workflow: str,
    notebook: str,
    *,
    key: str | None = None,
    parameters: dict[str, Any] | None = None,
    depends_on: list[str] | None = None,
) -> dict[str, Any]:
    """Append a notebook task to a workflow's file; the workflow's entry as `workflows` lists it."""
    path = authoring.add_notebook_task(
        project,
        workflow,
        notebook,
        key=key,
        parameters=parameters or {},
        depends_on=depends_on or [],
    )
    return _entry(project, path)


def _entry(project: Project, path: Path) -> dict[str, Any]:
    shown = project.relative(path)
    return next(e for e in workflows(project) if e["file"] == shown)
