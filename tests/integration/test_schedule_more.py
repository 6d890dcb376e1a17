"""Backfills, workflow-completion and SQL triggers served by real `nbflow schedule` daemons:
two at once, one killed with SIGKILL and another started, and still every backfill day,
upstream run and data change runs exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter

import pytest

from nbflow.history import Store
from tests.integration.test_failures import wait_for
from tests.integration.test_schedule import runs, start, stop

PY = sys.executable
GLUE = "from nbflow import glue; import sys, time; time.sleep(0.3); glue('got', sys.argv[1])"


@pytest.fixture
def daemons():
    """Schedulers started by a test; any still running at its end (a failed assertion) die."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def history(project) -> Store:
    return Store(f"sqlite:///{project.root / '.nbflow' / 'history.db'}")


def values(project, run_id):
    from nbflow import api
    from nbflow.workflows.project import Project

    doc = api.show(Project(project.root), run_id)
    return doc["tasks"][0]["values"], doc["trigger"]


def succeeded(project, workflow=None):
    """How many runs (of the workflow) have succeeded."""
    return len([r for r in runs(project, workflow) if r["state"] == "success"])


def kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


def served(project, pid=None):
    """A scheduler (that one) has recorded its heartbeat: it has looked once."""
    db = project.root / ".nbflow" / "history.db"
    if not db.exists():
        return False
    store = history(project)
    try:
        return any(pid is None or beat["pid"] == pid for beat in store.schedulers())
    finally:
        store.close()


