"""The run log: what the runner records about a run, as a port the run history implements.

The runner is the only code that changes a run's state, and it does so only through these
calls; `nbflow.history.Store` implements them on SQLite or PostgreSQL, and the runner's
unit tests use an in-memory fake (tests/unit/fakes.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class RunLog(Protocol):
    def create_run(
        self,
        *,
        workflow: str,
        workflow_path: str,
        trigger_type: str,
        trigger_time: float,
        parameters: dict[str, Any],
        tasks: Iterable[tuple[str, str, list[dict[str, Any]]]],
        state: str,
        now: float,
        runner_pid: int | None = None,
        runner_host: str | None = None,
        runner_started: float | None = None,
        parent_run_id: int | None = None,
    ) -> int | None:
        """Record a run and its tasks (`pending`); its id."""
        ...

    def update_run(self, run_id: int, **fields: Any) -> None: ...

    def update_task(self, run_id: int, key: str, **fields: Any) -> None:
        """A task's (or an iteration's, `KEY[i]`) state, times, message, values, output."""
        ...

    def add_iterations(self, run_id: int, task_key: str, inputs: list[Any]) -> None: ...

    def add_attempt(
        self,
        run_id: int,
        task_key: str,
        number: int,
        *,
        start_time: float,
        parameters: dict[str, Any],
        artifact: str | None,
        state: str = "running",
        executor: dict[str, Any] | None = None,
    ) -> None: ...

    def finish_attempt(
        self,
        run_id: int,
        task_key: str,
        number: int,
        *,
        state: str,
        end_time: float,
        error: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        output: dict[str, Any] | None = None,
        only_running: bool = False,
        executor: dict[str, Any] | None = None,
    ) -> None: ...

    def set_attempt_pid(
        self, run_id: int, task_key: str, number: int, pid: int, started: float | None
    ) -> None: ...

    def cancel_requested(self, run_id: int) -> bool: ...

    def add_notifications(self, run_id: int, deliveries: list[dict[str, Any]]) -> None: ...

    def add_duration_warning(
        self,
        run_id: int,
        *,
        task_key: str | None,
        attempt: int | None,
        threshold: float,
        now: float,
    ) -> None: ...

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        """The run with its tasks and their attempts (the runner reads failed tasks' errors)."""
        ...
