"""Attempts: one attempt of a task, from waiting for a slot to its record: its references
resolved, started by kind (notebook, script, command, SQL, a child workflow) with its
environment and `dbutils` context on the runner's executor, and its attempt row written.

`Attempts` is mixed into `runner.Runner`, which decides when a unit's attempts start and
retries them; a unit's state changes only through the runner's `_record`.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import references
from ..core.clock import Clock
from ..core.errors import NbflowError, UsageError
from ..core.states import RunState, TaskState
from ..databricks import context as task_context
from ..notify import deliveries as notify
from ..workflows import secrets
from ..workflows.model import Task, Workflow
from ..workflows.params import inputs_for
from ..workflows.project import Project
from . import execute, processes
from .notifications import Notifications
from .observer import Observer, Prefixed
from .runcontext import RunContext
from .runlog import RunLog
from .slots import slot_for

if TYPE_CHECKING:
    from .executor import Executor


@dataclass(frozen=True)
class Launch:
    """One attempt, its references resolved."""

    unit: str
    number: int
    start: float
    artifact: Path
    target: Any
    task_params: dict[str, Any]
    args: list[str]


def plain(target: Any) -> Any:
    """A task's target as plain data for reference substitution (an SQL spec as a dict)."""
    return target.model_dump() if hasattr(target, "model_dump") else target


def redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: the attempt will say so
        return url


