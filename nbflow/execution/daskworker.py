"""An attempt on a Dask worker: the task function Dask runs (`attempt_on_worker`), which
refuses to run an attempt twice, runs it with the same functions a local attempt uses in a
temporary folder (or the task's folder when the worker shares it), watches its cancel flag,
uploads its artifact and answers with a small report. The worker keeps one event loop and
one warm-kernel pool for all its attempts."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import artifactstore, execute
from .reaper import tell_reaper

CANCEL_POLL = 0.5  # seconds between a worker's looks at its attempt's cancel flag


def attempt_on_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Run one attempt on this worker; its artifact goes to the store, a small report back."""
    from distributed import Event, get_client, get_worker

    address = get_worker().address
    client = get_client()  # bound here: the cancel flag is read from another thread
    started = Event(f"nbflow-started-{job['token']}", client=client)
    if started.is_set():  # Dask computes it again after its first worker died: never run twice
        return {
            "state": "failed",
            "error": {"ename": "WorkerLost", "evalue": "the worker running this attempt was lost"},
            "worker": address,
        }
    started.set()
    cancel = Event(f"nbflow-cancel-{job['token']}", client=client)
    loop, pool = _attempt_loop()
    with tempfile.TemporaryDirectory(prefix="nbflow-attempt-") as folder:
        running = asyncio.run_coroutine_threadsafe(
            _attempt_here(job, Path(folder), cancel.is_set, pool), loop
        )
        report = running.result()
    report["worker"] = address
    return report


_LOOP: tuple[asyncio.AbstractEventLoop, Any] | None = None
_LOOP_LOCK = threading.Lock()


def _attempt_loop() -> tuple[asyncio.AbstractEventLoop, Any]:
    """This worker process's event loop for attempts, and its warm-kernel pool (or None).

    The pool lives as long as the worker, in one loop every attempt runs in, so kernels
    forked ahead of time serve the worker's next attempts as they do a local run's
    (`NBFLOW_WARM_KERNELS` in the worker's environment: idle kernels per kernelspec, 0 none).
    """
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="nbflow-attempts", daemon=True).start()
            pool = asyncio.run_coroutine_threadsafe(_new_pool(), loop).result()
            _LOOP = (loop, pool)
            atexit.register(_close_pool, loop, pool)
        return _LOOP


async def _new_pool() -> Any:
    from .executor import LocalExecutor

    return LocalExecutor.from_settings().pool


def _close_pool(loop: asyncio.AbstractEventLoop, pool: Any) -> None:
    if pool is not None and loop.is_running():
        try:
            asyncio.run_coroutine_threadsafe(pool.close(), loop).result(timeout=10)
        except Exception:  # noqa: BLE001 - the worker is exiting; its kernels die with it
            pass


async def _attempt_here(
    job: dict[str, Any], folder: Path, canceled: Callable[[], bool], pool: Any = None
) -> dict[str, Any]:
    from ..databricks import context as task_context
    from ..workflows import secrets

    secrets.remember(job.get("mask", ()))
    for name, content in job.get("files", {}).items():
        (folder / name).write_bytes(content)
    artifact = folder / job["artifact"]
    env = {**os.environ, **job["env"]}
    if job.get("context"):  # dbutils' context file, its exit file on this worker
        doc = json.loads(job["context"])
        doc["exit_file"] = str(task_context.exit_path(artifact))
        path = task_context.context_path(artifact)
        path.write_text(json.dumps(doc), encoding="utf-8")
        env[task_context.CONTEXT_ENV] = str(path)
    cwd = Path(job["cwd"]) if Path(job["cwd"]).is_dir() else folder  # shared, or its own
    started: list[int] = []

    def watched(pid: int) -> None:  # its kernel or process ends if this worker dies
        started.append(pid)
        tell_reaper(f"+{pid}")

    running = asyncio.ensure_future(_start(job, folder, artifact, cwd, env, pool, watched))
    while not running.done():
        await asyncio.wait({running}, timeout=CANCEL_POLL)
        if not running.done() and await asyncio.to_thread(canceled):
            running.cancel()
            break
    try:
        result = await running
    except asyncio.CancelledError:
        result = execute.AttemptResult("canceled", {"ename": "Canceled", "evalue": "canceled"})
    for pid in started:
        tell_reaper(f"-{pid}")
    secrets.scrub(artifact)
    exited = task_context.read_exit(artifact)
    if result.state == "success" and exited is not None:
        result.output = {**(result.output or {}), **exited}
    if artifact.is_file():
        await asyncio.to_thread(artifactstore.put, artifact, job["artifact_url"])
    return {
        "state": result.state,
        "error": result.error,
        "values": result.values,
        "output": result.output,
    }


async def _start(
    job: dict[str, Any],
    folder: Path,
    artifact: Path,
    cwd: Path,
    env: dict[str, str],
    pool: Any = None,
    on_start: Callable[[int], None] | None = None,
) -> execute.AttemptResult:
    if job["kind"] == "notebook":
        return await execute.run_notebook(
            on_start=on_start,
            pool=pool,
            python=sys.executable,
            source=folder / job["source"],
            artifact=artifact,
            parameters=job["parameters"],
            kernel=job["kernel"],
            cwd=cwd,
            env=env,
            timeout=job["timeout"],
        )
    if job["kind"] == "process":
        argv = [
            arg
            if isinstance(arg, str)
            else (sys.executable if "python" in arg else str(folder / arg["file"]))
            for arg in job["argv"]
        ]
        return await execute.run_process(
            argv, cwd=cwd, env=env, log=artifact, timeout=job["timeout"], on_start=on_start
        )
    return await execute.run_sql(
        python=sys.executable,
        url=job["url"],
        script=job["script"],
        parameters=job["parameters"],
        log=artifact,
        cwd=cwd,
        env=env,
        timeout=job["timeout"],
        on_start=on_start,
    )
