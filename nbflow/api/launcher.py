"""The in-process launcher: runs a long-lived process starts, on warm kernels of its own.

The Jupyter server starts runs for the button and the panel. Rather than a detached
`nbflow _execute` process per run (a Python start-up, imports and a cold kernel each time),
the server hands recorded runs to this launcher: one thread with its own event loop (so
nothing a run does blocks the server's loop) and one executor whose kernel pool stays warm
between runs. A run started here ends with the process: stopping the server cancels what
is still running, and a server killed outright leaves runs that crash recovery closes.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..execution.executor import Executor
    from ..execution.runner import Runner
    from ..workflows.model import Workflow
    from ..workflows.project import Project


class Launcher:
    def __init__(self, executor: Executor | None = None):
        self._executor = executor
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.running: set[Future[Any]] = set()
        self.runners: set[Runner] = set()  # touched on the launcher's loop only
        self._ready = threading.Event()

    @property
    def executor(self) -> Executor:
        assert self._executor is not None
        return self._executor

    def start(self) -> None:
        if self.thread is not None:
            return
        self.thread = threading.Thread(target=self._serve, name="nbflow-launcher", daemon=True)
        self.thread.start()
        self._ready.wait()

    def _serve(self) -> None:
        from ..execution.executor import LocalExecutor

        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        if self._executor is None:
            self._executor = LocalExecutor.from_settings()
        self._ready.set()
        self.loop.run_forever()

    def submit(
        self,
        project: Project,
        run_id: int,
        parallel: int | None = None,
        *,
        workflow: Workflow | None = None,
    ) -> Future[Any]:
        """Run recorded run `run_id` (queued) here; return at once.

        `workflow`: the model the run was recorded from, so its file is not read again.
        """
        from .. import api

        self.start()
        assert self.loop is not None
        if parallel is None and self.executor.describe()["kind"] == "dask":
            parallel = api.CLUSTER_PARALLEL  # the workers' kernels limit a cluster's runs
        future = asyncio.run_coroutine_threadsafe(
            api.execute_here(
                project,
                run_id,
                self.executor,
                parallel=parallel,
                runners=self.runners,
                workflow=workflow,
            ),
            self.loop,
        )
        self.running.add(future)
        future.add_done_callback(self.running.discard)
        return future

    def warm(self, project: Project, workflow: Any) -> None:
        """Have kernels ready for `workflow`'s notebooks (called when a run is recorded)."""
        self.start()
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.executor.expect, workflow, project)

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel the runs still going, close the executor, end the thread."""
        if self.loop is None or self.thread is None:
            return
        loop = self.loop

        async def shutdown() -> None:
            for runner in list(self.runners):
                runner.interrupt()  # as Ctrl-C would: attempts canceled, the run recorded so
            running = [asyncio.wrap_future(f) for f in list(self.running)]
            await asyncio.gather(*running, return_exceptions=True)
            await self.executor.close()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self.thread.join(timeout)
            self.thread = None
