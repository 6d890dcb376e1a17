"""The kernel fork server: a process that imported ipykernel once forks ready kernels.

A cold IPython kernel spends most of its second importing. This process (`python -m
nbflow.execution.kernels.kernelfork PRELOAD_JSON`) imports ipykernel and the project's preload list once,
then forks one child per kernel the pool asks for. The child initialises an IPKernelApp on
the connection file it was given (sockets bound, shell built) and then waits, before
serving anything, for the attempt it will belong to: its working directory and environment
arrive on a pipe, and only then do the shell's extensions and startup code run and the
kernel start serving. A kernel serves exactly one attempt; the pool kills it afterwards.

Requests and replies are JSON lines on stdin and stdout:
  {"op": "spawn", "id": ID, "connection_file": PATH, "job": FIFO, "argv": [...]}
      -> {"id": ID, "pid": PID}
  {"op": "preload", "modules": [...]}   (no reply; a failed import -> {"preload_failed": ...})
The attempt's `{"cwd": DIR, "env": {...}}` reaches the kernel as one JSON line on its FIFO,
written by the pool directly (this process may be busy importing a preloaded module); end
of file there (the pool discarded the kernel, or died) ends the kernel unused. End of input
ends the server. Nothing here may start a thread before forking: a forked child would
inherit locks held by threads it does not have.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import sys
from typing import Any

# What an IPython kernel imports while it initialises (measured: ipykernel 7, IPython 9);
# none of them starts a thread when imported.
_KERNEL_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "sqlite3",
    "faulthandler",
    "tornado.platform.asyncio",
    "nbflow.databricks.dbutils",  # the extension every nbflow kernel loads
)


_QUIET = 0.25  # seconds without a request before the next preload import


def _reap(*_: Any) -> None:
    """Collect dead children at once, so a dead kernel never lingers as a zombie."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_job(path: str) -> bytes:
    """The attempt's line from the kernel's FIFO; empty when the pool let go of it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even if the pool is gone
    os.set_blocking(fd, True)
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = os.read(fd, 1 << 16)
        except InterruptedError:
            continue
        if not chunk:  # no writer left: discarded, or the pool ended
            return b""
        data += chunk
    os.close(fd)
    return data


def _child(connection_file: str, argv: list[str], job_path: str, inherited: list[int]) -> None:
    """Become a kernel: initialise, wait for the attempt's cwd and environment, serve."""
    code = 0
    try:
        os.setsid()  # its own session, as jupyter_client gives a kernel: Ctrl-C is not for it
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        for fd in inherited:  # the server's pipes: not this kernel's
            try:
                os.close(fd)
            except OSError:
                pass
        from ipykernel.kernelapp import IPKernelApp

        before = dict(os.environ)
        app = IPKernelApp.instance()
        # Extensions and startup code belong to the attempt (its cwd, its environment):
        # they run after the assignment, as in a kernel started for it.
        app.init_extensions = lambda: None
        app.init_code = lambda: None
        app.initialize(["-f", connection_file, *argv])
        set_by_kernel = {k: v for k, v in os.environ.items() if before.get(k) != v}
        data = _read_job(job_path)
        if not data:  # discarded, or the pool ended: never used
            os._exit(0)
        job = json.loads(data)
        started_in = os.getcwd()
        os.chdir(job["cwd"])
        if sys.path and sys.path[0] == started_in:
            sys.path[0] = job["cwd"]  # where `python -m ipykernel_launcher` would have put it
        os.environ.clear()
        os.environ.update({**set_by_kernel, **job["env"]})
        del app.init_extensions, app.init_code  # the class's own, now
        app.init_extensions()
        app.init_code()
        app.start()
    except BaseException:  # noqa: BLE001 - a kernel's end is its own; never the server's code
        code = 1
    finally:
        os._exit(code)


