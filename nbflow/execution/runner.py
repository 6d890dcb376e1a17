"""The runner: executes one run of a workflow and is the only code that changes run state.

An asyncio loop decides which tasks may start (`states.decide`), runs each attempt through
`execute.py` when one of the `parallel` slots is free, records every change in the run
history and tells an observer (the progress display) about it. A `for_each` task runs one
unit per input (`KEY[i]`, at most `concurrency` at a time); other tasks are one unit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..core import conditions, references
from ..core.clock import Clock
from ..core.states import (
    RUN,
    TERMINAL_TASK_STATES,
    RunState,
    TaskState,
    decide,
    edge_state,
    run_result,
)
from ..databricks import context as task_context
from ..notify import deliveries as notify
from ..workflows import secrets
from ..workflows.model import Task, Workflow
from ..workflows.project import Project
from . import execute, processes
from .attempts import Attempts, Launch, plain
from .executor import Executor, LocalExecutor
from .notifications import Notifications
from .runlog import RunLog


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
    store: RunLog,
    workflow: Workflow,
    project: Project,
    *,
    parameters: dict[str, Any],
    trigger_type: str,
    trigger_time: float,
    now: float,
    parent_run_id: int | None = None,
) -> int:
    """Record a new run (state `queued`) with its tasks `pending`."""
    run_id = store.create_run(
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
        runner_started=processes.started_at(os.getpid()),
        parent_run_id=parent_run_id,
    )
    assert run_id is not None  # only a claimed fire can lose
    return run_id


FAILURE_HANDLERS = ("all_done", "at_least_one_failed", "all_failed")


@dataclass(frozen=True)
class Repair:
    """Where a repair starts from: what the kept tasks left, and the repair's number."""

    number: int
    start_time: float
    kept_states: dict[str, TaskState]
    outcomes: dict[str, bool]
    values: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any] | None]
    last_attempts: dict[str, int]


@dataclass(frozen=True)
class Selection:
    """A partial run: the tasks left out, and what they left in the run they are taken from."""

    left_out: tuple[str, ...]
    source_run: int | None
    outcomes: dict[str, bool]
    values: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any] | None]


