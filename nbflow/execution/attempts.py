"""Attempts: starting one attempt of a task of each kind (notebook, script, command, SQL,
a child workflow) with its environment and `dbutils` context, on the runner's executor.

`Attempts` is mixed into `runner.Runner`, which decides when an attempt starts and records
what it gives; nothing here changes a task's state.
"""

from __future__ import annotations

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
from . import execute
from .runlog import RunLog

if TYPE_CHECKING:
    from .executor import Executor
    from .runner import Observer


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


class Prefixed:
    """Reports a child run's task changes under the parent task's name."""

    def __init__(self, observer: Observer, prefix: str):
        self.observer = observer
        self.prefix = prefix

    def run_changed(self, run_id: int, state: RunState, at: float) -> None:
        pass

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None:
        self.observer.task_changed(self.prefix + key, state, at, attempt, message)


def plain(target: Any) -> Any:
    """A task's target as plain data for reference substitution (an SQL spec as a dict)."""
    return target.model_dump() if hasattr(target, "model_dump") else target


def redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: the attempt will say so
        return url


class Attempts:
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

    def _started(self, unit: str, number: int, pid: int) -> None:
        raise NotImplementedError  # the runner's: it records the attempt's process

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
        from .runner import Runner, create_run  # the module that mixes this in

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
        runner = Runner(
            child,
            self.project,
            self.store,
            child_id,
            parameters=parameters,
            trigger_type="workflow",
            trigger_time=now,
            parallel=self.parallel,
            clock=self.clock,
            observer=Prefixed(self.observer, f"{at.unit}/"),
            python=self.python,
            notifier=self.notifier,
            handle_signals=False,
            executor=self.executor,
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
            return (self.project.root / target).resolve().parent
        return self.project.root
