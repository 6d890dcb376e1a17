"""`nbflow schedule` as a real daemon: fire latency, exactly-once with two schedulers,
take-over, file drops, pause/resume and a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from nbflow.history import Store
from tests.integration.test_failures import wait_for

QUICK = f'["{sys.executable}", "-c", "pass"]'


def start(project, *args, keep=None):
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbflow.cli", "schedule", "--tick", "0.1", *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if keep is not None:
        keep.append(proc)
    return proc


def runs(project, workflow=None):
    db = project.root / ".nbflow" / "history.db"
    if not db.exists():
        return []
    store = Store(f"sqlite:///{db}")
    try:
        return list(reversed(store.list_runs(workflow, limit=1000)))
    finally:
        store.close()


def stop(proc):
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.fixture
def daemons():
    """Schedulers started by a test; any still running at its end (a failed assertion) die."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_the_daemon_fires_on_time_and_stops_cleanly(project, daemons):
    project.workflow(
        "every2",
        f"""
        schedule: {{cron: "*/2 * * * * ?", timezone: Asia/Kolkata}}
        tasks:
          - {{key: t, command: {QUICK}}}
        """,
    )
    daemon = start(project, keep=daemons)
    wait_for(
        lambda: len([r for r in runs(project) if r["state"] == "success"]) >= 2, "two runs", 30
    )
    code, err = stop(daemon)
    assert code == 0, err
    assert "fired run 1 (schedule */2 * * * * ? Asia/Kolkata at " in err
    assert "scheduler stopped" in err
    done = runs(project)
    for run in done:
        assert run["trigger_type"] == "schedule"
        assert run["trigger_time"] % 2 == 0  # the scheduled time, not when it woke
        assert 0 <= run["created_time"] - run["trigger_time"] < 1.0  # within a second
    assert all(r["state"] == "success" for r in done)


def test_two_schedulers_fire_each_time_once_and_one_takes_over(project, daemons):
    project.workflow(
        "every1",
        f"""
        schedule: {{cron: "* * * * * ?"}}
        max_concurrent_runs: 3
        tasks:
          - {{key: t, command: {QUICK}}}
        """,
    )
    first, second = start(project, keep=daemons), start(project, keep=daemons)
    wait_for(lambda: len(runs(project)) >= 4, "four runs", 30)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    killed_at = time.time()
    wait_for(
        lambda: len([r for r in runs(project) if r["created_time"] > killed_at + 1]) >= 2,
        "runs after one scheduler died",
        30,
    )
    code, err = stop(second)
    assert code == 0, err
    times = [r["trigger_time"] for r in runs(project)]
    assert len(times) == len(set(times)), "a fire time started two runs"
    assert not [r for r in runs(project) if r["state"] in ("queued", "running")]


def test_file_drops_trigger_a_run_with_the_new_files(project, daemons):
    (project.root / "incoming").mkdir()
    project.workflow(
        "drops",
        """
        file_arrival: {path: incoming, pattern: "*.csv", wait_after_last_change: 1s}
        tasks:
          - key: read
            notebook: notebooks/receive.ipynb
            parameters:
              received: {files: "{{run.trigger.files}}", where: "{{run.trigger.location}}", type: "{{run.trigger.type}}"}
        """,
    )
    daemon = start(project, keep=daemons)
    wait_for(lambda: (project.root / ".nbflow" / "history.db").exists(), "the scheduler", 30)
    dropped = time.time()  # before the writes: the debounce counts from when they are seen
    (project.root / "incoming" / "a.csv").write_text("x")
    (project.root / "incoming" / "b.csv").write_text("y")
    wait_for(lambda: [r for r in runs(project) if r["state"] == "success"], "the file run", 60)
    code, err = stop(daemon)
    assert code == 0, err
    (run,) = runs(project)
    assert 1.0 <= run["created_time"] - dropped < 2.5  # debounce window plus under a second
    from nbflow import api
    from nbflow.workflows.project import Project

    doc = api.show(Project(project.root), run["id"])
    assert doc["tasks"][0]["values"]["received"] == {
        "files": ["incoming/a.csv", "incoming/b.csv"],
        "where": "incoming",
        "type": "file_arrival",
    }


def test_list_pause_and_resume(project):
    project.workflow(
        "nightly",
        f"""
        schedule: {{cron: "0 2 * * *", timezone: Europe/Berlin}}
        tasks:
          - {{key: t, command: {QUICK}}}
        """,
    )
    project.workflow("manual", "tasks:\n  - {key: t, command: " + QUICK + "}\n")
    listed = project.cli("schedule", "list")
    assert listed.returncode == 0
    assert "nightly" in listed.stdout and "0 2 * * * Europe/Berlin  next " in listed.stdout
    assert "T02:00:00+01:00" in listed.stdout and "manual" not in listed.stdout
    # Nothing serves the project: the listing says so first.
    assert listed.stdout.startswith("no scheduler is running")
    assert project.cli("schedule", "pause", "nightly").stdout.strip() == "nightly: paused"
    code, entries = project.cli_json("schedule", "list")
    assert entries[0]["paused"] is True and entries[0]["paused_by"] == "command"
    resumed = project.cli("schedule", "resume", "nightly")
    assert resumed.stdout.startswith("nightly: active, next ")
    refused = project.cli("schedule", "pause", "manual")
    assert refused.returncode == 2 and "has no trigger" in refused.stderr


def test_a_clean_stop_leaves_queued_runs_for_the_next_scheduler(project, daemons):
    slow = f'["{sys.executable}", "-c", "import time; time.sleep(2)"]'
    project.workflow(
        "busy",
        f"""
        schedule: {{cron: "* * * * * ?"}}
        tasks:
          - {{key: t, command: {slow}}}
        """,
    )
    daemon = start(project, keep=daemons)
    wait_for(
        lambda: len([r for r in runs(project) if r["state"] == "queued"]) >= 2,
        "runs queued behind the running one",
        60,
    )
    code, err = stop(daemon)  # waits for the run it started
    assert code == 0, err
    left = [r["id"] for r in runs(project) if r["state"] == "queued"]
    assert left
    # Any command finishes the runs of dead runners first: these had none, they stay queued.
    assert project.cli("runs").returncode == 0
    assert [r["id"] for r in runs(project) if r["state"] == "queued"] == left
    assert not [r for r in runs(project) if r["state"] == "failed"]
    # The next scheduler starts them, oldest first (paused: it fires nothing new).
    assert project.cli("schedule", "pause", "busy").returncode == 0
    daemon = start(project, keep=daemons)
    wait_for(
        lambda: all(r["state"] == "success" for r in runs(project) if r["id"] in left),
        "the queued runs to run",
        120,
    )
    code, err = stop(daemon)
    assert code == 0, err
    done = {r["id"]: r for r in runs(project)}
    starts = [done[i]["start_time"] for i in left]
    assert starts == sorted(starts)
    assert set(done) == set(range(1, max(done) + 1)) and max(done) == max(left)
