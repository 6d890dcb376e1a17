"""Scheduler decisions driven by an injected time: no sleeping, no kernels."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest

from nbflow.core import triggers
from nbflow.execution import processes
from nbflow.history import Store
from nbflow.scheduling.scheduler import Scheduler
from nbflow.workflows.project import Project

T0 = datetime(2026, 11, 25, 9, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp()


class World:
    def __init__(self, root: Path):
        self.root = root
        (root / "workflows").mkdir()
        (root / "notebooks").mkdir()
        nbformat.write(nbformat.v4.new_notebook(), root / "notebooks" / "n.ipynb")
        self.project = Project(root)
        self.url = f"sqlite:///{root / 'history.db'}"
        self.stores: list[Store] = []

    def workflow(self, name: str, head: str) -> None:
        text = textwrap.dedent(head) + "tasks:\n  - {key: a, notebook: notebooks/n.ipynb}\n"
        (self.root / "workflows" / f"{name}.yaml").write_text(text)

    def scheduler(self, pid: int | None = None) -> Scheduler:
        store = Store(self.url)
        self.stores.append(store)
        scheduler = Scheduler(self.project, store)
        if pid is not None:  # stands for a scheduler in another (live) process of this host
            scheduler.pid = pid
            scheduler.started = processes.started_at(pid)
            scheduler.key = f"{scheduler.host}:{pid}"
        return scheduler

    @property
    def history(self) -> Store:
        """The history as the runners and the user see it: a Store of its own."""
        if not hasattr(self, "_history"):
            self._history = Store(self.url)
        return self._history

    def runs(self, workflow: str | None = None) -> list[dict]:
        return list(reversed(self.history.list_runs(workflow, limit=1000)))

    def finish(self, run_id: int, state: str, at: float | None) -> None:
        self.history.update_run(run_id, state=state, end_time=at)

    def finish_all(self, at: float) -> None:
        """What the launcher's runners would do: finish every active run."""
        for run in self.runs():
            if run["state"] in ("queued", "running"):
                self.finish(run["id"], "success", at)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("NBFLOW_HOME", str(tmp_path / "state"))
    return World(tmp_path)


def actions(decisions):
    return [(d.action, d.workflow, d.trigger) for d in decisions]


def test_cron_fires_once_per_fire_time_with_the_scheduled_time(world):
    world.workflow("hourly", 'schedule: {cron: "0 * * * *", timezone: Europe/Berlin}\n')
    s = world.scheduler()
    assert s.tick(T0 - 600) == []  # first sight: the schedule starts counting from here
    assert s.tick(T0 - 1) == []
    fired = s.tick(T0 + 0.2)
    assert actions(fired) == [("fired", "hourly", "schedule")]
    assert s.tick(T0 + 0.5) == [] and s.tick(T0 + 1800) == []
    (run,) = world.runs()
    assert run["trigger_time"] == T0 and run["trigger_type"] == "schedule"
    world.finish_all(T0 + 1800)
    assert actions(s.tick(T0 + 3600)) == [("fired", "hourly", "schedule")]


def test_catch_up_after_downtime_is_one_run_for_the_latest_missed_time(world):
    world.workflow("hourly", 'schedule: {cron: "0 * * * *"}\n')
    s = world.scheduler()
    s.tick(T0 - 600)
    s.tick(T0)  # fires 09:00
    world.finish_all(T0 + 60)
    decisions = s.tick(T0 + 3 * 3600 + 120)  # down from 09:00 to 12:02: 10, 11, 12 missed
    assert actions(decisions) == [("missed", "hourly", "schedule"), ("fired", "hourly", "schedule")]
    assert decisions[0].detail.startswith("3 fire times missed since 2026-11-25T09:00:00+00:00")
    assert [r["trigger_time"] for r in world.runs()] == [T0, T0 + 3 * 3600]


def test_quartz_seconds_and_time_zone(world):
    world.workflow("q", 'schedule: {cron: "0/10 * * * * ?", timezone: America/New_York}\n')
    s = world.scheduler()
    s.tick(T0 - 1)
    assert actions(s.tick(T0)) == [("fired", "q", "schedule")]
    assert s.tick(T0 + 9.9) == []
    world.finish_all(T0 + 9.9)
    assert actions(s.tick(T0 + 10)) == [("fired", "q", "schedule")]


