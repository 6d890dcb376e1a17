"""The kernel pool: single-use kernels started ahead of the attempts that will take them.

A kernelspec that starts an IPython kernel on nbflow's own interpreter is served by a fork
server (`kernelfork.py`) that imported ipykernel and the preload list once: each kernel is
forked and initialised before an attempt needs it, handed to exactly one attempt with that
attempt's working directory and environment, and killed when the attempt ends. Nothing
survives from one attempt to the next.

Any other kernel (another interpreter, R, a custom provisioner, a task environment that
changes how Python starts) is started the ordinary way, by jupyter_client, and is pooled
too: its working directory and environment are fixed when it starts, so its idle kernels
are kept per kernelspec, folder and environment. The first attempt of such a combination
starts one (as papermill would) and the pool starts the next one meanwhile, ready for the
next attempt with the same combination (a for_each, the next scheduled run). The attempt's
context file (`dbutils`), the one variable that differs between attempts, is set in an
IPython kernel by a silent cell when it is handed out.

This module keeps the idle kernels, leases and culls them; forking one is
`forkedkernels.py` (the fork server's client, `forkserver.py`), starting one the ordinary
way `ordinarykernels.py`, the settings `poolsettings.py`, a leased kernel as nbclient
drives it `pooledkernel.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import ordinarykernels
from .forkedkernels import ForkedKernels
from .forkserver import ForkServer, Spec, write_job
from .ordinarykernels import Key
from .pooledkernel import Kernel, shut
from .poolsettings import IDLE_ENV, POOL_SIZE_ENV, PRELOAD_ENV, PoolSettings

__all__ = ["IDLE_ENV", "POOL_SIZE_ENV", "PRELOAD_ENV", "Kernel", "KernelPool", "PoolSettings"]


@dataclass
class _Idle:
    kernels: list[Kernel] = field(default_factory=list)
    spawning: int = 0


class KernelPool:
    """Ready kernels per kernelspec, each for one attempt; a fork server makes them."""

    def __init__(
        self,
        settings: PoolSettings | None = None,
        python: str = sys.executable,
        *,
        one_run: bool = False,
    ):
        self.settings = settings or PoolSettings.from_env()
        self.python = python
        # A pool for one run (`nbflow run`) forks no more kernels than the run will ask for,
        # as far as it knows, and preloads only for a run longer than its first kernels.
        self.one_run = one_run
        self.expected: dict[str, int] = {}  # kernelspec -> attempts still to come (one run)
        self.folder = tempfile.mkdtemp(prefix="nbflow-k-")  # short: Unix socket paths are
        self.forked = ForkedKernels(
            python, self.folder, self.settings.preload, preload_now=not one_run
        )
        self.idle: dict[str, _Idle] = {}
        self.leased: dict[str, Kernel] = {}
        self.languages: dict[str, str | None] = {}  # of kernelspecs started the ordinary way
        self.ordinary: dict[Key, _Idle] = {}  # started the ordinary way, per combination
        self._stopping: set[asyncio.Task[Any]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._count = 0
        self._culling: asyncio.Task[None] | None = None
        self.closed = False

    # The fork server's state, as tests and benchmarks look at it.
    @property
    def server(self) -> ForkServer | None:
        return self.forked.server

    @property
    def launched(self) -> ForkServer | None:
        return self.forked.launched

    @property
    def preload_wanted(self) -> bool:
        return self.forked.preload_wanted

    # -- public --------------------------------------------------------------------------

    def serves(self, kernel_name: str, env: dict[str, str]) -> bool:
        """Whether an attempt with this kernel can have a pooled kernel (forked, or started
        the ordinary way); not for a kernelspec that does not exist (the cold path says so)."""
        if self.closed:
            return False
        if self.forked.serves(kernel_name, env):
            return True
        if kernel_name not in self.languages:
            self.languages[kernel_name] = ordinarykernels.language(kernel_name)
        return self.languages[kernel_name] is not None

    def launch(self) -> None:
        """Start the fork server's process now, without a loop: it imports ipykernel while
        the caller loads its workflow; the first kernel asked for then waits less."""
        if not self.closed:
            self.forked.launch()

    def abandon(self) -> None:
        """Without a loop: end a pool that was launched but never used (a run that failed to
        start); nothing after `close`."""
        if self.closed:
            return
        self.closed = True
        self.forked.end_now()
        shutil.rmtree(self.folder, ignore_errors=True)

    def warm(self, kernel_names: list[str]) -> None:
        """Start kernels for these kernelspecs now, before an attempt asks for one.

        `kernel_names` has one entry per notebook attempt a run expects, as far as it knows
        (a for_each task counts as more than the pool holds).
        """
        self._start_culling()
        counts: dict[str, int] = {}
        for name in kernel_names:
            counts[name] = counts.get(name, 0) + 1
        for name, count in counts.items():
            if self.one_run:
                self.expected[name] = self.expected.get(name, 0) + count
            if self.forked.serves(name, dict(os.environ)):
                self.idle.setdefault(name, _Idle())
                self._in_background(self._fill(name))
        if any(count > self.settings.size for count in counts.values()):
            self.forked.want_preload()  # kernels forked after the first ones will have it

    async def take(self, kernel_name: str, cwd: str, env: dict[str, str]) -> Kernel:
        """A kernel of `kernel_name` now running in `cwd` with `env`; only its attempt's."""
        if kernel_name in self.expected:
            self.expected[kernel_name] = max(0, self.expected[kernel_name] - 1)
        if not self.forked.serves(kernel_name, env):
            return await self._take_ordinary(kernel_name, cwd, env)
        spec = self.forked.specs[kernel_name]
        assert spec is not None
        self._start_culling()
        idle = self.idle.setdefault(kernel_name, _Idle())
        kernel = self._first_alive(idle)
        if kernel is None:
            kernel = await self._spawn(kernel_name, spec)
        self._in_background(self._fill(kernel_name))
        self.leased[kernel.kernel_id] = kernel
        job = json.dumps({"cwd": cwd, "env": {**env, **dict(spec.env)}}) + "\n"
        try:
            await write_job(kernel.job_fd, job.encode())
        except OSError:  # the kernel is gone: its attempt sees a dead kernel
            pass
        return kernel

    def release(self, kernel: Kernel) -> None:
        """The attempt is over: the kernel and everything it started end."""
        self.leased.pop(kernel.kernel_id, None)
        kernel.stop_clients()
        self._forget(kernel)

    def status(self) -> dict[str, Any]:
        """Idle kernels per kernelspec and their memory (RSS, bytes)."""
        import psutil

        out: dict[str, Any] = {}
        groups = [(name, idle) for name, idle in self.idle.items()]
        groups += [(key[0], idle) for key, idle in self.ordinary.items()]
        for name, idle in groups:
            entry = out.setdefault(name, {"idle": 0, "rss": [], "leased": 0})
            for kernel in idle.kernels:
                with contextlib.suppress(Exception):
                    entry["rss"].append(psutil.Process(kernel.pid).memory_info().rss)
            entry["idle"] += len(idle.kernels)
        for kernel in self.leased.values():
            out.setdefault(kernel.kernel_name, {"idle": 0, "rss": [], "leased": 0})["leased"] += 1
        return out

    def cull(self, now: float | None = None) -> int:
        """Discard kernels idle longer than the setting; return how many."""
        now = time.monotonic() if now is None else now
        culled = 0
        for idle in [*self.idle.values(), *self.ordinary.values()]:
            keep = []
            for kernel in idle.kernels:
                if now - kernel.born > self.settings.idle_seconds:
                    self._forget(kernel)
                    culled += 1
                else:
                    keep.append(kernel)
            idle.kernels = keep
        return culled

    async def close(self) -> None:
        if self.closed and self.forked.server is None and self.forked.launched is None:
            return
        self.closed = True
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task
        for idle in [*self.idle.values(), *self.ordinary.values()]:
            for kernel in idle.kernels:
                self._forget(kernel)
            idle.kernels.clear()
        for kernel in list(self.leased.values()):
            self.release(kernel)
        if self._stopping:  # the ordinary kernels' managers, cleaning up
            await asyncio.gather(*self._stopping, return_exceptions=True)
        await self.forked.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- inside --------------------------------------------------------------------------

    def _target(self, kernel_name: str) -> int:
        """How many idle kernels of a kernelspec to keep: the setting, or in a one-run pool
        no more than the attempts still expected."""
        if self.one_run and kernel_name in self.expected:
            return min(self.settings.size, self.expected[kernel_name])
        return self.settings.size

    def _new_id(self) -> str:
        self._count += 1
        return f"k{self._count}"

    def _start_culling(self) -> None:
        if self._culling is None and not self.closed:
            self._culling = asyncio.ensure_future(self._cull_now_and_then())
            self._background.add(self._culling)

    async def _cull_now_and_then(self) -> None:
        every = max(0.5, min(60.0, self.settings.idle_seconds / 2))
        while not self.closed:
            await asyncio.sleep(every)
            self.cull()

    def _in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _spawn(self, kernel_name: str, spec: Spec) -> Kernel:
        return await self.forked.spawn(kernel_name, spec, self._new_id)

    async def _fill(self, kernel_name: str) -> None:
        """Fork kernels until `size` wait for this kernelspec."""
        spec = self.forked.specs.get(kernel_name)
        if spec is not None:
            idle = self.idle.setdefault(kernel_name, _Idle())
            await self._keep_ready(idle, kernel_name, lambda: self._spawn(kernel_name, spec))

    async def _keep_ready(
        self, idle: _Idle, kernel_name: str, start: Callable[[], Awaitable[Kernel]]
    ) -> None:
        """Start kernels with `start` until as many as the pool keeps wait in `idle`; a start
        that fails is left to the next attempt, which starts one and reports why."""
        while not self.closed and len(idle.kernels) + idle.spawning < self._target(kernel_name):
            idle.spawning += 1
            try:
                kernel = await start()
            except Exception:  # noqa: BLE001 - see above
                return
            finally:
                idle.spawning -= 1
            if self.closed:
                self._forget(kernel)
                return
            idle.kernels.append(kernel)

    def _first_alive(self, idle: _Idle) -> Kernel | None:
        """The oldest idle kernel still alive (the dead ones forgotten on the way), if any."""
        while idle.kernels:
            candidate = idle.kernels.pop(0)
            if candidate.alive():
                return candidate
            self._forget(candidate)
        return None

    async def _take_ordinary(self, kernel_name: str, cwd: str, env: dict[str, str]) -> Kernel:
        """An ordinarily started kernel for this combination; the next one starts meanwhile."""
        key, context = ordinarykernels.key_of(kernel_name, cwd, env)
        self._start_culling()
        idle = self.ordinary.setdefault(key, _Idle())
        kernel = self._first_alive(idle)
        if kernel is None:
            kernel = await ordinarykernels.start(key, self._new_id)
        self._in_background(self._fill_ordinary(key))
        self.leased[kernel.kernel_id] = kernel
        if context and self.languages.get(kernel_name) == "python":
            try:  # its `dbutils` reads this attempt's context
                await ordinarykernels.tell_context(kernel, context)
            except asyncio.CancelledError:  # the attempt timed out or was canceled meanwhile
                self.release(kernel)
                raise
        return kernel

    async def _fill_ordinary(self, key: Key) -> None:
        """Start kernels until `size` wait for this combination."""
        idle = self.ordinary.setdefault(key, _Idle())
        await self._keep_ready(idle, key[0], lambda: ordinarykernels.start(key, self._new_id))

    def _forget(self, kernel: Kernel) -> None:
        kernel.kill()
        if kernel.manager is not None:  # its connection file and sockets; the process reaped
            with contextlib.suppress(RuntimeError):  # no running loop: nothing more to do
                task = asyncio.ensure_future(shut(kernel.manager))
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
        self._remove_files(kernel)

    def _remove_files(self, kernel: Kernel) -> None:
        for name in os.listdir(self.folder):
            if name == f"{kernel.kernel_id}.json" or name.startswith(f"{kernel.kernel_id}-"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.folder, name))
