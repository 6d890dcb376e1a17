"""The Dask executor: attempts of every task kind run on the workers of a Dask cluster.

The runner still decides everything (dependencies, retries, timeouts, cancel, repair) and
records every state; this executor only sends one attempt at a time to a worker and waits
for its small report. What an attempt needs travels with it: the notebook or script as
the orchestrator reads it, the parameters, the environment variables that differ from the
orchestrator's own, the `dbutils` context. The worker runs it with the same functions a
local attempt uses (`nbflow.execution.execute`) in a temporary folder, or in the task's working
directory when that folder exists on the worker too (a shared file system), then writes
the executed notebook or log to the artifact store (`nbflow.execution.artifactstore`) and answers
with the state, error, values and its own address.

Each attempt runs at most once: Dask's retries are off (`retries=0`), each future is
released as soon as its result is in, and a worker-side guard (a Dask `Event` per
attempt, set when it starts) makes an attempt that Dask would compute again after its
worker died answer `failed` ("worker lost") instead of running twice. The scheduler's
`distributed.scheduler.allowed-failures: 0` makes that answer come at once (a
`KilledWorker`); the guard makes it hold whatever the scheduler's setting. A timeout is
enforced on the worker (it kills the kernel or process tree); a cancel sets the
attempt's cancel `Event`, which the worker polls, and waits until it has stopped.

`distributed` is imported only here, and only when this executor is used.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from . import artifactstore, execute

if TYPE_CHECKING:
    from ..workflows.model import Workflow
    from ..workflows.project import Project

DASK_ENV = "NBFLOW_DASK_ADDRESS"
DEFAULT_RESOURCES = {"kernel": 1.0}
CANCEL_POLL = 0.5  # seconds between a worker's looks at its attempt's cancel flag
STOP_GRACE = 60.0  # how long a canceled attempt may take to kill its kernel and upload
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_local(address: str) -> bool:
    """Whether a scheduler address can only have workers on this machine."""
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    return parsed.scheme == "inproc" or (parsed.hostname or "") in LOOPBACK


def host_port(address: str) -> tuple[str, int]:
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    return parsed.hostname or "127.0.0.1", parsed.port or 8786


class DaskExecutor:
    """Attempts on the workers of the Dask scheduler at `address`; artifacts under `artifacts`."""

    def __init__(self, address: str, artifacts: str, *, state_dir: Path | None = None):
        self.address = address
        self.artifacts = artifacts.rstrip("/")
        self.state_dir = state_dir  # artifact names are relative to it
        self.project_root: Path | None = None
        self._client: Any = None
        self._connecting = asyncio.Lock()

    # -- the Executor port ---------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {"kind": "dask", "scheduler": self.address}

    def expect(self, workflow: Workflow, project: Project) -> None:
        self.project_root = project.root
        self.state_dir = self.state_dir or project.state_dir

    def locate(self, artifact: Path) -> str | None:
        """What the history records as an attempt's artifact: None for the usual local path.

        A store that is the project's own state folder keeps the usual relative names.
        """
        url = self._url(artifact)
        local = "file://" + str(artifact.resolve())
        return None if url == local else url

    async def run_notebook(
        self,
        *,
        python: str,
        source: Path,
        artifact: Path,
        parameters: dict[str, Any],
        kernel: str | None,
        cwd: Path,
        env: dict[str, str],
        timeout: float | None,
        on_start: Callable[[int], None] | None = None,
        resources: dict[str, float] | None = None,
    ) -> execute.AttemptResult:
        try:
            files = {source.name: source.read_bytes()}
        except OSError as exc:
            return execute.failed("FileNotFoundError", f"cannot read {source}: {exc}")
        job = {
            "kind": "notebook",
            "files": files,
            "source": source.name,
            "parameters": parameters,
            "kernel": kernel,
        }
        return await self._submit(job, artifact, cwd, env, timeout, resources)

    async def run_process(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        log: Path,
        timeout: float | None,
        on_start: Callable[[int], None] | None = None,
        resources: dict[str, float] | None = None,
    ) -> execute.AttemptResult:
        files: dict[str, bytes] = {}
        shipped: list[str | dict[str, str]] = []
        for i, arg in enumerate(argv):
            if i == 0 and arg == sys.executable:
                shipped.append({"python": ""})  # the worker's own Python
            elif self._project_file(arg):
                name = f"{len(files)}-{Path(arg).name}"
                files[name] = Path(arg).read_bytes()
                shipped.append({"file": name})
            else:
                shipped.append(arg)
        job = {"kind": "process", "files": files, "argv": shipped}
        return await self._submit(job, log, cwd, env, timeout, resources)

    async def run_sql(
        self,
        *,
        python: str,
        url: str,
        script: str,
        parameters: dict[str, Any],
        log: Path,
        cwd: Path,
        env: dict[str, str],
        timeout: float | None,
        on_start: Callable[[int], None] | None = None,
        resources: dict[str, float] | None = None,
    ) -> execute.AttemptResult:
        job = {"kind": "sql", "url": url, "script": script, "parameters": parameters}
        return await self._submit(job, log, cwd, env, timeout, resources)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    # -- orchestrator side ---------------------------------------------------------------

    async def client(self) -> Any:
        async with self._connecting:
            if self._client is None:
                from distributed import Client

                self._client = await Client(
                    self.address, asynchronous=True, timeout=30, set_as_default=False
                )
        return self._client

    def _url(self, artifact: Path) -> str:
        try:
            assert self.state_dir is not None
            relative = artifact.resolve().relative_to(self.state_dir.resolve()).as_posix()
        except (AssertionError, ValueError):  # not in a state folder: keep the run's folders
            relative = "/".join(artifact.resolve().parts[-5:])
        return artifactstore.join(self.artifacts, relative)

    def _project_file(self, arg: str) -> bool:
        if self.project_root is None or not os.path.isabs(arg):
            return False
        path = Path(arg)
        return path.is_file() and path.resolve().is_relative_to(self.project_root.resolve())

    async def _submit(
        self,
        job: dict[str, Any],
        artifact: Path,
        cwd: Path,
        env: dict[str, str],
        timeout: float | None,
        resources: dict[str, float] | None,
    ) -> execute.AttemptResult:
        from distributed import Event, KilledWorker

        from ..databricks import context as task_context
        from ..workflows import secrets

        token = uuid.uuid4().hex
        context = env.get(task_context.CONTEXT_ENV)
        context_text = Path(context).read_text(encoding="utf-8") if context else None
        # The variables the task sets, not this machine's whole environment (PATH, HOME...),
        # and those its secret parameters are read from (a worker has its own environment).
        secret_vars = (
            json.loads(context_text).get("secret_env", {}).values() if context_text else ()
        )
        job.update(
            token=token,
            artifact=artifact.name,
            artifact_url=self._url(artifact),
            cwd=str(cwd),
            env={k: v for k, v in env.items() if os.environ.get(k) != v or k in secret_vars},
            timeout=timeout,
            context=context_text,
            mask=secrets.known(),  # what the worker masks in the artifact before it uploads it
        )
        client = await self.client()
        future = client.submit(
            attempt_on_worker,
            job,
            key=f"nbflow-attempt-{token}",
            pure=False,
            retries=0,
            resources=resources or DEFAULT_RESOURCES,
        )
        waiting = asyncio.ensure_future(_outcome(future))
        try:
            try:
                report = await asyncio.shield(waiting)
            except asyncio.CancelledError:
                await Event(f"nbflow-cancel-{token}", client=client).set()
                try:
                    await asyncio.wait_for(waiting, STOP_GRACE)
                except BaseException:  # noqa: BLE001 - the attempt is canceled either way
                    pass
                raise
        except KilledWorker as exc:
            return _lost(f"the worker running this attempt was lost ({exc})")
        except Exception as exc:  # noqa: BLE001 - the cluster failed us, not the task
            return execute.failed(
                "DaskError", f"the Dask cluster could not run it: {type(exc).__name__}: {exc}"
            )
        finally:
            future.release()  # a held future would be computed again if its worker died
            for name in ("started", "cancel"):
                asyncio.ensure_future(_forget(Event(f"nbflow-{name}-{token}", client=client)))
        result = execute.AttemptResult(
            report["state"],
            report.get("error"),
            values=report.get("values") or {},
            output=report.get("output"),
        )
        result.executor = {"kind": "dask", "worker": report.get("worker")}
        return result


async def _outcome(future: Any) -> dict[str, Any]:
    result: dict[str, Any] = await future
    return result


async def _forget(event: Any) -> None:
    try:
        await event.clear()
    except Exception:  # noqa: BLE001 - a closed client: the scheduler drops it with the client
        pass


def _lost(evalue: str) -> execute.AttemptResult:
    return execute.AttemptResult("failed", {"ename": "WorkerLost", "evalue": evalue})


# -- worker side -------------------------------------------------------------------------


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
        _reaper_say(f"+{pid}")

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
        _reaper_say(f"-{pid}")
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


# -- the reaper: a dead worker's attempt processes end with it ---------------------------

_REAPER: subprocess.Popen[bytes] | None = None
_REAPER_LOCK = threading.Lock()


def _reaper_say(line: str) -> None:
    """Tell this worker's reaper that an attempt's process started (+PID) or ended (-PID).

    An attempt's kernel or process runs in a session of its own, so it would outlive a
    worker that is killed; the reaper (`python -m nbflow.execution.dask_executor`) reads these lines
    and, when its input closes because the worker died, kills every process still listed
    and their descendants.
    """
    global _REAPER
    with _REAPER_LOCK:
        try:
            if _REAPER is None or _REAPER.poll() is not None:
                _REAPER = subprocess.Popen(
                    [sys.executable, "-m", "nbflow.execution.dask_executor"],
                    stdin=subprocess.PIPE,
                    start_new_session=True,  # a signal to the worker's group spares it
                )
            assert _REAPER.stdin is not None
            _REAPER.stdin.write(f"{line}\n".encode())
            _REAPER.stdin.flush()
        except OSError:  # no reaper: the attempt runs unguarded, as a local one does
            pass


def reap(lines: Any) -> int:
    """The reaper's loop: track +PID/-PID lines; at end of input kill what is still listed."""
    from . import processes

    listed: dict[int, float | None] = {}
    for raw in lines:
        text = raw.strip()
        if text[:1] == "+" and text[1:].isdigit():
            pid = int(text[1:])
            listed[pid] = processes.started_at(pid)
        elif text[:1] == "-" and text[1:].isdigit():
            listed.pop(int(text[1:]), None)
    return sum(processes.kill_tree(pid, started) for pid, started in listed.items())


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the end of its input stops it
    reap(sys.stdin)
