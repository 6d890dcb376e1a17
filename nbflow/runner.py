"""The runner: executes one run of a workflow and is the only code that changes run state.

An asyncio loop decides which tasks may start (`states.decide`), starts each notebook
attempt as a worker process (`worker.py`), records every change in the run history and
tells an observer (the progress display) about it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import nbformat

from . import conditions, references, scraps
from .clock import Clock
from .model import Task, Workflow
from .params import notebook_inputs, notebook_parameters
from .project import Project
from .states import (
    RUN,
    TERMINAL_TASK_STATES,
    RunState,
    TaskState,
    decide,
    edge_state,
    run_result,
)
from .store import Store


class Observer(Protocol):
    def run_changed(self, run_id: int, state: RunState, at: float) -> None: ...

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None: ...


class NullObserver:
    def run_changed(self, run_id: int, state: RunState, at: float) -> None:
        pass

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None:
        pass


def create_run(
    store: Store,
    workflow: Workflow,
    project: Project,
    *,
    parameters: dict[str, Any],
    trigger_type: str,
    trigger_time: float,
    now: float,
) -> int:
    """Record a new run (state `queued`) with its tasks `pending`."""
    return store.create_run(
        workflow=workflow.name,
        workflow_path=project.relative(workflow.path),
        trigger_type=trigger_type,
        trigger_time=trigger_time,
        parameters=parameters,
        tasks=[
            (
                t.key,
                t.kind,
                [{"task": e.task, "outcome": e.outcome} for e in t.depends_on],
            )
            for t in workflow.tasks
        ],
        state=RunState.QUEUED.value,
        now=now,
        runner_pid=os.getpid(),
        runner_host=socket.gethostname(),
    )


class Runner:
    def __init__(
        self,
        workflow: Workflow,
        project: Project,
        store: Store,
        run_id: int,
        *,
        parameters: dict[str, Any],
        trigger_type: str = "manual",
        trigger_time: float,
        parallel: int | None = None,
        clock: Clock | None = None,
        observer: Observer | None = None,
        python: str = sys.executable,
    ):
        self.workflow = workflow
        self.project = project
        self.store = store
        self.run_id = run_id
        self.raw_parameters = parameters
        self.trigger_type = trigger_type
        self.trigger_time = trigger_time
        self.parallel = max(1, parallel or os.cpu_count() or 1)
        self.clock = clock or Clock()
        self.observer = observer or NullObserver()
        self.python = python
        self.tasks = {t.key: t for t in workflow.tasks}
        self.upstream = {t.key: list(t.upstream) for t in workflow.tasks}
        self.states: dict[str, TaskState] = {k: TaskState.PENDING for k in self.tasks}
        self.outcomes: dict[str, bool] = {}
        self.values: dict[str, dict[str, Any]] = {}
        self.params: dict[str, Any] = {}
        self.start_time = 0.0

    # -- state changes -------------------------------------------------------------------

    def _set(
        self,
        key: str,
        state: TaskState,
        *,
        attempt: int | None = None,
        message: str | None = None,
        **fields: Any,
    ) -> None:
        self.states[key] = state
        now = self.clock.now()
        if state == TaskState.RUNNING and "start_time" not in fields and attempt == 1:
            fields["start_time"] = now
        if state in TERMINAL_TASK_STATES:
            fields.setdefault("end_time", now)
        self.store.update_task(self.run_id, key, state=state.value, message=message, **fields)
        self.observer.task_changed(key, state, now, attempt, message)

    def _run_state(self, state: RunState, **fields: Any) -> None:
        now = self.clock.now()
        self.store.update_run(self.run_id, state=state.value, **fields)
        self.observer.run_changed(self.run_id, state, now)

    # -- references ----------------------------------------------------------------------

    def _run_info(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "workflow": self.workflow.name,
            "repair_count": 0,
            "start_time": self.start_time,
            "trigger_time": self.trigger_time,
            "trigger_type": self.trigger_type,
        }

    def _context(self, task: Task | None, attempt: int = 1) -> references.Context:
        done = {
            key: {"state": state.value, "values": self.values.get(key, {})}
            for key, state in self.states.items()
            if state in TERMINAL_TASK_STATES
        }
        return references.Context(
            params=self.params,
            run=self._run_info(),
            tasks=done,
            task={"key": task.key, "attempt": attempt} if task else None,
        )

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> RunState:
        self.start_time = self.clock.now()
        self._run_state(RunState.RUNNING, start_time=self.start_time)
        try:
            plain = references.Context(params={}, run=self._run_info(), tasks={})
            self.params = references.substitute(self.raw_parameters, plain.lookup)
        except references.ReferenceError_ as exc:
            for key in self.tasks:
                self._set(key, TaskState.UPSTREAM_FAILED, message=f"workflow parameters: {exc}")
            self._run_state(
                RunState.FAILED, end_time=self.clock.now(), message=f"workflow parameters: {exc}"
            )
            return RunState.FAILED
        for task in self.workflow.tasks:
            if task.disabled:
                self._set(task.key, TaskState.DISABLED, start_time=self.clock.now())
        running: dict[asyncio.Task[None], str] = {}
        while True:
            self._decide_ready()
            for key in [k for k, s in self.states.items() if s == TaskState.QUEUED]:
                if len(running) >= self.parallel:
                    break
                job = asyncio.ensure_future(self._execute(self.tasks[key]))
                running[job] = key
            if not running:
                if any(s == TaskState.QUEUED for s in self.states.values()):
                    continue
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for job in done:
                key = running.pop(job)
                error = job.exception()
                if error is not None:  # a bug in nbflow, not in the notebook: keep the run honest
                    self._set(
                        key, TaskState.FAILED, message=f"nbflow could not run the task: {error!r}"
                    )
        result = run_result(self.states, self.upstream)
        self._run_state(result, end_time=self.clock.now())
        return result

    def _decide_ready(self) -> None:
        """Settle every pending task whose upstream is terminal; conditions run inline."""
        changed = True
        while changed:
            changed = False
            for key, task in self.tasks.items():
                if self.states[key] != TaskState.PENDING:
                    continue
                if not all(self.states[e.task] in TERMINAL_TASK_STATES for e in task.depends_on):
                    continue
                edges = [
                    edge_state(self.states[e.task], e.outcome, self.outcomes.get(e.task))
                    for e in task.depends_on
                ]
                verdict = decide(task.run_if, edges)
                changed = True
                if verdict != RUN:
                    self._set(key, TaskState(verdict), start_time=self.clock.now())
                elif task.kind == "condition":
                    self._condition(task)
                else:
                    self._set(key, TaskState.QUEUED)

    def _condition(self, task: Task) -> None:
        now = self.clock.now()
        lookup = self._context(task).lookup
        try:
            left = references.substitute(task.target.left, lookup)
            right = references.substitute(task.target.right, lookup)
            outcome = conditions.evaluate(left, task.target.op, right)
        except (references.ReferenceError_, conditions.ConditionError) as exc:
            self._set(task.key, TaskState.FAILED, start_time=now, message=str(exc))
            return
        self.outcomes[task.key] = outcome
        self._set(
            task.key,
            TaskState.SUCCESS,
            start_time=now,
            outcome=outcome,
            message=f"{left!r} {task.target.op} {right!r} is {str(outcome).lower()}",
        )

    async def _execute(self, task: Task) -> None:
        if task.kind not in ("notebook", "script", "command"):
            self._set(
                task.key,
                TaskState.FAILED,
                start_time=self.clock.now(),
                message=f"{task.kind} tasks are not supported by this version of nbflow yet",
            )
            return
        number = 1
        delay = task.retry_delay
        while True:
            state, message = await self._attempt(task, number)
            retry = number <= task.retries and (
                state == TaskState.FAILED
                or (state == TaskState.TIMED_OUT and task.retry_on_timeout)
            )
            if not retry:
                self._set(task.key, state, attempt=number, message=message)
                return
            self._set(task.key, TaskState.WAITING_FOR_RETRY, attempt=number, message=message)
            await self.clock.sleep(delay)
            delay *= task.retry_backoff
            number += 1

    async def _attempt(self, task: Task, number: int) -> tuple[TaskState, str | None]:
        """Run one attempt and record it; return its state and error message."""
        self._set(task.key, TaskState.RUNNING, attempt=number)
        folder = self.project.run_dir(self.workflow.name, self.run_id) / task.key
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".ipynb" if task.kind == "notebook" else ".log"
        artifact = folder / f"attempt-{number}{suffix}"
        start = self.clock.now()
        lookup = self._context(task, number).lookup
        try:
            task_params = references.substitute(task.parameters, lookup)
            target = references.substitute(task.target, lookup)
            args = [references.render(a) for a in references.substitute(list(task.args), lookup)]
        except references.ReferenceError_ as exc:
            self.store.add_attempt(
                self.run_id, task.key, number, start_time=start, parameters={}, artifact=None
            )
            failure = {"ename": "ReferenceError", "evalue": str(exc)}
            self.store.finish_attempt(
                self.run_id,
                task.key,
                number,
                state="failed",
                end_time=self.clock.now(),
                error=failure,
            )
            return TaskState.FAILED, str(exc)
        cwd = self._cwd(task, target)
        env = dict(os.environ)
        env.update(task.env)
        if task.kind == "notebook":
            source = self.project.root / target
            declared = [p.name for p in notebook_parameters(source)] if source.is_file() else []
            inputs = notebook_inputs(declared, self.params, task_params)
            self.store.add_attempt(
                self.run_id,
                task.key,
                number,
                start_time=start,
                parameters=inputs,
                artifact=self.project.relative(artifact),
            )
            job = {
                "input": str(source),
                "output": str(artifact),
                "parameters": inputs,
                "kernel": task.kernel,
                "execution_timeout": task.timeout,
            }
            result = await self._spawn(
                [self.python, "-m", "nbflow.worker"], cwd, env, stdin=json.dumps(job).encode()
            )
        else:
            if task.kind == "script":
                argv = [task.python or self.python, str(self.project.root / target), *args]
            else:
                argv = list(target) if isinstance(target, list) else _split(target)
                argv += args
            self.store.add_attempt(
                self.run_id,
                task.key,
                number,
                start_time=start,
                parameters={"argv": argv},
                artifact=self.project.relative(artifact),
            )
            result = await self._spawn(argv, cwd, env, log=artifact, timeout=task.timeout)
        state = TaskState(result["state"])
        error: dict[str, Any] | None = result.get("error")
        if error and task.kind == "notebook" and artifact.is_file():
            # Index in the executed notebook as kept (papermill adds cells above the error).
            error["cell_index"] = _error_cell(artifact, error.get("cell_index"))
        if state == TaskState.SUCCESS and task.kind == "notebook":
            try:
                values = scraps.read_scraps(nbformat.read(str(artifact), as_version=4))
                for name, value in values.items():
                    scraps.check_size(name, value)
            except (OSError, ValueError) as exc:
                state, error = TaskState.FAILED, {"ename": "ValueError", "evalue": str(exc)}
            else:
                self.values[task.key] = values
                self.store.update_task(self.run_id, task.key, values=values)
        self.store.finish_attempt(
            self.run_id, task.key, number, state=state.value, end_time=self.clock.now(), error=error
        )
        message = None
        if error:
            message = f"{error.get('ename')}: {error.get('evalue')}"
        return state, message

    def _cwd(self, task: Task, target: Any) -> Path:
        if task.cwd:
            return (self.project.root / task.cwd).resolve()
        if task.kind in ("notebook", "script"):
            return (self.project.root / target).resolve().parent
        return self.project.root

    async def _spawn(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        *,
        stdin: bytes | None = None,
        log: Path | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Run a worker (stdin: job; last stdout line: result) or a logged process."""
        if not cwd.is_dir():
            return _failed("FileNotFoundError", f"working directory {cwd} does not exist")
        log_file = open(log, "wb") if log else None
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
            if log_file:
                log_file.close()
            return _failed(type(exc).__name__, f"cannot start {argv[0]}: {exc}")
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except asyncio.TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            return {
                "state": "timed_out",
                "error": {"ename": "TimeoutError", "evalue": f"timed out after {timeout:g}s"},
            }
        finally:
            if log_file:
                log_file.close()
        if log is not None:
            if proc.returncode == 0:
                return {"state": "success"}
            tail = _tail(log)
            return _failed(
                "ProcessError",
                f"exited with code {proc.returncode}" + (f": {tail}" if tail else ""),
            )
        lines = [
            line for line in (out or b"").decode(errors="replace").splitlines() if line.strip()
        ]
        if lines:
            try:
                return dict(json.loads(lines[-1]))
            except ValueError:
                pass
        detail = (err or b"").decode(errors="replace").strip().splitlines()[-5:]
        return _failed(
            "WorkerError",
            f"the notebook worker exited with code {proc.returncode}: " + " | ".join(detail),
        )


def _error_cell(path: Path, fallback: int | None) -> int | None:
    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return fallback
    for index, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", []) or []):
            return index
    return fallback


def _failed(ename: str, evalue: str) -> dict[str, Any]:
    return {"state": "failed", "error": {"ename": ename, "evalue": evalue}}


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _split(command: str) -> list[str]:
    import shlex

    return shlex.split(command)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_sync(coro_factory: Callable[[], Any]) -> Any:
    return asyncio.run(coro_factory())
