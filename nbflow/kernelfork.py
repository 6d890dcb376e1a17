"""The kernel fork server: a process that imported ipykernel once forks ready kernels.

A cold IPython kernel spends most of its second importing. This process (`python -m
nbflow.kernelfork PRELOAD_JSON`) imports ipykernel and the project's preload list once,
then forks one child per kernel the pool asks for. The child initialises an IPKernelApp on
the connection file it was given (sockets bound, shell built) and then waits, before
serving anything, for the attempt it will belong to: its working directory and environment
arrive on a pipe, and only then do the shell's extensions and startup code run and the
kernel start serving. A kernel serves exactly one attempt; the pool kills it afterwards.

Requests and replies are JSON lines on stdin and stdout:
  {"op": "spawn", "id": ID, "connection_file": PATH, "argv": [...]}  -> {"id": ID, "pid": PID}
  {"op": "assign", "id": ID, "cwd": DIR, "env": {...}}              (no reply)
  {"op": "discard", "id": ID}                                        (no reply)
End of input ends the server and every kernel not yet assigned. Nothing here may start a
thread before forking: a forked child would inherit locks held by threads it does not have.
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


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data) :]
        except InterruptedError:
            continue
        except OSError:  # the child died already: the pool sees a dead kernel
            return


def _child(connection_file: str, argv: list[str], assignment: int, inherited: list[int]) -> None:
    """Become a kernel: initialise, wait for the attempt's cwd and environment, serve."""
    code = 0
    try:
        os.setsid()  # its own session, as jupyter_client gives a kernel: Ctrl-C is not for it
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        for fd in inherited:  # the server's pipes and the other children's: not this kernel's
            try:
                os.close(fd)
            except OSError:
                pass
        from ipykernel.kernelapp import IPKernelApp

        before = dict(os.environ)
        app = IPKernelApp.instance()
        # Extensions and startup code belong to the attempt (its cwd, its environment):
        # they run after the assignment, as in a kernel started for it.
        app.init_extensions = lambda: None  # type: ignore[method-assign]
        app.init_code = lambda: None  # type: ignore[method-assign]
        app.initialize(["-f", connection_file, *argv])
        set_by_kernel = {k: v for k, v in os.environ.items() if before.get(k) != v}
        with os.fdopen(assignment, "rb") as pipe:
            data = pipe.read()
        if not data:  # discarded, or the server ended: never used
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
    """Answer requests; import the preload list between them, once the kernel modules are in.

    Ready (and forking) as soon as ipykernel is imported: a preloaded module is imported
    while no request comes, so kernels forked later have it and the first ones are not held
    up by it (they import what they use, as a cold kernel does).
    """
    out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # a preloaded module's prints must not reach the protocol
    for name in _KERNEL_MODULES:  # imported once here, inherited by every kernel
        importlib.import_module(name)
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    signal.signal(signal.SIGCHLD, _reap)
    waiting: dict[str, tuple[int, int]] = {}  # kernel id -> (pid, write end of its pipe)
    pending = list(preload)
    buffered = b""
    while True:
        # A preloaded module's import holds up requests for its duration (seconds for
        # scrapbook): it starts only once no request came for a moment, so the kernels a
        # pool asks for when it starts are forked first.
        if pending and not select.select([0], [], [], _QUIET)[0]:
            name = pending.pop(0)
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - reported, the pool goes on without it
                out.write(json.dumps({"preload_failed": name, "error": f"{exc}"}) + "\n")
            continue
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            try:
                request = json.loads(line)
            except ValueError:
                continue
            _answer(request, out, waiting)
    for _pid, write_end in waiting.values():
        os.close(write_end)
    return 0


def _answer(request: dict[str, Any], out: Any, waiting: dict[str, tuple[int, int]]) -> None:
    op, kid = request.get("op"), str(request.get("id"))
    if op == "spawn":
        read_end, write_end = os.pipe()
        inherited = [0, out.fileno(), write_end] + [w for _, w in waiting.values()]
        pid = os.fork()
        if pid == 0:
            _child(request["connection_file"], request.get("argv", []), read_end, inherited)
        os.close(read_end)
        waiting[kid] = (pid, write_end)
        out.write(json.dumps({"id": kid, "pid": pid}) + "\n")
    elif op in ("assign", "discard") and kid in waiting:
        pid, write_end = waiting.pop(kid)
        if op == "assign":
            job = {"cwd": request["cwd"], "env": request["env"]}
            _write_all(write_end, json.dumps(job).encode())
        os.close(write_end)  # end of file: the child reads its job, or nothing and exits


def main() -> int:
    # No `startup.skip_unused_imports()` here: these modules become the user's kernels.
    preload = json.loads(sys.argv[1]) if len(sys.argv) > 1 else []
    return serve(list(preload))


if __name__ == "__main__":
    sys.exit(main())
