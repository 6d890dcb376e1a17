"""Run history: runs, tasks, attempts and artifacts in a SQL database (SQLAlchemy Core).

SQLite in `.nbflow/history.db` by default, in WAL mode so readers see a run while it is
being written; any SQLAlchemy URL (PostgreSQL, say) can be given instead. Times are stored
as seconds since the epoch (UTC) and values as JSON text, which every backend keeps alike.
Only the runner calls the writing methods (and a scheduler its fires and run slots). A
broken connection is replaced and the call made once more; a database that cannot be used
raises `HistoryError`, one sentence naming it.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

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
from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
)

from .errors import NbflowError

SCHEMA_VERSION = 1
# Nullable columns added after a history may have been made: added to it when it is opened.
ADDED_COLUMNS = {"attempts": ("executor",)}


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
    Column("executor", JSON),  # where it ran: {"kind": "local"}, {"kind": "dask", "worker": ...}
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

backfills = Table(
    "backfills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(200), nullable=False, index=True),
    Column("workflow_path", Text, nullable=False),
    Column("fire_times", JSON, nullable=False),  # every fire time of the range, ascending
    Column("skipped", JSON, nullable=False),  # those already run: not started again
    Column("parameters", JSON, nullable=False),  # the run overrides given
    Column("concurrency", Integer, nullable=False),
    Column("span", JSON, nullable=False),  # {from, to, every, timezone} as asked
    Column("state", String(40), nullable=False),  # running, finished, canceled
    Column("created", Float, nullable=False),
    Column("end_time", Float),
)

# What started a run beyond its trigger type and time: the backfill, the upstream run of a
# workflow-completion trigger, the value of a SQL trigger. A table of its own, so that a
# history made before it existed is still read (missing tables are created, columns not).
run_triggers = Table(
    "run_triggers",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("info", JSON, nullable=False),
)

# `health.duration_warning` passed: by the run (task_key NULL) or by one task attempt.
duration_warnings = Table(
    "duration_warnings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("task_key", String(200)),
    Column("attempt", Integer),
    Column("threshold", Float, nullable=False),
    Column("time", Float, nullable=False),
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


def _wal_index(database: str) -> tuple[int, int] | None:
    """Which `-shm` file (the WAL index every connection to a SQLite file shares) is there."""
    try:
        info = os.stat(database + "-shm")
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _disk_full(path: str) -> bool:
    try:
        found = os.statvfs(os.path.dirname(path))
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 64 * 1024  # less than a WAL index needs


# Every open Store of a SQLite file in this process. SQLite shares one WAL index among a
# process's connections to a file, so a connection left broken in one Store breaks new ones
# in the others: recovering means closing the idle connections of all of them.
_open_stores: dict[str, weakref.WeakSet[Store]] = {}
_open_lock = threading.Lock()


def _stores_of(database: str) -> list[Store]:
    with _open_lock:
        return list(_open_stores.get(database, ()))


def _unusable(exc: DBAPIError) -> bool:
    """The database itself failed (full, locked, broken, unreachable), not a statement."""
    return isinstance(exc, (OperationalError, InterfaceError, InternalError)) or (
        type(exc) is DatabaseError
    )


def _broken_connection(exc: DBAPIError) -> bool:
    """A connection that a new one may replace: lost, closed, or left with a stale WAL index.

    The last happens when something else in this process opens and closes the database
    file (SQLite's POSIX locks go with the close) and another process then deletes the WAL
    files under the open connection: SQLite answers "disk I/O error" from then on.
    """
    if exc.connection_invalidated:
        return True
    message = str(exc.orig).lower()
    return any(
        sign in message
        for sign in ("disk i/o error", "closed database", "database disk image is malformed")
    )


Method = TypeVar("Method", bound=Callable[..., Any])


def _recovering(method: Method) -> Method:
    """A history call that survives one broken connection and fails in one clear sentence.

    Every transaction either committed or rolled back when SQLAlchemy raises, so calling
    again on fresh connections is safe.
    """

    @functools.wraps(method)
    def call(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except DBAPIError as exc:
            if not _unusable(exc):
                raise
            if not _broken_connection(exc):
                raise self._failure(exc) from exc
        self._reconnect()
        try:
            return method(self, *args, **kwargs)
        except DBAPIError as exc:
            if not _unusable(exc):
                raise
            raise self._failure(exc) from exc

    return call  # type: ignore[return-value]


class Store:
    """The run history of one project."""

    def __init__(self, url: str):
        self.url = url
        sqlite = url.startswith("sqlite")
        # pre_ping: a server-side database may have dropped an idle connection.
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=not sqlite)
        database = self.engine.url.database if sqlite else None
        self.database = os.path.abspath(database) if database and database != ":memory:" else None
        self.where = self.database or self.engine.url.render_as_string(hide_password=True)
        if sqlite:
            event.listen(self.engine, "connect", self._connected)
        if self.database:
            event.listen(self.engine, "checkout", self._checked_out)
            with _open_lock:
                _open_stores.setdefault(self.database, weakref.WeakSet()).add(self)
        self._create()

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record)
        if self.database:
            # Reading once opens the WAL index, so the one this connection uses is known.
            dbapi_connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
            record.info["wal_index"] = _wal_index(self.database)

    def _checked_out(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Replace a connection whose WAL files were deleted under it before it is used.

        Its writes would go to a deleted file (lost to every other process) and a later
        checkpoint could overwrite newer pages; a new connection sees the files there are.
        """
        assert self.database is not None
        if record.info.get("wal_index") != _wal_index(self.database):
            for other in _stores_of(self.database):
                if other is not self:
                    other.engine.dispose()  # their idle connections share the stale index
            raise DisconnectionError("the WAL files of the run history were replaced")

    def _reconnect(self) -> None:
        """Close the idle connections of every Store of this database in this process."""
        for store in _stores_of(self.database) if self.database else [self]:
            store.engine.dispose()

    def _failure(self, exc: DBAPIError) -> HistoryError:
        lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
        reason = lines[0] if lines else type(exc).__name__
        if self.database and "full" not in reason and _disk_full(self.database):
            reason += " (the disk it is on is full)"  # SQLite only says "disk I/O error"
        hint = "; free some space there and try again" if "full" in reason else ""
        return HistoryError(f"cannot use the run history at {self.where}: {reason}{hint}")

    @_recovering
    def _create(self) -> None:
        # Several processes (a scheduler, a run, `nbflow show`) may open a new history at
        # once: whoever loses a race to create a table or the schema row carries on.
        for attempt in range(20):
            try:
                metadata.create_all(self.engine)
                break
            except OperationalError as exc:
                if "already exists" not in str(exc.orig) or attempt == 19:
                    raise
                time.sleep(0.02 * (attempt + 1))  # another process is creating it
        self._check_columns()
        try:
            with self.engine.begin() as conn:
                found = conn.execute(select(meta.c.value).where(meta.c.name == "schema")).scalar()
                if found is None:
                    conn.execute(insert(meta).values(name="schema", value=str(SCHEMA_VERSION)))
        except IntegrityError:
            pass

    def _check_columns(self) -> None:
        """A database made by another nbflow version is refused rather than misread.

        Columns added since (`ADDED_COLUMNS`, each nullable) are added to an older history.
        """
        found = inspect(self.engine)
        for table in metadata.sorted_tables:
            have = {c["name"] for c in found.get_columns(table.name)}
            for name in ADDED_COLUMNS.get(table.name, ()):
                if name not in have:
                    self._add_column(table, name)
                    have.add(name)
            missing = [c.name for c in table.columns if c.name not in have]
            if missing:
                raise HistoryError(
                    f"the run history at {self.where} was made by another version of nbflow (table {table.name} lacks "
                    f"{', '.join(missing)}); move it aside to start a new one"
                )

    def _add_column(self, table: Table, name: str) -> None:
        column = table.c[name]
        kind = column.type.compile(dialect=self.engine.dialect)
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")
        except (OperationalError, DBAPIError) as exc:  # another process added it first
            if name not in {c["name"] for c in inspect(self.engine).get_columns(table.name)}:
                raise exc

    def close(self) -> None:
        if self.database:
            with _open_lock:
                _open_stores.get(self.database, weakref.WeakSet()).discard(self)
        self.engine.dispose()

    # -- writing (the runner only) -------------------------------------------------------

    @_recovering
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
            return self._insert_run(
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

    # -- a scheduler's fires and run slots ----------------------------------------------
    #
    # A run holds one of its workflow's `max_concurrent_runs` slots while it is active and
    # has a runner (`runner_pid`): manual runs, and scheduled ones handed to a runner. A
    # scheduled run waiting for a slot is `queued` with no runner yet, so it belongs to no
    # scheduler: whichever scheduler finds a free slot first starts the oldest one. Every
    # decision about a workflow's slots is taken under that workflow's lock (its
    # `trigger_states` row, written first thing in the transaction: a row lock on
    # PostgreSQL, the database's write lock on SQLite), so schedulers in other processes
    # decide one after another on what the others committed.

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

    @_recovering
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

    @_recovering
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

    @_recovering
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

    @_recovering
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

    @_recovering
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

    @_recovering
    def trigger_state(self, workflow: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(trigger_states).where(trigger_states.c.workflow == workflow)
            ).first()
            return dict(row._mapping) if row else None

    @_recovering
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

    # -- backfills ------------------------------------------------------------------------
    #
    # A backfill is a list of fire times; each is started like a scheduler's fire, through
    # `claim_fire` (trigger `backfill`, key `ID@FIRE_TIME`), so each runs exactly once
    # whichever schedulers serve the backfill and however often they are restarted.

    @_recovering
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

    @_recovering
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

    @_recovering
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

    @_recovering
    def end_backfill(self, backfill_id: int, state: str, now: float) -> bool:
        """Mark a running backfill finished or canceled; False if it had ended already."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(backfills)
                .where(backfills.c.id == backfill_id, backfills.c.state == "running")
                .values(state=state, end_time=now)
            )
            return bool(changed.rowcount)

    @_recovering
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

    # -- scheduler heartbeats (rows `scheduler:HOST:PID` of nbflow_meta) --------------------

    @_recovering
    def beat_scheduler(self, key: str, info: dict[str, Any]) -> None:
        """Record that the scheduler `key` is alive (`info` holds its `seen` time)."""
        name = f"scheduler:{key}"
        value = json.dumps(info)
        with self.engine.begin() as conn:
            changed = conn.execute(update(meta).where(meta.c.name == name).values(value=value))
            if changed.rowcount == 0:
                conn.execute(insert(meta).values(name=name, value=value))

    @_recovering
    def drop_scheduler(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(meta).where(meta.c.name == f"scheduler:{key}"))

    @_recovering
    def schedulers(self) -> list[dict[str, Any]]:
        """Every scheduler heartbeat recorded, live or stale."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(meta.c.value).where(meta.c.name.like("scheduler:%")))
            return [json.loads(value) for (value,) in rows]

    @_recovering
    def set_paused(self, workflow: str, paused: bool, now: float) -> None:
        self.ensure_trigger_state(workflow, now)
        with self.engine.begin() as conn:
            conn.execute(
                update(trigger_states)
                .where(trigger_states.c.workflow == workflow)
                .values(paused=paused)
            )

    @_recovering
    def reset_trigger_since(self, workflow: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(trigger_states)
                .where(trigger_states.c.workflow == workflow)
                .values(since=now)
            )

    @_recovering
    def last_fire(self, workflow: str, trigger: str) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.max(fires.c.fire_time)).where(
                    fires.c.workflow == workflow, fires.c.trigger == trigger
                )
            ).scalar()

    @_recovering
    def seen_paths(self, workflow: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(seen_files.c.path).where(seen_files.c.workflow == workflow))
            return {r[0] for r in rows}

    @_recovering
    def active_runs(self, workflow: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs)
                .where(runs.c.workflow == workflow, runs.c.state.in_(ACTIVE_RUN_STATES))
                .order_by(runs.c.id)
            )
            return [dict(r._mapping) for r in rows]

    @_recovering
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

    @_recovering
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

    @_recovering
    def update_run(self, run_id: int, **fields: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**fields))

    @_recovering
    def update_task(self, run_id: int, key: str, **fields: Any) -> None:
        if "values" in fields:
            fields["task_values"] = fields.pop("values")
        with self.engine.begin() as conn:
            conn.execute(
                update(task_runs)
                .where(task_runs.c.run_id == run_id, task_runs.c.key == key)
                .values(**fields)
            )

    @_recovering
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

    @_recovering
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

    @_recovering
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

    @_recovering
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

    @_recovering
    def cancel_requested(self, run_id: int) -> bool:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(runs.c.cancel_requested).where(runs.c.id == run_id)
            ).scalar()
            return value is not None

    @_recovering
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

    @_recovering
    def finish_repair(self, run_id: int, number: int, result: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(repairs)
                .where(repairs.c.run_id == run_id, repairs.c.number == number)
                .values(result=result, end_time=now)
            )

    @_recovering
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

    @_recovering
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

    @_recovering
    def last_attempts(self, run_id: int) -> dict[str, int]:
        """The highest attempt number of every task and iteration of a run."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(attempts.c.task_key, func.max(attempts.c.number))
                .where(attempts.c.run_id == run_id)
                .group_by(attempts.c.task_key)
            )
            return {key: int(number) for key, number in rows}

    @_recovering
    def add_notifications(self, run_id: int, deliveries: list[dict[str, Any]]) -> None:
        if deliveries:
            with self.engine.begin() as conn:
                conn.execute(insert(notifications), [{"run_id": run_id, **d} for d in deliveries])

    @_recovering
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

    @_recovering
    def set_trigger_info(self, run_id: int, info: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(run_triggers).values(run_id=run_id, info=info))

    @_recovering
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

    @_recovering
    def unfinished_runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.state.in_(ACTIVE_RUN_STATES)))
            return [dict(r._mapping) for r in rows]

    @_recovering
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

    @_recovering
    def list_runs(self, workflow: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if workflow:
            query = query.where(runs.c.workflow == workflow)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @_recovering
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
