"""The run history's contract: every backend (SQLite, PostgreSQL) keeps it alike.

Each test runs once per backend (`history_url` in conftest.py); the PostgreSQL half is a
real server these tests start, skipped only where its binaries are not installed. Those of
SQLite's own file, WAL and locks (at the end, `sqlite_only`) run on SQLite alone.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, update
from sqlalchemy.exc import IntegrityError

from nbflow.history import Store
from nbflow.history.tables import SCHEMA_VERSION, meta, metadata, runs

# A test of SQLite's file, WAL or locks: only the SQLite half of `history_url`.
sqlite_only = pytest.mark.parametrize("history_url", ["sqlite"], indirect=True)


def sqlite_file(url: str) -> Path:
    """The file of a SQLite history's URL."""
    return Path(url.removeprefix("sqlite:///"))


RUNNER = (4242, "box", 12.5)  # (pid, host, started) of a runner

TASKS = [
    ("ingest", "notebook", []),
    ("publish", "notebook", [{"task": "ingest", "outcome": None}]),
]


def new_run(store: Store, workflow: str = "daily", now: float = 100.0, **extra: Any) -> int:
    extra.setdefault("parameters", {"region": "eu", "code": "007", "list": [1, 2]})
    extra.setdefault("state", "running")
    return store.create_run(
        workflow=workflow,
        workflow_path=f"/p/workflows/{workflow}.yaml",
        trigger_type=extra.pop("trigger_type", "manual"),
        trigger_time=now,
        tasks=extra.pop("tasks", TASKS),
        now=now,
        **extra,
    )


