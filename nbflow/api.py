"""The library facade: what the CLI (and later the Jupyter server) call; no logic elsewhere."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import graph, processes, recovery
from .clock import Clock, iso
from .errors import (
    Conflict,
    NbflowError,
    Problem,
    RunBusy,
    RunNotFound,
    UsageError,
    WorkflowFileError,
    WorkflowNotFound,
)
from .project import Project
from .rundoc import run_document
from .startup import lazy_module
from .states import ACTIVE_RUN_STATES, RunState, TaskState

# Imported on first use, so that commands reading the history (`runs`, `show`, `cancel`)
# never load the YAML loader, the runner, papermill or the scheduler.
if TYPE_CHECKING:
    from . import authoring, catalog, loader, runfiles, triggers
    from . import diff as diff_module
    from . import executor as executor_module
    from . import logs as logs_module
    from . import params as params_module
    from . import report as report_module
    from . import runner as runner_module
    from . import scheduler as scheduler_module
    from . import secrets as secrets_module
    from .databricks import exporter as databricks_exporter
    from .databricks import importer as databricks_importer
    from .databricks import jobfile as databricks_jobfile
    from .executor import Executor
    from .history import Store
    from .launcher import Launcher
    from .model import Workflow
    from .params import NotebookParameter
    from .runner import Observer, Runner
else:
    authoring = lazy_module("nbflow.authoring")
    catalog = lazy_module("nbflow.catalog")
    diff_module = lazy_module("nbflow.diff")
    secrets_module = lazy_module("nbflow.secrets")
    loader = lazy_module("nbflow.loader")
    runfiles = lazy_module("nbflow.runfiles")
    triggers = lazy_module("nbflow.triggers")
    logs_module = lazy_module("nbflow.logs")
    params_module = lazy_module("nbflow.params")
    report_module = lazy_module("nbflow.report")
    executor_module = lazy_module("nbflow.executor")
    runner_module = lazy_module("nbflow.runner")
    scheduler_module = lazy_module("nbflow.scheduler")
    databricks_exporter = lazy_module("nbflow.databricks.exporter")
    databricks_importer = lazy_module("nbflow.databricks.importer")
    databricks_jobfile = lazy_module("nbflow.databricks.jobfile")


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
    from .history import Store  # SQLAlchemy: only for commands that read or write runs

    store = Store(project.database_url)
    recovery.recover(store, project, (clock or Clock()).now())
    return store


def recover(project: Project, store: Store, clock: Clock | None = None) -> list[int]:
    """Finish the runs whose runner died (as opening the history does); their ids."""
    return recovery.recover(store, project, (clock or Clock()).now())


def _shown(path: Path) -> Path:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def workflow_path(project: Project, name_or_path: str) -> Path:
    """A workflow given as a file path, a file name in `workflows/`, or a workflow name."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise WorkflowNotFound(f"{name_or_path}: no such workflow file")
        return candidate
    return _shown(workflow_named(project, name_or_path))


def workflow_named(project: Project, name: str) -> Path:
    """The file in `workflows/` of the workflow called `name` (see `catalog.find`)."""
    return catalog.find(project, name)


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
    checked: dict[Path, Workflow | None] = {}
    for path in paths:
        checked[path.resolve()], found = loader.check_file(path, project.root)
        problems.extend(found)
    # In the same pass: a file with problems of its own still has its calls checked.
    known = catalog.by_name(project, checked)  # the other files read once for both checks
    problems.extend(catalog.check_children(project, paths, known))
    problems.extend(catalog.check_after(project, paths, known))
    return paths, problems


def load(project: Project, name_or_path: str) -> Workflow:
    return loader.load_workflow(workflow_path(project, name_or_path), project.root)


def run_parameters(workflow: Workflow, overrides: dict[str, Any]) -> dict[str, Any]:
    """The workflow's parameters with run overrides, checked before anything is recorded.

    Secret parameters read `***` here (as the run keeps them); their variables must be set.
    """
    params_module.check_overrides(workflow, overrides)
    secrets_module.values(workflow.secrets)
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
) -> None:
    """`execute` inside a running event loop, on the caller's executor (the launcher's)."""
    store = open_store(project)
    try:
        runner = _claimed(project, store, run_id, executor, parallel, handle_signals=False)
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
) -> Runner:
    """The runner of a recorded, not yet started run, which this process now owns."""
    run = store.get_run(run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id} in {project.relative(project.state_dir)}")
    if run["state"] != "queued":
        raise RunBusy(f"run {run_id} is {run['state']}, not waiting to start")
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


