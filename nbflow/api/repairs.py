"""Repairs: which tasks of a finished run run again, the run claimed for the repair (one
repair at a time), and the repair run here to its end in the same run id."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from ..core import graph
from ..core.clock import Clock
from ..core.errors import RunBusy, RunNotFound, UsageError
from ..core.states import ACTIVE_RUN_STATES, TaskState
from ..execution import processes
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..execution.runner import Observer

from .engines import _drive, _engine, _parallel
from .modules import loader, recorded_module, secrets_module, startpoints
from .reading import open_store, show
from .workflows import run_parameters

REPAIRABLE = ("failed", "timed_out", "canceled", "upstream_failed", "upstream_canceled")


def repair(
    project: Project,
    run_id: int,
    *,
    tasks: list[str] | None = None,
    dependents: bool = True,
    overrides: dict[str, Any] | None = None,
    parallel: int | None = None,
    observer: Observer | None = None,
    clock: Clock | None = None,
    dask: str | None = None,
) -> dict[str, Any]:
    """Rerun part of a finished run inside the same run id and return its document."""
    make_executor = _engine(project, dask)
    parallel = _parallel(parallel, dask)
    clock = clock or Clock()
    store = open_store(project, clock)
    try:
        run = store.get_run(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id} in {project.relative(project.state_dir)}")
        if run["state"] in ACTIVE_RUN_STATES:
            raise UsageError(
                f"run {run_id} is still {run['state']}; repair it once it has finished"
            )
        workflow = loader.load_workflow(project.root / run["workflow_path"], project.root)
        secrets_module.values(workflow.secrets)  # refused here rather than failing every task
        rows = startpoints.task_rows(run)
        upstream = {t.key: list(t.upstream) for t in workflow.tasks}
        if tasks:
            unknown = [k for k in tasks if k not in upstream]
            if unknown:
                raise UsageError(
                    f"--task {unknown[0]!r}: no such task in {run['workflow_path']} "
                    f"(tasks: {', '.join(upstream)})"
                )
            selected = set(tasks)
        else:
            selected = {k for k in upstream if k not in rows or rows[k]["state"] in REPAIRABLE}
        if dependents:
            selected |= graph.downstream_of(upstream, selected)
        if not selected:
            raise UsageError(
                f"run {run_id}: every task succeeded; name tasks with --task to rerun them"
            )
        run_parameters(workflow, overrides or {})  # names must be the workflow's
        kept_params = {k: v for k, v in run["parameters"].items() if k in workflow.parameters}
        parameters = {**workflow.parameters, **kept_params, **(overrides or {})}
        order = [k for k in upstream if k in selected]
        pid = os.getpid()
        if not store.claim_repair(
            run_id,
            expected_count=run["repair_count"],
            now=clock.now(),
            tasks=order,
            parameters=parameters,
            runner_pid=pid,
            runner_host=socket.gethostname(),
            runner_started=processes.started_at(pid),
        ):
            raise RunBusy(f"run {run_id} is being repaired by another process; try again later")
        store.add_missing_tasks(
            run_id,
            [
                (t.key, t.kind, [{"task": e.task, "outcome": e.outcome} for e in t.depends_on])
                for t in workflow.tasks
                if t.key not in rows
            ],
        )
        store.reset_tasks(run_id, order)
        kept = {k: TaskState(rows[k]["state"]) for k in upstream if k in rows and k not in selected}
        start = startpoints.repair_from(
            run, kept, now=clock.now(), last_attempts=store.last_attempts(run_id)
        )
        result = _drive(
            lambda executor: recorded_module.runner_for(
                recorded_module.Recorded.of(run),
                workflow,
                project,
                store,
                executor=executor,
                parameters=parameters,
                parallel=parallel,
                clock=clock,
                observer=observer,
                repair=start,
            ),
            make_executor,
        )
        store.finish_repair(run_id, start.number, result.value, clock.now())
        return show(project, run_id, store=store)
    finally:
        store.close()
