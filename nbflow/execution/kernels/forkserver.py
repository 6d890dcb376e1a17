"""The pool's side of the kernel fork server: which kernelspecs it serves, starting it, and
the requests and replies exchanged with it (the server itself is `kernelfork.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

# Variables read when Python or Jupyter start, not when a cell runs: a task that sets one
# gets a kernel started for it, as before, since a forked kernel started long ago.
READ_AT_START = ("PYTHON", "LD_", "JUPYTER_", "IPYTHONDIR")


@dataclass(frozen=True)
class Spec:
    """What the fork server needs of a kernelspec it can serve."""

    argv: tuple[str, ...]  # the kernel's own arguments, besides the connection file
    env: tuple[tuple[str, str], ...]


def forkable_spec(kernel_name: str, python: str = sys.executable) -> Spec | None:
    """The kernelspec's arguments if it is an IPython kernel of `python`; None otherwise."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except (NoSuchKernel, Exception):  # noqa: BLE001 - the cold path reports it in its words
        return None
    argv = list(spec.argv)
    if len(argv) < 3 or argv[1] != "-m" or argv[2] not in ("ipykernel_launcher", "ipykernel"):
        return None
    own = {
        "python",
        f"python{sys.version_info[0]}",
        f"python{sys.version_info[0]}.{sys.version_info[1]}",
    }
    if argv[0] not in own and os.path.realpath(argv[0]) != os.path.realpath(python):
        return None
    if (spec.metadata or {}).get("kernel_provisioner"):
        return None
    rest, skip = [], False
    for arg in argv[3:]:
        if skip:
            skip = False
        elif arg == "-f":
            skip = True
        elif "{" not in arg:
            rest.append(arg)
    env = tuple((k, str(v)) for k, v in (spec.env or {}).items() if "{" not in str(v))
    # As nbclient starts a kernel for papermill: no history written to the user's profile.
    rest.append("--HistoryManager.hist_file=:memory:")
    from ...databricks.dbutils import kernel_arguments

    rest += kernel_arguments(argv)  # `dbutils`, loaded once the attempt's env is set
    return Spec(tuple(rest), env)


def starts_differently(env: dict[str, str], base: dict[str, str] | None = None) -> bool:
    """Whether `env` changes a variable read only when Python or Jupyter start."""
    base = dict(os.environ) if base is None else base
    keys = set(env) | set(base)
    return any(k.startswith(READ_AT_START) and env.get(k) != base.get(k) for k in keys)


class ForkServer:
    """The `kernelfork` process, and the requests and replies exchanged with it."""

    def __init__(self, python: str, folder: str):
        self.python = python
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.ready: asyncio.Future[int] | None = None
        self.failed_preloads: list[str] = []
        self.reader: asyncio.Task[None] | None = None

    def launch(self) -> None:
        """Start the process now; it imports while the caller does other work (no loop needed)."""
        if self.proc is None:
            self.proc = subprocess.Popen(
                [self.python, "-m", "nbflow.execution.kernels.kernelfork"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=self.folder,
            )

    async def start(self) -> None:
        """Launch if not yet launched, talk to it through this loop, wait until it is ready."""
        self.launch()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), self.proc.stdout)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, self.proc.stdin
        )
        self.writer = asyncio.StreamWriter(transport, protocol, None, loop)
        self.reader = asyncio.ensure_future(self._read(reader))
        await asyncio.wait_for(asyncio.shield(self.ready), 120)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "ready" in message and self.ready and not self.ready.done():
                    self.ready.set_result(int(message["ready"]))
                elif "preload_failed" in message:
                    self.failed_preloads.append(str(message["preload_failed"]))
                elif (future := self.replies.pop(str(message.get("id")), None)) is not None:
                    if not future.done():
                        future.set_result(message)
        finally:
            gone = ConnectionError("the kernel fork server ended")
            if self.ready and not self.ready.done():
                self.ready.set_exception(gone)
            for future in self.replies.values():
                if not future.done():
                    future.set_exception(gone)
            self.replies.clear()

    def _send(self, request: dict[str, Any]) -> None:
        assert self.writer is not None
        self.writer.write((json.dumps(request) + "\n").encode())

    def preload(self, modules: tuple[str, ...]) -> None:
        """Have these modules imported for the kernels forked from now on (in a copy)."""
        if modules:
            self._send({"op": "preload", "modules": list(modules)})

    async def spawn(self, kernel_id: str, connection_file: str, job: str, argv: list[str]) -> int:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[kernel_id] = future
        request = {
            "op": "spawn",
            "id": kernel_id,
            "connection_file": connection_file,
            "job": job,
            "argv": argv,
        }
        self._send(request)
        return int((await asyncio.wait_for(future, 60))["pid"])

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.writer is not None:
            self.writer.close()  # end of input: the server ends its unassigned kernels
        elif self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.proc.wait, 1)
        except subprocess.TimeoutExpired:
            # Busy importing a preloaded module: killed, its kernels waiting for an attempt
            # read end of file on their pipes and end too.
            self.proc.kill()
            await asyncio.get_running_loop().run_in_executor(None, self.proc.wait)
        if self.reader is not None:
            await self.reader

    def end_now(self) -> None:
        """Without a loop: end of input, and a kill if it is still there a second later."""
        if self.proc is None or self.proc.stdin is None:
            return
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def write_job(fd: int, data: bytes) -> None:
    """Write all of `data` to a non-blocking FIFO whose reader may still be initialising."""
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:  # more than the FIFO holds: the kernel reads as it starts
            await asyncio.sleep(0.01)