def workflows(project: Project) -> list[dict[str, Any]]:
    """Every workflow file of the project: its graph, parameters, triggers and problems."""
    schedules = {e["workflow"]: e for e in schedule_list(project)}
    out = []
    for path in project.workflow_files():
        workflow, problems = loader.check_file(path, project.root)
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


def _on_its_loop(task: asyncio.Future[Any]) -> bool:
    """Whether `task`'s loop is the one running here (and so still open).

    A coroutine abandoned with a stopped Jupyter server is closed by the garbage collector,
    maybe while another loop runs in this thread: its own loop is closed by then.
    """
    try:
        return asyncio.get_running_loop() is task.get_loop()
    except RuntimeError:
        return False


def _pool_file(project: Project, pid: int | None = None, host: str | None = None) -> Path:
    name = f"{host or socket.gethostname()}-{pid or os.getpid()}.json"
    return project.state_dir / "pools" / name


async def _report_pool(project: Project, executor: Executor, every: float = 5.0) -> None:
    """Keep this process's warm-kernel pool status where `schedule list` reads it."""
    path = _pool_file(project)
    try:
        while True:
            status: dict[str, Any] = getattr(executor, "status", dict)()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"seen": time.time(), "kernels": status}))
            except OSError:
                pass  # a read-only state folder: the status is only informative
            await asyncio.sleep(every)
    finally:
        path.unlink(missing_ok=True)


def _drive(
    make_runner: Callable[[Executor], Runner],
    make_executor: Callable[[], Executor] | None = None,
    executor: Executor | None = None,
) -> RunState:
    """Run one runner to its end: on `executor` (a local one started early), else on the one
    `make_executor` makes (a Dask cluster's), else on a local executor (warm kernels unless
    turned off); closed here."""

    async def main() -> RunState:
        nonlocal executor
        executor = executor or (make_executor or executor_module.LocalExecutor.from_settings)()
        try:
            return await make_runner(executor).run()
        finally:
            await executor.close()

    return asyncio.run(main())


# Attempts of one run out at once on a cluster when --parallel is not given: the workers'
# `kernel` resources are what limits them there, not this machine's cores.
CLUSTER_PARALLEL = 256


def _parallel(parallel: int | None, dask: str | None) -> int | None:
    return parallel or (CLUSTER_PARALLEL if dask else None)


def _engine(project: Project, dask: str | None) -> Callable[[], Executor]:
    """What makes the executor of a run: local, or a Dask cluster's once its settings hold."""
    if not dask:
        return executor_module.LocalExecutor.from_settings
    return cluster_executor(project, dask)


def server_launcher(
    project: Project,
    *,
    dask: str | None = None,
    warm_kernels: int | None = None,
    preload: list[str] | None = None,
    kernel_idle: float | None = None,
) -> Launcher:
    """Where a Jupyter server's REST-started runs execute: a thread of its own with warm
    kernels (the settings given override the environment's), or a Dask cluster's workers."""
    from dataclasses import replace

    from .kernelpool import PoolSettings
    from .launcher import Launcher

    if dask:
        return Launcher(cluster_executor(project, dask)())
    settings = PoolSettings.from_env()
    if warm_kernels is not None:
        settings = replace(settings, size=max(0, warm_kernels))
    if preload is not None:
        settings = replace(settings, preload=tuple(preload))
    if kernel_idle is not None:
        settings = replace(settings, idle_seconds=kernel_idle)
    return Launcher(executor_module.LocalExecutor.from_settings(settings))