def fire(
    store: Store,
    key: str,
    *,
    workflow: str = "w",
    trigger: str = "schedule",
    fire_time: float = 1.0,
    max_concurrent_runs: int = 1,
    queue: bool = True,
    now: float = 1.0,
    **extra: Any,
) -> tuple[int, str] | None:
    claim = {"workflow": workflow, "trigger": trigger, "fire_key": key, "fire_time": fire_time}
    claim["files"] = extra.pop("files", None)
    return store.claim_fire(
        claim,
        max_concurrent_runs=max_concurrent_runs,
        queue=queue,
        runner=RUNNER,
        now=now,
        workflow_path=f"workflows/{workflow}.yaml",
        trigger_type=extra.pop("trigger_type", trigger),
        trigger_time=fire_time,
        parameters={},
        tasks=[("t", "command", [])],
        **extra,
    )


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Make the calls from as many threads, released together; their results in order."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls), timeout=60)

    def call(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a call never returned"
    assert errors == []
    return results


# -- runs and tasks ---------------------------------------------------------------------


def test_a_created_run_reads_back_with_its_tasks(store):
    run_id = new_run(store, runner_pid=123, runner_host="box", runner_started=9.5)
    run = store.get_run(run_id)
    assert run["id"] == run_id
    assert (run["workflow"], run["workflow_path"]) == ("daily", "/p/workflows/daily.yaml")
    assert (run["state"], run["trigger_type"], run["trigger_time"]) == ("running", "manual", 100.0)
    assert run["created_time"] == 100.0 and run["repair_count"] == 0
    assert run["parameters"] == {"region": "eu", "code": "007", "list": [1, 2]}
    assert (run["runner_pid"], run["runner_host"], run["runner_started"]) == (123, "box", 9.5)
    assert run["start_time"] is None and run["end_time"] is None
    assert run["cancel_requested"] is None and run["parent_run_id"] is None
    assert [(t["key"], t["kind"], t["position"]) for t in run["tasks"]] == [
        ("ingest", "notebook", 0),
        ("publish", "notebook", 1),
    ]
    assert all(t["state"] == "pending" and t["attempts"] == [] for t in run["tasks"])
    assert run["tasks"][1]["depends_on"] == [{"task": "ingest", "outcome": None}]
    assert run["repairs"] == [] and run["notifications"] == []
    assert run["trigger_info"] is None and run["duration_warnings"] == []


def test_an_unknown_run_is_none(store):
    assert store.get_run(999) is None


def test_runs_are_listed_newest_first_by_workflow_with_a_limit(store):
    first = new_run(store, "daily", now=100.0)
    other = new_run(store, "other", now=200.0)
    third = new_run(store, "daily", now=300.0)
    assert [r["id"] for r in store.list_runs()] == [third, other, first]
    assert [r["id"] for r in store.list_runs("daily")] == [third, first]
    assert [r["id"] for r in store.list_runs(limit=1)] == [third]
    assert [r["id"] for r in store.recent_runs("daily", "manual", limit=5)] == [third, first]
    assert store.recent_runs("daily", "schedule") == []


def test_a_child_run_records_its_parent(store):
    parent = new_run(store)
    child = new_run(store, "child", parent_run_id=parent)
    assert store.get_run(child)["parent_run_id"] == parent


def test_run_and_task_updates_are_read_back(store, second_store):
    run_id = new_run(store)
    store.update_run(run_id, state="running", start_time=101.0)
    store.update_task(
        run_id, "ingest", state="success", outcome=True, values={"rows": 3}, end_time=102.0
    )
    run = second_store.get_run(run_id)
    assert (run["state"], run["start_time"]) == ("running", 101.0)
    ingest = run["tasks"][0]
    assert (ingest["state"], ingest["outcome"], ingest["end_time"]) == ("success", True, 102.0)
    assert ingest["task_values"] == {"rows": 3}


def test_tasks_a_workflow_gained_are_added_after_the_others(store):
    run_id = new_run(store)
    store.add_missing_tasks(run_id, [])
    store.add_missing_tasks(run_id, [("late", "command", [{"task": "publish", "outcome": None}])])
    tasks = store.get_run(run_id)["tasks"]
    assert [(t["key"], t["position"], t["state"]) for t in tasks][-1] == ("late", 2, "pending")


def test_run_queries_by_state_and_time(store):
    active = new_run(store, "w", now=1.0)
    done = new_run(store, "w", now=2.0)
    store.update_run(done, state="success", end_time=50.0)
    failed = new_run(store, "w", now=3.0)
    store.update_run(failed, state="failed", end_time=60.0)
    child = new_run(store, "w", now=4.0, parent_run_id=done)
    store.update_run(child, state="success", end_time=70.0)
    assert [r["id"] for r in store.active_runs("w")] == [active]
    assert {r["id"] for r in store.unfinished_runs()} == {active}
    # Only top-level runs, ended in those states, at or after `since`, by end time.
    found = store.finished_runs(["w"], ["success", "failed"], since=50.0)
    assert [r["id"] for r in found] == [done, failed]
    assert [r["id"] for r in store.finished_runs(["w"], ["success"], since=51.0)] == []
    at = store.runs_at("w", ["manual"], [2.0, 3.0, 9.0])
    assert sorted(r["id"] for r in at) == [done, failed]
    assert (
        store.runs_at("w", ["schedule"], [2.0]) == [] and store.runs_at("w", ["manual"], []) == []
    )


def test_create_and_get_run(store):
    run_id = new_run(store, runner_pid=123, runner_host="box", state="queued")
    run = store.get_run(run_id)
    assert run["id"] == run_id
    assert run["workflow"] == "daily"
    assert run["workflow_path"] == "/p/workflows/daily.yaml"
    assert run["state"] == "queued"
    assert run["trigger_type"] == "manual"
    assert run["trigger_time"] == 100.0
    assert run["created_time"] == 100.0
    assert run["parameters"] == {"region": "eu", "code": "007", "list": [1, 2]}
    assert run["repair_count"] == 0
    assert (run["runner_pid"], run["runner_host"]) == (123, "box")
    assert run["start_time"] is None and run["end_time"] is None
    assert [t["key"] for t in run["tasks"]] == ["ingest", "publish"]
    assert [t["position"] for t in run["tasks"]] == [0, 1]
    assert all(t["state"] == "pending" for t in run["tasks"])
    assert run["tasks"][1]["depends_on"] == [{"task": "ingest", "outcome": None}]
    assert all(t["attempts"] == [] and t["task_values"] == {} for t in run["tasks"])


def test_update_run_and_task(store):
    run_id = new_run(store)
    store.update_run(run_id, state="running", start_time=101.0)
    store.update_task(
        run_id,
        "ingest",
        state="success",
        values={"rows": 10, "day": "2024-01-05"},
        outcome=None,
        start_time=101.0,
        end_time=102.0,
        message="ok",
    )
    run = store.get_run(run_id)
    assert (run["state"], run["start_time"]) == ("running", 101.0)
    ingest, publish = run["tasks"]
    assert ingest["state"] == "success"
    assert ingest["task_values"] == {"rows": 10, "day": "2024-01-05"}
    assert (ingest["start_time"], ingest["end_time"], ingest["message"]) == (101.0, 102.0, "ok")
    assert publish["state"] == "pending"  # only the named task changes


def test_list_runs_newest_first(store):
    first = new_run(store, "daily", now=100.0)
    second = new_run(store, "other", now=200.0)
    third = new_run(store, "daily", now=300.0)
    assert [r["id"] for r in store.list_runs()] == [third, second, first]
    assert [r["id"] for r in store.list_runs("daily")] == [third, first]
    assert [r["id"] for r in store.list_runs(limit=2)] == [third, second]
    assert store.list_runs("nope") == []
    assert "tasks" not in store.list_runs()[0]


def test_reopening_keeps_the_history(history_url):
    first = Store(history_url)
    run_id = new_run(first)
    first.close()
    again = Store(history_url)
    try:
        assert again.get_run(run_id)["workflow"] == "daily"
    finally:
        again.close()


def test_second_store_reads_what_the_first_wrote(store, second_store):
    reader = second_store
    run_id = new_run(store)
    store.update_run(run_id, state="running")
    assert reader.get_run(run_id)["state"] == "running"
    store.update_run(run_id, state="success", end_time=110.0)
    run = reader.get_run(run_id)
    assert (run["state"], run["end_time"]) == ("success", 110.0)
    assert [r["id"] for r in reader.list_runs()] == [run_id]


def test_reader_is_not_blocked_by_an_open_write(store, second_store):
    run_id = new_run(store)
    store.update_run(run_id, state="running")
    reader = second_store
    with store.engine.connect() as conn:
        tx = conn.begin()
        conn.execute(update(runs).where(runs.c.id == run_id).values(state="success"))
        # mid-transaction: the reader sees the last committed state, without waiting
        assert reader.get_run(run_id)["state"] == "running"
        tx.commit()
    assert reader.get_run(run_id)["state"] == "success"


# -- attempts, iterations, what a run sent --------------------------------------------


def test_attempts_are_kept_one_per_number_with_their_artifacts(store):
    run_id = new_run(store)
    store.add_attempt(
        run_id, "ingest", 1, start_time=1.0, parameters={"a": 1}, artifact="runs/1/ingest.ipynb"
    )
    store.finish_attempt(
        run_id,
        "ingest",
        1,
        state="failed",
        end_time=2.0,
        error={"ename": "ValueError", "evalue": "bad", "cell_index": 3, "traceback": "tb"},
    )
    store.add_attempt(run_id, "ingest", 2, start_time=3.0, parameters={"a": 1}, artifact=None)
    store.set_attempt_pid(run_id, "ingest", 2, 777, 2.5)
    store.finish_attempt(
        run_id, "ingest", 2, state="success", end_time=4.0, values={"v": [1]}, output={"o": 1}
    )
    first, second = store.get_run(run_id)["tasks"][0]["attempts"]
    assert (first["number"], first["state"], first["artifact"]) == (
        1,
        "failed",
        "runs/1/ingest.ipynb",
    )
    assert (first["error_ename"], first["error_evalue"], first["error_cell_index"]) == (
        "ValueError",
        "bad",
        3,
    )
    assert (second["state"], second["task_values"], second["output"]) == (
        "success",
        {"v": [1]},
        {"o": 1},
    )
    assert (second["pid"], second["pid_started"]) == (777, 2.5)
    assert store.last_attempts(run_id) == {"ingest": 2}


def test_only_running_leaves_a_finished_attempt_alone(store):
    run_id = new_run(store)
    store.add_attempt(run_id, "ingest", 1, start_time=1.0, parameters={}, artifact=None)
    store.finish_attempt(run_id, "ingest", 1, state="success", end_time=2.0)
    store.finish_attempt(run_id, "ingest", 1, state="canceled", end_time=3.0, only_running=True)
    (attempt,) = store.get_run(run_id)["tasks"][0]["attempts"]
    assert (attempt["state"], attempt["end_time"]) == ("success", 2.0)


def test_iterations_are_rows_of_their_own_and_made_anew(store):
    run_id = new_run(store)
    store.add_iterations(run_id, "ingest", ["a", {"b": 2}])
    tasks = store.get_run(run_id)["tasks"]
    assert [(t["key"], t["parent_key"], t["iteration"], t["input"]) for t in tasks] == [
        ("ingest", None, None, None),
        ("ingest[0]", "ingest", 0, "a"),
        ("ingest[1]", "ingest", 1, {"b": 2}),
        ("publish", None, None, None),
    ]
    store.add_iterations(run_id, "ingest", ["only"])  # a repair runs them anew
    keys = [t["key"] for t in store.get_run(run_id)["tasks"]]
    assert keys == ["ingest", "ingest[0]", "publish"]
    store.add_iterations(run_id, "ingest", [])
    assert [t["key"] for t in store.get_run(run_id)["tasks"]] == ["ingest", "publish"]


def test_notifications_warnings_and_trigger_info_belong_to_their_run(store):
    run_id = new_run(store)
    store.add_notifications(run_id, [])
    store.add_notifications(
        run_id,
        [
            {
                "event": "failure",
                "kind": "email",
                "target": "a@x",
                "ok": True,
                "error": None,
                "time": "t1",
            },
            {
                "event": "failure",
                "kind": "webhook",
                "target": "h",
                "ok": False,
                "error": "503",
                "time": "t2",
            },
        ],
    )
    store.add_duration_warning(run_id, task_key=None, attempt=None, threshold=5.0, now=9.0)
    store.add_duration_warning(run_id, task_key="ingest", attempt=1, threshold=2.0, now=10.0)
    store.set_trigger_info(run_id, {"upstream_run": 7})
    run = store.get_run(run_id)
    assert [(n["kind"], n["ok"], n["error"]) for n in run["notifications"]] == [
        ("email", True, None),
        ("webhook", False, "503"),
    ]
    assert [(w["task_key"], w["attempt"], w["threshold"]) for w in run["duration_warnings"]] == [
        (None, None, 5.0),
        ("ingest", 1, 2.0),
    ]
    assert run["trigger_info"] == {"upstream_run": 7}


def test_attempts_are_kept_one_per_number(store):
    run_id = new_run(store)
    store.add_attempt(
        run_id, "ingest", 1, start_time=101.0, parameters={"p": 1}, artifact="/r/ingest/1.ipynb"
    )
    store.finish_attempt(
        run_id,
        "ingest",
        1,
        state="failed",
        end_time=102.0,
        error={
            "ename": "ValueError",
            "evalue": "bad row",
            "cell_index": 3,
            "traceback": "Traceback...",
        },
    )
    store.add_attempt(
        run_id, "ingest", 2, start_time=103.0, parameters={"p": 1}, artifact="/r/ingest/2.ipynb"
    )
    store.finish_attempt(run_id, "ingest", 2, state="success", end_time=104.0)
    attempts = store.get_run(run_id)["tasks"][0]["attempts"]
    assert [a["number"] for a in attempts] == [1, 2]
    first, second = attempts
    assert first["state"] == "failed"
    assert (first["start_time"], first["end_time"]) == (101.0, 102.0)
    assert first["artifact"] == "/r/ingest/1.ipynb"
    assert first["parameters"] == {"p": 1}
    assert (first["error_ename"], first["error_evalue"]) == ("ValueError", "bad row")
    assert (first["error_cell_index"], first["error_traceback"]) == (3, "Traceback...")
    assert second["state"] == "success"
    assert second["error_ename"] is None
    assert store.get_run(run_id)["tasks"][1]["attempts"] == []


def test_running_attempt_without_artifact(store):
    run_id = new_run(store)
    store.add_attempt(run_id, "ingest", 1, start_time=101.0, parameters={}, artifact=None)
    attempt = store.get_run(run_id)["tasks"][0]["attempts"][0]
    assert attempt["state"] == "running"
    assert attempt["end_time"] is None
    assert attempt["artifact"] is None


def test_an_attempt_is_never_overwritten(store):
    run_id = new_run(store)
    store.add_attempt(run_id, "ingest", 1, start_time=101.0, parameters={}, artifact=None)
    with pytest.raises(IntegrityError):
        store.add_attempt(run_id, "ingest", 1, start_time=105.0, parameters={}, artifact=None)
    assert store.get_run(run_id)["tasks"][0]["attempts"][0]["start_time"] == 101.0


# -- cancel requests ----------------------------------------------------------------------


def test_a_cancel_request_is_recorded_once_for_an_active_run(store):
    run_id = new_run(store, runner_pid=1, runner_host="box")
    assert store.cancel_requested(run_id) is False
    assert store.request_cancel(run_id, 5.0) is True
    assert store.request_cancel(run_id, 6.0) is True
    run = store.get_run(run_id)
    assert run["cancel_requested"] == 5.0 and run["state"] == "running"  # the runner acts
    assert store.cancel_requested(run_id) is True
    store.update_run(run_id, state="canceled", end_time=7.0)
    assert store.request_cancel(run_id, 8.0) is False


def test_canceling_a_run_waiting_for_a_slot_ends_it_at_once(store):
    (running, fired), (waiting, queued) = fire(store, "a"), fire(store, "b")
    assert (fired, queued) == ("fired", "queued")
    assert store.request_cancel(waiting, 5.0) is True
    run = store.get_run(waiting)
    assert (run["state"], run["end_time"], run["message"]) == (
        "canceled",
        5.0,
        "canceled while queued",
    )
    assert [(t["state"], t["message"]) for t in run["tasks"]] == [
        ("canceled", "not started: the run was canceled")
    ]
    assert store.get_run(running)["state"] == "queued"  # handed to its runner, untouched


def test_canceling_a_run_that_waits_for_a_slot_ends_it_at_once(store):
    import os
    import socket

    store.ensure_trigger_state("w", 0.0)
    runner = (os.getpid(), socket.gethostname(), None)

    def fire_one(key: str) -> tuple[int, str]:
        claimed = store.claim_fire(
            {"workflow": "w", "trigger": "schedule", "fire_key": key, "fire_time": 1.0},
            max_concurrent_runs=1,
            queue=True,
            runner=runner,
            now=1.0,
            workflow_path="workflows/w.yaml",
            trigger_type="schedule",
            trigger_time=1.0,
            parameters={},
            tasks=[("t", "command", [])],
        )
        assert claimed is not None
        return claimed

    (running, fired), (waiting, queued) = fire_one("a"), fire_one("b")
    assert (fired, queued) == ("fired", "queued")
    # No runner would ever act on the request: the waiting run ends now.
    assert store.request_cancel(waiting, 5.0) is True
    run = store.get_run(waiting)
    assert (run["state"], run["end_time"], run["message"]) == (
        "canceled",
        5.0,
        "canceled while queued",
    )
    assert [(t["state"], t["message"]) for t in run["tasks"]] == [
        ("canceled", "not started: the run was canceled")
    ]
    store.update_run(running, state="success", end_time=6.0)
    assert store.start_queued("w", max_concurrent_runs=1, runner=runner, now=7.0) == []
    # A run with a runner is asked, as before: its runner cancels it.
    assert store.request_cancel(running, 8.0) is False  # finished already


# -- repairs --------------------------------------------------------------------------------


def claim(store: Store, run_id: int, expected: int, now: float = 20.0) -> bool:
    return store.claim_repair(
        run_id,
        expected_count=expected,
        now=now,
        tasks=["publish"],
        parameters={"region": "us"},
        runner_pid=55,
        runner_host="box",
        runner_started=19.0,
    )


def test_a_repair_is_claimed_by_its_number_and_a_stale_number_is_refused(store, second_store):
    run_id = new_run(store)
    assert claim(store, run_id, 0) is False  # still running: nothing to repair
    store.update_run(run_id, state="failed", end_time=10.0, message="boom")
    assert claim(store, run_id, 0) is True
    run = second_store.get_run(run_id)
    assert (run["state"], run["repair_count"], run["end_time"], run["message"]) == (
        "running",
        1,
        None,
        None,
    )
    assert run["parameters"] == {"region": "us"} and run["runner_pid"] == 55
    assert [(r["number"], r["tasks"], r["result"]) for r in run["repairs"]] == [
        (1, ["publish"], None)
    ]
    store.update_run(run_id, state="failed", end_time=30.0)
    assert claim(second_store, run_id, 0) is False  # a stale number: repair 1 was taken
    store.finish_repair(run_id, 1, "failed", 30.0)
    assert claim(second_store, run_id, 1) is True
    repairs = store.get_run(run_id)["repairs"]
    assert [(r["number"], r["result"], r["end_time"]) for r in repairs] == [
        (1, "failed", 30.0),
        (2, None, None),
    ]


def test_two_repairs_of_one_run_claimed_at_once_only_one_wins(store, second_store):
    run_id = new_run(store)
    store.update_run(run_id, state="failed", end_time=10.0)
    won = at_once([lambda: claim(store, run_id, 0), lambda: claim(second_store, run_id, 0)])
    assert sorted(won) == [False, True]
    assert [r["number"] for r in store.get_run(run_id)["repairs"]] == [1]


def test_reset_tasks_clears_what_they_did_and_keeps_their_attempts(store):
    run_id = new_run(store)
    store.add_attempt(run_id, "publish", 1, start_time=1.0, parameters={}, artifact=None)
    store.update_task(
        run_id, "publish", state="failed", outcome=False, values={"x": 1}, message="m"
    )
    store.reset_tasks(run_id, ["publish"])
    publish = store.get_run(run_id)["tasks"][1]
    assert (publish["state"], publish["outcome"], publish["task_values"], publish["message"]) == (
        "pending",
        None,
        {},
        None,
    )
    assert len(publish["attempts"]) == 1


# -- the trigger ledger ---------------------------------------------------------------------


def test_a_fire_claimed_by_two_schedulers_at_once_starts_one_run(store, second_store):
    for day in (1, 2, 3):
        key = f"2026-01-0{day}"
        got = at_once(
            [
                lambda s=s, key=key, day=day: fire(s, key, max_concurrent_runs=10, fire_time=day)
                for s in (store, second_store)
            ]
        )
        assert sorted(g is None for g in got) == [False, True], got
        (winner,) = [g for g in got if g is not None]
        assert winner[1] == "fired"
    assert len(store.list_runs("w")) == 3
    assert store.fire_keys("w", "schedule", since=0.0) == {
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    }


def test_a_fire_is_fired_queued_or_skipped_by_the_free_slots(store):
    first = fire(store, "1", files=["in/a.csv"], trigger_info={"value": 3})
    assert first is not None and first[1] == "fired"
    run = store.get_run(first[0])
    assert (run["state"], run["runner_pid"], run["runner_host"]) == ("queued", 4242, "box")
    assert run["trigger_info"] == {"value": 3}
    assert store.seen_paths("w") == {"in/a.csv"}
    queued = fire(store, "2")
    assert queued is not None and queued[1] == "queued"
    assert store.get_run(queued[0])["runner_pid"] is None
    skipped = fire(store, "3", queue=False, now=4.0)
    assert skipped is not None and skipped[1] == "skipped"
    run = store.get_run(skipped[0])
    assert (run["state"], run["end_time"]) == ("skipped", 4.0)
    assert run["message"] == "1 run(s) already active (max_concurrent_runs 1, queue: false)"
    assert fire(store, "1") is None  # claimed already


def test_start_queued_hands_the_oldest_waiting_runs_to_free_slots(store, second_store):
    holder = fire(store, "1")
    waiting = [fire(store, str(i)) for i in (2, 3, 4)]
    assert holder is not None and all(w is not None and w[1] == "queued" for w in waiting)
    assert store.start_queued("w", max_concurrent_runs=1, runner=RUNNER, now=5.0) == []
    store.update_run(holder[0], state="success", end_time=6.0)
    started = second_store.start_queued("w", max_concurrent_runs=2, runner=RUNNER, now=7.0)
    assert [r["id"] for r in started] == [waiting[0][0], waiting[1][0]]
    assert store.get_run(waiting[0][0])["runner_pid"] == 4242
    assert store.get_run(waiting[2][0])["runner_pid"] is None


def test_a_group_of_fires_keeps_its_own_limit(store):
    first = fire(store, "7@1", trigger="backfill", max_concurrent_runs=5, group_limit=1)
    assert first is not None
    assert fire(store, "7@2", trigger="backfill", max_concurrent_runs=5, group_limit=1) is None
    other = fire(store, "8@1", trigger="backfill", max_concurrent_runs=5, group_limit=1)
    assert other is not None  # another group
    store.update_run(first[0], state="success", end_time=3.0)
    assert fire(store, "7@2", trigger="backfill", max_concurrent_runs=5, group_limit=1)


def test_a_mark_claims_a_fire_without_a_run_exactly_once(store, second_store):
    assert store.last_fire_row("w", "file_arrival") is None
    assert store.last_fire("w", "file_arrival") is None
    got = at_once(
        [
            lambda: store.claim_mark("w", "file_arrival", "first-look", 3.0, 3.0),
            lambda: second_store.claim_mark("w", "file_arrival", "first-look", 3.0, 3.0),
        ]
    )
    assert sorted(got) == [False, True]
    row = store.last_fire_row("w", "file_arrival")
    assert (row["fire_key"], row["run_id"], row["fire_time"]) == ("first-look", None, 3.0)
    assert store.claim_mark("w", "file_arrival", "later", 9.0, 9.0) is True
    assert store.last_fire("w", "file_arrival") == 9.0
    assert store.fire_keys("w", "file_arrival", since=4.0) == {"later"}


def test_trigger_state_since_and_pause(store, second_store):
    assert store.trigger_state("w") is None
    state = store.ensure_trigger_state("w", 10.0)
    assert (state["paused"], state["since"]) == (False, 10.0)
    assert second_store.ensure_trigger_state("w", 20.0)["since"] == 10.0  # the first one counts
    second_store.set_paused("w", True, 30.0)
    assert store.trigger_state("w")["paused"] is True
    store.set_paused("w", False, 31.0)
    store.reset_trigger_since("w", 40.0)
    assert store.trigger_state("w") == {"workflow": "w", "paused": False, "since": 40.0}
    store.set_paused("new", True, 50.0)  # a workflow no scheduler saw yet
    assert store.trigger_state("new") == {"workflow": "new", "paused": True, "since": 50.0}


def race_for_slots(url: str, rounds: int = 15) -> None:
    """Two Stores (as two schedulers would) claim fires and start queued runs at the same
    moment, round after round, with max_concurrent_runs 1: never two runs hold a slot,
    and runs get their slot in the order they were created."""
    import os
    import socket
    import threading

    from sqlalchemy import func, select

    stores = [Store(url), Store(url)]
    stores[0].ensure_trigger_state("w", 0.0)
    runner = (os.getpid(), socket.gethostname(), None)
    given: list[int] = []  # runs handed to a runner, in the order they were
    problems: list[str] = []
    lock = threading.Lock()

    def holding() -> list[int]:
        with stores[0].engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.id).where(
                    runs.c.workflow == "w",
                    runs.c.state.in_(["queued", "running"]),
                    runs.c.runner_pid.is_not(None),
                )
            )
            return [r[0] for r in rows]

    def check() -> None:
        if len(holding()) > 1:
            problems.append(f"runs {holding()} hold a slot at once")

    def finish_holders() -> None:
        check()
        for run_id in holding():
            stores[0].update_run(run_id, state="success", end_time=1.0)

    barrier = threading.Barrier(2, action=finish_holders, timeout=120)
    checked = threading.Barrier(2, action=check, timeout=120)

    def scheduler(i: int) -> None:
        store = stores[i]
        for r in range(rounds):
            barrier.wait()
            claimed = store.claim_fire(
                {"workflow": "w", "trigger": "schedule", "fire_key": f"{r}/{i}", "fire_time": r},
                max_concurrent_runs=1,
                queue=True,
                runner=runner,
                now=float(r),
                workflow_path="workflows/w.yaml",
                trigger_type="schedule",
                trigger_time=float(r),
                parameters={},
                tasks=[("t", "command", [])],
            )
            assert claimed is not None
            if claimed[1] == "fired":
                with lock:
                    given.append(claimed[0])
            checked.wait()
            started = store.start_queued("w", max_concurrent_runs=1, runner=runner, now=float(r))
            with lock:
                given.extend(run["id"] for run in started)
            checked.wait()

    threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert problems == []
        assert given == sorted(given) and len(given) == rounds  # one per round, oldest first
        with stores[0].engine.connect() as conn:
            waiting = conn.execute(
                select(func.count()).where(
                    runs.c.workflow == "w", runs.c.state == "queued", runs.c.runner_pid.is_(None)
                )
            ).scalar()
        assert waiting == rounds  # two fires a round, one start a round: the others wait
    finally:
        for store in stores:
            store.close()


