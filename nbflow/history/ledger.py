"""Trigger ledger: a scheduler's fires (each exactly once), seen files, run slots, pauses.

A run holds one of its workflow's `max_concurrent_runs` slots while it is active and has a
runner (`runner_pid`): manual runs, and scheduled ones handed to a runner. A scheduled run
waiting for a slot is `queued` with no runner yet, so it belongs to no scheduler: whichever
scheduler finds a free slot first starts the oldest one. Every decision about a workflow's
slots is taken under that workflow's lock (its `trigger_states` row, written first thing in
the transaction: a row lock on PostgreSQL, the database's write lock on SQLite), so
schedulers in other processes decide one after another on what the others committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..core.states import ACTIVE_RUN_STATES
from .engine import Database, recovering
from .runs import insert_run
from .tables import fires, run_triggers, runs, seen_files, trigger_states


class TriggerLedger(Database):
    """What schedulers claimed and decided, shared by every scheduler of the history."""

    @recovering
    def claim_fire(
        self,
        claim: dict[str, Any],
        *,
        max_concurrent_runs: int,
        queue: bool,
        runner: tuple[int, str, float | None],
        now: float,
        workflow_path: str,
        trigger_type: str,
        trigger_time: float,
        parameters: dict[str, Any],
        tasks: Iterable[tuple[str, str, list[dict[str, Any]]]],
        trigger_files: list[str] | None = None,
        trigger_location: str | None = None,
        trigger_info: dict[str, Any] | None = None,
        group_limit: int | None = None,
    ) -> tuple[int, str] | None:
        """Record the run of a scheduler's fire, if no scheduler claimed that fire before.

        `claim` is {workflow, trigger, fire_key, fire_time, files}; its files are then seen.
        In the same transaction the run is given its start: "fired" (a slot is free and no
        run waits for one: the run is `queued` for `runner` (pid, host, started), which
        starts it now), "queued" (it waits, with no runner, behind older waiting runs) or
        "skipped" (over the limit with `queue` false). Returns (run id, that decision), or
        None when another scheduler claimed the fire: it created its run.

        `group_limit`: the fire belongs to a group of fires (a backfill: the keys of the
        same trigger up to its `@`), of which at most this many runs may be active; over
        it nothing is recorded and None is returned (decided under the workflow's lock, so
        several schedulers together keep the limit). `trigger_info` is kept with the run.
        """
        workflow = claim["workflow"]
        try:
            with self.engine.begin() as conn:
                self._lock_workflow(conn, workflow, now)
                if group_limit is not None:
                    group = claim["fire_key"].split("@", 1)[0] + "@"
                    if self._group_active(conn, workflow, claim["trigger"], group) >= group_limit:
                        return None
                holding, waiting = self._slots(conn, workflow)
                if holding < max_concurrent_runs and not waiting:
                    decision, state, (pid, host, started) = "fired", "queued", runner
                else:
                    decision = "queued" if queue else "skipped"
                    state, (pid, host, started) = decision, (None, None, None)
                run_id = insert_run(
                    conn,
                    workflow=workflow,
                    workflow_path=workflow_path,
                    trigger_type=trigger_type,
                    trigger_time=trigger_time,
                    parameters=parameters,
                    tasks=tasks,
                    state=state,
                    now=now,
                    runner_pid=pid,
                    runner_host=host,
                    runner_started=started,
                    parent_run_id=None,
                    trigger_files=trigger_files,
                    trigger_location=trigger_location,
                )
                if decision == "skipped":
                    conn.execute(
                        update(runs)
                        .where(runs.c.id == run_id)
                        .values(
                            end_time=now,
                            message=f"{holding} run(s) already active (max_concurrent_runs "
                            f"{max_concurrent_runs}, queue: false)",
                        )
                    )
                conn.execute(
                    insert(fires).values(
                        workflow=workflow,
                        trigger=claim["trigger"],
                        fire_key=claim["fire_key"],
                        fire_time=claim["fire_time"],
                        run_id=run_id,
                        created=now,
                    )
                )
                if trigger_info:
                    conn.execute(insert(run_triggers).values(run_id=run_id, info=trigger_info))
                files = claim.get("files") or []
                if files:
                    conn.execute(
                        insert(seen_files),
                        [
                            {"workflow": workflow, "path": f, "run_id": run_id, "seen": now}
                            for f in files
                        ],
                    )
                return run_id, decision
        except IntegrityError:
            return None

    @recovering
    def claim_mark(
        self, workflow: str, trigger: str, fire_key: str, fire_time: float, now: float
    ) -> bool:
        """Record a fire that starts no run (a trigger's first look, say); False if taken."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(fires).values(
                        workflow=workflow,
                        trigger=trigger,
                        fire_key=fire_key,
                        fire_time=fire_time,
                        run_id=None,
                        created=now,
                    )
                )
            return True
        except IntegrityError:
            return False

    @recovering
    def start_queued(
        self,
        workflow: str,
        *,
        max_concurrent_runs: int,
        runner: tuple[int, str, float | None],
        now: float,
    ) -> list[dict[str, Any]]:
        """Hand the oldest waiting runs of a workflow to `runner` as slots are free.

        Returns those runs (oldest first): the caller starts them.
        """
        waiting = [runs.c.workflow == workflow, runs.c.state == "queued"]
        waiting.append(runs.c.runner_pid.is_(None))
        with self.engine.connect() as conn:  # most looks find nothing: no lock for those
            if not conn.execute(select(runs.c.id).where(*waiting).limit(1)).first():
                return []
        with self.engine.begin() as conn:
            self._lock_workflow(conn, workflow, now)
            holding, _ = self._slots(conn, workflow)
            free = max_concurrent_runs - holding
            if free <= 0:
                return []
            chosen = [
                dict(r._mapping)
                for r in conn.execute(select(runs).where(*waiting).order_by(runs.c.id).limit(free))
            ]
            if chosen:
                pid, host, started = runner
                conn.execute(
                    update(runs)
                    .where(runs.c.id.in_([r["id"] for r in chosen]))
                    .values(runner_pid=pid, runner_host=host, runner_started=started)
                )
            return chosen

    @staticmethod
    def _lock_workflow(conn: Any, workflow: str, now: float) -> None:
        found = conn.execute(
            update(trigger_states)
            .where(trigger_states.c.workflow == workflow)
            .values(paused=trigger_states.c.paused)
        )
        if not found.rowcount:  # schedulers create it first (ensure_trigger_state)
            conn.execute(insert(trigger_states).values(workflow=workflow, paused=False, since=now))

    @staticmethod
    def _slots(conn: Any, workflow: str) -> tuple[int, int]:
        """(runs holding a slot, runs waiting for one) of a workflow."""
        active = [runs.c.workflow == workflow, runs.c.state.in_(ACTIVE_RUN_STATES)]
        holding = conn.execute(
            select(func.count()).where(*active, runs.c.runner_pid.is_not(None))
        ).scalar()
        waiting = conn.execute(
            select(func.count()).where(*active, runs.c.runner_pid.is_(None))
        ).scalar()
        return int(holding), int(waiting)

    @staticmethod
    def _group_active(conn: Any, workflow: str, trigger: str, group: str) -> int:
        """Active runs of the fires of `trigger` whose key starts with `group`."""
        return int(
            conn.execute(
                select(func.count())
                .select_from(fires.join(runs, runs.c.id == fires.c.run_id))
                .where(
                    fires.c.workflow == workflow,
                    fires.c.trigger == trigger,
                    fires.c.fire_key.startswith(group, autoescape=True),
                    runs.c.state.in_(ACTIVE_RUN_STATES),
                )
            ).scalar()
        )

    @recovering
    def last_fire_row(self, workflow: str, trigger: str) -> dict[str, Any] | None:
        """The trigger's newest fire (by id), with or without a run."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(fires)
                .where(fires.c.workflow == workflow, fires.c.trigger == trigger)
                .order_by(fires.c.id.desc())
                .limit(1)
            ).first()
            return dict(row._mapping) if row else None

    @recovering
    def last_fire(self, workflow: str, trigger: str) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.max(fires.c.fire_time)).where(
                    fires.c.workflow == workflow, fires.c.trigger == trigger
                )
            ).scalar()

    @recovering
    def fire_keys(self, workflow: str, trigger: str, since: float) -> set[str]:
        """Keys of the trigger's fires whose fire time is at or after `since`."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(fires.c.fire_key).where(
                    fires.c.workflow == workflow,
                    fires.c.trigger == trigger,
                    fires.c.fire_time >= since,
                )
            )
            return {r[0] for r in rows}

    @recovering
    def seen_paths(self, workflow: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(seen_files.c.path).where(seen_files.c.workflow == workflow))
            return {r[0] for r in rows}

    @recovering
    def trigger_state(self, workflow: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(trigger_states).where(trigger_states.c.workflow == workflow)
            ).first()
            return dict(row._mapping) if row else None

    @recovering
    def ensure_trigger_state(self, workflow: str, now: float) -> dict[str, Any]:
        """The workflow's trigger state; the first scheduler to see it records `since`."""
        found = self.trigger_state(workflow)
        if found is not None:
            return found
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(trigger_states).values(workflow=workflow, paused=False, since=now)
                )
        except IntegrityError:
            pass  # another scheduler was first
        return self.trigger_state(workflow) or {"workflow": workflow, "paused": False, "since": now}

    @recovering
    def set_paused(self, workflow: str, paused: bool, now: float) -> None:
        self.ensure_trigger_state(workflow, now)
        with self.engine.begin() as conn:
            conn.execute(
                update(trigger_states)
                .where(trigger_states.c.workflow == workflow)
                .values(paused=paused)
            )

    @recovering
    def reset_trigger_since(self, workflow: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(trigger_states)
                .where(trigger_states.c.workflow == workflow)
                .values(since=now)
            )
