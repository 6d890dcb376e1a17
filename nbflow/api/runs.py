"""Runs: running a workflow here to its end (all of it, or a partial run), and running a run
recorded earlier and not yet started (`execute`: a detached process's, or a launcher's)."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from ..core import graph
from ..core.clock import Clock
from ..core.errors import (
    RunBusy,
    RunNotFound,
    UsageError,
)
from ..core.states import ACTIVE_RUN_STATES
from ..execution import processes
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..execution.executor import Executor
    from ..execution.runner import Observer, Runner
    from ..history import Store
    from ..workflows.model import Workflow

from .engines import _drive, _engine, _parallel
from .modules import (
    executor_module,
    loader,
    recorded_module,
    startpoints,
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
        run_id = recorded_module.create_run(
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
            lambda executor: recorded_module.runner_for(
                recorded_module.Recorded(run_id, parameters, trigger_type, now),
                workflow,
                project,
                store,
                executor=executor,
                parallel=parallel,
                clock=clock,
                observer=observer,
                selection=selection,
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
) -> startpoints.Selection:
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
    return startpoints.selection_from(source, left_out)


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
    return recorded_module.runner_for(
        recorded_module.Recorded.of(run),
        workflow,
        project,
        store,
        executor=executor,
        parallel=parallel,
        handle_signals=handle_signals,
    )
