"""states.close_orphan: what a run whose runner died becomes, decided without a database."""

from __future__ import annotations

import pytest

from nbflow.core.states import ACTIVE_TASK_STATES, TERMINAL_TASK_STATES, TaskState, close_orphan


def task(row_id: int, state: str) -> dict:
    return {"id": row_id, "key": f"t{row_id}", "state": state}


def test_a_finished_run_is_left_alone():
    for state in ("success", "failed", "canceled", "skipped", "timed_out"):
        assert close_orphan({"state": state}, [], [], [], now=1.0, message="m") is None


@pytest.mark.parametrize("run_state", ["queued", "running"])
def test_the_run_fails_with_the_message(run_state):
    closing = close_orphan({"state": run_state}, [], [], [], now=7.0, message="runner died")
    assert closing is not None
    assert closing.run == {"state": "failed", "end_time": 7.0, "message": "runner died"}
    assert (closing.tasks, closing.attempts, closing.repairs, closing.leftovers) == ({}, {}, {}, [])


def test_started_tasks_fail_pending_ones_are_upstream_failed_finished_ones_stay():
    states = [s.value for s in TaskState]
    tasks = [task(i, s) for i, s in enumerate(states)]
    closing = close_orphan({"state": "running"}, tasks, [], [], now=7.0, message="m")
    assert closing is not None
    got = {states[i]: change["state"] for i, change in closing.tasks.items()}
    assert got == {
        "queued": "failed",
        "running": "failed",
        "waiting_for_retry": "failed",
        "pending": "upstream_failed",
    }
    assert set(got) == {s.value for s in ACTIVE_TASK_STATES} | {"pending"}
    assert not set(got) & {s.value for s in TERMINAL_TASK_STATES}
    assert all(c["end_time"] == 7.0 and c["message"] == "m" for c in closing.tasks.values())


def test_running_attempts_die_and_are_handed_back_for_their_processes():
    attempts = [
        {"id": 1, "task_key": "a", "number": 1, "state": "failed", "pid": 10},
        {"id": 2, "task_key": "a", "number": 2, "state": "running", "pid": 11},
        {"id": 3, "task_key": "b", "number": 1, "state": "success", "pid": 12},
    ]
    closing = close_orphan({"state": "running"}, [], attempts, [], now=7.0, message="gone")
    assert closing is not None
    assert closing.attempts == {
        2: {"state": "failed", "end_time": 7.0, "error_ename": "RunnerDied", "error_evalue": "gone"}
    }
    assert closing.leftovers == [attempts[1]] and closing.leftovers[0] is not attempts[1]


def test_only_the_unfinished_repair_fails():
    repairs = [{"id": 1, "result": "failed"}, {"id": 2, "result": None}]
    closing = close_orphan({"state": "running"}, [], [], repairs, now=7.0, message="m")
    assert closing is not None
    assert closing.repairs == {2: {"result": "failed", "end_time": 7.0}}