def test_two_stores_racing_for_one_run_slot_never_both_win(history_url):
    race_for_slots(history_url)


# -- backfills and heartbeats -----------------------------------------------------------------


def test_a_backfill_is_recorded_followed_and_ended_once(store):
    backfill_id = store.create_backfill(
        workflow="w",
        workflow_path="workflows/w.yaml",
        fire_times=[1.0, 2.0, 3.0],
        skipped=[2.0],
        parameters={"p": 1},
        concurrency=2,
        span={"from": "a", "to": "b"},
        now=5.0,
    )
    (backfill,) = store.list_backfills(backfill_id=backfill_id)
    assert (backfill["state"], backfill["fire_times"], backfill["skipped"]) == (
        "running",
        [1.0, 2.0, 3.0],
        [2.0],
    )
    assert (backfill["concurrency"], backfill["span"], backfill["created"]) == (
        2,
        {"from": "a", "to": "b"},
        5.0,
    )
    started = fire(store, f"{backfill_id}@1.0", trigger="backfill", fire_time=1.0)
    fire(store, f"{backfill_id + 1}@3.0", trigger="backfill", fire_time=3.0)  # not this one
    assert started is not None
    runs = store.backfill_runs(backfill)
    assert list(runs) == [1.0] and runs[1.0]["id"] == started[0]
    assert runs[1.0]["state"] == "queued"
    assert [b["id"] for b in store.list_backfills(state="running")] == [backfill_id]
    assert store.end_backfill(backfill_id, "canceled", 9.0) is True
    assert store.end_backfill(backfill_id, "finished", 10.0) is False
    (ended,) = store.list_backfills(backfill_id=backfill_id)
    assert (ended["state"], ended["end_time"]) == ("canceled", 9.0)
    assert store.list_backfills(state="running") == []


