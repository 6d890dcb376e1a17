"""A notebook attempt: the notebook prepared with its parameters, run by the papermill
worker in a process of its own or on a warm kernel from the pool, marked when it was
interrupted (a timeout, a cancel, a dead kernel), its error located and its values read.

Nothing here touches run state; the runner records what this returns.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import scraps
from ..workflows import secrets
from . import annotate
from .attemptresult import AttemptResult, failed
from .processattempt import spawn, worker_report

if TYPE_CHECKING:
    from .kernels.kernelpool import KernelPool


async def run_notebook(
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
    pool: KernelPool | None = None,
) -> AttemptResult:
    """Execute a notebook; the whole attempt is limited to `timeout`.

    With a `pool` that serves the notebook's kernel, papermill drives a warm kernel from a
    thread of this process; otherwise a worker process runs papermill, which starts a
    kernel. The parameterised notebook is written to `artifact` first, so an attempt
    stopped before its kernel ran anything (a timeout shorter than kernel start, a cancel)
    still leaves its notebook, marked as such.
    """
    prepared = _prepare(source, artifact, parameters, kernel)
    job = {
        "input": str(source),
        "output": str(artifact),
        "parameters": parameters,
        "kernel": kernel,
        "mask": secrets.known(),  # the worker saves the notebook with these masked
    }
    kernel_name = kernel or _kernel_name(prepared)
    outcome: AttemptResult | tuple[int, bytes, bytes] | dict[str, Any]
    try:
        if pool is not None and kernel_name and cwd.is_dir() and pool.serves(kernel_name, env):
            outcome = await _in_pooled_kernel(pool, kernel_name, job, cwd, env, timeout, on_start)
        else:
            outcome = await spawn(
                [python, "-m", "nbflow.execution.worker"],
                cwd,
                env,
                stdin=json.dumps(job).encode(),
                timeout=timeout,
                on_start=on_start,
            )
    except asyncio.CancelledError:
        annotate.mark_interrupted(
            artifact,
            headline="this attempt was canceled",
            ename="Canceled",
            evalue="canceled",
            prepared=prepared,
        )
        raise
    if isinstance(outcome, AttemptResult):
        if outcome.state == "timed_out" and outcome.error:
            outcome.error["cell_index"] = annotate.mark_interrupted(
                artifact,
                headline=f"this attempt timed out after {timeout:g}s",
                ename=outcome.error["ename"],
                evalue=outcome.error["evalue"],
                prepared=prepared,
            )
        elif outcome.error:  # the worker could not be started (a missing cwd, say)
            annotate.mark_interrupted(
                artifact,
                headline="this attempt could not start",
                before_cells="",
                prepared=prepared,
                **_fields(outcome.error),
            )
        return outcome
    reported = outcome if isinstance(outcome, dict) else worker_report(outcome, "notebook")
    if isinstance(reported, AttemptResult):
        result = reported
        assert result.error is not None
        result.error["cell_index"] = annotate.mark_interrupted(
            artifact,
            headline="the attempt's process died",
            prepared=prepared,
            **_fields(result.error),
        )
        return result
    result = AttemptResult(reported["state"], reported.get("error"))
    if result.error and result.error.get("ename") == "DeadKernelError":
        result.error["cell_index"] = annotate.mark_interrupted(
            artifact, headline="the kernel died", prepared=prepared, **_fields(result.error)
        )
    elif result.error and artifact.is_file():
        _locate_error(artifact, result.error)
    if result.state == "success":
        try:
            result.values = scraps.read_scraps(annotate.read_notebook(artifact))
            for name, value in result.values.items():
                scraps.check_size(name, value)
        except ValueError as exc:  # UnreadableNotebook is one too
            return failed("ValueError", str(exc))
    return result


_THREADS: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    """Where papermill drives pooled kernels: one thread per attempt running at once."""
    global _THREADS
    if _THREADS is None:
        _THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="nbflow-attempt")
    return _THREADS


async def _in_pooled_kernel(
    pool: KernelPool,
    kernel_name: str,
    job: dict[str, Any],
    cwd: Path,
    env: dict[str, str],
    timeout: float | None,
    on_start: Callable[[int], None] | None,
) -> AttemptResult | dict[str, Any]:
    """Run the worker's papermill call on a warm kernel, in a thread; kill it on a stop.

    The thread is waited for after its kernel is killed (papermill then sees a dead kernel
    and saves the notebook), so the notebook is complete before it is marked.
    """
    from . import worker

    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    timed_out = AttemptResult(
        "timed_out", {"ename": "TimeoutError", "evalue": f"timed out after {timeout or 0:g}s"}
    )
    try:
        leased = await asyncio.wait_for(pool.take(kernel_name, str(cwd), env), timeout)
    except asyncio.TimeoutError:
        return timed_out
    try:
        if on_start is not None:
            on_start(leased.pid)
        running = loop.run_in_executor(_threads(), worker.execute, job, leased)
        try:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            return await asyncio.wait_for(asyncio.shield(running), left)
        except asyncio.TimeoutError:
            leased.kill()
            await _settle(running)
            return timed_out
        except asyncio.CancelledError:
            leased.kill()
            await _settle(running)
            raise
    finally:
        pool.release(leased)


async def _settle(running: asyncio.Future[Any]) -> None:
    """Wait for an attempt's thread whose kernel was killed (it notices within seconds)."""
    try:
        await asyncio.wait_for(asyncio.shield(running), 60)
    except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - its outcome is already decided
        pass