def serve(preload: list[str]) -> int:
    """Answer spawn requests; a forked copy imports the preload list, then takes them over.

    The list comes as an argument or in a `preload` request (a pool decides whether its
    kernels are worth it only once it knows what it will run).

    Ready (and forking) as soon as ipykernel is imported. Once no request came for a
    moment, a copy of this process imports the preload list while this one goes on forking
    kernels without it (they import what they use, as a cold kernel does); when the copy
    has everything, spawn requests pass to it, so later kernels have the preloaded modules
    and no request ever waits for an import (scrapbook's takes seconds).
    """
    out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # a preloaded module's prints must not reach the protocol
    for name in _KERNEL_MODULES:  # imported once here, inherited by every kernel
        importlib.import_module(name)
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    signal.signal(signal.SIGCHLD, _reap)
    copy: _Copy | None = None
    requests = _Lines(0)
    while True:
        watched = [0] if copy is None else [0, copy.replies.fd]
        quiet = _QUIET if preload and copy is None else None
        readable = select.select(watched, [], [], quiet)[0]
        if not readable:  # no request for a moment: the copy imports the preload list
            copy, preload = _Copy.start(preload, out), []
            continue
        if copy is not None and copy.replies.fd in readable:
            lines = copy.replies.read()
            if lines is None:  # the copy died: this process forks every kernel again
                copy.close()
                copy = None
            for line in lines or []:
                if not line.strip():
                    continue
                if json.loads(line).get("preloaded"):
                    copy.ready = True  # type: ignore[union-attr]
                else:
                    out.write(line.decode() + "\n")  # its replies and failed preloads
        if 0 in readable:
            lines = requests.read()
            if lines is None:
                break
            for line in lines:
                if copy is not None and copy.ready:
                    _write_all(copy.requests, line + b"\n")
                    continue
                try:
                    request = json.loads(line)
                except ValueError:
                    continue
                if request.get("op") == "preload":
                    if copy is None:  # once: the copy imports what it was first given
                        preload = [str(m) for m in request.get("modules", [])]
                    continue
                own = [0, out.fileno()] + ([] if copy is None else copy.fds())
                _answer(request, out, own)
    if copy is not None:
        copy.close()  # end of its input: it ends too
    return 0


class _Lines:
    """Complete lines read from a file descriptor."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffered = b""

    def read(self) -> list[bytes] | None:
        """The lines one read completes; None at end of file."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        *lines, self.buffered = (self.buffered + chunk).split(b"\n")
        return lines


class _Copy:
    """A fork of the server that imports the preload list, then forks kernels itself."""

    def __init__(self, pid: int, requests: int, replies: int):
        self.pid = pid
        self.requests = requests  # spawn requests to it
        self.replies = _Lines(replies)  # its replies, failed preloads, then {"preloaded": true}
        self.ready = False

    def fds(self) -> list[int]:
        return [self.requests, self.replies.fd]

    @classmethod
    def start(cls, preload: list[str], out: Any) -> _Copy:
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the pool's requests are not its
                for fd in (out.fileno(), requests_w, replies_r):
                    os.close(fd)
                reply = os.fdopen(replies_w, "w", buffering=1)
                for name in preload:
                    try:
                        importlib.import_module(name)
                    except Exception as exc:  # noqa: BLE001 - reported; the pool goes on
                        reply.write(json.dumps({"preload_failed": name, "error": f"{exc}"}))
                        reply.write("\n")
                reply.write(json.dumps({"preloaded": True}) + "\n")
                incoming = _Lines(requests_r)
                while (lines := incoming.read()) is not None:
                    for line in lines:
                        if line.strip():
                            _answer(json.loads(line), reply, [requests_r, replies_w])
            except BaseException:  # noqa: BLE001 - the server goes on forking kernels itself
                code = 1
            finally:
                os._exit(code)
        os.close(requests_r)
        os.close(replies_w)
        return cls(pid, requests_w, replies_r)

    def close(self) -> None:
        for fd in self.fds():
            try:
                os.close(fd)
            except OSError:
                pass


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data) :]
        except InterruptedError:
            continue
        except OSError:  # the copy died: its kernels' attempts see them gone
            return


def _answer(request: dict[str, Any], out: Any, inherited: list[int]) -> None:
    """Fork a kernel for a spawn request; `inherited`: this process's descriptors, closed in
    the kernel."""
    if request.get("op") == "spawn":
        argv, job = request.get("argv", []), request["job"]
        pid = os.fork()
        if pid == 0:
            _child(request["connection_file"], argv, job, inherited)
        out.write(json.dumps({"id": str(request.get("id")), "pid": pid}) + "\n")


def main() -> int:
    # No `startup.skip_unused_imports()` here: these modules become the user's kernels.
    preload = json.loads(sys.argv[1]) if len(sys.argv) > 1 else []
    return serve(list(preload))


if __name__ == "__main__":
    sys.exit(main())