def test_scheduler_heartbeats_are_replaced_and_dropped(store, second_store):
    assert store.schedulers() == []
    store.beat_scheduler("box:1", {"seen": 1.0, "pid": 1})
    second_store.beat_scheduler("box:2", {"seen": 1.5, "pid": 2})
    store.beat_scheduler("box:1", {"seen": 2.0, "pid": 1})
    assert sorted(store.schedulers(), key=lambda b: b["pid"]) == [
        {"seen": 2.0, "pid": 1},
        {"seen": 1.5, "pid": 2},
    ]
    second_store.drop_scheduler("box:1")
    assert store.schedulers() == [{"seen": 1.5, "pid": 2}]


# -- orphans (a runner that died) ---------------------------------------------------------------


def orphan(store: Store) -> int:
    """A repaired run whose runner died with a task running, one pending, one done."""
    run_id = new_run(
        store,
        tasks=[
            ("a", "notebook", []),
            ("b", "notebook", []),
            ("c", "notebook", []),
            ("d", "command", []),
        ],
    )
    store.update_run(run_id, state="failed", end_time=2.0)
    assert claim(store, run_id, 0)
    store.update_task(run_id, "a", state="success", end_time=3.0)
    store.update_task(run_id, "b", state="running")
    store.update_task(run_id, "c", state="waiting_for_retry")
    store.add_attempt(run_id, "a", 1, start_time=2.5, parameters={}, artifact=None)
    store.finish_attempt(run_id, "a", 1, state="success", end_time=3.0)
    store.add_attempt(run_id, "b", 1, start_time=3.0, parameters={}, artifact="runs/b.ipynb")
    store.set_attempt_pid(run_id, "b", 1, 31337, 3.1)
    store.add_attempt(run_id, "c", 1, start_time=3.0, parameters={}, artifact=None)
    store.finish_attempt(run_id, "c", 1, state="failed", end_time=3.5)
    return run_id