def test_two_schedulers_never_start_the_same_fire_twice(world):
    world.workflow("hourly", 'schedule: {cron: "0 * * * *"}\nmax_concurrent_runs: 5\n')
    a, b = world.scheduler(), world.scheduler()
    a.tick(T0 - 600)
    b.tick(T0 - 600)
    fired = a.tick(T0 + 1)
    world.finish(world.runs()[0]["id"], "running", None)  # as a's launcher would
    fired += b.tick(T0 + 1) + b.tick(T0 + 2) + a.tick(T0 + 2)
    assert [d.action for d in fired] == ["fired"]
    # If one stops, the other goes on firing.
    world.finish_all(T0 + 60)
    assert actions(b.tick(T0 + 3600)) == [("fired", "hourly", "schedule")]
    assert len(world.runs()) == 2


def test_pause_and_resume_skip_the_paused_fire_times(world):
    world.workflow("hourly", 'schedule: {cron: "0 * * * *"}\n')
    s = world.scheduler()
    s.tick(T0 - 600)
    s.store.set_paused("hourly", True, T0 - 500)
    assert s.tick(T0 + 3600 * 2) == []
    s.store.set_paused("hourly", False, T0 + 3600 * 2 + 10)
    s.store.reset_trigger_since("hourly", T0 + 3600 * 2 + 10)
    assert s.tick(T0 + 3600 * 2 + 20) == []  # no catch-up for the paused hours
    assert actions(s.tick(T0 + 3600 * 3)) == [("fired", "hourly", "schedule")]


def test_paused_in_the_file_stops_triggers(world):
    world.workflow("hourly", 'paused: true\nschedule: {cron: "0 * * * *"}\n')
    s = world.scheduler()
    s.tick(T0 - 600)
    assert s.tick(T0 + 1) == []


def test_overlap_queue_and_skip(world):
    world.workflow("queued", 'schedule: {cron: "0 * * * *"}\n')
    world.workflow("skipping", 'schedule: {cron: "0 * * * *"}\nqueue: false\n')
    s = world.scheduler()
    s.tick(T0 - 600)
    assert sorted(d.action for d in s.tick(T0)) == ["fired", "fired"]
    second = s.tick(T0 + 3600)  # the first runs are still active
    assert sorted((d.workflow, d.action) for d in second) == [
        ("queued", "queued"),
        ("skipping", "skipped"),
    ]
    skipped = world.runs("skipping")[-1]
    assert skipped["state"] == "skipped" and "max_concurrent_runs 1" in skipped["message"]
    first = world.runs("queued")[0]
    world.finish(first["id"], "success", T0 + 3700)
    assert actions(s.tick(T0 + 3701)) == [("started", "queued", "schedule")]


def test_continuous_restarts_at_once_and_backs_off_after_failures(world):
    world.workflow("always", "continuous: true\n")
    s = world.scheduler()
    assert actions(s.tick(T0)) == [("fired", "always", "continuous")]
    assert s.tick(T0 + 1) == []  # one at a time
    run1 = world.runs()[-1]["id"]
    world.finish(run1, "failed", T0 + 10)
    assert s.tick(T0 + 11) == []  # back-off: 2 s after one failure
    assert actions(s.tick(T0 + 12)) == [("fired", "always", "continuous")]
    world.finish(world.runs()[-1]["id"], "failed", T0 + 20)
    assert s.tick(T0 + 23) == []  # 4 s after two failures
    assert actions(s.tick(T0 + 24)) == [("fired", "always", "continuous")]
    world.finish(world.runs()[-1]["id"], "success", T0 + 30)
    assert actions(s.tick(T0 + 30)) == [("fired", "always", "continuous")]  # reset


