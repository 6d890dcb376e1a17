"""History tables: the SQL schema of the run history (SQLAlchemy Core), and its version.

Times are stored as seconds since the epoch (UTC) and values as JSON text, which every
backend keeps alike. A table added later is created in an older history; a column is not
(`engine.Database` refuses a history whose tables lack one).
"""

from __future__ import annotations

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
)

SCHEMA_VERSION = 1
# Nullable columns added after a history may have been made: added to it when it is opened.
ADDED_COLUMNS = {"attempts": ("executor",)}

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
