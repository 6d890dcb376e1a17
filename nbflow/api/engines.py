"""Where runs execute: the local warm pool, a Dask cluster, a server's launcher; driving one runner."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import (
    UsageError,
)
from ..core.states import RunState
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..execution.executor import Executor
    from ..execution.runner import Runner
    from ..history import Store
    from ..workflows.model import Workflow
    from .launcher import Launcher

from .modules import (
    executor_module,
    recorded_module,
)

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

    from ..execution.kernels.kernelpool import PoolSettings
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
    from ..execution import artifactstore, dask_executor

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
    """What a scheduler calls to run a run it recorded, on `executor`."""

    async def launch(workflow: Workflow, run_id: int) -> None:
        run = store.get_run(run_id)
        assert run is not None
        runner = recorded_module.runner_for(
            recorded_module.Recorded.of(run),
            workflow,
            project,
            store,
            executor=executor,
            parallel=parallel,
            handle_signals=False,
        )
        await runner.run()

    return launch


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


def _pool_status(project: Project, pid: int, host: str) -> dict[str, Any] | None:
    """A scheduler's warm kernels as it last reported them (None: it keeps no pool)."""
    try:
        return dict(json.loads(_pool_file(project, pid, host).read_text())["kernels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _on_its_loop(task: asyncio.Future[Any]) -> bool:
    """Whether `task`'s loop is the one running here (and so still open).

    A coroutine abandoned with a stopped Jupyter server is closed by the garbage collector,
    maybe while another loop runs in this thread: its own loop is closed by then.
    """
    try:
        return asyncio.get_running_loop() is task.get_loop()
    except RuntimeError:
        return False