def test_file_arrival_debounces_passes_files_and_never_sees_a_file_twice(world):
    inbox = world.root / "incoming"
    inbox.mkdir()
    world.workflow(
        "files",
        "file_arrival: {path: incoming, pattern: '*.csv', min_interval: 60s, "
        "wait_after_last_change: 5s}\n",
    )
    s = world.scheduler()
    (inbox / "a.csv").write_text("1")
    (inbox / "ignored.txt").write_text("x")
    assert s.tick(T0) == []  # just seen: wait for it to settle
    (inbox / "a.csv").write_text("1,2")  # still being written
    os.utime(inbox / "a.csv", (T0 + 3, T0 + 3))
    assert s.tick(T0 + 3) == []
    assert s.tick(T0 + 7) == []  # 4 s since the last change
    decisions = s.tick(T0 + 8)
    assert actions(decisions) == [("fired", "files", "file_arrival")]
    run = world.runs()[-1]
    assert run["trigger_files"] == ["incoming/a.csv"] and run["trigger_location"] == "incoming"
    world.finish_all(T0 + 9)
    (inbox / "b.csv").write_text("3")
    assert s.tick(T0 + 20) == []  # b settles, but min_interval is 60 s
    assert actions(s.tick(T0 + 69)) == [("fired", "files", "file_arrival")]
    assert world.runs()[-1]["trigger_files"] == ["incoming/b.csv"]
    world.finish_all(T0 + 70)
    restarted = world.scheduler()  # a new process: the files were seen already
    assert restarted.tick(T0 + 500) == [] and restarted.tick(T0 + 600) == []


def test_dst_skipped_and_repeated_hours_follow_croniter():
    berlin = "Europe/Berlin"
    spring = datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo(berlin)).timestamp()
    fire = triggers.next_fire("30 2 * * *", berlin, spring)
    assert triggers.iso_in(fire, berlin) == "2026-03-29T03:00:00+02:00"  # 02:30 does not exist
    autumn = datetime(2026, 10, 24, 12, 0, tzinfo=ZoneInfo(berlin)).timestamp()
    first = triggers.next_fire("30 2 * * *", berlin, autumn)
    second = triggers.next_fire("30 2 * * *", berlin, first)
    assert triggers.iso_in(first, berlin) == "2026-10-25T02:30:00+02:00"
    assert triggers.iso_in(second, berlin) == "2026-10-25T02:30:00+01:00"  # the hour repeats
    assert second - first == 3600


def test_a_scheduler_records_a_heartbeat_every_few_seconds_and_is_seen_alive(world):
    from nbflow import api
    from nbflow.scheduling.scheduler import HEARTBEAT_EVERY, HEARTBEAT_STALE, alive_schedulers

    world.workflow("w", "schedule: {cron: '0 6 * * *', timezone: UTC}\n")
    world.project.state_dir.mkdir(parents=True)
    store = Store(world.project.database_url)  # the history `api` reads
    scheduler = Scheduler(world.project, store)
    assert api.scheduler_status(world.project, now=T0)["running"] is False

    scheduler.tick(T0)
    (beat,) = store.schedulers()
    assert beat["seen"] == T0 and beat["pid"] == os.getpid()
    scheduler.tick(T0 + HEARTBEAT_EVERY / 2)  # not yet: one write per interval
    assert store.schedulers()[0]["seen"] == T0
    scheduler.tick(T0 + HEARTBEAT_EVERY)
    assert store.schedulers()[0]["seen"] == T0 + HEARTBEAT_EVERY

    status = api.scheduler_status(world.project, now=T0 + HEARTBEAT_EVERY + 1)
    assert status["running"] is True
    assert status["schedulers"][0]["pid"] == os.getpid()
    # Not heard from for longer than the stale limit (killed, say): not running.
    late = T0 + HEARTBEAT_EVERY + HEARTBEAT_STALE + 0.001
    assert api.scheduler_status(world.project, now=late)["running"] is False
    assert alive_schedulers(store.schedulers(), late) == []

    # A scheduler that stops cleanly removes its heartbeat at once.
    store.drop_scheduler(scheduler.key)
    assert store.schedulers() == []


