"""The Dask executor, the orchestrator's side: attempts of every task kind sent to the
workers of a Dask cluster (what a worker does with one is `daskworker.py`).

The runner still decides everything (dependencies, retries, timeouts, cancel, repair) and
records every state; this executor only sends one attempt at a time to a worker and waits
for its small report. What an attempt needs travels with it: the notebook or script as
the orchestrator reads it, the parameters, the environment variables that differ from the
orchestrator's own, the `dbutils` context. The worker runs it with the same functions a
local attempt uses (`nbflow.execution.execute`) in a temporary folder, or in the task's
working directory when that folder exists on the worker too (a shared file system), then
writes the executed notebook or log to the artifact store (`nbflow.execution.artifactstore`)
and answers with the state, error, values and its own address.

Each attempt runs at most once: Dask's retries are off (`retries=0`), each future is
released as soon as its result is in, and a worker-side guard (a Dask `Event` per
attempt, set when it starts) makes an attempt that Dask would compute again after its
worker died answer `failed` ("worker lost") instead of running twice. The scheduler's
`distributed.scheduler.allowed-failures: 0` makes that answer come at once (a
`KilledWorker`); the guard makes it hold whatever the scheduler's setting. A timeout is
enforced on the worker (it kills the kernel or process tree); a cancel sets the
attempt's cancel `Event`, which the worker polls, and waits until it has stopped.

`distributed` is imported only here and in `daskworker.py`, and only when this executor
is used.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from . import artifactstore, execute
from .daskworker import attempt_on_worker

if TYPE_CHECKING:
    from ..workflows.model import Workflow
    from ..workflows.project import Project

DASK_ENV = "NBFLOW_DASK_ADDRESS"
DEFAULT_RESOURCES = {"kernel": 1.0}
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
