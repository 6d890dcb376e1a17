"""Notebooks run now: one notebook as a one-task workflow, recorded and started at once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..workflows.project import Project
from .detached import start_detached
from .modules import authoring, recorded_module
from .reading import open_store
from .workflows import run_parameters

if TYPE_CHECKING:
    from ..workflows.model import Workflow
    from .launcher import Launcher


def run_notebook(
    project: Project,
    notebook: str,
    parameters: dict[str, Any] | None = None,
    *,
    launcher: Launcher | None = None,
) -> dict[str, Any]:
    """Run one notebook now, as a one-task workflow kept in the state folder (so repairs work).

    `parameters` go to the notebook task; each must be declared in its `parameters` cell.
    The workflow is built and checked once, in memory, and its file is written once, for
    repairs. With a `launcher` (the Jupyter server's: a thread of its own, warm kernels) the
    run is recorded from that model and handed to the launcher, which runs it without
    reading the file again. Without one (a caller outside a server) it starts as
    `start_detached` starts any workflow: recorded from the file and run by a detached
    `nbflow _execute` process.
    """
    path, workflow = authoring.notebook_run_workflow(project, notebook, parameters or {})
    if launcher is None:
        run_id = start_detached(project, str(path.resolve()))
    else:
        run_id = _record(project, workflow)
        launcher.submit(project, run_id, workflow=workflow)
    return {"id": run_id, "state": "queued", "workflow": workflow.name}


def _record(project: Project, workflow: Workflow) -> int:
    """A run of `workflow` with its own parameters, recorded `queued` as started over REST."""
    parameters = run_parameters(workflow, {})
    store = open_store(project, create=True)
    try:
        now = time.time()
        return recorded_module.create_run(
            store,
            workflow,
            project,
            parameters=parameters,
            trigger_type="api",
            trigger_time=now,
            now=now,
        )
    finally:
        store.close()