def test_an_orphan_is_closed_by_the_crash_rules(store):
    run_id = orphan(store)
    leftovers = store.close_orphan(run_id, now=50.0, message="runner died (process 55 gone)")
    assert [(a["task_key"], a["number"], a["pid"], a["artifact"]) for a in leftovers] == [
        ("b", 1, 31337, "runs/b.ipynb")
    ]
    run = store.get_run(run_id)
    assert (run["state"], run["end_time"], run["message"]) == (
        "failed",
        50.0,
        "runner died (process 55 gone)",
    )
    tasks = {t["key"]: t for t in run["tasks"]}
    assert {k: (t["state"], t["end_time"]) for k, t in tasks.items()} == {
        "a": ("success", 3.0),
        "b": ("failed", 50.0),
        "c": ("failed", 50.0),
        "d": ("upstream_failed", 50.0),
    }
    assert tasks["d"]["message"] == "runner died (process 55 gone)"
    (b_attempt,) = tasks["b"]["attempts"]
    assert (b_attempt["state"], b_attempt["end_time"], b_attempt["error_ename"]) == (
        "failed",
        50.0,
        "RunnerDied",
    )
    assert b_attempt["error_evalue"] == "runner died (process 55 gone)"
    assert tasks["c"]["attempts"][0]["end_time"] == 3.5  # finished before: untouched
    assert [(r["result"], r["end_time"]) for r in run["repairs"]] == [("failed", 50.0)]
    assert store.close_orphan(run_id, now=60.0, message="again") == []
    assert store.get_run(run_id)["end_time"] == 50.0


