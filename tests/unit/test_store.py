"""Run history on SQLite: WAL, SQLite's own failures, one Store writing and another reading."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from nbflow.history import Store
from nbflow.history.tables import runs


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/h.db"


@pytest.fixture
def store(url):
    s = Store(url)
    yield s
    s.close()


def new_run(store: Store, workflow: str = "daily", now: float = 100.0, **extra) -> int:
    extra.setdefault("parameters", {"region": "eu", "code": "007", "list": [1, 2]})
    return store.create_run(
        workflow=workflow,
        workflow_path=f"/p/workflows/{workflow}.yaml",
        trigger_type="manual",
        trigger_time=now,
        tasks=[
            ("ingest", "notebook", []),
            ("publish", "notebook", [{"task": "ingest", "outcome": None}]),
        ],
        state="queued",
        now=now,
        **extra,
    )


def test_create_and_get_run(store):
    run_id = new_run(store, runner_pid=123, runner_host="box")
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


def test_get_unknown_run(store):
    assert store.get_run(999) is None


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


def test_list_runs_newest_first(store):
    first = new_run(store, "daily", now=100.0)
    second = new_run(store, "other", now=200.0)
    third = new_run(store, "daily", now=300.0)
    assert [r["id"] for r in store.list_runs()] == [third, second, first]
    assert [r["id"] for r in store.list_runs("daily")] == [third, first]
    assert [r["id"] for r in store.list_runs(limit=2)] == [third, second]
    assert store.list_runs("nope") == []
    assert "tasks" not in store.list_runs()[0]


def test_child_run_records_its_parent(store):
    parent = new_run(store)
    child = new_run(store, "child", parent_run_id=parent)
    assert store.get_run(child)["parent_run_id"] == parent


def test_database_is_in_wal_mode(store, tmp_path):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    # WAL is a property of the file: a plain sqlite3 connection sees it too
    plain = sqlite3.connect(tmp_path / "h.db")
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_reopening_keeps_the_history(url):
    first = Store(url)
    run_id = new_run(first)
    first.close()
    again = Store(url)
    try:
        assert again.get_run(run_id)["workflow"] == "daily"
    finally:
        again.close()


def test_second_store_reads_what_the_first_wrote(store, url):
    reader = Store(url)
    try:
        run_id = new_run(store)
        store.update_run(run_id, state="running")
        assert reader.get_run(run_id)["state"] == "running"
        store.update_run(run_id, state="success", end_time=110.0)
        run = reader.get_run(run_id)
        assert (run["state"], run["end_time"]) == ("success", 110.0)
        assert [r["id"] for r in reader.list_runs()] == [run_id]
    finally:
        reader.close()


def test_reader_is_not_blocked_by_an_open_write(store, url):
    run_id = new_run(store)
    store.update_run(run_id, state="running")
    reader = Store(url)
    try:
        with store.engine.connect() as conn:
            tx = conn.begin()
            conn.execute(update(runs).where(runs.c.id == run_id).values(state="success"))
            # mid-transaction: the reader sees the last committed state, without waiting
            assert reader.get_run(run_id)["state"] == "running"
            tx.commit()
        assert reader.get_run(run_id)["state"] == "success"
    finally:
        reader.close()


def test_many_processes_can_open_a_new_history_at_once(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = f"from nbflow.history import Store; Store({url!r}).list_runs()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors


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


def test_two_stores_racing_for_one_run_slot_never_both_win(url):
    race_for_slots(url)


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


def test_opening_and_closing_the_file_in_this_process_loses_no_write(tmp_path, url):
    store = Store(url)
    try:
        store.beat_scheduler("here", {"seen": 0.0, "name": "here"})
        # What reading .nbflow/history.db through a REST route did in the Jupyter server:
        # closing any descriptor of the file drops this process's SQLite locks on it ...
        open(tmp_path / "h.db", "rb").close()
        # ... so the next process to close it believes it is the last, and deletes the WAL
        # files under this process's open connection.
        assert _in_another_process(url, "run") == ["here", "run"]
        assert not (tmp_path / "h.db-wal").exists()
        store.beat_scheduler("here again", {"seen": 2.0, "name": "here again"})
        # Written through a connection to the deleted files, this was lost to every other
        # process (and a later checkpoint could overwrite their pages).
        assert _in_another_process(url, "next") == ["here", "here again", "next", "run"]
        assert sorted(b["name"] for b in store.schedulers()) == [
            "here",
            "here again",
            "next",
            "run",
        ]
    finally:
        store.close()


def test_a_disk_io_error_from_a_broken_connection_is_recovered(tmp_path, url):
    store = Store(url)
    try:
        store.beat_scheduler("here", {"seen": 0.0, "name": "here"})
        with store.engine.connect() as conn:  # in use while its files are deleted
            conn.exec_driver_sql("SELECT count(*) FROM runs").all()
            open(tmp_path / "h.db", "rb").close()
            _in_another_process(url, "run")
            conn.exec_driver_sql("UPDATE nbflow_meta SET value = value WHERE name = 'schema'")
            conn.commit()
            _in_another_process(url, "next")
            conn.exec_driver_sql("SELECT count(*) FROM runs").all()
        # The broken connection, back in this process's pool, makes SQLite answer "disk I/O
        # error" to every new connection to the file here until it is closed.
        fresh = Store(url)
        try:
            assert sorted(b["name"] for b in fresh.schedulers()) == ["here", "next", "run"]
            assert len(store.schedulers()) == 3
        finally:
            fresh.close()
    finally:
        store.close()


def test_a_full_database_is_one_sentence_naming_the_file(store, tmp_path):
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
        f"cannot use the run history at {tmp_path / 'h.db'}: database or disk is full; "
        "free some space there and try again"
    )
    assert store.get_run(first)["workflow"] == "daily"  # what was recorded stays readable


def test_canceling_a_run_that_waits_for_a_slot_ends_it_at_once(store):
    import os
    import socket

    store.ensure_trigger_state("w", 0.0)
    runner = (os.getpid(), socket.gethostname(), None)

    def fire(key: str) -> tuple[int, str]:
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

    (running, fired), (waiting, queued) = fire("a"), fire("b")
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
