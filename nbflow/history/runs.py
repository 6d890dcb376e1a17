"""Run writes: a run, its tasks, attempts, iterations, notifications and cancel requests.

The runner's side of the history: only the runner calls these (and `nbflow cancel` its
request, which the runner acts on).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from ..core.states import ACTIVE_RUN_STATES
from .engine import Database, recovering
from .tables import (
    artifacts,
    attempts,
    duration_warnings,
    notifications,
    run_triggers,
    runs,
    task_runs,
)


def insert_run(
    conn: Any,
    *,
    workflow: str,
    workflow_path: str,
    trigger_type: str,
    trigger_time: float,
    parameters: dict[str, Any],
    tasks: Iterable[tuple[str, str, list[dict[str, Any]]]],
    state: str,
    now: float,
    runner_pid: int | None,
    runner_host: str | None,
    runner_started: float | None,
    parent_run_id: int | None,
    trigger_files: list[str] | None,
    trigger_location: str | None,
) -> int:
    """Insert a run and its tasks (key, kind, depends_on), all `pending`; its id."""
    run_id = conn.execute(
        insert(runs).values(
            workflow=workflow,
            workflow_path=workflow_path,
            state=state,
            trigger_type=trigger_type,
            trigger_time=trigger_time,
            parameters=parameters,
            created_time=now,
            repair_count=0,
            runner_pid=runner_pid,
            runner_host=runner_host,
            runner_started=runner_started,
            parent_run_id=parent_run_id,
            trigger_files=trigger_files,
            trigger_location=trigger_location,
        )
    ).inserted_primary_key[0]
    rows = [
        dict(
            run_id=run_id,
            key=key,
            kind=kind,
            position=i,
            depends_on=deps,
            state="pending",
            task_values={},
        )
        for i, (key, kind, deps) in enumerate(tasks)
    ]
    if rows:
        conn.execute(insert(task_runs), rows)
    return int(run_id)


class RunWrites(Database):
    """Writing a run as the runner goes."""

    @recovering
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
        trigger_files: list[str] | None = None,
        trigger_location: str | None = None,
    ) -> int:
        """Record a new run and its tasks (key, kind, depends_on) in one transaction."""
        with self.engine.begin() as conn:
            return insert_run(
                conn,
                workflow=workflow,
                workflow_path=workflow_path,
                trigger_type=trigger_type,
                trigger_time=trigger_time,
                parameters=parameters,
                tasks=tasks,
                state=state,
                now=now,
                runner_pid=runner_pid,
                runner_host=runner_host,
                runner_started=runner_started,
                parent_run_id=parent_run_id,
                trigger_files=trigger_files,
                trigger_location=trigger_location,
            )

    @recovering
    def update_run(self, run_id: int, **fields: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**fields))

    @recovering
    def update_task(self, run_id: int, key: str, **fields: Any) -> None:
        if "values" in fields:
            fields["task_values"] = fields.pop("values")
        with self.engine.begin() as conn:
            conn.execute(
                update(task_runs)
                .where(task_runs.c.run_id == run_id, task_runs.c.key == key)
                .values(**fields)
            )

    @recovering
    def add_iterations(self, run_id: int, task_key: str, inputs: list[Any]) -> None:
        """Rows `KEY[i]` for the iterations of a for_each task, all `pending`."""
        with self.engine.begin() as conn:
            parent = conn.execute(
                select(task_runs.c.position, task_runs.c.kind).where(
                    task_runs.c.run_id == run_id, task_runs.c.key == task_key
                )
            ).one()
            # A repaired for_each task runs its iterations anew; their attempts stay.
            conn.execute(
                delete(task_runs).where(
                    task_runs.c.run_id == run_id, task_runs.c.parent_key == task_key
                )
            )
            if inputs:
                conn.execute(
                    insert(task_runs),
                    [
                        dict(
                            run_id=run_id,
                            key=f"{task_key}[{i}]",
                            kind=parent.kind,
                            position=parent.position,
                            depends_on=[],
                            state="pending",
                            task_values={},
                            parent_key=task_key,
                            iteration=i,
                            input=value,
                        )
                        for i, value in enumerate(inputs)
                    ],
                )

    @recovering
    def add_missing_tasks(
        self, run_id: int, tasks: list[tuple[str, str, list[dict[str, Any]]]]
    ) -> None:
        """Tasks a re-read workflow file gained since the run started, as `pending`."""
        if not tasks:
            return
        with self.engine.begin() as conn:
            last = conn.execute(
                select(func.max(task_runs.c.position)).where(task_runs.c.run_id == run_id)
            ).scalar()
            conn.execute(
                insert(task_runs),
                [
                    dict(
                        run_id=run_id,
                        key=key,
                        kind=kind,
                        position=(last or 0) + 1 + i,
                        depends_on=deps,
                        state="pending",
                        task_values={},
                    )
                    for i, (key, kind, deps) in enumerate(tasks)
                ],
            )

    @recovering
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
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(attempts).values(
                    run_id=run_id,
                    task_key=task_key,
                    number=number,
                    state=state,
                    start_time=start_time,
                    parameters=parameters,
                    artifact=artifact,
                    executor=executor,
                )
            )
            if artifact:
                conn.execute(
                    insert(artifacts).values(
                        run_id=run_id,
                        task_key=task_key,
                        attempt_number=number,
                        kind="notebook" if artifact.endswith(".ipynb") else "log",
                        path=artifact,
                    )
                )

    @recovering
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
    ) -> None:
        error = error or {}
        where = {"executor": executor} if executor is not None else {}  # known once it ran
        match = [
            attempts.c.run_id == run_id,
            attempts.c.task_key == task_key,
            attempts.c.number == number,
        ]
        if only_running:  # a canceled attempt may not have been recorded, or have finished
            match.append(attempts.c.state == "running")
        with self.engine.begin() as conn:
            conn.execute(
                update(attempts)
                .where(*match)
                .values(
                    state=state,
                    end_time=end_time,
                    error_ename=error.get("ename"),
                    error_evalue=error.get("evalue"),
                    error_cell_index=error.get("cell_index"),
                    error_traceback=error.get("traceback"),
                    task_values=values or {},
                    output=output,
                    **where,
                )
            )

    @recovering
    def set_attempt_pid(
        self, run_id: int, task_key: str, number: int, pid: int, started: float | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(attempts)
                .where(
                    attempts.c.run_id == run_id,
                    attempts.c.task_key == task_key,
                    attempts.c.number == number,
                )
                .values(pid=pid, pid_started=started)
            )

    @recovering
    def request_cancel(self, run_id: int, now: float) -> bool:
        """Ask the runner of an unfinished run to cancel it; False if it has finished.

        A run still waiting for a slot has no runner: it is canceled at once, its tasks
        not started.
        """
        with self.engine.begin() as conn:
            waiting = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.state == "queued", runs.c.runner_pid.is_(None))
                .values(
                    state="canceled",
                    cancel_requested=now,
                    end_time=now,
                    message="canceled while queued",
                )
            )
            if waiting.rowcount:
                conn.execute(
                    update(task_runs)
                    .where(task_runs.c.run_id == run_id, task_runs.c.state == "pending")
                    .values(
                        state="canceled", end_time=now, message="not started: the run was canceled"
                    )
                )
                return True
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.state.in_(ACTIVE_RUN_STATES))
                .values(cancel_requested=func.coalesce(runs.c.cancel_requested, now))
            )
            return bool(result.rowcount)

    @recovering
    def cancel_requested(self, run_id: int) -> bool:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(runs.c.cancel_requested).where(runs.c.id == run_id)
            ).scalar()
            return value is not None

    @recovering
    def add_notifications(self, run_id: int, deliveries: list[dict[str, Any]]) -> None:
        if deliveries:
            with self.engine.begin() as conn:
                conn.execute(insert(notifications), [{"run_id": run_id, **d} for d in deliveries])

    @recovering
    def add_duration_warning(
        self,
        run_id: int,
        *,
        task_key: str | None,
        attempt: int | None,
        threshold: float,
        now: float,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(duration_warnings).values(
                    run_id=run_id, task_key=task_key, attempt=attempt, threshold=threshold, time=now
                )
            )

    @recovering
    def set_trigger_info(self, run_id: int, info: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(run_triggers).values(run_id=run_id, info=info))