def iteration_values(per_iteration: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """A for_each task's values: each name's values as a list in input order (None where an
    iteration published no value of that name)."""
    names = list(dict.fromkeys(name for values in per_iteration for name in values))
    return {name: [values.get(name) for values in per_iteration] for name in names}


class _NoSlot:
    """Stands in for the slots semaphore where an attempt takes none."""

    def locked(self) -> bool:
        return False

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> None:
        return None


_NO_SLOT = _NoSlot()


class Runner(Attempts, Notifications):
    def __init__(
        self,
        workflow: Workflow,
        project: Project,
        store: RunLog,
        run_id: int,
        *,
        parameters: dict[str, Any],
        trigger_type: str = "manual",
        trigger_time: float,
        parallel: int | None = None,
        clock: Clock | None = None,
        observer: Observer | None = None,
        python: str = sys.executable,
        repair: Repair | None = None,
        poll_interval: float = 0.25,
        notifier: notify.Notifier | None = None,
        handle_signals: bool = True,
        trigger_files: list[str] | None = None,
        trigger_location: str | None = None,
        executor: Executor | None = None,
        trigger_info: dict[str, Any] | None = None,
        selection: Selection | None = None,
    ):
        self.workflow = workflow
        self.project = project
        self.store = secrets.masking(store)  # what it records and shows has secrets masked
        self.run_id = run_id
        self.raw_parameters = parameters
        self.trigger_type = trigger_type
        self.trigger_time = trigger_time
        self.parallel = max(1, parallel or os.cpu_count() or 1)
        self.clock = clock or Clock()
        self.observer = secrets.masking(observer or NullObserver())
        self.python = python
        self.tasks = {t.key: t for t in workflow.tasks}
        self.upstream = {t.key: list(t.upstream) for t in workflow.tasks}
        self.states: dict[str, TaskState] = {k: TaskState.PENDING for k in self.tasks}
        self.outcomes: dict[str, bool] = {}
        self.values: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any] | None] = {}
        self.params: dict[str, Any] = {}
        self.start_time = 0.0
        self.slots = asyncio.Semaphore(self.parallel)  # attempts executing at once
        self.repair = repair
        self.attempt_offset: dict[str, int] = {}  # attempts before this repair, per unit
        if repair is not None:
            for key, state in repair.kept_states.items():
                if key in self.states:
                    self.states[key] = state
            self.outcomes.update(repair.outcomes)
            self.values.update(repair.values)
            self.outputs.update(repair.outputs)
            self.attempt_offset = dict(repair.last_attempts)
            self.start_time = repair.start_time
        self.poll_interval = poll_interval  # how often a cancel request is looked for
        self.notifier = secrets.masking(notifier or notify.Notifier())
        self.handle_signals = handle_signals
        self.trigger_files = trigger_files
        self.trigger_location = trigger_location
        self.trigger_info = trigger_info
        self.selection = selection
        if selection is not None:
            for key in selection.left_out:
                self.states[key] = TaskState.SKIPPED_BY_SELECTION
            self.outcomes.update(selection.outcomes)
            self.values.update(selection.values)
            self.outputs.update(selection.outputs)
        # The attempts running now (unit -> attempt number, start), for `health` warnings.
        self.attempt_clock: dict[str, tuple[int, float]] = {}
        self.warned: set[tuple[str, int]] = set()
        self.stopping: RunState | None = None  # CANCELED or TIMED_OUT once asked to stop
        self.interrupted = False  # Ctrl-C or SIGTERM to the process running the workflow
        # Where attempts run; the caller owns (and closes) the one it passes.
        self.executor: Executor = executor or LocalExecutor()

    # -- state changes -------------------------------------------------------------------

    def _record(
        self,
        unit: str,
        state: TaskState,
        *,
        attempt: int | None = None,
        message: str | None = None,
        **fields: Any,
    ) -> None:
        """Store and report a state change of a task or of one of its iterations."""
        now = self.clock.now()
        if (
            state == TaskState.RUNNING
            and attempt is not None
            and (attempt == self.attempt_offset.get(unit, 0) + 1)
        ):
            fields.setdefault("start_time", now)
        if state in TERMINAL_TASK_STATES:
            fields.setdefault("end_time", now)
        if state == TaskState.RUNNING and attempt is not None:
            self.attempt_clock[unit] = (attempt, now)
        elif state != TaskState.RUNNING:
            self.attempt_clock.pop(unit, None)
        self.store.update_task(self.run_id, unit, state=state.value, message=message, **fields)
        self.observer.task_changed(unit, state, now, attempt, message)

    def _set(self, key: str, state: TaskState, **fields: Any) -> None:
        """Change a task's state, which the graph decisions read."""
        self.states[key] = state
        self._record(key, state, **fields)

    def _run_state(self, state: RunState, **fields: Any) -> None:
        now = self.clock.now()
        self.store.update_run(self.run_id, state=state.value, **fields)
        self.observer.run_changed(self.run_id, state, now)

    # -- references ----------------------------------------------------------------------

    def _run_info(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "workflow": self.workflow.name,
            "repair_count": self.repair.number if self.repair else 0,
            "start_time": self.start_time,
            "trigger_time": self.trigger_time,
            "trigger_type": self.trigger_type,
            "trigger_files": self.trigger_files,
            "trigger_location": self.trigger_location,
            "trigger_info": self.trigger_info,
            "timezone": schedule.timezone if (schedule := self.workflow.schedule) else None,
        }

    def _context(
        self, task: Task | None, attempt: int = 1, given: tuple[Any, ...] = ()
    ) -> references.Context:
        done = {
            key: {
                "state": state.value,
                "values": self.values.get(key, {}),
                "output": self.outputs.get(key),
            }
            for key, state in self.states.items()
            if state in TERMINAL_TASK_STATES
        }
        return references.Context(
            params=self.params,
            run=self._run_info(),
            tasks=done,
            task={"key": task.key, "attempt": attempt} if task else None,
            input_value=given[0] if given else None,
            has_input=bool(given),
        )

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> RunState:
        """Run to the end; SIGINT/SIGTERM cancel the run as `nbflow cancel` would."""
        loop = asyncio.get_running_loop()
        handled = []
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._interrupt)
                handled.append(sig)
        try:
            return await self._run()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    def _interrupt(self) -> None:
        self.interrupted = True

    def interrupt(self) -> None:
        """Cancel the run as Ctrl-C would (for an owner that is stopping)."""
        self._interrupt()

    async def _run(self) -> RunState:
        self.executor.expect(self.workflow, self.project)  # kernels warm while it starts
        if self.repair is None:
            self.start_time = self.clock.now()
            self._run_state(RunState.RUNNING, start_time=self.start_time)
        else:
            self._run_state(RunState.RUNNING)
        try:
            plain = references.Context(params={}, run=self._run_info(), tasks={})
            self.params = references.substitute(self.raw_parameters, plain.lookup)
            self.params.update(secrets.reveal(self.workflow))  # the real values, from now on
        except (references.ReferenceError_, secrets.SecretMissing) as exc:
            message = f"workflow parameters: {exc}"
            for key in self.tasks:
                self._set(key, TaskState.UPSTREAM_FAILED, message=message)
            self._run_state(RunState.FAILED, end_time=self.clock.now(), message=message)
            return RunState.FAILED
        self._notify_run("on_start", RunState.RUNNING)
        if self.selection is not None and self.repair is None:
            self._record_selection(self.selection)
        for task in self.workflow.tasks:
            if task.disabled and self.states[task.key] == TaskState.PENDING:
                self._set(task.key, TaskState.DISABLED, start_time=self.clock.now())
        deadline = self.start_time + self.workflow.timeout if self.workflow.timeout else None
        settings = self.workflow.settings
        warn_after = settings.warning_after if settings is not None else None
        warn_at = self.start_time + warn_after if warn_after is not None else None
        running: dict[asyncio.Task[None], str] = {}
        while True:
            self._decide_ready()
            for key, state in self.states.items():
                if state == TaskState.QUEUED and key not in running.values():
                    running[asyncio.ensure_future(self._execute(self.tasks[key]))] = key
            if not running:
                break
            try:
                done, _ = await asyncio.wait(
                    running, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:
                # This run is itself being stopped (a child run of a canceled parent):
                # stop its tasks, wait for them to be marked, and end the run canceled.
                self._stop(RunState.CANCELED, running)
                await asyncio.gather(*running, return_exceptions=True)
                for job, key in running.items():
                    if job.cancelled() and self.states[key] not in TERMINAL_TASK_STATES:
                        self._set(key, TaskState.CANCELED, message="the run was stopped")
                for key, state in self.states.items():
                    if state not in TERMINAL_TASK_STATES:
                        self._set(
                            key, TaskState.CANCELED, message="not started: the run was stopped"
                        )
                self._run_state(RunState.CANCELED, end_time=self.clock.now(), message="canceled")
                raise
            if warn_at is not None and self.clock.now() >= warn_at:
                warn_at = None
                assert warn_after is not None
                self.store.add_duration_warning(
                    self.run_id,
                    task_key=None,
                    attempt=None,
                    threshold=warn_after,
                    now=self.clock.now(),
                )
                self._notify_run("on_duration_warning", RunState.RUNNING)
            self._check_attempt_durations(self.clock.now())
            if self.stopping is None:
                if deadline is not None and self.clock.now() >= deadline:
                    self._stop(RunState.TIMED_OUT, running)
                elif self.interrupted or self.store.cancel_requested(self.run_id):
                    self._stop(RunState.CANCELED, running)
            for job in done:
                key = running.pop(job)
                if job.cancelled():  # stopped before it began
                    self._set(key, TaskState.CANCELED, message="the run was stopped")
                    continue
                error = job.exception()
                if error is not None:  # a bug in nbflow, not in the notebook: keep the run honest
                    self._set(
                        key, TaskState.FAILED, message=f"nbflow could not run the task: {error!r}"
                    )
        result = self.stopping or run_result(self.states, self.upstream)
        ending = None
        if result == RunState.TIMED_OUT:
            ending = f"the run's timeout of {self.workflow.timeout:g}s was reached"
        elif result == RunState.CANCELED:
            ending = "canceled on request"
        self._run_state(result, end_time=self.clock.now(), message=ending)
        if result in (RunState.SUCCESS, RunState.SUCCESS_WITH_FAILURES):
            self._notify_run("on_success", result)
        elif result in (RunState.FAILED, RunState.TIMED_OUT):
            self._notify_run("on_failure", result)
        # Deliveries run on threads; the run is already recorded as finished.
        self._record_deliveries(self.notifier.wait(timeout=30))
        return result

    # -- notifications -------------------------------------------------------------------

    def _record_selection(self, selection: Selection) -> None:
        """Mark the tasks a partial run leaves out, with the values they are read from."""
        source = f"; values from run {selection.source_run}" if selection.source_run else ""
        for key in selection.left_out:
            fields: dict[str, Any] = {"start_time": self.clock.now()}
            if key in selection.values:
                fields["values"] = selection.values[key]
            if selection.outputs.get(key) is not None:
                fields["output"] = selection.outputs[key]
            if key in selection.outcomes:
                fields["outcome"] = selection.outcomes[key]
            self._record(
                key,
                TaskState.SKIPPED_BY_SELECTION,
                message=f"not selected (--only){source}",
                **fields,
            )

    def _stop(self, reason: RunState, running: dict[asyncio.Task[None], str]) -> None:
        """Cancel what runs; only failure handlers may start after a cancel, nothing after a
        timeout."""
        self.stopping = reason
        for job in running:
            job.cancel()

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
                if (
                    verdict == RUN
                    and self.stopping is not None
                    and not (self.stopping == RunState.CANCELED and task.run_if in FAILURE_HANDLERS)
                ):
                    self._set(
                        key,
                        TaskState.CANCELED,
                        start_time=self.clock.now(),
                        message="not started: the run was stopped",
                    )
                elif verdict != RUN:
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

    # -- executing -----------------------------------------------------------------------

    async def _execute(self, task: Task) -> None:
        """Run a task to its end: one unit, or one per for_each input."""
        try:
            await self._execute_units(task)
        except asyncio.CancelledError:
            reason = (
                "the run's timeout was reached"
                if self.stopping == RunState.TIMED_OUT
                else ("canceled on request")
            )
            self._set(task.key, TaskState.CANCELED, message=reason)

    async def _execute_units(self, task: Task) -> None:
        folder = self.project.run_dir(self.workflow.name, self.run_id) / task.key
        if task.for_each is None:
            state, message, values, output = await self._unit(task, task.key, folder)
            if state == TaskState.SUCCESS:
                self.values[task.key] = values
                self.outputs[task.key] = output
            self._set(task.key, state, message=message)
            return
        try:
            inputs = references.substitute(task.for_each.inputs, self._context(task).lookup)
        except references.ReferenceError_ as exc:
            self._set(task.key, TaskState.FAILED, start_time=self.clock.now(), message=str(exc))
            return
        if not isinstance(inputs, list):
            shown = references.render(inputs)[:100]
            message = f"for_each inputs must be a list, got {shown!r}"
            self._set(task.key, TaskState.FAILED, start_time=self.clock.now(), message=message)
            return
        # The inputs on the task's own row say it is a for_each task, even with none.
        self._set(task.key, TaskState.RUNNING, start_time=self.clock.now(), input=inputs)
        self.store.add_iterations(self.run_id, task.key, inputs)
        limit = asyncio.Semaphore(task.for_each.concurrency)

        async def iteration(index: int, value: Any) -> tuple[TaskState, dict[str, Any]]:
            unit = f"{task.key}[{index}]"
            self._record(unit, TaskState.QUEUED)
            try:
                async with limit:
                    state, message, values, _ = await self._unit(
                        task, unit, folder / str(index), (value,)
                    )
            except asyncio.CancelledError:
                self._record(unit, TaskState.CANCELED, message="canceled")
                raise
            self._record(unit, state, message=message)
            return state, values

        results = await asyncio.gather(*(iteration(i, v) for i, v in enumerate(inputs)))
        bad = [s for s, _ in results if s != TaskState.SUCCESS]
        if not bad:
            values = iteration_values([v for _, v in results])
            self.values[task.key] = values
            message = f"{len(results)} iterations"
            self._set(task.key, TaskState.SUCCESS, message=message, values=values)
            return
        state = TaskState.FAILED if TaskState.FAILED in bad else bad[0]
        message = f"{len(bad)} of {len(results)} iterations did not succeed"
        self._set(task.key, state, message=message)

    async def _unit(
        self, task: Task, unit: str, folder: Path, given: tuple[Any, ...] = ()
    ) -> tuple[TaskState, str | None, dict[str, Any], dict[str, Any] | None]:
        """The attempts of one unit (a task, or one for_each iteration), with retries."""
        number = self.attempt_offset.get(unit, 0) + 1
        retries_left = task.retries
        delay = task.retry_delay
        while True:
            result = await self._attempt(task, unit, folder, number, given)
            state = TaskState(result.state)
            retry = retries_left > 0 and (
                state == TaskState.FAILED
                or (state == TaskState.TIMED_OUT and task.retry_on_timeout)
            )
            if not retry:
                return state, result.message, result.values, result.output
            self._record(unit, TaskState.WAITING_FOR_RETRY, attempt=number, message=result.message)
            await self.clock.sleep(delay)
            delay *= task.retry_backoff
            number += 1
            retries_left -= 1

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
        # A child workflow takes no slot: its own tasks take them.
        slot = self.slots if task.kind != "workflow" else _NO_SLOT
        if slot.locked():
            self._record(unit, TaskState.QUEUED, attempt=number)
        async with slot:
            self._record(unit, TaskState.RUNNING, attempt=number)
            self._notify_attempt(task, "on_start", "running", number)
            suffix = ".ipynb" if task.kind == "notebook" else ".log"
            artifact = folder / f"attempt-{number}{suffix}"
            start = self.clock.now()
            lookup = self._context(task, number, given).lookup
            try:
                folder.mkdir(parents=True, exist_ok=True)
                task_params = references.substitute(task.parameters, lookup)
                target = references.substitute(plain(task.target), lookup)
                args = [
                    references.render(a) for a in references.substitute(list(task.args), lookup)
                ]
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
