"""Detached runs: a run recorded, then started in a process of its own (which outlives the
caller) or on a server's launcher; a repair checked, then run in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from ..core.errors import RunBusy
from ..core.states import ACTIVE_RUN_STATES
from ..workflows.project import Project

if TYPE_CHECKING:
    from .launcher import Launcher

from .modules import loader, params_module, recorded_module
from .reading import open_store, show
from .workflows import load, run_parameters


def start_detached(
    project: Project,
    name_or_path: str,
    *,
    overrides: dict[str, Any] | None = None,
    parallel: int | None = None,
    trigger_type: str = "api",
    launcher: Launcher | None = None,
) -> int:
    """Record a run and start it: on `launcher` (a long-lived process's warm kernels) or
    else in a process of its own (which outlives the caller)."""
    workflow = load(project, name_or_path)
    parameters = run_parameters(workflow, overrides or {})
    store = open_store(project, create=True)
    try:
        now = time.time()
        run_id = recorded_module.create_run(
            store,
            workflow,
            project,
            parameters=parameters,
            trigger_type=trigger_type,
            trigger_time=now,
            now=now,
        )
    finally:
        store.close()
    if launcher is not None:
        launcher.submit(project, run_id, parallel)
        return run_id
    command = [
        sys.executable,
        "-m",
        "nbflow.cli",
        "--project",
        str(project.root),
        "_execute",
        str(run_id),
    ]
    if parallel:
        command += ["--parallel", str(parallel)]
    _spawn_detached(command, project)
    return run_id


def repair_detached(
    project: Project,
    run_id: int,
    *,
    tasks: list[str] | None = None,
    dependents: bool = True,
    overrides: dict[str, Any] | None = None,
) -> None:
    """Check a repair can start, then run it in a process of its own."""
    doc = show(project, run_id)
    if doc["state"] in ACTIVE_RUN_STATES:
        raise RunBusy(f"run {run_id} is still {doc['state']}; repair it once it has finished")
    if overrides:  # refused here, where the caller hears it, not in the detached process
        workflow = loader.load_workflow(project.root / doc["workflow_path"], project.root)
        params_module.check_overrides(workflow, overrides)
    command = [
        sys.executable,
        "-m",
        "nbflow.cli",
        "--project",
        str(project.root),
        "repair",
        str(run_id),
    ]
    for key in tasks or []:
        command += ["--task", key]
    if not dependents:
        command.append("--no-dependents")
    for name, value in (overrides or {}).items():
        command += ["-p", f"{name}={json.dumps(value)}"]
    _spawn_detached(command, project)


def _spawn_detached(command: list[str], project: Project) -> None:
    log = project.state_dir / "detached.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        subprocess.Popen(
            command,
            cwd=project.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
