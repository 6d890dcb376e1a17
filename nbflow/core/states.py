"""Task and run states, `run_if` rules, a run's result, a dead runner's run closed; pure, no I/O.

The strings are stored in the run history: never rename one once stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any


class TaskState(str, Enum):
    PENDING = "pending"  # waiting for upstream tasks
    QUEUED = "queued"  # eligible, waiting for a free slot
    RUNNING = "running"  # an attempt is executing
    WAITING_FOR_RETRY = "waiting_for_retry"  # an attempt failed; the next starts after retry_delay
    SUCCESS = "success"  # finished without error
    FAILED = "failed"  # the last attempt raised, exited non-zero, or its kernel died
    TIMED_OUT = "timed_out"  # the last attempt hit its timeout
    CANCELED = "canceled"  # canceled by a person or by the run's timeout
    EXCLUDED = "excluded"  # branch not taken or failure handler not needed; counts as success
    UPSTREAM_FAILED = "upstream_failed"  # not run because an upstream task failed
    UPSTREAM_CANCELED = "upstream_canceled"  # not run because an upstream task was canceled
    DISABLED = "disabled"  # `disabled: true`; counts as success for what depends on it
    # Left out of a partial run (`nbflow run --only`); counts as success for what depends
    # on it, which reads the values it left in the run they were taken from.
    SKIPPED_BY_SELECTION = "skipped_by_selection"

    def __str__(self) -> str:
        return self.value


class RunState(str, Enum):
    QUEUED = "queued"  # accepted, not started (waiting for a slot)
    RUNNING = "running"  # tasks are being run
    SUCCESS = "success"  # every task succeeded, was excluded or disabled
    SUCCESS_WITH_FAILURES = "success_with_failures"  # a failure was handled; every leaf succeeded
    FAILED = "failed"  # a leaf failed, or was not run because of a failure
    TIMED_OUT = "timed_out"  # stopped by the run's timeout
    CANCELED = "canceled"  # canceled by a person
    SKIPPED = "skipped"  # over max_concurrent_runs with queue: false

    def __str__(self) -> str:
        return self.value


TERMINAL_TASK_STATES = frozenset(
    {
        TaskState.SUCCESS,
        TaskState.FAILED,
        TaskState.TIMED_OUT,
        TaskState.CANCELED,
        TaskState.EXCLUDED,
        TaskState.UPSTREAM_FAILED,
        TaskState.UPSTREAM_CANCELED,
        TaskState.DISABLED,
        TaskState.SKIPPED_BY_SELECTION,
    }
)
ACTIVE_TASK_STATES = frozenset({TaskState.QUEUED, TaskState.RUNNING, TaskState.WAITING_FOR_RETRY})
# For what depends on them, these count as success.
SUCCESS_LIKE = frozenset(
    {TaskState.SUCCESS, TaskState.EXCLUDED, TaskState.DISABLED, TaskState.SKIPPED_BY_SELECTION}
)
FAILED_LIKE = frozenset({TaskState.FAILED, TaskState.TIMED_OUT, TaskState.UPSTREAM_FAILED})
CANCELED_LIKE = frozenset({TaskState.CANCELED, TaskState.UPSTREAM_CANCELED})
TERMINAL_RUN_STATES = frozenset(
    {
        RunState.SUCCESS,
        RunState.SUCCESS_WITH_FAILURES,
        RunState.FAILED,
        RunState.TIMED_OUT,
        RunState.CANCELED,
        RunState.SKIPPED,
    }
)
# Runs not finished yet, as the history stores them (plain strings, for SQL `IN`).
ACTIVE_RUN_STATES = (RunState.QUEUED.value, RunState.RUNNING.value)

RUN = "run"  # decide(): the task should run
UNMET_OUTCOME = "unmet_outcome"  # edge_state(): an outcome edge whose outcome did not happen


def edge_state(state: TaskState, wanted: bool | None, outcome: bool | None) -> TaskState | str:
    """The state an edge passes on; UNMET_OUTCOME for an outcome edge not taken."""
    if wanted is not None and state == TaskState.SUCCESS and outcome is not wanted:
        return UNMET_OUTCOME
    # A condition left out of a partial run passes on the outcome of the run it comes from.
    if (
        wanted is not None
        and state == TaskState.SKIPPED_BY_SELECTION
        and outcome is not None
        and outcome is not wanted
    ):
        return UNMET_OUTCOME
    return state


def decide(run_if: str, upstream: Sequence[TaskState | str]) -> TaskState | str:
    """Whether a task whose upstream edges are all terminal runs (RUN) or which state it gets.

    `upstream` holds one state per edge, as returned by `edge_state`. An unmet outcome edge
    excludes the task whatever its other edges say (the branch was not taken).
    """
    if not upstream:
        return RUN
    if UNMET_OUTCOME in upstream:
        return TaskState.EXCLUDED
    if all(s == TaskState.EXCLUDED for s in upstream):
        return TaskState.EXCLUDED
    failed = any(s in FAILED_LIKE for s in upstream)
    canceled = any(s in CANCELED_LIKE for s in upstream)
    not_run = TaskState.UPSTREAM_CANCELED if canceled and not failed else TaskState.UPSTREAM_FAILED
    if run_if == "all_success":
        return RUN if all(s in SUCCESS_LIKE for s in upstream) else not_run
    if run_if == "at_least_one_success":
        return RUN if any(s in SUCCESS_LIKE for s in upstream) else not_run
    if run_if == "none_failed":
        if failed or canceled:
            return not_run
        ran = (TaskState.SUCCESS, TaskState.SKIPPED_BY_SELECTION)
        return RUN if any(s in ran for s in upstream) else TaskState.EXCLUDED
    if run_if == "all_done":
        return RUN
    if run_if == "at_least_one_failed":
        return RUN if failed or canceled else TaskState.EXCLUDED
    if run_if == "all_failed":
        return (
            RUN if all(s in FAILED_LIKE | CANCELED_LIKE for s in upstream) else TaskState.EXCLUDED
        )
    raise ValueError(f"unknown run_if {run_if!r}")


def run_result(states: Mapping[str, TaskState], upstream: Mapping[str, Sequence[str]]) -> RunState:
    """The result of a run whose tasks are all terminal, from its leaf tasks."""
    if all(s in SUCCESS_LIKE for s in states.values()):
        return RunState.SUCCESS
    used = {dep for deps in upstream.values() for dep in deps}
    leaves = [key for key in states if key not in used]
    if all(states[key] in SUCCESS_LIKE for key in leaves):
        return RunState.SUCCESS_WITH_FAILURES
    return RunState.FAILED


# -- a run whose runner died (crash recovery) -------------------------------------------

RUNNER_DIED = "RunnerDied"  # the error name its running attempts are given


@dataclass(frozen=True)
class OrphanClosing:
    """What closing an orphaned run changes, row by row: new values by row id."""

    run: dict[str, Any]
    tasks: dict[int, dict[str, Any]]
    attempts: dict[int, dict[str, Any]]
    repairs: dict[int, dict[str, Any]]
    leftovers: list[dict[str, Any]]  # the attempts that were running: their processes end


def close_orphan(
    run: Mapping[str, Any],
    tasks: Sequence[Mapping[str, Any]],
    attempts: Sequence[Mapping[str, Any]],
    repairs: Sequence[Mapping[str, Any]],
    *,
    now: float,
    message: str,
) -> OrphanClosing | None:
    """Finish a run whose runner died; None when it has finished already (someone closed it).

    The run fails; so do its running attempts (as `RunnerDied`) and its tasks that had
    started or were about to (queued, running, waiting for a retry); tasks still pending
    become `upstream_failed`; an unfinished repair of it failed. Rows are mappings with an
    `id` and `state` (a repair: `result`).
    """
    if run["state"] not in ACTIVE_RUN_STATES:
        return None
    ended = {"end_time": now, "message": message}
    task_changes: dict[int, dict[str, Any]] = {}
    for task in tasks:
        if task["state"] in ACTIVE_TASK_STATES:
            task_changes[task["id"]] = {"state": TaskState.FAILED.value, **ended}
        elif task["state"] == TaskState.PENDING:
            task_changes[task["id"]] = {"state": TaskState.UPSTREAM_FAILED.value, **ended}
    running = [a for a in attempts if a["state"] == TaskState.RUNNING]
    died = {
        "state": TaskState.FAILED.value,
        "end_time": now,
        "error_ename": RUNNER_DIED,
        "error_evalue": message,
    }
    return OrphanClosing(
        run={"state": RunState.FAILED.value, **ended},
        tasks=task_changes,
        attempts={a["id"]: dict(died) for a in running},
        repairs={
            r["id"]: {"result": RunState.FAILED.value, "end_time": now}
            for r in repairs
            if r["result"] is None
        },
        leftovers=[dict(a) for a in running],
    )
