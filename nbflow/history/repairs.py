"""Repairs: claiming a repair of a finished run (optimistic, by repair number), ending it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, update

from ..core.states import ACTIVE_RUN_STATES
from .engine import Database, recovering
from .tables import repairs, runs, task_runs


class Repairs(Database):
    """A repair's claim and end, and the tasks it runs again."""

    @recovering
    def claim_repair(
        self,
        run_id: int,
        *,
        expected_count: int,
        now: float,
        tasks: list[str],
        parameters: dict[str, Any],
        runner_pid: int,
        runner_host: str,
        runner_started: float | None,
    ) -> bool:
        """Start repair number expected_count + 1 of a finished run; False if another won."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(
                    runs.c.id == run_id,
                    runs.c.repair_count == expected_count,
                    runs.c.state.not_in(ACTIVE_RUN_STATES),
                )
                .values(
                    state="running",
                    repair_count=expected_count + 1,
                    parameters=parameters,
                    end_time=None,
                    message=None,
                    cancel_requested=None,
                    runner_pid=runner_pid,
                    runner_host=runner_host,
                    runner_started=runner_started,
                )
            )
            if not result.rowcount:
                return False
            conn.execute(
                insert(repairs).values(
                    run_id=run_id,
                    number=expected_count + 1,
                    time=now,
                    tasks=tasks,
                    parameters=parameters,
                )
            )
            return True

    @recovering
    def finish_repair(self, run_id: int, number: int, result: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(repairs)
                .where(repairs.c.run_id == run_id, repairs.c.number == number)
                .values(result=result, end_time=now)
            )

    @recovering
    def reset_tasks(self, run_id: int, keys: list[str]) -> None:
        """Selected tasks of a repair go back to `pending`; their attempts stay."""
        with self.engine.begin() as conn:
            conn.execute(
                update(task_runs)
                .where(task_runs.c.run_id == run_id, task_runs.c.key.in_(keys))
                .values(
                    state="pending",
                    outcome=None,
                    task_values={},
                    output=None,
                    start_time=None,
                    end_time=None,
                    message=None,
                )
            )
