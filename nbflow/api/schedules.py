"""Schedules: the workflows with their triggers, the scheduler (a daemon or in a server), pausing."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TYPE_CHECKING, Any

from ..core.clock import iso
from ..core.errors import (
    UsageError,
)
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..history import Store
    from ..workflows.model import Workflow

from .engines import _engine, _launcher, _on_its_loop, _parallel, _pool_status, _report_pool
from .modules import (
    loader,
    scheduler_module,
    triggers,
)
from .reading import open_store
from .workflows import load


def workflows(project: Project, store: Store | None = None) -> list[dict[str, Any]]:
    """Every workflow file of the project: its graph, parameters, triggers and problems.

    Each file is read once, for its entry and its schedule (the panel asks every few seconds).
    """
    checked = [(path, *loader.check_file(path, project.root)) for path in project.workflow_files()]
    triggered = [w for _, w, _ in checked if w is not None and scheduler_module.trigger_kinds(w)]
    own = store is None
    store = store or open_store(project)
    try:
        schedules = {e["workflow"]: e for e in _schedule_entries(project, store, triggered)}
    finally:
        if own:
            store.close()
    out = []
    for path, workflow, problems in checked:
        entry: dict[str, Any] = {
            "file": project.relative(path),
            "name": workflow.name if workflow else path.stem,
            "ok": not problems,
            "problems": [{"file": p.file, "line": p.line, "message": p.message} for p in problems],
        }
        if workflow is not None:
            entry.update(
                description=workflow.description,
                parameters=workflow.parameters,
                tasks=[
                    {
                        "key": t.key,
                        "kind": t.kind,
                        "depends_on": [
                            {"task": e.task, "outcome": e.outcome} for e in t.depends_on
                        ],
                        "run_if": t.run_if,
                    }
                    for t in workflow.tasks
                ],
                schedule=schedules.get(workflow.name),
            )
        out.append(entry)
    return out


async def serve_scheduler(
    project: Project,
    stop: asyncio.Event,
    *,
    tick: float = 0.5,
    ready: asyncio.Event | None = None,
    dask: str | None = None,
) -> None:
    """The scheduler inside another program's event loop (the Jupyter server).

    `ready` is set once its first look (and heartbeat) is done; `dask` as for `schedule`.
    """
    store = open_store(project)
    executor = _engine(project, dask)()  # its pool serves every run
    reporting = asyncio.ensure_future(_report_pool(project, executor))
    try:
        scheduler = scheduler_module.Scheduler(
            project, store, launcher=_launcher(project, store, _parallel(None, dask), executor)
        )
        await scheduler.serve(stop, tick, ready=ready)
    finally:
        store.close()
        if _on_its_loop(reporting):  # not when GC closes this after its server's loop closed
            reporting.cancel()
            await asyncio.gather(reporting, return_exceptions=True)
            await executor.close()


def _stop_on_signals(sched: Any) -> asyncio.Event:
    """Set by the first SIGINT/SIGTERM (no new runs start); a second cancels the runs going."""
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            for job in list(sched.running.values()):
                job.cancel()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return stop


def schedule(
    project: Project, *, parallel: int | None = None, tick: float = 0.5, dask: str | None = None
) -> None:
    """Run the scheduler in the foreground until SIGINT/SIGTERM.

    The first signal stops new runs and waits for the running ones; a second cancels them.
    `dask`: runs' attempts execute on that Dask scheduler's workers.
    """
    make_executor = _engine(project, dask)
    parallel = _parallel(parallel, dask)
    store = open_store(project)
    executor = make_executor()  # warm between runs
    sched = scheduler_module.Scheduler(
        project, store, launcher=_launcher(project, store, parallel, executor)
    )

    async def main() -> None:
        stop = _stop_on_signals(sched)
        reporting = asyncio.ensure_future(_report_pool(project, executor))
        try:
            await sched.serve(stop, tick=tick)
        finally:
            reporting.cancel()
            await asyncio.gather(reporting, return_exceptions=True)
            await executor.close()

    try:
        asyncio.run(main())
    finally:
        store.close()


def schedule_list(project: Project, store: Store | None = None) -> list[dict[str, Any]]:
    """Each workflow with triggers: kinds, paused state and next fire time in its zone."""
    own = store is None
    store = store or open_store(project)
    try:
        return _schedule_entries(
            project, store, scheduler_module.Scheduler(project, store).workflows()
        )
    finally:
        if own:
            store.close()


def _schedule_entries(
    project: Project, store: Store, triggered: list[Workflow]
) -> list[dict[str, Any]]:
    """`schedule_list`'s entries of these workflows (each one with triggers)."""
    now = time.time()
    out = []
    for workflow in triggered:
        settings = workflow.settings
        assert settings is not None
        state = store.trigger_state(workflow.name) or {}
        entry: dict[str, Any] = {
            "workflow": workflow.name,
            "file": project.relative(workflow.path),
            "triggers": scheduler_module.trigger_kinds(workflow),
            "paused": bool(
                settings.paused
                or state.get("paused")
                or (settings.schedule and settings.schedule.paused)
            ),
            "paused_by": "file"
            if settings.paused or (settings.schedule and settings.schedule.paused)
            else ("command" if state.get("paused") else None),
            "schedule": None,
            "next_fire": None,
            "active_runs": len(store.active_runs(workflow.name)),
        }
        if settings.schedule:
            tz = settings.schedule.timezone
            entry["schedule"] = {"cron": settings.schedule.cron, "timezone": tz}
            entry["next_fire"] = triggers.iso_in(
                triggers.next_fire(settings.schedule.cron, tz, now), tz
            )
        if settings.file_arrival:
            entry["file_arrival"] = settings.file_arrival.model_dump()
        out.append(entry)
    return out


def scheduler_status(
    project: Project, now: float | None = None, store: Store | None = None
) -> dict[str, Any]:
    """Whether a scheduler serves the project now: the ones heard from recently."""
    own = store is None
    store = store or open_store(project)
    try:
        beats = store.schedulers()
    finally:
        if own:
            store.close()
    alive = scheduler_module.alive_schedulers(beats, time.time() if now is None else now)
    return {
        "running": bool(alive),
        "schedulers": [
            {
                "host": b["host"],
                "pid": b["pid"],
                "started": iso(b.get("started")),
                "seen": iso(b["seen"]),
                "kernels": _pool_status(project, b["pid"], b["host"]),
            }
            for b in alive
        ],
        "stale_after": scheduler_module.HEARTBEAT_STALE,
    }


def set_paused(project: Project, name: str, paused: bool) -> dict[str, Any]:
    """Pause or resume a workflow's triggers (a running scheduler sees it at its next tick)."""
    workflow = load(project, name)
    if not scheduler_module.trigger_kinds(workflow):
        raise UsageError(
            f"workflow {workflow.name!r} has no trigger (schedule, file_arrival, continuous, "
            "trigger)"
        )
    store = open_store(project)
    try:
        now = time.time()
        store.set_paused(workflow.name, paused, now)
        if not paused:
            # Fire times that passed while paused are skipped, not caught up.
            store.reset_trigger_since(workflow.name, now)
    finally:
        store.close()
    entry = next(e for e in schedule_list(project) if e["workflow"] == workflow.name)
    return entry
