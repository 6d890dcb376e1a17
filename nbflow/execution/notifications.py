"""A run's notifications: the events it sends (start, success, failure, an attempt's own,
duration warnings) and the deliveries it records; `notify.py` delivers them.

`Notifications` is mixed into `runner.Runner`; nothing here changes a task's state.
"""

from __future__ import annotations

from typing import Any

from ..core.clock import Clock, iso
from ..core.durations import format_duration
from ..core.states import RunState
from ..notify import deliveries as notify
from ..workflows.model import Task, Workflow
from ..workflows.project import Project
from .runlog import RunLog


class Notifications:
    """The runner's part that tells destinations about the run (see the module's docstring)."""

    workflow: Workflow
    project: Project
    store: RunLog
    run_id: int
    clock: Clock
    notifier: notify.Notifier
    tasks: dict[str, Task]
    attempt_clock: dict[str, tuple[int, float]]
    warned: set[tuple[str, int]]
    run_warned: bool
    start_time: float

    def _event(self, kind: str, state: str, **extra: Any) -> notify.Event:
        failed = []
        if kind == "on_failure":
            run = self.store.get_run(self.run_id) or {"tasks": []}
            for row in run["tasks"]:
                if row["state"] in ("failed", "timed_out") and not row.get("parent_key"):
                    last = row["attempts"][-1] if row["attempts"] else {}
                    error = (
                        {"ename": last.get("error_ename"), "evalue": last.get("error_evalue")}
                        if last.get("error_ename")
                        else None
                    )
                    failed.append({"key": row["key"], "state": row["state"], "error": error})
        return notify.Event(
            kind=kind,
            workflow=self.workflow.name,
            run_id=self.run_id,
            state=state,
            time=iso(self.clock.now()) or "",
            failed_tasks=tuple(failed),
            artifacts=str(self.project.run_dir(self.workflow.name, self.run_id)),
            **extra,
        )

    def _notify_run(self, kind: str, state: RunState) -> None:
        settings = self.workflow.settings
        destinations = getattr(settings.notifications, kind) if settings else []
        if destinations:
            self.notifier.send(destinations, self._event(kind, state.value))

    def _notify_attempt(
        self, task: Task, kind: str, state: str, number: int, error: dict[str, Any] | None = None
    ) -> None:
        destinations = getattr(task.notifications, kind) if task.notifications else []
        if not destinations:
            return
        failed: tuple[dict[str, Any], ...] = ()
        if error:
            failed = (
                {
                    "key": task.key,
                    "state": state,
                    "error": {"ename": error.get("ename"), "evalue": error.get("evalue")},
                },
            )
        event = self._event(kind, state, task=task.key, attempt=number)
        if failed:
            event = notify.Event(**{**event.__dict__, "failed_tasks": failed})
        self.notifier.send(destinations, event)

    def _notify_end(self, result: RunState) -> None:
        """Tell the run's end (a canceled run tells nothing), then record every delivery."""
        if result in (RunState.SUCCESS, RunState.SUCCESS_WITH_FAILURES):
            self._notify_run("on_success", result)
        elif result in (RunState.FAILED, RunState.TIMED_OUT):
            self._notify_run("on_failure", result)
        # Deliveries run on threads; the run is already recorded as finished.
        self._record_deliveries(self.notifier.wait(timeout=30))

    def _record_deliveries(self, deliveries: list[notify.Delivery]) -> None:
        self.store.add_notifications(
            self.run_id,
            [
                {
                    "event": d.event,
                    "kind": d.kind,
                    "target": d.target,
                    "ok": d.ok,
                    "error": d.error,
                    "time": d.time,
                }
                for d in deliveries
            ],
        )

    def _check_run_duration(self) -> None:
        """Warn once when the run has gone on longer than the workflow's `warning_after`."""
        settings = self.workflow.settings
        warn_after = settings.warning_after if settings is not None else None
        if self.run_warned or warn_after is None:
            return
        if self.clock.now() >= self.start_time + warn_after:
            self.run_warned = True
            self.store.add_duration_warning(
                self.run_id,
                task_key=None,
                attempt=None,
                threshold=warn_after,
                now=self.clock.now(),
            )
            self._notify_run("on_duration_warning", RunState.RUNNING)

    def _check_attempt_durations(self, now: float) -> None:
        """Warn once for each attempt running longer than its task's `health.duration_warning`.

        To the task's own `on_duration_warning` destinations, else to the workflow's.
        """
        for unit, (number, started) in list(self.attempt_clock.items()):
            task = self.tasks.get(unit.split("[", 1)[0])
            limit = task.duration_warning if task is not None else None
            if task is None or limit is None or (unit, number) in self.warned:
                continue
            if now - started < limit:
                continue
            self.warned.add((unit, number))
            self.store.add_duration_warning(
                self.run_id, task_key=unit, attempt=number, threshold=limit, now=now
            )
            own = task.notifications.on_duration_warning if task.notifications else []
            settings = self.workflow.settings
            destinations = own or (settings.notifications.on_duration_warning if settings else [])
            if destinations:
                event = self._event(
                    "on_duration_warning",
                    "running",
                    task=unit,
                    attempt=number,
                    message=f"attempt {number} has run longer than {format_duration(limit)}",
                )
                self.notifier.send(destinations, event)
