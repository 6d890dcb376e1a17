"""Run history: runs, tasks, attempts and artifacts in a SQL database (SQLAlchemy Core).

SQLite in `.nbflow/history.db` by default, in WAL mode so readers see a run while it is
being written; any SQLAlchemy URL (PostgreSQL, say) can be given instead. Times are stored
as seconds since the epoch (UTC) and values as JSON text, which every backend keeps alike.
Only the runner calls the writing methods.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from .errors import NbflowError

SCHEMA_VERSION = 1


class HistoryError(NbflowError):
    """The run history cannot be used."""


ACTIVE_RUN_STATES = ("queued", "running")

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(200), nullable=False, index=True),
    Column("workflow_path", Text, nullable=False),
    Column("state", String(40), nullable=False),
    Column("trigger_type", String(40), nullable=False),
    Column("trigger_time", Float, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("created_time", Float, nullable=False),
    Column("start_time", Float),
    Column("end_time", Float),
    Column("repair_count", Integer, nullable=False, default=0),
    Column("parent_run_id", Integer, ForeignKey("runs.id")),
    Column("runner_pid", Integer),
    Column("runner_host", String(255)),
    Column("runner_started", Float),  # the runner process's start, to tell a reused pid
    Column("cancel_requested", Float),  # set by `nbflow cancel`; the runner acts on it
    Column("trigger_files", JSON),  # the new files of a file-arrival run
    Column("trigger_location", Text),
    Column("message", Text),
)

repairs = Table(
    "repairs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("time", Float, nullable=False),
    Column("tasks", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("result", String(40)),
    Column("end_time", Float),
    UniqueConstraint("run_id", "number"),
)

task_runs = Table(
    "task_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("key", String(200), nullable=False),  # KEY, or KEY[i] for a for_each iteration
    Column("kind", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Column("parent_key", String(200)),  # the for_each task of an iteration
    Column("iteration", Integer),  # its index
    Column("input", JSON),  # its input
    Column("depends_on", JSON, nullable=False),
    Column("state", String(40), nullable=False),
    Column("outcome", Boolean),
    Column("task_values", JSON, nullable=False),
    Column("output", JSON),  # a sql task's rows, a workflow task's child run
    Column("start_time", Float),
    Column("end_time", Float),
    Column("message", Text),
    UniqueConstraint("run_id", "key"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("task_key", String(200), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(40), nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float),
    Column("parameters", JSON, nullable=False),
    Column("artifact", Text),
    Column("error_ename", Text),
    Column("error_evalue", Text),
    Column("error_cell_index", Integer),
    Column("error_traceback", Text),
    Column("task_values", JSON),  # values published by a successful attempt
    Column("output", JSON),
    Column("pid", Integer),  # the attempt's process, so a dead runner's leftovers can be ended
    Column("pid_started", Float),
    UniqueConstraint("run_id", "task_key", "number"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("task_key", String(200), nullable=False),
    Column("attempt_number", Integer, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("path", Text, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("event", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("target", Text, nullable=False),  # secrets already redacted
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("time", String(40), nullable=False),
)

fires = Table(
    "fires",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(200), nullable=False),
    Column("trigger", String(40), nullable=False),  # schedule, file_arrival, continuous
    Column("fire_key", String(200), nullable=False),  # what makes this fire unique
    Column("fire_time", Float, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("created", Float, nullable=False),
    # Exactly once: of two schedulers claiming the same fire, the second insert fails.
    UniqueConstraint("workflow", "trigger", "fire_key"),
)

seen_files = Table(
    "seen_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(200), nullable=False),
    Column("path", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("seen", Float, nullable=False),
    UniqueConstraint("workflow", "path"),
)

trigger_states = Table(
    "trigger_states",
    metadata,
    Column("workflow", String(200), primary_key=True),
    Column("paused", Boolean, nullable=False),  # `nbflow schedule pause`
    Column("since", Float, nullable=False),  # first seen by a scheduler: no catch-up before
)

meta = Table(
    "nbflow_meta",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The run history of one project."""

    def __init__(self, url: str):
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # Several processes (a scheduler, a run, `nbflow show`) may open a new history at
        # once: whoever loses a race to create a table or the schema row carries on.
        for attempt in range(20):
            try:
                metadata.create_all(self.engine)
                break
            except OperationalError:  # "table already exists": another process is creating it
                if attempt == 19:
                    raise
                time.sleep(0.02 * (attempt + 1))
        self._check_columns()
        try:
            with self.engine.begin() as conn:
                found = conn.execute(select(meta.c.value).where(meta.c.name == "schema")).scalar()
                if found is None:
                    conn.execute(insert(meta).values(name="schema", value=str(SCHEMA_VERSION)))
        except IntegrityError:
            pass

    def _check_columns(self) -> None:
        """A database made by another nbflow version is refused rather than misread."""
        found = inspect(self.engine)
        for table in metadata.sorted_tables:
            have = {c["name"] for c in found.get_columns(table.name)}
            missing = [c.name for c in table.columns if c.name not in have]
            if missing:
                raise HistoryError(
                    f"the run history at {self.engine.url.render_as_string(hide_password=True)} "
                    f"was made by another version of nbflow (table {table.name} lacks "
                    f"{', '.join(missing)}); move it aside to start a new one"
                )

    def close(self) -> None:
        self.engine.dispose()

    # -- writing (the runner only) -------------------------------------------------------

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
        claim: dict[str, Any] | None = None,
    ) -> int | None:
        """Record a new run and its tasks (key, kind, depends_on) in one transaction.

        With `claim` ({workflow, trigger, fire_key, fire_time, files}) the run is created
        only if no scheduler claimed that fire before (and none of those files was seen):
        None says another one did. Claim and run are one transaction, so a scheduler that
        dies in between leaves neither.
        """
        try:
            with self.engine.begin() as conn:
                run_id = self._insert_run(
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
                if claim is not None:
                    conn.execute(
                        insert(fires).values(
                            workflow=claim["workflow"],
                            trigger=claim["trigger"],
                            fire_key=claim["fire_key"],
                            fire_time=claim["fire_time"],
                            run_id=run_id,
                            created=now,
                        )
                    )
                    files = claim.get("files") or []
                    if files:
                        conn.execute(
                            insert(seen_files),
                            [
                                {
                                    "workflow": claim["workflow"],
                                    "path": f,
                                    "run_id": run_id,
                                    "seen": now,
                                }
                                for f in files
                            ],
                        )
                return run_id
        except IntegrityError:
            if claim is None:
                raise
            return None

    def _insert_run(
        self,
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

    # -- triggers ------------------------------------------------------------------------

    def trigger_state(self, workflow: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(trigger_states).where(trigger_states.c.workflow == workflow)
            ).first()
            return dict(row._mapping) if row else None

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

    # -- scheduler heartbeats (rows `scheduler:HOST:PID` of nbflow_meta) --------------------

    def beat_scheduler(self, key: str, info: dict[str, Any]) -> None:
        """Record that the scheduler `key` is alive (`info` holds its `seen` time)."""
        name = f"scheduler:{key}"
        value = json.dumps(info)
        with self.engine.begin() as conn:
            changed = conn.execute(update(meta).where(meta.c.name == name).values(value=value))
            if changed.rowcount == 0:
                conn.execute(insert(meta).values(name=name, value=value))

    def drop_scheduler(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(meta).where(meta.c.name == f"scheduler:{key}"))

    def schedulers(self) -> list[dict[str, Any]]:
        """Every scheduler heartbeat recorded, live or stale."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(meta.c.value).where(meta.c.name.like("scheduler:%")))
            return [json.loads(value) for (value,) in rows]

    def set_paused(self, workflow: str, paused: bool, now: float) -> None:
        self.ensure_trigger_state(workflow, now)
        with self.engine.begin() as conn:
            conn.execute(
                update(trigger_states)
                .where(trigger_states.c.workflow == workflow)
                .values(paused=paused)
            )

    def reset_trigger_since(self, workflow: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(trigger_states)
                .where(trigger_states.c.workflow == workflow)
                .values(since=now)
            )

    def last_fire(self, workflow: str, trigger: str) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.max(fires.c.fire_time)).where(
                    fires.c.workflow == workflow, fires.c.trigger == trigger
                )
            ).scalar()

    def seen_paths(self, workflow: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(seen_files.c.path).where(seen_files.c.workflow == workflow))
            return {r[0] for r in rows}

    def active_runs(self, workflow: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs)
                .where(runs.c.workflow == workflow, runs.c.state.in_(ACTIVE_RUN_STATES))
                .order_by(runs.c.id)
            )
            return [dict(r._mapping) for r in rows]

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

    def update_run(self, run_id: int, **fields: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**fields))

    def update_task(self, run_id: int, key: str, **fields: Any) -> None:
        if "values" in fields:
            fields["task_values"] = fields.pop("values")
        with self.engine.begin() as conn:
            conn.execute(
                update(task_runs)
                .where(task_runs.c.run_id == run_id, task_runs.c.key == key)
                .values(**fields)
            )

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
    ) -> None:
        error = error or {}
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
                )
            )

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

    def request_cancel(self, run_id: int, now: float) -> bool:
        """Ask the runner of an unfinished run to cancel it; False if it has finished."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.state.in_(ACTIVE_RUN_STATES))
                .values(cancel_requested=func.coalesce(runs.c.cancel_requested, now))
            )
            return bool(result.rowcount)

    def cancel_requested(self, run_id: int) -> bool:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(runs.c.cancel_requested).where(runs.c.id == run_id)
            ).scalar()
            return value is not None

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

    def finish_repair(self, run_id: int, number: int, result: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(repairs)
                .where(repairs.c.run_id == run_id, repairs.c.number == number)
                .values(result=result, end_time=now)
            )

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

    def last_attempts(self, run_id: int) -> dict[str, int]:
        """The highest attempt number of every task and iteration of a run."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(attempts.c.task_key, func.max(attempts.c.number))
                .where(attempts.c.run_id == run_id)
                .group_by(attempts.c.task_key)
            )
            return {key: int(number) for key, number in rows}

    def add_notifications(self, run_id: int, deliveries: list[dict[str, Any]]) -> None:
        if deliveries:
            with self.engine.begin() as conn:
                conn.execute(insert(notifications), [{"run_id": run_id, **d} for d in deliveries])

    def unfinished_runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.state.in_(ACTIVE_RUN_STATES)))
            return [dict(r._mapping) for r in rows]

    def close_orphan(self, run_id: int, *, now: float, message: str) -> list[dict[str, Any]]:
        """Finish a run whose runner died: its unfinished tasks and attempts fail.

        Returns the attempts that were running (with their pids), or [] when another
        process closed the run first.
        """
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.state.in_(ACTIVE_RUN_STATES))
                .values(state="failed", end_time=now, message=message)
            )
            if not claimed.rowcount:
                return []
            running = [
                dict(r._mapping)
                for r in conn.execute(
                    select(attempts).where(
                        attempts.c.run_id == run_id, attempts.c.state == "running"
                    )
                )
            ]
            conn.execute(
                update(attempts)
                .where(attempts.c.run_id == run_id, attempts.c.state == "running")
                .values(
                    state="failed", end_time=now, error_ename="RunnerDied", error_evalue=message
                )
            )
            conn.execute(
                update(task_runs)
                .where(
                    task_runs.c.run_id == run_id,
                    task_runs.c.state.in_(["queued", "running", "waiting_for_retry"]),
                )
                .values(state="failed", end_time=now, message=message)
            )
            conn.execute(
                update(task_runs)
                .where(task_runs.c.run_id == run_id, task_runs.c.state == "pending")
                .values(state="upstream_failed", end_time=now, message=message)
            )
            conn.execute(
                update(repairs)
                .where(repairs.c.run_id == run_id, repairs.c.result.is_(None))
                .values(result="failed", end_time=now)
            )
            return running

    # -- reading -------------------------------------------------------------------------

    def list_runs(self, workflow: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if workflow:
            query = query.where(runs.c.workflow == workflow)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

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
        for task in tasks:
            task["attempts"] = by_task.get(task["key"], [])
        run["tasks"] = tasks
        return run