def test_an_orphan_closed_by_two_processes_at_once_is_closed_once(store, second_store):
    run_id = orphan(store)
    got = at_once(
        [
            lambda: store.close_orphan(run_id, now=50.0, message="first"),
            lambda: second_store.close_orphan(run_id, now=51.0, message="second"),
        ]
    )
    assert sorted(len(g) for g in got) == [0, 1]
    run = store.get_run(run_id)
    closer = "first" if got[0] else "second"
    assert run["message"] == closer
    assert {t["message"] for t in run["tasks"] if t["key"] != "a"} == {closer}


def test_a_finished_or_unknown_run_is_no_orphan(store):
    run_id = new_run(store)
    store.update_run(run_id, state="success", end_time=5.0)
    assert store.close_orphan(run_id, now=9.0, message="m") == []
    assert store.close_orphan(12345, now=9.0, message="m") == []
    assert store.get_run(run_id)["state"] == "success"


# -- the schema ---------------------------------------------------------------------------------


def test_opening_a_history_again_keeps_it_and_its_schema(history_url):
    first = Store(history_url)
    run_id = new_run(first)
    first.close()
    again = [Store(history_url) for _ in range(2)]
    try:
        assert again[1].get_run(run_id)["workflow"] == "daily"
        with again[0].engine.connect() as conn:
            rows = conn.execute(select(meta.c.value).where(meta.c.name == "schema")).all()
            assert [r[0] for r in rows] == ["1"]
            assert conn.execute(select(func.count()).select_from(meta)).scalar() == 1
    finally:
        for store in again:
            store.close()