def test_backfill_days_run_once_across_two_daemons_a_kill_and_a_restart(project, daemons):
    project.workflow(
        "daily",
        f"""
        max_concurrent_runs: 2
        tasks:
          - key: t
            command: ["{PY}", -c, "{GLUE}", "{{{{run.trigger.time.iso_date}}}}"]
        """,
    )
    made = project.cli(
        "backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-08", "--every", "1d",
        "--concurrency", "2", "--detach",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("backfill 1 of daily (2026-01-01 to 2026-01-08 every 1d)")
    first, second = start(project, keep=daemons), start(project, keep=daemons)
    wait_for(lambda: len(runs(project)) >= 3, "three backfill runs", 60)
    kill(first)
    third = start(project, keep=daemons)
    wait_for(
        lambda: project.cli_json("backfill", "list")[1][0]["state"] == "finished",
        "the backfill to finish",
        120,
    )
    for proc in (second, third):
        code, err = stop(proc)
        assert code == 0, err
    made = runs(project)
    days = Counter(r["trigger_time"] for r in made)
    assert len(days) == 8 and set(days.values()) == {1}, "a day ran twice (or not at all)"
    assert {r["trigger_type"] for r in made} == {"backfill"}
    for run in made:
        if run["state"] == "success":  # those of the killed daemon ended "runner died"
            got, trigger = values(project, run["id"])
            assert got == {"got": trigger["time"][:10]}
            assert trigger["backfill_id"] == 1
    assert len([r for r in made if r["state"] == "success"]) >= 5
    code, (listed,) = project.cli_json("backfill", "list")
    assert sum(listed["counts"].values()) == 8 and "pending" not in listed["counts"]


def test_backfill_in_the_foreground_waits_and_a_resume_skips_what_ran(project):
    project.workflow(
        "daily",
        f"""
        schedule: {{cron: "0 6 * * *", timezone: America/New_York}}
        tasks:
          - key: t
            command: ["{PY}", -c, "{GLUE}", "{{{{run.trigger.time.iso_datetime}}}}"]
        """,
    )
    served_fg = project.cli("backfill", "daily", "--from", "2026-03-07", "--to", "2026-03-09")
    assert served_fg.returncode == 0, served_fg.stderr
    assert "3 fire times: 3 success" in served_fg.stdout
    got = sorted(values(project, r["id"])[0]["got"] for r in runs(project))
    assert got == [  # 06:00 in New York on each day, across the DST change of 2026-03-08
        "2026-03-07T06:00:00-05:00",
        "2026-03-08T06:00:00-04:00",
        "2026-03-09T06:00:00-04:00",
    ]
    again = project.cli("backfill", "daily", "--from", "2026-03-08", "--to", "2026-03-10")
    assert again.returncode == 0 and "3 fire times: 2 skipped, 1 success" in again.stdout
    assert len(runs(project)) == 4
    refused = project.cli("backfill", "resume", "1")
    assert refused.returncode == 2 and "backfill 1 is not running" in refused.stderr


def test_each_upstream_run_triggers_one_downstream_run_across_schedulers(project, daemons):
    glue_n = "from nbflow import glue; import sys; glue('n', int(sys.argv[1]))"
    project.workflow(
        "ingest",
        f"""
        parameters: {{n: 1}}
        tasks:
          - {{key: load, command: ["{PY}", -c, "{glue_n}", "{{{{params.n}}}}"]}}
        """,
    )
    project.workflow(
        "report",
        f"""
        trigger: {{after: [{{workflow: ingest, state: success}}]}}
        max_concurrent_runs: 3
        tasks:
          - key: t
            command: ["{PY}", -c, "{GLUE}", "{{{{run.trigger.run_id}}}}:{{{{run.trigger.tasks.load.values.n}}}}"]
        """,
    )
    first, second = start(project, keep=daemons), start(project, keep=daemons)
    wait_for(lambda: served(project), "the schedulers' first look", 60)
    assert project.cli("run", "ingest", "-p", "n=10").returncode == 0
    # Killed once its run has ended (a run it was running would end "runner died").
    wait_for(lambda: succeeded(project, "report") == 1, "the report run", 60)
    kill(first)
    assert project.cli("run", "ingest", "-p", "n=20").returncode == 0
    assert project.cli("run", "ingest", "-p", "n=oops").returncode == 1  # failed: no report
    third = start(project, keep=daemons)
    assert project.cli("run", "ingest", "-p", "n=30").returncode == 0
    wait_for(
        lambda: len([r for r in runs(project, "report") if r["state"] == "success"]) >= 3,
        "three report runs",
        90,
    )
    for proc in (second, third):
        code, err = stop(proc)
        assert code == 0, err
    ingests = {r["id"]: r for r in runs(project, "ingest")}
    reports = runs(project, "report")
    assert len(reports) == 3
    got = sorted(values(project, r["id"])[0]["got"] for r in reports)
    ok = [i for i, r in ingests.items() if r["state"] == "success"]
    assert got == sorted(f"{i}:{ingests[i]['parameters']['n']}" for i in ok)
    assert {r["trigger_type"] for r in reports} == {"after"}


def test_each_data_change_runs_once_across_schedulers(project, daemons):
    db = project.root / "data.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table loads (at text)")
        conn.execute("insert into loads values ('2026-01-01')")
    project.workflow(
        "watch",
        f"""
        trigger:
          sql: {{query: "select max(at) from loads", connection: "sqlite:///data.db"}}
          every: 100ms
        tasks:
          - key: t
            command: ["{PY}", -c, "{GLUE}", "{{{{run.trigger.value}}}}"]
        """,
    )

    def watching():
        store = history(project) if (project.root / ".nbflow" / "history.db").exists() else None
        try:
            return store is not None and store.last_fire_row("watch", "sql") is not None
        finally:
            if store is not None:
                store.close()

    def load(day):
        with sqlite3.connect(db) as conn:
            conn.execute("insert into loads values (?)", (day,))

    first, second = start(project, keep=daemons), start(project, keep=daemons)
    wait_for(watching, "the first look at the query", 60)
    load("2026-01-02")
    wait_for(lambda: succeeded(project) == 1, "a run for the change", 60)
    kill(first)
    load("2026-01-03")
    wait_for(lambda: len(runs(project)) == 2, "a run for the second change", 60)
    third = start(project, keep=daemons)
    wait_for(lambda: served(project, third.pid), "the new scheduler", 60)
    load("2026-01-04")
    wait_for(
        lambda: [r for r in runs(project) if r["state"] == "success"][2:],
        "three successful runs",
        60,
    )
    for proc in (second, third):
        code, err = stop(proc)
        assert code == 0, err
    made = runs(project)
    assert [values(project, r["id"])[0]["got"] for r in made] == [
        "2026-01-02",
        "2026-01-03",
        "2026-01-04",
    ]