def _kernel_name(prepared: Any) -> str | None:
    """The kernelspec a notebook names in its metadata (papermill runs that one)."""
    try:
        return str(prepared.metadata.kernelspec.name) or None
    except AttributeError:
        return None


def _prepare(source: Path, artifact: Path, parameters: dict[str, Any], kernel: str | None) -> Any:
    """Write the notebook as papermill will run it (parameters injected); None if it cannot.

    The worker parameterises the same way from `source` and overwrites this file when it
    starts; what cannot be prepared here is left for the worker to report.
    """
    import logging

    from ..startup import import_papermill

    papermill = import_papermill()
    log = logging.getLogger("papermill")
    level = log.level
    log.setLevel(logging.ERROR)  # its warnings are the worker's to report, not the runner's
    try:
        return secrets.mask(  # kept to mark an interrupted attempt: written as it is
            papermill.execute_notebook(
                str(source),
                secrets.output_path(artifact),
                parameters=parameters,
                kernel_name=kernel,
                prepare_only=True,
                progress_bar=False,
            )
        )
    except Exception:  # an unreadable notebook, an unknown language: the worker says which
        return None
    finally:
        log.setLevel(level)


def _locate_error(path: Path, error: dict[str, Any]) -> None:
    """Point `error` at the failing cell of the notebook as kept, and say what it printed.

    papermill's `cell_index` counts cells before it inserted its banner and anchor above
    the error; the cell it marked failed (`metadata.papermill.exception`) is the one. An
    error IPython only prints (a line magic's `UsageError`) reaches papermill without a
    value: the cell's last line of stderr stands in.
    """
    try:
        nb = annotate.read_notebook(path)
    except annotate.UnreadableNotebook:
        return
    marked = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("exception") is True
    ]
    with_error = [
        i
        for i, cell in enumerate(nb.cells)
        if any(o.get("output_type") == "error" for o in cell.get("outputs", []) or [])
    ]
    candidates = marked or with_error
    if not candidates:
        return
    found = candidates[0]
    error["cell_index"] = found
    if not error.get("evalue"):
        stderr = [
            line
            for o in nb.cells[found].get("outputs", []) or []
            if o.get("output_type") == "stream" and o.get("name") == "stderr"
            for line in str(o.get("text", "")).splitlines()
            if line.strip()
        ]
        if stderr:
            error["evalue"] = stderr[-1]


def _fields(error: dict[str, Any]) -> dict[str, str]:
    return {"ename": str(error.get("ename")), "evalue": str(error.get("evalue"))}
