"""The kernel pool: single-use kernels forked ahead of the attempts that will take them.

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

The fork server's client is `forkserver.py`; a leased kernel, as nbclient drives it,
`pooledkernel.py`.
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
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .forkserver import ForkServer, Spec, forkable_spec, starts_differently, write_job
from .pooledkernel import Kernel, run_silently, shut

POOL_SIZE_ENV = "NBFLOW_WARM_KERNELS"  # idle kernels kept ready per kernelspec; 0 turns off
PRELOAD_ENV = "NBFLOW_PRELOAD"  # modules the fork server imports once, comma-separated
IDLE_ENV = "NBFLOW_KERNEL_IDLE"  # seconds an unused kernel is kept before it is culled


@dataclass(frozen=True)
class PoolSettings:
    size: int = 2  # fits a 2-core laptop running `--parallel 2`
    # scrapbook is what notebooks publish values with; importing it (nbformat's schema
    # checks build a grammar) costs a cold kernel seconds, paid here once per pool.
    preload: tuple[str, ...] = ("scrapbook",)
    idle_seconds: float = 600.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PoolSettings:
        env = os.environ if environ is None else environ
        size, idle = cls.size, cls.idle_seconds
        if env.get(POOL_SIZE_ENV, "").strip():
            size = max(0, int(env[POOL_SIZE_ENV]))
        if env.get(IDLE_ENV, "").strip():
            idle = max(0.0, float(env[IDLE_ENV]))
        preload = cls.preload
        if PRELOAD_ENV in env:  # set but empty: nothing preloaded
            preload = tuple(m.strip() for m in env[PRELOAD_ENV].split(",") if m.strip())
        return cls(size=size, preload=preload, idle_seconds=idle)


@dataclass
class _Idle:
    kernels: list[Kernel] = field(default_factory=list)
    spawning: int = 0


_Key = tuple[str, str, tuple[tuple[str, str], ...]]  # kernelspec, folder, environment


def _language(kernel_name: str) -> str | None:
    """The language of an installed kernelspec started as a local process; None when there
    is none of that name, or it names a provisioner of its own (the cold path starts it)."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except Exception:  # noqa: BLE001 - no such kernel: the cold path reports it in its words
        return None
    if (spec.metadata or {}).get("kernel_provisioner"):
        return None
    return str(spec.language or "unknown")


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
        self.preload_wanted = not one_run
        self.folder = tempfile.mkdtemp(prefix="nbflow-k-")  # short: Unix socket paths are
        self.server: ForkServer | None = None
        self.launched: ForkServer | None = None  # started early, not yet talked to
        self.server_failed: str | None = None
        self.idle: dict[str, _Idle] = {}
        self.specs: dict[str, Spec | None] = {}
        self.leased: dict[str, Kernel] = {}
        self.languages: dict[str, str | None] = {}  # of kernelspecs started the ordinary way
        self.ordinary: dict[_Key, _Idle] = {}  # started the ordinary way, per combination
        self._stopping: set[asyncio.Task[Any]] = set()
        self._starting: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._count = 0
        self._culling: asyncio.Task[None] | None = None
        self.closed = False

    # -- public --------------------------------------------------------------------------

    def serves(self, kernel_name: str, env: dict[str, str]) -> bool:
        """Whether an attempt with this kernel can have a pooled kernel (forked, or started
        the ordinary way); not for a kernelspec that does not exist (the cold path says so)."""
        if self.closed:
            return False
        if self._forks(kernel_name, env):
            return True
        if kernel_name not in self.languages:
            self.languages[kernel_name] = _language(kernel_name)
        return self.languages[kernel_name] is not None

    def _forks(self, kernel_name: str, env: dict[str, str]) -> bool:
        """Whether the fork server serves this kernelspec with this environment."""
        if self.server_failed or starts_differently(env):
            return False
        if kernel_name not in self.specs:
            self.specs[kernel_name] = forkable_spec(kernel_name, self.python)
        return self.specs[kernel_name] is not None

    def launch(self) -> None:
        """Start the fork server's process now, without a loop: it imports ipykernel while
        the caller loads its workflow; the first kernel asked for then waits less."""
        if self.server is None and self.launched is None and not self.closed:
            self.launched = ForkServer(self.python, self.folder)
            try:
                self.launched.launch()
            except OSError as exc:
                self.launched = None
                self.server_failed = f"the kernel fork server did not start: {exc}"

    def abandon(self) -> None:
        """Without a loop: end a pool that was launched but never used (a run that failed to
        start); nothing after `close`."""
        if self.closed:
            return
        self.closed = True
        if self.launched is not None:
            self.launched.end_now()
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
            if self._forks(name, dict(os.environ)):
                self.idle.setdefault(name, _Idle())
                self._in_background(self._fill(name))
        if any(count > self.settings.size for count in counts.values()):
            self._want_preload()  # kernels forked after the first ones will have it

    async def take(self, kernel_name: str, cwd: str, env: dict[str, str]) -> Kernel:
        """A kernel of `kernel_name` now running in `cwd` with `env`; only its attempt's."""
        if kernel_name in self.expected:
            self.expected[kernel_name] = max(0, self.expected[kernel_name] - 1)
        if not self._forks(kernel_name, env):
            return await self._take_ordinary(kernel_name, cwd, env)
        spec = self.specs[kernel_name]
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
        if self.closed and self.server is None and self.launched is None:
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
        for server in (self.server, self.launched):
            if server is not None:
                await server.stop()
        self.server = self.launched = None
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- inside --------------------------------------------------------------------------

    def _target(self, kernel_name: str) -> int:
        """How many idle kernels of a kernelspec to keep: the setting, or in a one-run pool
        no more than the attempts still expected."""
        if self.one_run and kernel_name in self.expected:
            return min(self.settings.size, self.expected[kernel_name])
        return self.settings.size

    def _want_preload(self) -> None:
        if not self.preload_wanted:
            self.preload_wanted = True
            if self.server is not None and self.server.running:
                self.server.preload(self.settings.preload)

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
            self.server_failed = f"the kernel fork server did not start: {exc}"
            await server.stop()
            self.launched = None
            raise
        self.server, self.launched = server, None
        if self.preload_wanted:
            server.preload(self.settings.preload)

    async def _spawn(self, kernel_name: str, spec: Spec) -> Kernel:
        from jupyter_client.connect import write_connection_file

        server = await self._server()
        self._count += 1
        kernel_id = f"k{self._count}"
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

    async def _fill(self, kernel_name: str) -> None:
        """Fork kernels until `size` wait for this kernelspec."""
        spec = self.specs.get(kernel_name)
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
        from ...databricks.context import CONTEXT_ENV

        context = env.get(CONTEXT_ENV)
        fixed = {k: v for k, v in env.items() if k != CONTEXT_ENV}
        key: _Key = (kernel_name, cwd, tuple(sorted(fixed.items())))
        self._start_culling()
        idle = self.ordinary.setdefault(key, _Idle())
        kernel = self._first_alive(idle)
        if kernel is None:
            kernel = await self._start_ordinary(kernel_name, cwd, fixed)
        self._in_background(self._fill_ordinary(key))
        self.leased[kernel.kernel_id] = kernel
        if context and self.languages.get(kernel_name) == "python":
            from ...databricks.dbutils import kernel_setup_code

            try:  # its `dbutils` reads this attempt's context
                await run_silently(kernel, kernel_setup_code(context))
            except asyncio.CancelledError:  # the attempt timed out or was canceled meanwhile
                self.release(kernel)
                raise
            except Exception:  # noqa: BLE001 - a dead or deaf kernel: the attempt reports it
                pass
        return kernel

    async def _start_ordinary(self, kernel_name: str, cwd: str, env: dict[str, str]) -> Kernel:
        from .managers import IPCKernelManager

        manager = IPCKernelManager(kernel_name=kernel_name)
        try:
            await manager.start_kernel(cwd=cwd, env=env)
        except BaseException:  # canceled while it starts: nothing may be left running
            await asyncio.shield(shut(manager))
            raise
        self._count += 1
        pid = getattr(manager.provisioner, "pid", None)  # a local provisioner's process
        if pid is None:
            await shut(manager)
            raise RuntimeError(f"kernel {kernel_name!r} has no local process to pool")
        return Kernel(f"k{self._count}", pid, manager.connection_file, kernel_name, -1, manager)

    async def _fill_ordinary(self, key: _Key) -> None:
        """Start kernels until `size` wait for this combination."""
        name, cwd, fixed = key
        idle = self.ordinary.setdefault(key, _Idle())
        await self._keep_ready(idle, name, lambda: self._start_ordinary(name, cwd, dict(fixed)))

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
