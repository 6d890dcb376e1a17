"""A pooled kernel: the kernel manager nbclient talks to, leased to one attempt.

`Kernel` is the face nbclient needs of a kernel manager (`has_kernel`, `client`,
`is_alive`, `interrupt_kernel`, `shutdown_kernel`, `cleanup_resources`), so papermill
drives a pooled kernel exactly as one it started: a forked one (its client waits for a
kernel_info reply and a message on IOPub) or one jupyter_client started (its own manager
and client).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

from .. import processes


class Kernel:
    """One pooled kernel, leased to one attempt; the kernel manager nbclient talks to."""

    def __init__(
        self,
        kernel_id: str,
        pid: int,
        connection_file: str,
        kernel_name: str,
        job_fd: int = -1,
        manager: Any = None,
    ):
        self.kernel_id = kernel_id
        self.manager = manager  # jupyter_client's, for a kernel started the ordinary way
        self.pid = pid
        self.job_fd = job_fd  # the pool's end of the FIFO this kernel reads its attempt from
        self.started = processes.started_at(pid)
        self.connection_file = connection_file
        self.kernel_name = kernel_name
        self.born = time.monotonic()
        self._clients: list[Any] = []

    # -- what nbclient calls -------------------------------------------------------------

    @property
    def has_kernel(self) -> bool:
        return self.alive()

    def client(self, **kwargs: Any) -> Any:
        if self.manager is not None:  # jupyter_client's own client and readiness check
            kc = self.manager.client(**kwargs)
            self._clients.append(kc)
            return kc
        kc = _client_class()(**kwargs)
        kc.kernel = self
        kc.load_connection_file(self.connection_file)
        self._clients.append(kc)
        return kc

    async def is_alive(self) -> bool:
        return self.alive()

    async def interrupt_kernel(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGINT)

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        self.kill()

    async def cleanup_resources(self, restart: bool = False) -> None:
        pass

    # -- the pool's own ------------------------------------------------------------------

    def alive(self) -> bool:
        try:
            import psutil

            proc = psutil.Process(self.pid)
            return proc.status() != psutil.STATUS_ZOMBIE and processes.alive(self.pid, self.started)
        except Exception:  # noqa: BLE001 - gone, or not ours to see
            return False

    def state(self) -> str:
        """What the pool sees of a kernel that does not answer: its process state, and what
        of its attempt's line it has not read (a kernel still waits for that line)."""
        import array
        import fcntl
        import termios

        try:
            import psutil

            status = str(psutil.Process(self.pid).status())
        except Exception:  # noqa: BLE001 - gone, or not ours to see
            status = "gone"
        unread = array.array("i", [0])
        if self.job_fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.ioctl(self.job_fd, termios.FIONREAD, unread)
        return f"kernel {self.kernel_id}, pid {self.pid} {status}, {unread[0]} bytes unread by it"

    def stop_clients(self) -> None:
        """Close the channels papermill opened (it does not own this kernel, so it leaves them)."""
        for kc in self._clients:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        self._clients.clear()

    def kill(self) -> None:
        """End the kernel and what it started; it served its one attempt."""
        processes.kill_tree(self.pid, self.started, wait=False)
        self.close_job()

    def close_job(self) -> None:
        if self.job_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.job_fd)
            self.job_fd = -1


_CLIENT: Any = None
_ASK_AGAIN = 1.0  # seconds between kernel_info requests until the kernel is ready


def _client_class() -> Any:
    """A kernel client that asks the pool whether its kernel lives.

    A client made outside a KernelManager waits for heartbeats before its first request
    (polling every 0.2 s); the pool knows the kernel's process, as a manager would.
    """
    global _CLIENT
    if _CLIENT is None:
        from jupyter_client.asynchronous.client import AsyncKernelClient

        class PooledKernelClient(AsyncKernelClient):
            kernel: Kernel

            async def _async_is_alive(self) -> bool:
                return self.kernel.alive()

            is_alive = _async_is_alive

            async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
                """Ready once the kernel answered kernel_info and IOPub delivered a message.

                Anything IOPub delivers (ipykernel's greeting of a new subscriber, JEP 65,
                or the status each request publishes) proves the subscription is in place,
                so nothing published afterwards is lost. Neither signal is waited for alone
                and the request is sent again every second until both came, as
                jupyter_client's own client does: the greeting never comes to a subscriber
                that joins while another one is subscribed (zmq's XPUB reports a topic's
                first subscription only), and one lost request or greeting must not leave
                an attempt waiting out the whole timeout on a live kernel.
                """
                from queue import Empty

                import zmq
                from zmq.asyncio import Poller

                deadline = time.monotonic() + (timeout if timeout is not None else 60.0)
                poller = Poller()
                poller.register(self.iopub_channel.socket, zmq.POLLIN)
                poller.register(self.shell_channel.socket, zmq.POLLIN)
                reply: dict[str, Any] | None = None
                heard = False  # anything on IOPub
                asked = -_ASK_AGAIN
                while True:
                    if time.monotonic() - asked >= _ASK_AGAIN:
                        self.kernel_info()
                        asked = time.monotonic()
                    ready = dict(await poller.poll(200))
                    with contextlib.suppress(Empty):
                        if self.iopub_channel.socket in ready:
                            await self.iopub_channel.get_msg(timeout=0)
                            heard = True
                        if self.shell_channel.socket in ready:
                            msg = await self.shell_channel.get_msg(timeout=0)
                            if msg["msg_type"] == "kernel_info_reply":
                                reply = msg
                    if reply is not None and heard:
                        self._handle_kernel_info_reply(reply)
                        return
                    if not self.kernel.alive():
                        raise RuntimeError("Kernel died before replying to kernel_info")
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"Kernel didn't respond in {timeout} seconds "
                            f"({self.kernel.state()}; IOPub heard: {'yes' if heard else 'no'}, "
                            f"kernel_info answered: {'yes' if reply else 'no'})"
                        )

            wait_for_ready = _async_wait_for_ready

        _CLIENT = PooledKernelClient
    return _CLIENT


async def shut(manager: Any) -> None:
    """Let jupyter_client finish a killed kernel: reap it, remove its connection file."""
    with contextlib.suppress(Exception):
        await manager.shutdown_kernel(now=True)


async def run_silently(kernel: Kernel, code: str) -> None:
    """Execute `code` in a kernel before its attempt, leaving no trace in its history."""
    kc = kernel.manager.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        msg_id = kc.execute(code, silent=True, store_history=False)
        while (await kc.get_shell_msg(timeout=60))["parent_header"].get("msg_id") != msg_id:
            pass
    finally:
        kc.stop_channels()