def test_a_history_made_before_a_column_was_added_gains_it(history_url):
    first = Store(history_url)
    run_id = new_run(first)
    with first.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE attempts DROP COLUMN executor")
    first.close()
    again = Store(history_url)
    try:
        columns = {c["name"] for c in inspect(again.engine).get_columns("attempts")}
        assert "executor" in columns
        assert again.get_run(run_id)["workflow"] == "daily"
    finally:
        again.close()


# Each process imports nbflow, says it is ready and waits for a line on stdin: all of them
# then create the new history at the same moment, however long their imports took.
_OPEN_WHEN_TOLD = (
    "import sys\n"
    "from nbflow.history import Store\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "store = Store(sys.argv[1])\n"
    "store.list_runs()\n"
    "store.close()\n"
)


def test_many_processes_can_open_a_new_history_at_once(history_url):
    import subprocess
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_WHEN_TOLD, history_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for proc in procs:  # a blocking read: each line is a process ready to open the history
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    store = Store(history_url)
    try:
        found = inspect(store.engine)
        for table in metadata.sorted_tables:
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
        with store.engine.connect() as conn:
            rows = conn.execute(select(meta.c.value).where(meta.c.name == "schema")).all()
        assert [r[0] for r in rows] == [str(SCHEMA_VERSION)]
    finally:
        store.close()


