"""Forked kernels as the pool makes them: its fork server started early (or when first
needed), told what to preload, and asked for one kernel at a time, whose connection file
and job FIFO are made here. Which kernelspecs it serves is `forkserver.forkable_spec`."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable

from .forkserver import ForkServer, Spec, forkable_spec, starts_differently
from .pooledkernel import Kernel


class ForkedKernels:
    """The pool's fork server and the kernelspecs it serves."""

    def __init__(self, python: str, folder: str, preload: tuple[str, ...], *, preload_now: bool):
        self.python = python
        self.folder = folder  # the pool's: connection files, sockets and job FIFOs
        self.preload_list = preload
        self.preload_wanted = preload_now
        self.server: ForkServer | None = None
        self.launched: ForkServer | None = None  # started early, not yet talked to
        self.failed: str | None = None
        self.specs: dict[str, Spec | None] = {}
        self._starting: asyncio.Future[None] | None = None

    def serves(self, kernel_name: str, env: dict[str, str]) -> bool:
        """Whether the fork server serves this kernelspec with this environment."""
        if self.failed or starts_differently(env):
            return False
        if kernel_name not in self.specs:
            self.specs[kernel_name] = forkable_spec(kernel_name, self.python)
        return self.specs[kernel_name] is not None

    def launch(self) -> None:
        """Start the fork server's process now, without a loop (see `KernelPool.launch`)."""
        if self.server is None and self.launched is None:
            self.launched = ForkServer(self.python, self.folder)
            try:
                self.launched.launch()
            except OSError as exc:
                self.launched = None
                self.failed = f"the kernel fork server did not start: {exc}"

    def want_preload(self) -> None:
        if not self.preload_wanted:
            self.preload_wanted = True
            if self.server is not None and self.server.running:
                self.server.preload(self.preload_list)

    async def _server(self) -> ForkServer:
        if self.server is not None and self.server.running:
            return self.server
        if self._starting is None or self._starting.done():
            self._starting = asyncio.ensure_future(self._start_server())
        await asyncio.shield(self._starting)
        assert self.server is not None
        return self.server

    async def _start_server(self) -> None:
        if self.launched is None:
            self.launched = ForkServer(self.python, self.folder)
        server = self.launched
        try:
            await server.start()
        except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
            self.failed = f"the kernel fork server did not start: {exc}"
            await server.stop()
            self.launched = None
            raise
        self.server, self.launched = server, None
        if self.preload_wanted:
            server.preload(self.preload_list)

    async def spawn(self, kernel_name: str, spec: Spec, new_id: Callable[[], str]) -> Kernel:
        """A kernel forked for `kernel_name` (its id from `new_id`), not yet given a job."""
        from jupyter_client.connect import write_connection_file

        server = await self._server()
        kernel_id = new_id()
        connection_file = os.path.join(self.folder, f"{kernel_id}.json")
        write_connection_file(
            connection_file,
            transport="ipc",
            ip=os.path.join(self.folder, kernel_id),
            key=uuid.uuid4().hex.encode(),
            shell_port=1,
            iopub_port=2,
            stdin_port=3,
            control_port=4,
            hb_port=5,
            kernel_name=kernel_name,
        )
        # The attempt's cwd and environment reach the kernel through this FIFO, written by
        # the pool itself: the fork server may be busy importing a preloaded module. The
        # pool holds it open (read and write) from now on, so what it writes waits there
        # for the kernel, and the kernel reads end of file when the pool is gone.
        job = os.path.join(self.folder, f"{kernel_id}-job")
        os.mkfifo(job, 0o600)
        job_fd = os.open(job, os.O_RDWR | os.O_NONBLOCK)
        try:
            pid = await server.spawn(kernel_id, connection_file, job, list(spec.argv))
        except BaseException:
            os.close(job_fd)
            raise
        return Kernel(kernel_id, pid, connection_file, kernel_name, job_fd)

    def end_now(self) -> None:
        """Without a loop: end a fork server launched but never talked to."""
        if self.launched is not None:
            self.launched.end_now()

    async def stop(self) -> None:
        for server in (self.server, self.launched):
            if server is not None:
                await server.stop()
        self.server = self.launched = None