class Attempts(RunContext, Notifications):
    """The runner's part that starts attempts (see the module's docstring)."""

    workflow: Workflow
    project: Project
    store: RunLog
    run_id: int
    clock: Clock
    executor: Executor
    observer: Observer
    notifier: notify.Notifier
    python: str
    parallel: int
    params: dict[str, Any]
    values: dict[str, dict[str, Any]]
    tasks: dict[str, Task]
    slots: asyncio.Semaphore

    def _record(
        self,
        unit: str,
        state: TaskState,
        *,
        attempt: int | None = None,
        message: str | None = None,
        **fields: Any,
    ) -> None:
        raise NotImplementedError  # the runner's: the one place a task's state changes

    def _started(self, unit: str, number: int, pid: int) -> None:
        self.store.set_attempt_pid(self.run_id, unit, number, pid, processes.started_at(pid))

    async def _attempt(
        self, task: Task, unit: str, folder: Path, number: int, given: tuple[Any, ...]
    ) -> execute.AttemptResult:
        """Run one attempt once a slot is free, and record it (a cancel included)."""
        try:
            return await self._attempt_in_slot(task, unit, folder, number, given)
        except asyncio.CancelledError:
            self.store.finish_attempt(
                self.run_id,
                unit,
                number,
                state=TaskState.CANCELED.value,
                end_time=self.clock.now(),
                error={"ename": "Canceled", "evalue": "the attempt was canceled"},
                only_running=True,
            )
            raise

    async def _attempt_in_slot(
        self, task: Task, unit: str, folder: Path, number: int, given: tuple[Any, ...]
    ) -> execute.AttemptResult:
        slot = slot_for(task, self.slots)
        if slot.locked():
            self._record(unit, TaskState.QUEUED, attempt=number)
        async with slot:
            self._record(unit, TaskState.RUNNING, attempt=number)
            self._notify_attempt(task, "on_start", "running", number)
            result = await self._prepared(task, unit, folder, number, given)
            self.store.finish_attempt(
                self.run_id,
                unit,
                number,
                state=result.state,
                end_time=self.clock.now(),
                error=result.error,
                values=result.values,
                output=result.output,
                executor=result.executor,
            )
            if result.state == "success":
                self.store.update_task(
                    self.run_id, unit, values=result.values, output=result.output
                )
                self._notify_attempt(task, "on_success", result.state, number)
            else:
                self._notify_attempt(task, "on_failure", result.state, number, result.error)
            return result

    async def _prepared(
        self, task: Task, unit: str, folder: Path, number: int, given: tuple[Any, ...]
    ) -> execute.AttemptResult:
        """One attempt, its references resolved and its folder made, run to its end (a
        reference or a folder that fails is the attempt's failure); `dbutils.notebook.exit`'s
        value joins its output."""
        suffix = ".ipynb" if task.kind == "notebook" else ".log"
        artifact = folder / f"attempt-{number}{suffix}"
        start = self.clock.now()
        lookup = self._context(task, number, given).lookup
        try:
            folder.mkdir(parents=True, exist_ok=True)
            task_params = references.substitute(task.parameters, lookup)
            target = references.substitute(plain(task.target), lookup)
            args = [references.render(a) for a in references.substitute(list(task.args), lookup)]
        except (references.ReferenceError_, OSError) as exc:
            self.store.add_attempt(
                self.run_id, unit, number, start_time=start, parameters={}, artifact=None
            )
            if isinstance(exc, OSError):  # a read-only or full runs folder: name it
                culprit = Path(exc.filename or folder)
                while not culprit.exists() and culprit != culprit.parent:
                    culprit = culprit.parent  # the folder (or file) that refused
                message = (
                    f"cannot create the task's folder {self.project.relative(folder)}: "
                    f"{self.project.relative(culprit)}: {exc.strerror}"
                )
                result = execute.failed("OSError", message)
            else:
                result = execute.failed("ReferenceError", str(exc))
        else:
            launch = Launch(unit, number, start, artifact, target, task_params, args)
            try:
                result = await self._launch(task, launch)
            finally:
                secrets.scrub(artifact)  # a log as its process wrote it
            exited = task_context.read_exit(artifact)  # dbutils.notebook.exit's value
            if result.state == "success" and exited is not None:
                result.output = {**(result.output or {}), **exited}
        return result

    async def _launch(self, task: Task, at: Launch) -> execute.AttemptResult:
        """Start one attempt of a task of any kind and wait for it."""
        cwd = self._cwd(task, at.target)
        env = {**os.environ, **task.env}
        if task.kind in ("notebook", "script", "command"):  # what `dbutils` reads there
            env.update(self._task_context(task, at))

        def record(parameters: dict[str, Any], artifact: Path | None) -> None:
            kept = artifact and (self.executor.locate(artifact) or self.project.relative(artifact))
            self.store.add_attempt(
                self.run_id,
                at.unit,
                at.number,
                start_time=at.start,
                parameters=parameters,
                artifact=kept or None,
                executor=self.executor.describe() if task.kind != "workflow" else None,
            )

        resources = task.resources or None

        def started(pid: int) -> None:
            self._started(at.unit, at.number, pid)

        if task.kind == "notebook":
            source = self.project.root / at.target
            try:
                inputs = inputs_for(source, self.params, at.task_params)
            except UsageError as exc:  # parameters that would be dropped without a word
                record({}, None)
                return execute.failed("ParameterError", str(exc))
            record(inputs, at.artifact)
            return await self.executor.run_notebook(
                python=self.python,
                source=source,
                artifact=at.artifact,
                parameters=inputs,
                kernel=task.kernel,
                cwd=cwd,
                env=env,
                timeout=task.timeout,
                on_start=started,
                resources=resources,
            )
        if task.kind in ("script", "command"):
            if task.kind == "script":
                argv = [task.python or self.python, str(self.project.root / at.target)]
            elif isinstance(at.target, list):
                # A whole `{{reference}}` keeps its type (run.id is an int): argv is text.
                argv = [references.render(a) for a in at.target]
            else:
                argv = shlex.split(references.render(at.target))
            if task.kind == "command" and argv[:1] == ["python"]:
                argv[0] = task.python or self.python  # the project's Python, as for a script
            argv += at.args
            record({"argv": argv}, at.artifact)
            return await self.executor.run_process(
                argv,
                cwd=cwd,
                env=env,
                log=at.artifact,
                timeout=task.timeout,
                on_start=started,
                resources=resources,
            )
        if task.kind == "sql":
            sql = at.target
            url = sql.get("connection") or self.project.warehouse_url
            # The task's `parameters` are bound as :name too; `sql.parameters` win a name.
            bound = {**at.task_params, **(sql.get("parameters") or {})}
            record({"connection": redacted(url), **bound}, at.artifact)
            try:
                script = (
                    sql["query"]
                    if sql.get("query") is not None
                    else (self.project.root / sql["file"]).read_text(encoding="utf-8")
                )
            except OSError as exc:
                return execute.failed("FileNotFoundError", f"cannot read {sql['file']}: {exc}")
            return await self.executor.run_sql(
                python=self.python,
                url=url,
                script=script,
                parameters=bound,
                log=at.artifact,
                cwd=cwd,
                env=env,
                timeout=task.timeout,
                on_start=started,
                resources=resources,
            )
        record(at.task_params, None)
        return await self._child_run(task, at)

    def _task_context(self, task: Task, at: Launch) -> dict[str, str]:
        """Write the attempt's context file for `dbutils`; the environment naming it."""
        parameters = {**self.params, **at.task_params}  # the task's own win, as injected
        return task_context.write(
            at.artifact,
            project=self.project.root,
            run={"id": self.run_id, "workflow": self.workflow.name},
            task={
                "key": task.key,
                "unit": at.unit,
                "attempt": at.number,
                "path": str(self.project.root / at.target) if task.kind != "command" else None,
            },
            parameters=secrets.mask({n: references.render(v) for n, v in parameters.items()}),
            tasks=list(self.tasks),
            values=secrets.mask(dict(self.values)),
            secret_env=dict(self.workflow.secrets),
        )

    async def _child_run(self, task: Task, at: Launch) -> execute.AttemptResult:
        """A `workflow` task: the other workflow runs as a child run of this one."""
        from ..workflows import catalog

        try:
            child = catalog.load_by_name(self.project, str(at.target))
            parameters = {**child.parameters, **at.task_params}
            unknown = [k for k in at.task_params if k not in child.parameters]
            if unknown:
                raise ValueError(
                    f"workflow {child.name!r} has no parameter {unknown[0]!r} "
                    f"(its parameters: {', '.join(child.parameters) or 'none'})"
                )
        except (NbflowError, ValueError) as exc:
            return execute.failed("WorkflowError", str(exc).splitlines()[0])
        from .recorded import Recorded, create_run, runner_for

        now = self.clock.now()
        child_id = create_run(
            self.store,
            child,
            self.project,
            parameters=parameters,
            trigger_type="workflow",
            trigger_time=now,
            now=now,
            parent_run_id=self.run_id,
        )
        self.store.update_task(self.run_id, at.unit, output={"run_id": child_id})
        runner = runner_for(
            Recorded(child_id, parameters, "workflow", now),
            child,
            self.project,
            self.store,
            executor=self.executor,
            parallel=self.parallel,
            clock=self.clock,
            observer=Prefixed(self.observer, f"{at.unit}/"),
            python=self.python,
            notifier=self.notifier,
            handle_signals=False,
        )
        state = await runner.run()
        output = {"run_id": child_id, "state": state.value}
        if state in (RunState.SUCCESS, RunState.SUCCESS_WITH_FAILURES):
            return execute.AttemptResult("success", output=output)
        mapped = {RunState.TIMED_OUT: "timed_out", RunState.CANCELED: "canceled"}
        return execute.AttemptResult(
            mapped.get(state, "failed"),
            {
                "ename": "ChildRunFailed",
                "evalue": f"child run {child_id} of {child.name} ended {state.value}",
            },
            output=output,
        )

    def _cwd(self, task: Task, target: Any) -> Path:
        if task.cwd:
            return (self.project.root / task.cwd).resolve()
        if task.kind in ("notebook", "script"):
            return Path(self.project.root, target).resolve().parent
        return self.project.root