# -- SQLite only: the file, its WAL and locks, SQLite's own failures -------------------------
# PostgreSQL has no file, journal mode or page limit of its own to test: these tests take
# only the SQLite half of `history_url` (`sqlite_only`), or make a SQLite file themselves.


@sqlite_only
def test_database_is_in_wal_mode(store, history_url):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    # WAL is a property of the file: a plain sqlite3 connection sees it too
    plain = sqlite3.connect(sqlite_file(history_url))
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def _in_another_process(url: str, name: str) -> list[str]:
    """Open the history in a new process, record a heartbeat `name`, close it; the
    heartbeats that process saw. The last connection to close deletes the WAL files."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from nbflow.history import Store\n"
        "s = Store(sys.argv[1])\n"
        "s.beat_scheduler(sys.argv[2], {'seen': 1.0, 'name': sys.argv[2]})\n"
        "print(json.dumps(sorted(b['name'] for b in s.schedulers())))\n"
        "s.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url, name], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@sqlite_only
def test_opening_and_closing_the_file_in_this_process_loses_no_write(history_url):
    store = Store(history_url)
    try:
        store.beat_scheduler("here", {"seen": 0.0, "name": "here"})
        # What reading .nbflow/history.db through a REST route did in the Jupyter server:
        # closing any descriptor of the file drops this process's SQLite locks on it ...
        open(sqlite_file(history_url), "rb").close()
        # ... so the next process to close it believes it is the last, and deletes the WAL
        # files under this process's open connection.
        assert _in_another_process(history_url, "run") == ["here", "run"]
        assert not Path(f"{sqlite_file(history_url)}-wal").exists()
        store.beat_scheduler("here again", {"seen": 2.0, "name": "here again"})
        # Written through a connection to the deleted files, this was lost to every other
        # process (and a later checkpoint could overwrite their pages).
        assert _in_another_process(history_url, "next") == ["here", "here again", "next", "run"]
        assert sorted(b["name"] for b in store.schedulers()) == [
            "here",
            "here again",
            "next",
            "run",
        ]
    finally:
        store.close()


@sqlite_only
def test_a_disk_io_error_from_a_broken_connection_is_recovered(history_url):
    store = Store(history_url)
    try:
        store.beat_scheduler("here", {"seen": 0.0, "name": "here"})
        with store.engine.connect() as conn:  # in use while its files are deleted
            conn.exec_driver_sql("SELECT count(*) FROM runs").all()
            open(sqlite_file(history_url), "rb").close()
            _in_another_process(history_url, "run")
            conn.exec_driver_sql("UPDATE nbflow_meta SET value = value WHERE name = 'schema'")
            conn.commit()
            _in_another_process(history_url, "next")
            conn.exec_driver_sql("SELECT count(*) FROM runs").all()
        # The broken connection, back in this process's pool, makes SQLite answer "disk I/O
        # error" to every new connection to the file here until it is closed.
        fresh = Store(history_url)
        try:
            assert sorted(b["name"] for b in fresh.schedulers()) == ["here", "next", "run"]
            assert len(store.schedulers()) == 3
        finally:
            fresh.close()
    finally:
        store.close()


@sqlite_only
def test_a_full_database_is_one_sentence_naming_the_file(store, history_url):
    from sqlalchemy import event

    from nbflow.core.errors import HistoryError

    first = new_run(store)

    @event.listens_for(store.engine, "connect")
    def no_room_to_grow(dbapi_connection, _record):  # as a full disk would answer
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()
    with pytest.raises(HistoryError) as caught:
        for _ in range(200):
            new_run(store, parameters={"big": "x" * 2000})
    assert str(caught.value) == (
        f"cannot use the run history at {sqlite_file(history_url)}: database or disk is full; "
        "free some space there and try again"
    )
    assert store.get_run(first)["workflow"] == "daily"  # what was recorded stays readable
