"""Backfills: a range of fire times run like a scheduler's fires, and their progress.

Each fire time is started through `claim_fire` (trigger `backfill`, key
`ID@FIRE_TIME`), so each runs exactly once whichever schedulers serve the backfill and
however often they are restarted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from .engine import Database, recovering
from .tables import backfills, fires, runs


class Backfills(Database):
    """Recording backfills and reading what they started."""

    @recovering
    def create_backfill(
        self,
        *,
        workflow: str,
        workflow_path: str,
        fire_times: list[float],
        skipped: list[float],
        parameters: dict[str, Any],
        concurrency: int,
        span: dict[str, Any],
        now: float,
    ) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    insert(backfills).values(
                        workflow=workflow,
                        workflow_path=workflow_path,
                        fire_times=fire_times,
                        skipped=skipped,
                        parameters=parameters,
                        concurrency=concurrency,
                        span=span,
                        state="running",
                        created=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )

    @recovering
    def list_backfills(
        self, *, state: str | None = None, backfill_id: int | None = None
    ) -> list[dict[str, Any]]:
        query = select(backfills).order_by(backfills.c.id)
        if state is not None:
            query = query.where(backfills.c.state == state)
        if backfill_id is not None:
            query = query.where(backfills.c.id == backfill_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    @recovering
    def backfill_runs(self, backfill: dict[str, Any]) -> dict[float, dict[str, Any]]:
        """The runs a backfill started so far, by fire time (id, state, times)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    fires.c.fire_time,
                    runs.c.id,
                    runs.c.state,
                    runs.c.start_time,
                    runs.c.end_time,
                )
                .select_from(fires.join(runs, runs.c.id == fires.c.run_id))
                .where(
                    fires.c.workflow == backfill["workflow"],
                    fires.c.trigger == "backfill",
                    fires.c.fire_key.startswith(f"{backfill['id']}@", autoescape=True),
                )
            )
            return {r.fire_time: dict(r._mapping) for r in rows}

    @recovering
    def end_backfill(self, backfill_id: int, state: str, now: float) -> bool:
        """Mark a running backfill finished or canceled; False if it had ended already."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(backfills)
                .where(backfills.c.id == backfill_id, backfills.c.state == "running")
                .values(state=state, end_time=now)
            )
            return bool(changed.rowcount)