def cluster_executor(project: Project, address: str) -> Callable[[], Executor]:
    """Check what running on the Dask scheduler at `address` needs; what makes its executor.

    The history must be one every machine can reach (not SQLite) and the artifacts must go
    where every machine can read them (`NBFLOW_ARTIFACTS`), unless the scheduler listens on
    a loopback address: its workers are then all on this machine, and the project's SQLite
    history and state folder serve. Each problem is one sentence (exit code 2).
    """
    from . import artifactstore, dask_executor

    local = dask_executor.is_local(address)
    if project.database_url.startswith("sqlite") and not local:
        raise UsageError(
            f"--dask {address}: the run history is SQLite, which only this machine can use; "
            "set NBFLOW_DATABASE_URL to a PostgreSQL database every machine reaches (a "
            "scheduler on 127.0.0.1 or localhost, whose workers are all here, may keep SQLite)"
        )
    root = artifactstore.root_from_env()
    if root is None and not local:
        raise UsageError(
            f"--dask {address}: set {artifactstore.ARTIFACTS_ENV} to a folder every worker "
            "shares or an fsspec URL (s3://bucket/prefix): workers write executed notebooks "
            "and logs there"
        )
    host, port = dask_executor.host_port(address)
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as exc:
        raise UsageError(f"--dask {address}: no Dask scheduler answers there ({exc})") from None
    store_root = root or "file://" + str(project.state_dir.resolve())
    return lambda: dask_executor.DaskExecutor(address, store_root, state_dir=project.state_dir)


def _launcher(project: Project, store: Store, parallel: int | None, executor: Executor) -> Any:
    async def launch(workflow: Workflow, run_id: int) -> None:
        run = store.get_run(run_id)
        assert run is not None
        runner = runner_module.Runner(
            workflow,
            project,
            store,
            run_id,
            parameters=run["parameters"],
            trigger_type=run["trigger_type"],
            trigger_time=run["trigger_time"],
            parallel=parallel,
            handle_signals=False,
            trigger_files=run.get("trigger_files"),
            trigger_location=run.get("trigger_location"),
            executor=executor,
            trigger_info=run.get("trigger_info"),
        )
        await runner.run()

    return launch


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


# -- backfills ---------------------------------------------------------------------------

MAX_BACKFILL_RUNS = 10_000  # fire times one backfill may hold


def _moment(text: str, tz: str, option: str, *, end: bool) -> float:
    """A date (the whole day: from its start, or to its end) or a date and time, read in
    the schedule's time zone unless it names an offset."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            start = datetime(day.year, day.month, day.day, tzinfo=zone)
            if end:  # through the last moment of that day
                start = datetime.combine(day + timedelta(days=1), start.time(), zone)
                return start.timestamp() - 0.001
            return start.timestamp()
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a date (2026-01-31) or a date and time "
            "(2026-01-31T06:00, optionally with an offset)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()


def backfill(
    project: Project,
    name: str,
    *,
    start: str,
    end: str,
    every: str | None = None,
    concurrency: int | None = None,
    rerun: bool = False,
    overrides: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Record a backfill: one run per fire time of the workflow's schedule (or every
    `every`) from `start` to `end`; a scheduler, or `serve_backfill`, starts them.

    Fire times that already have a successful (or active) run of the schedule or of an
    earlier backfill are skipped unless `rerun`.
    """
    from .durations import parse_duration

    workflow = load(project, name)
    run_parameters(workflow, overrides or {})  # names must be the workflow's
    if concurrency is not None and concurrency < 1:
        raise UsageError(f"--concurrency {concurrency}: must be at least 1")
    schedule = workflow.schedule
    tz = schedule.timezone if schedule else "UTC"
    low = _moment(start, tz, "--from", end=False)
    high = _moment(end, tz, "--to", end=True)
    if high < low:
        raise UsageError(f"--to {end!r} is before --from {start!r}")
    if every is not None:
        try:
            step = parse_duration(every)
        except ValueError as exc:
            raise UsageError(f"--every {every!r}: {exc}") from None
        if step <= 0:
            raise UsageError(f"--every {every!r}: must be more than 0")
        times = triggers.every_between(low, high, step, MAX_BACKFILL_RUNS)
    elif schedule is not None:
        times = triggers.fire_times_between(schedule.cron, tz, low, high, MAX_BACKFILL_RUNS)
    else:
        raise UsageError(
            f"workflow {workflow.name!r} has no schedule: say how often with --every (1d, say)"
        )
    if len(times) > MAX_BACKFILL_RUNS:
        raise UsageError(
            f"{start} to {end} holds more than {MAX_BACKFILL_RUNS} fire times: "
            "backfill a shorter range"
        )
    if not times:
        raise UsageError(f"no fire time of {workflow.name} from {start} to {end}")
    clock = clock or Clock()
    store = open_store(project, clock, create=True)
    try:
        done = set()
        if not rerun:
            done = {
                r["trigger_time"]
                for r in store.runs_at(workflow.name, ("schedule", "backfill"), times)
                if r["state"] in SUCCEEDED or r["state"] in ACTIVE_RUN_STATES
            }
        backfill_id = store.create_backfill(
            workflow=workflow.name,
            workflow_path=project.relative(workflow.path),
            fire_times=times,
            skipped=[t for t in times if t in done],
            parameters=dict(overrides or {}),
            concurrency=concurrency or 1,
            span={"from": start, "to": end, "every": every, "timezone": tz, "rerun": rerun},
            now=clock.now(),
        )
        return _backfill_doc(store, store.list_backfills(backfill_id=backfill_id)[0])
    finally:
        store.close()


