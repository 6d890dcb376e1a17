"""The runner: executes one run of a workflow and is the only code that changes run state.

An asyncio loop decides which tasks may start (`states.decide`), runs each unit's attempts
with retries (one attempt, from its slot to its record, is attempts.py's), records every
change in the run history and tells an observer (the progress display) about it. A
`for_each` task runs one unit per input (iterations.py); other tasks are one unit. The runner of a recorded run is built by `recorded.runner_for`; a
repair or a partial run starts from a `startpoints` value.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

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
from ..notify import deliveries as notify
from ..workflows import secrets
from ..workflows.model import Task, Workflow
from ..workflows.project import Project
from .attempts import Attempts
from .executor import Executor, LocalExecutor
from .iterations import Iterations, iteration_values
from .notifications import Notifications
from .observer import NullObserver, Observer
from .recorded import create_run
from .runlog import RunLog
from .startpoints import Repair, Selection

__all__ = ["Observer", "Repair", "Runner", "Selection", "create_run", "iteration_values"]


FAILURE_HANDLERS = ("all_done", "at_least_one_failed", "all_failed")


class Runner(Attempts, Iterations, Notifications):
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
            self.attempt_offset = dict(repair.last_attempts)
            self.start_time = repair.start_time
        self.poll_interval = poll_interval  # how often a cancel request is looked for
        self.notifier = secrets.masking(notifier or notify.Notifier())
        self.handle_signals = handle_signals
        self.trigger_files = trigger_files
        self.trigger_location = trigger_location
        self.trigger_info = trigger_info
        self.selection = selection
        for start in (repair, selection):  # what the tasks they keep or leave out left
            if start is not None:
                self.states.update({k: v for k, v in start.states().items() if k in self.states})
                self.outcomes.update(start.outcomes)
                self.values.update(start.values)
                self.outputs.update(start.outputs)
        # The attempts running now (unit -> attempt number, start), for `health` warnings.
        self.attempt_clock: dict[str, tuple[int, float]] = {}
        self.warned: set[tuple[str, int]] = set()
        self.run_warned = False  # the workflow's `warning_after` told once
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
            self._check_run_duration()
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
        self._notify_end(result)
        return result

    # -- decisions -----------------------------------------------------------------------

    def _record_selection(self, selection: Selection) -> None:
        """Mark the tasks a partial run leaves out, with the values they are read from."""
        source = f"; values from run {selection.source_run}" if selection.source_run else ""
        for key in selection.left_out:
            fields = {"start_time": self.clock.now(), **selection.left_by(key)}
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
        await self._iterations(task, folder)

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
