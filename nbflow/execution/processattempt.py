"""An attempt run as a process of its own: a script or command logged to a file (values
through the glue helper), or the SQL worker. The process starts in its own session and, on a
timeout or a cancel, is killed with everything it started."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import scraps
from ..glue import VALUES_FILE_ENV  # where `nbflow.glue` writes outside a kernel
from . import processes
from .attemptresult import AttemptResult, failed


async def run_sql(
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
) -> AttemptResult:
    """Run SQL statements in one transaction in a worker; the last one's rows are the output."""
    from .sqlworker import split_statements

    statements = split_statements(script)
    if not statements:
        return failed("ValueError", "the SQL holds no statement")
    job = {"url": url, "statements": statements, "parameters": parameters}
    outcome = await spawn(
        [python, "-m", "nbflow.execution.sqlworker"],
        cwd,
        env,
        stdin=json.dumps(job, default=str).encode(),
        timeout=timeout,
        on_start=on_start,
    )
    if isinstance(outcome, AttemptResult):
        return outcome
    reported = worker_report(outcome, "SQL")
    if isinstance(reported, AttemptResult):
        return reported
    text = [f"-- statement {i}\n{s};" for i, s in enumerate(statements, 1)]
    text += [f"-- {line}" for line in reported.get("log", [])]
    if reported.get("error"):
        text.append(f"-- error: {reported['error']['ename']}: {reported['error']['evalue']}")
    log.write_text("\n".join(text) + "\n", encoding="utf-8")
    return AttemptResult(reported["state"], reported.get("error"), output=reported.get("output"))


async def run_process(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    timeout: float | None,
    on_start: Callable[[int], None] | None = None,
) -> AttemptResult:
    """A script or command: stdout and stderr to `log`, values through the glue helper."""
    values_file = log.with_suffix(".values.json")
    env = {**env, VALUES_FILE_ENV: str(values_file)}
    outcome = await spawn(argv, cwd, env, log=log, timeout=timeout, on_start=on_start)
    if isinstance(outcome, AttemptResult):
        return outcome
    returncode = outcome[0]
    if returncode != 0:
        tail = log_tail(log)
        return failed(
            "ProcessError", f"exited with code {returncode}" + (f": {tail}" if tail else "")
        )
    try:
        values = json.loads(values_file.read_text()) if values_file.is_file() else {}
        for name, value in values.items():
            scraps.check_size(name, value)
    except (OSError, ValueError) as exc:
        return failed("ValueError", str(exc))
    return AttemptResult("success", values=values)


async def spawn(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    *,
    stdin: bytes | None = None,
    log: Path | None = None,
    timeout: float | None = None,
    on_start: Callable[[int], None] | None = None,
) -> AttemptResult | tuple[int, bytes, bytes]:
    """Start a process in its own session; return (code, stdout, stderr) or a failure.

    On timeout or cancellation the process and everything it started (a kernel lives in
    a session of its own) are killed before this returns or re-raises.
    """
    if not cwd.is_dir():
        return failed("FileNotFoundError", f"working directory {cwd} does not exist")
    log_file = open(log, "wb") if log else None
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(cwd),
                env=env,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=log_file or asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT if log_file else asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return failed(type(exc).__name__, f"cannot start {argv[0]}: {exc}")
        if on_start is not None:
            on_start(proc.pid)
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except asyncio.TimeoutError:
            processes.kill_tree(proc.pid)
            await proc.wait()
            return AttemptResult(
                "timed_out", {"ename": "TimeoutError", "evalue": f"timed out after {timeout:g}s"}
            )
        except asyncio.CancelledError:
            processes.kill_tree(proc.pid)
            await proc.wait()
            raise
        return proc.returncode or 0, out or b"", err or b""
    finally:
        if log_file:
            log_file.close()


def worker_report(outcome: tuple[int, bytes, bytes], worker: str) -> dict[str, Any] | AttemptResult:
    """A worker's result (the last line of its stdout), or a failure naming its exit."""
    returncode, out, err = outcome
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, ValueError):
        detail = err.decode(errors="replace").strip().splitlines()[-5:]
        return failed(
            "WorkerError",
            f"the {worker} worker exited with code {returncode}: " + " | ".join(detail),
        )


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])