def _backfill_doc(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    """A backfill as `backfill list --json` and the REST API give it: each day's run."""
    started = store.backfill_runs(row)
    skipped = set(row["skipped"])
    tz = row["span"].get("timezone") or "UTC"
    days = []
    for t in row["fire_times"]:
        run = started.get(t)
        days.append(
            {
                "time": triggers.iso_in(t, tz),
                "state": run["state"]
                if run
                else "skipped"
                if t in skipped
                else ("pending" if row["state"] == "running" else "not_started"),
                "run_id": run["id"] if run else None,
            }
        )
    counts: dict[str, int] = {}
    for day in days:
        counts[str(day["state"])] = counts.get(str(day["state"]), 0) + 1
    return {
        "id": row["id"],
        "workflow": row["workflow"],
        "state": row["state"],
        "from": row["span"].get("from"),
        "to": row["span"].get("to"),
        "every": row["span"].get("every"),
        "timezone": tz,
        "rerun": bool(row["span"].get("rerun")),
        "concurrency": row["concurrency"],
        "parameters": row["parameters"],
        "created": iso(row["created"]),
        "end_time": iso(row["end_time"]),
        "counts": counts,
        "days": days,
    }


def _backfill_row(store: Store, backfill_id: int) -> dict[str, Any]:
    found = store.list_backfills(backfill_id=backfill_id)
    if not found:
        raise RunNotFound(f"no backfill {backfill_id} in the run history")
    return found[0]


def backfills(project: Project, backfill_id: int | None = None) -> list[dict[str, Any]]:
    """Every backfill of the project (or one), oldest first, with each day's run."""
    store = open_store(project)
    try:
        if backfill_id is not None:
            return [_backfill_doc(store, _backfill_row(store, backfill_id))]
        return [_backfill_doc(store, row) for row in store.list_backfills()]
    finally:
        store.close()


def cancel_backfill(project: Project, backfill_id: int) -> dict[str, Any]:
    """Start no more of a backfill's days and cancel its runs still going."""
    store = open_store(project)
    try:
        row = _backfill_row(store, backfill_id)
        now = time.time()
        if not store.end_backfill(backfill_id, "canceled", now):
            raise RunBusy(
                f"backfill {backfill_id} has already ended ({row['state']}); nothing to cancel"
            )
        for run in store.backfill_runs(row).values():
            if run["state"] in ACTIVE_RUN_STATES:
                store.request_cancel(run["id"], now)
        return _backfill_doc(store, _backfill_row(store, backfill_id))
    finally:
        store.close()


def serve_backfill(
    project: Project,
    backfill_id: int,
    *,
    parallel: int | None = None,
    tick: float = 0.5,
) -> dict[str, Any]:
    """Start a backfill's days in the foreground until it has finished or was canceled.

    The first SIGINT/SIGTERM starts no more days and waits for the runs going (the backfill
    stays running: `serve_backfill` again, or any scheduler, goes on with it); a second
    cancels them. Any scheduler of the project may start days of it at the same time.
    """
    store = open_store(project)
    try:
        if _backfill_row(store, backfill_id)["state"] != "running":
            raise RunBusy(f"backfill {backfill_id} is not running; nothing to resume")
        executor = executor_module.LocalExecutor.from_settings()  # warm across its days
        sched = scheduler_module.Scheduler(
            project,
            store,
            launcher=_launcher(project, store, parallel, executor),
            only_backfill=backfill_id,
        )

        async def main() -> None:
            stop = _stop_on_signals(sched)

            async def until_ended() -> None:
                while not stop.is_set():
                    if _backfill_row(store, backfill_id)["state"] != "running":
                        stop.set()
                        return
                    # The history says when it ends: any scheduler may finish or cancel it.
                    await asyncio.sleep(tick)

            watcher = asyncio.ensure_future(until_ended())
            try:
                await sched.serve(stop, tick=tick)
            finally:
                watcher.cancel()
                await executor.close()

        asyncio.run(main())
        return _backfill_doc(store, _backfill_row(store, backfill_id))
    finally:
        store.close()


def schedule_list(project: Project) -> list[dict[str, Any]]:
    """Each workflow with triggers: kinds, paused state and next fire time in its zone."""
    store = open_store(project)
    now = time.time()
    try:
        out = []
        for workflow in scheduler_module.Scheduler(project, store).workflows():
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
    finally:
        store.close()


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


def _pool_status(project: Project, pid: int, host: str) -> dict[str, Any] | None:
    """A scheduler's warm kernels as it last reported them (None: it keeps no pool)."""
    try:
        return dict(json.loads(_pool_file(project, pid, host).read_text())["kernels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    from . import artifactstore

    return artifactstore.local_path(project.root, project.state_dir / "artifact-cache", artifact)


def logs(project: Project, run_id: int, task: str, attempt: int | None = None) -> tuple[str, str]:
    """(artifact path, text) of an attempt of a task (or `KEY[i]` iteration); default: the last."""
    chosen, _ = _chosen_attempt(show(project, run_id), task, attempt)
    path = _artifact_file(project, chosen["artifact"])
    if not path.is_file():
        raise UsageError(f"{chosen['artifact']}: the log is gone")
    return chosen["artifact"], logs_module.attempt_text(path, chosen["artifact"])


def report(
    project: Project,
    run_id: int,
    task: str | None = None,
    *,
    attempt: int | None = None,
    no_input: bool | None = None,
) -> tuple[Path, str]:
    """(default file, HTML) of an attempt's executed notebook, or of the whole run.

    `no_input` None: as each task's `report: {no_input}` in the workflow file says.
    """
    doc = show(project, run_id)
    run_dir = project.run_dir(doc["workflow"], run_id)
    hidden = _no_input_tasks(project, doc) if no_input is None else None

    def leave_out(label: str) -> bool:
        return bool(no_input) if hidden is None else label.split("[", 1)[0] in hidden

    if task is not None:
        chosen, _ = _chosen_attempt(doc, task, attempt)
        path = _artifact_file(project, chosen["artifact"])
        if path.suffix != ".ipynb":
            raise UsageError(
                f"task {task!r} of run {run_id} is not a notebook: `nbflow logs` shows its log"
            )
        page = _attempt_page(
            path, chosen, f"run {run_id} · {task} · attempt {chosen['number']}", leave_out(task)
        )
        return path.with_suffix(".html"), page
    if attempt is not None:
        raise UsageError("--attempt needs a TASK")
    notebooks = {}
    for label, unit in _units(doc).items():
        last = unit["attempts"][-1] if unit["attempts"] else None
        if last and (last["artifact"] or "").endswith(".ipynb"):
            path = _artifact_file(project, last["artifact"])
            if path.is_file():
                notebooks[f"{label} · attempt {last['number']} · {last['state']}"] = _attempt_page(
                    path, last, f"run {run_id} · {label}", leave_out(label)
                )
    return run_dir / "report.html", report_module.run_html(doc, notebooks)


def _no_input_tasks(project: Project, doc: dict[str, Any]) -> set[str]:
    """The tasks whose reports leave the code out, as the run's workflow file says now."""
    try:
        workflow = loader.load_workflow(project.root / doc["workflow_path"], project.root)
    except NbflowError:  # gone or broken since the run: the report still shows the notebook
        return set()
    return {t.key for t in workflow.tasks if t.report_no_input}


def _attempt_page(path: Path, attempt: dict[str, Any], title: str, no_input: bool) -> str:
    if not path.is_file():
        raise UsageError(f"{_shown(path)}: the executed notebook is gone")
    try:
        return report_module.attempt_html(
            path, parameters=attempt["parameters"], title=title, no_input=no_input
        )
    except (ValueError, OSError) as exc:  # nbformat's NotJSONError is a ValueError
        raise UsageError(f"{_shown(path)}: not a readable notebook ({exc})") from None


def diff(project: Project, run_a: int, run_b: int, task: str | None = None) -> dict[str, Any]:
    """What differs between two runs (see `nbflow.diff`); `task` keeps one task (or `KEY[i]`)."""
    store = open_store(project)
    try:
        doc_a, doc_b = show(project, run_a, store), show(project, run_b, store)
    finally:
        store.close()
    units_a, units_b = diff_module.units(doc_a), diff_module.units(doc_b)
    if task is not None and task not in units_a and task not in units_b:
        known = ", ".join(dict.fromkeys([*units_a, *units_b]))
        raise UsageError(f"neither run {run_a} nor run {run_b} has a task {task!r} ({known})")

    def notebook(unit: dict[str, Any] | None) -> Path | None:
        artifact = diff_module.last_notebook(unit)
        path = _artifact_file(project, artifact) if artifact else None
        return path if path is not None and path.is_file() else None

    notebooks = {
        key: (notebook(units_a.get(key)), notebook(units_b.get(key)))
        for key in dict.fromkeys([*units_a, *units_b])
        if task is None or key == task
    }
    return diff_module.compare(doc_a, doc_b, notebooks, only=task)


def values(
    project: Project, workflow: str, names: list[str] | None = None, last: int = 20
) -> tuple[list[str], list[dict[str, Any]]]:
    """Glued values across the last runs of a workflow: (columns, one row per run, oldest first).

    Columns are `TASK.NAME` (default: every value any of those runs has); a run without a
    value has None there.
    """
    for name in names or []:
        if name.count(".") < 1 or not all(name.split(".", 1)):
            raise UsageError(f"{name!r}: expected TASK.NAME (as in `clean.dropped_share`)")
    store = open_store(project)
    try:
        runs = store.list_runs(workflow, last)
        docs = [show(project, r["id"], store) for r in reversed(runs)]
    finally:
        store.close()
    if not docs:
        workflow_path(project, workflow)  # an unknown workflow is an error, not an empty table
    found: dict[str, None] = {}
    rows = []
    for doc in docs:
        row: dict[str, Any] = {
            "run": doc["id"],
            "start_time": doc["start_time"],
            "state": doc["state"],
        }
        for task in doc["tasks"]:
            for name, value in task["values"].items():
                found.setdefault(f"{task['key']}.{name}")
                row[f"{task['key']}.{name}"] = value
        rows.append(row)
    columns = names or list(found)
    return columns, [
        {
            "run": r["run"],
            "start_time": r["start_time"],
            "state": r["state"],
            **{c: r.get(c) for c in columns},
        }
        for r in rows
    ]


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


def run_notebook(
    project: Project,
    notebook: str,
    parameters: dict[str, Any] | None = None,
    *,
    launcher: Launcher | None = None,
) -> dict[str, Any]:
    """Run one notebook now, as a one-task workflow kept in the state folder (so repairs work).

    `parameters` go to the notebook task; each must be declared in its `parameters` cell.
    """
    path, name = authoring.notebook_run_file(project, notebook, parameters or {})
    run_id = start_detached(project, str(path.resolve()), launcher=launcher)
    return {"id": run_id, "state": "queued", "workflow": name}


def _entry(project: Project, path: Path) -> dict[str, Any]:
    shown = project.relative(path)
    return next(e for e in workflows(project) if e["file"] == shown)


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


def run_file(project: Project, path: str, *, content: bool = True) -> dict[str, Any]:
    """A file of the runs folder as a Jupyter contents model (read-only)."""
    return runfiles.file_model(project, path, content=content)


def notebook_params(project: Project, path: str) -> list[NotebookParameter]:
    """The parameters a notebook declares; a cell nbflow cannot read is a usage error."""
    candidate = Path(path)
    if not candidate.is_absolute() and not candidate.exists():
        candidate = project.root / path
    cell = params_module.read_parameters(candidate)
    if cell.error is not None:
        raise UsageError(params_module.unreadable_cell(path, cell))
    return list(cell.parameters)


def import_databricks(
    project: Project,
    file: str,
    *,
    job: str | None = None,
    variables: dict[str, str] | None = None,
    output: str | None = None,
    strict: bool = False,
    force: bool = False,
    webhooks: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write workflow files for the jobs of a Databricks bundle or Jobs API file.

    Returns `{"written": [{file, workflow, job}], "reports": [lines], "problems": [lines]}`:
    the reports say what was left out or translated (`ignored:`, `problem:`, `note:` at
    their line in FILE), the problems what `nbflow validate` finds in the written files (a
    notebook the job names that is not in the project yet). With `strict`, anything ignored
    or any problem is an error and nothing is written. Existing files are kept unless `force`.
    """
    source = Path(file)
    shown = str(_shown(source))
    jobs = databricks_jobfile.load(source, shown, variables)
    if output and not job and len(jobs.jobs) > 1:
        keys = ", ".join(j.key for j in jobs.jobs)
        raise UsageError(f"{shown} has {len(jobs.jobs)} jobs ({keys}): pick one with --job for -o")
    target = Path(output) if output else None
    if target is not None and target.suffix not in (".yaml", ".yml"):
        raise UsageError(f"-o {output}: a workflow file ends in .yaml or .yml")
    known = set(catalog.by_name(project))
    imported = databricks_importer.import_jobs(
        jobs,
        root=project.root,
        select=job,
        name=target.stem if target is not None else None,
        known_workflows=known,
        webhooks=webhooks,
    )
    reports = [r for item in imported for r in item.reports]
    if strict:
        refused = [r for r in reports if not r.message.startswith("note:")]
        if refused:
            raise WorkflowFileError(refused)
    planned: list[tuple[Path, str, Any]] = []
    for i, item in enumerate(imported):
        path = (
            target
            if (i == 0 and target is not None)
            else project.workflows_dir / f"{item.name}.yaml"
        )
        text = databricks_importer.workflow_text(item, shown, jobs.line(item.job.where))
        planned.append((path, text, item))
    if not force:
        for path, _, _ in planned:
            if path.exists():
                raise Conflict(f"{_shown(path)} already exists (--force replaces it)")
    written = []
    for path, text, item in planned:
        missing = {repr(m) for m in item.missing}

        def reported(problem: Problem, missing: set[str] = missing) -> bool:
            """A file the import already said is not in the project yet."""
            return "not found" in problem.message and any(m in problem.message for m in missing)

        mode = "overwrite" if force else "new"
        authoring.write_checked(path, text, project, mode=mode, tolerated=reported)
        written.append({"file": str(_shown(path)), "workflow": item.name, "job": item.job.key})
    _, problems = validate(project, [w["file"] for w in written])
    return {
        "written": written,
        "reports": [str(r) for r in reports],
        "problems": [str(p) for p in problems],
    }


def export_databricks(
    project: Project, workflow: str, *, output: str | None = None, strict: bool = False
) -> dict[str, Any]:
    """A workflow as a Databricks bundle job resource.

    Returns `{"text", "file" (None: not written), "reports"}`; paths in the text are
    relative to the output file's folder (the project root when there is no file). With
    `strict`, anything that cannot be exported is an error and nothing is written.
    """
    path = workflow_path(project, workflow)
    wf = loader.load_workflow(path, project.root)
    target = Path(output) if output else None
    base = target.resolve().parent if target is not None else project.root
    text, reports = databricks_exporter.export_workflow(
        wf, shown=str(path), base=base, in_file=target is not None
    )
    if strict and reports:
        raise WorkflowFileError(reports)
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    return {
        "text": text,
        "file": str(_shown(target)) if target is not None else None,
        "reports": [str(r) for r in reports],
    }


__all__ = [
    "WorkflowFileError",
    "list_runs",
    "load",
    "notebook_params",
    "run",
    "show",
    "validate",
    "workflow_named",
    "workflow_path",
]
