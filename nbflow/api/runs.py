"""Runs: starting one (here, detached or on a launcher), running a recorded one, canceling, repairing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from ..core import graph
from ..core.clock import Clock
from ..core.errors import (
    RunBusy,
    RunNotFound,
    UsageError,
)
from ..core.states import ACTIVE_RUN_STATES, TaskState
from ..execution import processes
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..execution.executor import Executor
    from ..execution.runner import Observer, Runner
    from ..history import Store
    from ..workflows.model import Workflow
    from .launcher import Launcher

from .engines import _drive, _engine, _parallel
from .modules import (
    executor_module,
    loader,
    params_module,
    runner_module,
    secrets_module,
)
from .reading import open_store, show
from .workflows import load, run_parameters


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
    parent_run_id: int | None = None,
    only: list[str] | None = None,
    from_run: int | None = None,
    dask: str | None = None,
) -> dict[str, Any]:
    """Run a workflow to its end and return the run document.

    `dask`: the address of a Dask scheduler whose workers run the attempts (see
    `cluster_executor`); checked before anything is recorded.

    A child run of `parent_run_id` when given (`dbutils.notebook.run` records its
    notebook's run so). `only`: run just those tasks (a partial run); the others are
    `skipped_by_selection` and the values the chosen ones need are taken from `from_run`,
    by default the latest successful run of the workflow.
    """
    if from_run is not None and not only:
        raise UsageError("--from-run needs --only: it says where the left-out tasks' values are")
    make_executor = _engine(project, dask)  # a cluster's settings checked first
    parallel = _parallel(parallel, dask)
    # Local: the warm pool's fork server imports ipykernel while the workflow loads.
    early = None if dask else executor_module.LocalExecutor.from_settings(one_run=True).launch()
    store = None
    try:
        workflow = load(project, name_or_path)
        if workflow.root != project.root:
            project = Project(workflow.root)  # a file in another project's workflows/ runs there
        parameters = run_parameters(workflow, overrides or {})
        clock = clock or Clock()
        store = open_store(project, clock, create=True)
        selection = _selection(store, project, workflow, only, from_run) if only else None
        now = clock.now()
        run_id = runner_module.create_run(
            store,
            workflow,
            project,
            parameters=parameters,
            trigger_type=trigger_type,
            trigger_time=now,
            now=now,
            parent_run_id=parent_run_id,
        )
        if on_created:
            on_created(run_id, workflow)
        _drive(
            lambda executor: runner_module.Runner(
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
                selection=selection,
                executor=executor,
            ),
            make_executor,
            early,
        )
        return show(project, run_id, store=store)
    finally:
        if early is not None:
            early.abandon()  # a run that never started; nothing once the run closed it
        if store is not None:
            store.close()


SUCCEEDED = ("success", "success_with_failures")


def _selection(
    store: Store, project: Project, workflow: Workflow, only: list[str], from_run: int | None
) -> runner_module.Selection:
    """What a partial run leaves out, and the values its chosen tasks read from another run."""
    keys = [t.key for t in workflow.tasks]
    unknown = [k for k in only if k not in keys]
    if unknown:
        raise UsageError(
            f"--only {unknown[0]!r}: no such task in {project.relative(workflow.path)} "
            f"(tasks: {', '.join(keys)})"
        )
    left_out = tuple(k for k in keys if k not in only)
    ancestry = graph.Ancestry({t.key: list(t.upstream) for t in workflow.tasks})
    needed = [k for k in left_out if any(k in ancestry.of(chosen) for chosen in only)]
    source: dict[str, Any] | None = None
    if from_run is not None:
        source = store.get_run(from_run)
        if source is None:
            raise RunNotFound(f"--from-run {from_run}: no run {from_run} in the history")
        if source["workflow"] != workflow.name:
            raise UsageError(
                f"--from-run {from_run}: run {from_run} is of workflow {source['workflow']!r}, "
                f"not {workflow.name!r}"
            )
        if source["state"] in ACTIVE_RUN_STATES:
            raise RunBusy(f"--from-run {from_run}: run {from_run} is still {source['state']}")
    elif needed:
        latest = next(
            (r for r in store.list_runs(workflow.name, 1000) if r["state"] in SUCCEEDED), None
        )
        if latest is None:
            raise UsageError(
                f"no successful run of {workflow.name} to take the values of "
                f"{', '.join(needed)} from: run them too, or name a run with --from-run ID"
            )
        source = store.get_run(latest["id"])
    rows = {t["key"]: t for t in (source or {}).get("tasks", []) if not t.get("parent_key")}
    return runner_module.Selection(
        left_out=left_out,
        source_run=source["id"] if source else None,
        outcomes={
            k: bool(rows[k]["outcome"])
            for k in left_out
            if k in rows and rows[k]["kind"] == "condition" and rows[k]["outcome"] is not None
        },
        values={k: rows[k]["task_values"] or {} for k in left_out if k in rows},
        outputs={k: rows[k].get("output") for k in left_out if k in rows},
    )


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
        run_id = runner_module.create_run(
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


def execute(project: Project, run_id: int, *, parallel: int | None = None) -> dict[str, Any]:
    """Run a run that was recorded but not started (by `start_detached`)."""
    store = open_store(project)
    try:
        _drive(lambda executor: _claimed(project, store, run_id, executor, parallel))
        return show(project, run_id, store=store)
    finally:
        store.close()


async def execute_here(
    project: Project,
    run_id: int,
    executor: Executor,
    *,
    parallel: int | None = None,
    runners: set[Runner] | None = None,
    workflow: Workflow | None = None,
) -> None:
    """`execute` inside a running event loop, on the caller's executor (the launcher's).

    `workflow`: the run's workflow as the caller recorded it (else read from its file).
    """
    store = open_store(project)
    try:
        runner = _claimed(
            project, store, run_id, executor, parallel, handle_signals=False, workflow=workflow
        )
        if runners is not None:
            runners.add(runner)
        try:
            await runner.run()
        finally:
            if runners is not None:
                runners.discard(runner)
    finally:
        store.close()


def _claimed(
    project: Project,
    store: Store,
    run_id: int,
    executor: Executor,
    parallel: int | None,
    handle_signals: bool = True,
    workflow: Workflow | None = None,
) -> Runner:
    """The runner of a recorded, not yet started run, which this process now owns."""
    run = store.get_run(run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id} in {project.relative(project.state_dir)}")
    if run["state"] != "queued":
        raise RunBusy(f"run {run_id} is {run['state']}, not waiting to start")
    if workflow is None:
        workflow = loader.load_workflow(project.root / run["workflow_path"], project.root)
    pid = os.getpid()
    store.update_run(
        run_id,
        runner_pid=pid,
        runner_host=socket.gethostname(),
        runner_started=processes.started_at(pid),
    )
    return runner_module.Runner(
        workflow,
        project,
        store,
        run_id,
        parameters=run["parameters"],
        trigger_type=run["trigger_type"],
        trigger_time=run["trigger_time"],
        parallel=parallel,
        executor=executor,
        handle_signals=handle_signals,
        trigger_info=run.get("trigger_info"),
    )


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
        rows = {t["key"]: t for t in run["tasks"] if not t.get("parent_key")}
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
        number = run["repair_count"] + 1
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
        start = runner_module.Repair(
            number=number,
            start_time=run["start_time"] or clock.now(),
            kept_states=kept,
            outcomes={
                k: bool(rows[k]["outcome"])
                for k in kept
                if rows[k]["kind"] == "condition" and rows[k]["outcome"] is not None
            },
            values={k: rows[k]["task_values"] or {} for k in kept},
            outputs={k: rows[k].get("output") for k in kept},
            last_attempts=store.last_attempts(run_id),
        )
        result = _drive(
            lambda executor: runner_module.Runner(
                workflow,
                project,
                store,
                run_id,
                parameters=parameters,
                trigger_type=run["trigger_type"],
                trigger_time=run["trigger_time"],
                parallel=parallel,
                clock=clock,
                observer=observer,
                repair=start,
                executor=executor,
            ),
            make_executor,
        )
        store.finish_repair(run_id, number, result.value, clock.now())
        return show(project, run_id, store=store)
    finally:
        store.close()
