"""Orphaned runs: closing a run whose runner died, as `states.close_orphan` decides.

The rows are read and the result written in one transaction that first takes the run's
lock (a row lock on PostgreSQL, the database's write lock on SQLite), so of two processes
recovering the same run one closes it and the other finds it closed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, select, update

from ..core import states
from .engine import Database, recovering
from .tables import attempts, repairs, runs, task_runs


def _write(conn: Any, table: Table, changes: dict[int, dict[str, Any]]) -> None:
    """Apply new values by row id, one statement for each set of values."""
    by_values: dict[tuple[tuple[str, Any], ...], list[int]] = defaultdict(list)
    for row_id, values in changes.items():
        by_values[tuple(sorted(values.items()))].append(row_id)
    for pairs, ids in by_values.items():
        conn.execute(update(table).where(table.c.id.in_(ids)).values(dict(pairs)))


class Orphans(Database):
    """Crash recovery's one write."""

    @recovering
    def close_orphan(self, run_id: int, *, now: float, message: str) -> list[dict[str, Any]]:
        """Finish a run whose runner died: its unfinished tasks and attempts fail.

        Returns the attempts that were running (with their pids), or [] when another
        process closed the run first.
        """
        with self.engine.begin() as conn:
            # Written first thing: the run's lock, held until the result is committed.
            conn.execute(update(runs).where(runs.c.id == run_id).values(state=runs.c.state))
            run = conn.execute(select(runs).where(runs.c.id == run_id)).first()
            if run is None:
                return []

            def rows(table: Table) -> list[dict[str, Any]]:
                found = conn.execute(select(table).where(table.c.run_id == run_id))
                return [dict(r._mapping) for r in found]

            closing = states.close_orphan(
                dict(run._mapping),
                rows(task_runs),
                rows(attempts),
                rows(repairs),
                now=now,
                message=message,
            )
            if closing is None:
                return []
            conn.execute(update(runs).where(runs.c.id == run_id).values(closing.run))
            _write(conn, attempts, closing.attempts)
            _write(conn, task_runs, closing.tasks)
            _write(conn, repairs, closing.repairs)
            return closing.leftovers
