"""History queries: runs listed, one run with everything about it, runs by state or time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from ..core.states import ACTIVE_RUN_STATES
from .engine import Database, recovering
from .tables import (
    attempts,
    duration_warnings,
    notifications,
    repairs,
    run_triggers,
    runs,
    task_runs,
)


class Queries(Database):
    """Reading the history; nothing here writes."""

    @recovering
    def list_runs(self, workflow: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if workflow:
            query = query.where(runs.c.workflow == workflow)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @recovering
    def get_run(self, run_id: int) -> dict[str, Any] | None:
        """A run with its tasks and their attempts, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                return None
            run = dict(row._mapping)
            task_rows = conn.execute(
                select(task_runs)
                .where(task_runs.c.run_id == run_id)
                .order_by(task_runs.c.position, task_runs.c.iteration.nullsfirst())
            )
            tasks = [dict(t._mapping) for t in task_rows]
            attempt_rows = conn.execute(
                select(attempts)
                .where(attempts.c.run_id == run_id)
                .order_by(attempts.c.task_key, attempts.c.number)
            )
            by_task: dict[str, list[dict[str, Any]]] = {}
            for a in attempt_rows:
                by_task.setdefault(a.task_key, []).append(dict(a._mapping))
            repair_rows = conn.execute(
                select(repairs).where(repairs.c.run_id == run_id).order_by(repairs.c.number)
            )
            run["repairs"] = [dict(r._mapping) for r in repair_rows]
            sent = conn.execute(
                select(notifications)
                .where(notifications.c.run_id == run_id)
                .order_by(notifications.c.id)
            )
            run["notifications"] = [dict(r._mapping) for r in sent]
            run["trigger_info"] = conn.execute(
                select(run_triggers.c.info).where(run_triggers.c.run_id == run_id)
            ).scalar()
            warned = conn.execute(
                select(duration_warnings)
                .where(duration_warnings.c.run_id == run_id)
                .order_by(duration_warnings.c.id)
            )
            run["duration_warnings"] = [dict(r._mapping) for r in warned]
        for task in tasks:
            task["attempts"] = by_task.get(task["key"], [])
        run["tasks"] = tasks
        return run

    @recovering
    def recent_runs(
        self, workflow: str, trigger_type: str, limit: int = 50
    ) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs)
                .where(runs.c.workflow == workflow, runs.c.trigger_type == trigger_type)
                .order_by(runs.c.id.desc())
                .limit(limit)
            )
            return [dict(r._mapping) for r in rows]

    @recovering
    def active_runs(self, workflow: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs)
                .where(runs.c.workflow == workflow, runs.c.state.in_(ACTIVE_RUN_STATES))
                .order_by(runs.c.id)
            )
            return [dict(r._mapping) for r in rows]

    @recovering
    def unfinished_runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.state.in_(ACTIVE_RUN_STATES)))
            return [dict(r._mapping) for r in rows]

    @recovering
    def finished_runs(
        self, workflows: list[str], states: Iterable[str], since: float
    ) -> list[dict[str, Any]]:
        """Runs of those workflows that ended in one of `states` at or after `since`."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs)
                .where(
                    runs.c.workflow.in_(workflows),
                    runs.c.state.in_(list(states)),
                    runs.c.end_time >= since,
                    runs.c.parent_run_id.is_(None),
                )
                .order_by(runs.c.end_time, runs.c.id)
            )
            return [dict(r._mapping) for r in rows]

    @recovering
    def runs_at(
        self, workflow: str, trigger_types: Iterable[str], times: list[float]
    ) -> list[dict[str, Any]]:
        """Runs of a workflow with one of those trigger types whose trigger time is listed."""
        if not times:
            return []
        wanted = set(times)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.id, runs.c.state, runs.c.trigger_time, runs.c.trigger_type).where(
                    runs.c.workflow == workflow,
                    runs.c.trigger_type.in_(list(trigger_types)),
                    runs.c.trigger_time >= min(times),
                    runs.c.trigger_time <= max(times),
                )
            )
            return [dict(r._mapping) for r in rows if r.trigger_time in wanted]

    @recovering
    def last_attempts(self, run_id: int) -> dict[str, int]:
        """The highest attempt number of every task and iteration of a run."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(attempts.c.task_key, func.max(attempts.c.number))
                .where(attempts.c.run_id == run_id)
                .group_by(attempts.c.task_key)
            )
            return {key: int(number) for key, number in rows}