def run_two_schedulers(world: World, seconds: float = 40.0) -> tuple[list[int], int]:
    """Two schedulers on one history, a fire every 2 s, runs that take 3 s: as in the issue.

    The schedulers look at their own pace (every 0.37 s and every 0.29 s), so either may be
    the first to see a fire time or a free slot; a run's runner (simulated) marks it
    `running` 0.2 s after it was handed over and ends it 3 s after. Returns the runs in the
    order they were started and the most runs that were ever started and unfinished at once.
    """
    world.workflow("pair", 'schedule: {cron: "0/2 * * * * ?"}\nmax_concurrent_runs: 1\n')
    # The second one stands for another process: its runs belong to our parent process.
    a, b = world.scheduler(), world.scheduler(pid=os.getppid())
    a.tick(T0 - 1)
    b.tick(T0 - 1)
    ticks = sorted(
        [(T0 + 0.37 * i, a) for i in range(int(seconds / 0.37))]
        + [(T0 + 0.05 + 0.29 * i, b) for i in range(int(seconds / 0.29))],
        key=lambda tick: tick[0],
    )
    started: dict[int, float] = {}  # run id -> when it was handed to a runner
    running: set[int] = set()
    order: list[int] = []
    most = 0
    for now, scheduler in ticks:
        for run_id, at in list(started.items()):
            if now >= at + 3.0:
                world.finish(run_id, "success", at + 3.0)
                del started[run_id]
            elif now >= at + 0.2 and run_id not in running:
                world.finish(run_id, "running", None)
                running.add(run_id)
        for decision in scheduler.tick(now):
            if decision.action in ("fired", "started"):
                assert decision.run_id is not None
                started[decision.run_id] = now
                order.append(decision.run_id)
        most = max(most, len(started))
    return order, most


def test_two_schedulers_keep_max_concurrent_runs_and_the_queue_order(world):
    order, most = run_two_schedulers(world)
    assert most == 1  # never two runs at once, whichever scheduler started them
    assert order == sorted(set(order))  # each once, oldest first across schedulers
    assert len(order) >= 12  # one after another, back to back: 40 s of 3 s runs
    runs = world.runs("pair")
    assert [r["id"] for r in runs if r["state"] in ("success", "running")] == order
    assert {r["state"] for r in runs} <= {"success", "running", "queued"}


def test_a_stopped_scheduler_leaves_its_queued_runs_to_the_next_one(world):
    world.workflow("hourly", 'schedule: {cron: "0 * * * *"}\n')
    # The old scheduler stands for another process: one that lives until it is stopped.
    process = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    old = world.scheduler(pid=process.pid)
    old.tick(T0 - 600)
    (fired,) = old.tick(T0)
    (queued,) = old.tick(T0 + 3600)
    assert (fired.action, queued.action) == ("fired", "queued")
    world.finish(fired.run_id, "success", T0 + 3700)  # its clean stop waited for this one
    process.communicate(b"\n", timeout=60)  # and then it stopped
    # The queued run was not the stopped scheduler's to lose: it waits for the next one.
    new = world.scheduler()
    decisions = new.tick(T0 + 3800)  # which first looks for runs whose runner died
    assert [(d.action, d.run_id) for d in decisions] == [("started", queued.run_id)]
    run = world.history.get_run(queued.run_id)
    assert run["state"] == "queued" and run["message"] is None  # its runner starts it now
    assert run["runner_pid"] == os.getpid()


def test_the_daemon_logs_a_failed_look_and_goes_on(world, caplog):
    import asyncio
    import logging

    from nbflow.core.errors import HistoryError

    world.workflow("hourly", 'schedule: {cron: "0 * * * *"}\n')
    s = world.scheduler()
    stop = asyncio.Event()
    looks: list[float] = []
    real_tick = s.tick

    def tick(now: float) -> list:
        looks.append(now)
        if len(looks) <= 2:  # as a broken history answered every call until a restart
            raise HistoryError("cannot use the run history at h.db: disk I/O error")
        if len(looks) == 4:
            stop.set()
        return real_tick(now)

    s.tick = tick  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="nbflow.schedule")
    asyncio.run(s.serve(stop, tick=0.0))  # tick 0: look again at once, no waiting
    assert len(looks) == 4
    said = [r.getMessage() for r in caplog.records]
    failed = [m for m in said if m.startswith("looking at the triggers failed")]
    assert failed == [
        "looking at the triggers failed (trying again every 0s): "
        "cannot use the run history at h.db: disk I/O error"
    ]  # once, not at every look
    assert (
        "the scheduler works again (it failed with: cannot use the run history at h.db: "
        "disk I/O error)" in said
    )
    assert said[-1] == "scheduler stopped"
