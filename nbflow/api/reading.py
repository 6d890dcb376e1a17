"""Reading the run history: opening it (finishing dead runners' runs), runs, one run, artifacts, logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.clock import Clock
from ..core.errors import (
    RunNotFound,
    UsageError,
)
from ..execution import recovery
from ..review.rundoc import run_document
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..history import Store

from .modules import (
    logs_module,
)
from .workflows import workflow_path


def open_store(project: Project, clock: Clock | None = None, *, create: bool = False) -> Store:
    """The project's run history, after finishing any run whose runner died.

    Only what starts a run (`create`) may make a history in a folder that is not a project:
    reading commands say that no project was found rather than leave a `.nbflow/` behind.
    """
    if not create and not project.exists:
        raise UsageError(
            f"no nbflow project in {project.root} or any folder above it (a project has a "
            "workflows/ folder): cd into one or pass --project DIR"
        )
    if project.database_url.startswith("sqlite:///"):
        project.state_dir.mkdir(parents=True, exist_ok=True)
    from ..history import Store  # SQLAlchemy: only for commands that read or write runs

    store = Store(project.database_url)
    recovery.recover(store, project, (clock or Clock()).now())
    return store


def recover(project: Project, store: Store, clock: Clock | None = None) -> list[int]:
    """Finish the runs whose runner died (as opening the history does); their ids."""
    return recovery.recover(store, project, (clock or Clock()).now())


def list_runs(
    project: Project, workflow: str | None = None, limit: int = 50, store: Store | None = None
) -> list[dict[str, Any]]:
    """The newest runs (of one workflow); a workflow that has no runs must at least exist."""
    own = store is None
    store = store or open_store(project)
    try:
        found = [run_document({**r, "tasks": []}) for r in store.list_runs(workflow, limit)]
    finally:
        if own:
            store.close()
    if workflow and not found:
        workflow_path(project, workflow)  # raises WorkflowNotFound naming the known ones
    return found


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


def _units(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's tasks and for_each iterations (`KEY[i]`) by the name `logs` and `report` take."""
    units = {t["key"]: t for t in doc["tasks"]}
    for t in doc["tasks"]:
        for it in t.get("iterations", []):
            units[f"{t['key']}[{it['index']}]"] = it
    return units


def _chosen_attempt(
    doc: dict[str, Any], task: str, attempt: int | None
) -> tuple[dict[str, Any], Path]:
    """An attempt of a task (default: the last) that left an artifact, and that file's path."""
    run_id = doc["id"]
    units = _units(doc)
    if task not in units:
        raise UsageError(f"run {run_id} has no task {task!r} (tasks: {', '.join(units)})")
    attempts = units[task]["attempts"]
    if not attempts:
        raise UsageError(f"task {task!r} of run {run_id} has no attempt ({units[task]['state']})")
    chosen = (
        attempts[-1]
        if attempt is None
        else next((a for a in attempts if a["number"] == attempt), None)
    )
    if chosen is None:
        numbers = ", ".join(str(a["number"]) for a in attempts)
        raise UsageError(
            f"task {task!r} of run {run_id} has no attempt {attempt} (attempts: {numbers})"
        )
    if not chosen["artifact"]:
        raise UsageError(f"attempt {chosen['number']} of {task!r} left no log")
    return chosen, Path(chosen["artifact"])


def _artifact_file(project: Project, artifact: str) -> Path:
    """An attempt's artifact on this machine: in the project, or a copy from the artifact
    store a cluster's workers wrote it to (`NBFLOW_ARTIFACTS`)."""
    from ..execution import artifactstore

    return artifactstore.local_path(project.root, project.state_dir / "artifact-cache", artifact)


def logs(project: Project, run_id: int, task: str, attempt: int | None = None) -> tuple[str, str]:
    """(artifact path, text) of an attempt of a task (or `KEY[i]` iteration); default: the last."""
    chosen, _ = _chosen_attempt(show(project, run_id), task, attempt)
    path = _artifact_file(project, chosen["artifact"])
    if not path.is_file():
        raise UsageError(f"{chosen['artifact']}: the log is gone")
    return chosen["artifact"], logs_module.attempt_text(path, chosen["artifact"])


def artifact(
    project: Project, run_id: int, task: str, attempt: int | None = None
) -> dict[str, Any]:
    """An attempt's executed notebook (as its JSON) or its log (as text), as the server gives it."""
    path, text = logs(project, run_id, task, attempt)
    if not path.endswith(".ipynb"):
        return {"path": path, "kind": "log", "content": text}
    try:
        content = json.loads(_artifact_file(project, path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # replaced or cut short since `logs` read it
        raise UsageError(f"{path}: not a readable notebook ({exc})") from None
    return {"path": path, "kind": "notebook", "content": content}
