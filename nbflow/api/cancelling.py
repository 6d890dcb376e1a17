"""Canceling a run: asking its runner to stop, and waiting (on a clock passed in) until it has."""

from __future__ import annotations

import time
from typing import Any

from ..core.clock import Clock
from ..core.errors import RunBusy, RunNotFound
from ..core.states import ACTIVE_RUN_STATES
from ..workflows.project import Project
from .reading import open_store, show


def request_cancel(project: Project, run_id: int) -> dict[str, Any]:
    """Ask a run's runner to cancel it; return at once."""
    store = open_store(project)
    try:
        run = store.get_run(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id} in {project.relative(project.state_dir)}")
        if not store.request_cancel(run_id, time.time()):
            raise RunBusy(f"run {run_id} has already finished ({run['state']}); nothing to cancel")
        return {"id": run_id, "state": run["state"], "cancel_requested": True}
    finally:
        store.close()


def cancel(
    project: Project, run_id: int, *, wait: float = 60.0, clock: Clock | None = None
) -> dict[str, Any]:
    """Ask the runner to cancel a run and wait (up to `wait` s) until it has stopped."""
    clock = clock or Clock()
    store = open_store(project)
    try:
        if store.get_run(run_id) is None:
            raise RunNotFound(f"no run {run_id} in {project.relative(project.state_dir)}")
        if not store.request_cancel(run_id, clock.now()):
            state = store.get_run(run_id)["state"]  # type: ignore[index]
            raise RunBusy(f"run {run_id} has already finished ({state}); nothing to cancel")
        deadline = clock.now() + wait
        while clock.now() < deadline:
            run = store.get_run(run_id)
            if run is None or run["state"] not in ACTIVE_RUN_STATES:
                break
            # Poll: the runner is another process and says nothing to this one.
            clock.pause(0.1)
        return show(project, run_id, store=store)
    finally:
        store.close()
