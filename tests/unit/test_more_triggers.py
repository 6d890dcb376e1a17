"""Backfills, workflow-completion and SQL triggers: scheduler decisions at a passed-in time.

No sleeping and no kernels: the tests tick schedulers at chosen times and play the runners'
part by finishing runs in the history, as `tests/unit/test_scheduler.py` does.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from nbflow import api
from nbflow.core import triggers
from nbflow.core.errors import RunBusy, RunNotFound, UsageError
from tests.unit.test_scheduler import T0, World, actions

DAY = 86400.0
JAN1 = datetime(2026, 1, 1, 2, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("NBFLOW_HOME", str(tmp_path / "state"))
    found = World(tmp_path)
    monkeypatch.setenv("NBFLOW_DATABASE_URL", found.url)  # api calls share the World's history
    return found


DAILY = 'schedule: {cron: "0 2 * * *", timezone: Europe/Berlin}\n'


# -- backfill ------------------------------------------------------------------------------


def test_a_backfill_lists_the_schedules_fire_times_in_its_time_zone(world):
    world.workflow("daily", DAILY)
    doc = api.backfill(world.project, "daily", start="2026-01-01", end="2026-01-03")
    assert [d["time"] for d in doc["days"]] == [
        "2026-01-01T02:00:00+01:00",
        "2026-01-02T02:00:00+01:00",
        "2026-01-03T02:00:00+01:00",
    ]
    assert doc["state"] == "running" and doc["counts"] == {"pending": 3}
    # Without a schedule, --every says how often; with one it replaces the schedule.
    world.workflow("plain", "")
    with pytest.raises(UsageError, match="has no schedule: say how often with --every"):
        api.backfill(world.project, "plain", start="2026-01-01", end="2026-01-02")
    doc = api.backfill(world.project, "plain", start="2026-01-01", end="2026-01-02", every="12h")
    assert [d["time"] for d in doc["days"]] == [
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T12:00:00+00:00",
        "2026-01-02T00:00:00+00:00",
        "2026-01-02T12:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2026-02-30", "end": "2026-03-01"}, "--from '2026-02-30': expected a date"),
        ({"start": "2026-01-05", "end": "2026-01-01"}, "--to '2026-01-01' is before --from"),
        ({"start": "2026-01-01", "end": "2026-01-02", "every": "0s"}, "must be more than 0"),
        ({"start": "2026-01-01", "end": "2026-01-02", "every": "often"}, "--every 'often'"),
        ({"start": "2026-01-01", "end": "2026-01-02", "concurrency": 0}, "at least 1"),
        (
            {"start": "2026-01-01", "end": "2026-01-02", "overrides": {"nope": 1}},
            "has no parameter 'nope'",
        ),
        ({"start": "2000-01-01", "end": "2030-01-01", "every": "1m"}, "backfill a shorter"),
    ],
)
def test_bad_backfill_requests_are_refused_in_one_sentence(world, kwargs, message):
    world.workflow("daily", DAILY)
    with pytest.raises(UsageError, match=message):
        api.backfill(world.project, "daily", **kwargs)
    assert api.backfills(world.project) == []  # nothing recorded


def test_each_backfill_day_runs_once_with_its_fire_time_at_most_n_at_once(world):
    world.workflow("daily", DAILY + "max_concurrent_runs: 5\n")
    doc = api.backfill(world.project, "daily", start="2026-01-01", end="2026-01-04", concurrency=2)
    a, b = world.scheduler(), world.scheduler()
    first = a.tick(T0) + b.tick(T0)
    assert [(d.action, d.trigger) for d in first] == [("fired", "backfill")] * 2
    assert b.tick(T0 + 1) == [] and a.tick(T0 + 1) == []  # two running: the limit
    runs = world.runs("daily")
    assert [r["trigger_time"] for r in runs] == [JAN1, JAN1 + DAY]
    assert {r["trigger_type"] for r in runs} == {"backfill"}
    assert runs[0]["parameters"] == {}
    world.finish(runs[0]["id"], "success", T0 + 2)
    assert actions(b.tick(T0 + 3)) == [("fired", "daily", "backfill")]
    world.finish_all(T0 + 4)
    assert actions(a.tick(T0 + 5) + b.tick(T0 + 5)) == [("fired", "daily", "backfill")]
    world.finish_all(T0 + 6)
    assert actions(a.tick(T0 + 7) + b.tick(T0 + 7)) == [("finished", "daily", "backfill")]
    assert [r["trigger_time"] for r in world.runs("daily")] == [JAN1 + i * DAY for i in range(4)]
    (done,) = api.backfills(world.project, doc["id"])
    assert done["state"] == "finished" and done["counts"] == {"success": 4}
    # The schedule's own catch-up is not disturbed by backfill fires.
    assert world.history.last_fire("daily", "schedule") is None


def test_a_backfill_skips_days_already_run_unless_rerun(world):
    world.workflow("daily", DAILY)
    first = api.backfill(world.project, "daily", start="2026-01-01", end="2026-01-02")
    s = world.scheduler()
    s.tick(T0)
    world.finish_all(T0 + 1)
    s.tick(T0 + 2)
    world.finish(world.runs()[-1]["id"], "failed", T0 + 3)  # day 2 failed
    s.tick(T0 + 4)
    assert api.backfills(world.project, first["id"])[0]["state"] == "finished"
    again = api.backfill(world.project, "daily", start="2026-01-01", end="2026-01-03")
    assert [d["state"] for d in again["days"]] == ["skipped", "pending", "pending"]
    rerun = api.backfill(world.project, "daily", start="2026-01-01", end="2026-01-01", rerun=True)
    assert [d["state"] for d in rerun["days"]] == ["pending"]


def test_a_stopped_scheduler_leaves_the_backfill_to_the_next_and_no_day_runs_twice(world):
    world.workflow("daily", DAILY + "max_concurrent_runs: 3\n")
    api.backfill(world.project, "daily", start="2026-01-01", end="2026-01-03", concurrency=3)
    first = world.scheduler()
    assert len(first.tick(T0)) == 3
    # It died: its runs were finished as failed by recovery. A new scheduler starts nothing
    # again, and finishes the backfill.
    for run in world.runs():
        world.finish(run["id"], "failed", T0 + 1)
    second = world.scheduler()
    assert actions(second.tick(T0 + 2)) == [("finished", "daily", "backfill")]
    assert len(world.runs()) == 3


def test_canceling_a_backfill_starts_no_more_days_and_cancels_its_runs(world):
    world.workflow("daily", DAILY)
    doc = api.backfill(world.project, "daily", start="2026-01-01", end="2026-01-05")
    s = world.scheduler()
    s.tick(T0)
    (run,) = world.runs()
    canceled = api.cancel_backfill(world.project, doc["id"])
    assert canceled["state"] == "canceled"
    assert canceled["counts"] == {"queued": 1, "not_started": 4}
    assert world.history.cancel_requested(run["id"])
    world.finish(run["id"], "canceled", T0 + 1)
    assert s.tick(T0 + 2) == [] and len(world.runs()) == 1
    with pytest.raises(RunBusy, match="has already ended"):
        api.cancel_backfill(world.project, doc["id"])
    with pytest.raises(RunNotFound, match="no backfill 99"):
        api.cancel_backfill(world.project, 99)


def test_fire_times_between_keeps_both_ends():
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    assert triggers.fire_times_between("0 0 * * *", "UTC", start, start + 2 * DAY, 10) == [
        start,
        start + DAY,
        start + 2 * DAY,
    ]
    assert len(triggers.fire_times_between("* * * * *", "UTC", start, start + DAY, 10)) == 11


# -- trigger: after ------------------------------------------------------------------------


def test_after_fires_once_per_upstream_run_in_a_wanted_state(world):
    world.workflow("ingest", "")
    world.workflow(
        "report",
        "trigger: {after: [{workflow: ingest, state: success}]}\nmax_concurrent_runs: 5\n",
    )
    a, b = world.scheduler(), world.scheduler()
    a.tick(T0)  # first sight: only runs ending from now count
    b.tick(T0)
    ok = world.history.create_run(
        workflow="ingest",
        workflow_path="workflows/ingest.yaml",
        trigger_type="schedule",
        trigger_time=T0 - 7200,
        parameters={"day": "2026-11-25"},
        tasks=[("a", "notebook", [])],
        state="running",
        now=T0,
    )
    world.history.update_task(ok, "a", state="success", values={"rows": 12})
    assert a.tick(T0 + 1) == []  # still running
    world.finish(ok, "success", T0 + 2)
    fired = a.tick(T0 + 3) + b.tick(T0 + 3) + a.tick(T0 + 4)
    assert actions(fired) == [("fired", "report", "after")]
    (run,) = world.runs("report")
    assert run["trigger_type"] == "after" and run["trigger_time"] == T0 - 7200
    info = world.history.get_run(run["id"])["trigger_info"]
    assert info["run_id"] == ok and info["state"] == "success"
    assert info["params"] == {"day": "2026-11-25"}
    assert info["tasks"]["a"]["values"] == {"rows": 12}
    # A failed upstream run does not fire `state: success`; a restarted scheduler does not
    # fire the old one again.
    bad = world.history.create_run(
        workflow="ingest",
        workflow_path="workflows/ingest.yaml",
        trigger_type="manual",
        trigger_time=T0 + 5,
        parameters={},
        tasks=[],
        state="failed",
        now=T0 + 5,
    )
    world.finish(bad, "failed", T0 + 6)
    assert world.scheduler().tick(T0 + 7) == []
    assert len(world.runs("report")) == 1


def test_after_failed_and_any(world):
    world.workflow("ingest", "")
    world.workflow("on_fail", "trigger: {after: [{workflow: ingest, state: failed}]}\n")
    world.workflow("on_any", "trigger: {after: [{workflow: ingest, state: any}]}\n")
    s = world.scheduler()
    s.tick(T0)
    for at, state in ((T0 + 1, "success"), (T0 + 2, "timed_out"), (T0 + 3, "skipped")):
        run_id = world.history.create_run(
            workflow="ingest",
            workflow_path="workflows/ingest.yaml",
            trigger_type="manual",
            trigger_time=at,
            parameters={},
            tasks=[],
            state=state,
            now=at,
        )
        world.finish(run_id, state, at)
    s.tick(T0 + 10)  # one run each at a time (max_concurrent_runs 1): the rest queue
    world.finish_all(T0 + 11)
    s.tick(T0 + 12)
    world.finish_all(T0 + 13)
    assert s.tick(T0 + 14) == []
    states = {
        name: [world.history.get_run(r["id"])["trigger_info"]["state"] for r in world.runs(name)]
        for name in ("on_fail", "on_any")
    }
    assert states == {"on_fail": ["timed_out"], "on_any": ["success", "timed_out"]}


def test_after_naming_itself_is_a_problem(mini):
    problems = mini.problems(
        """
        trigger: {after: [{workflow: wf}]}
        tasks:
          - {key: a, notebook: notebooks/x.ipynb}
        """
    )
    assert problems == ["1: trigger.after[0]: a workflow cannot run after its own runs"]


def test_trigger_shapes_are_checked(mini):
    base = "tasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n"
    assert mini.problems("trigger: {after: [{workflow: x, state: done}]}\n" + base) == [
        "1: trigger.after[0].state: 'done' is not one of success, failed, any"
    ]
    assert mini.problems("trigger: {every: 5m}\n" + base) == [
        "1: trigger: give exactly one of `after` or `sql`"
    ]
    assert mini.problems("trigger: {after: [{workflow: x}], every: 1m}\n" + base) == [
        "1: trigger: `every` is only for a `sql` trigger"
    ]
    assert mini.problems("continuous: true\ntrigger: {after: [{workflow: x}]}\n" + base) == [
        "2: `continuous` cannot be combined with `trigger`"
    ]
    workflow = mini.load(
        "trigger: {sql: {query: 'select 1'}, every: 30s}\n"
        "parameters: {v: '{{run.trigger.value}}', up: '{{run.trigger.tasks.a.values.n}}'}\n" + base
    )
    assert workflow.settings.trigger.every == 30.0


# -- trigger: sql --------------------------------------------------------------------------


def test_sql_fires_once_per_change_of_the_first_value(world):
    db = world.root / "data.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (stamp text)")
        conn.execute("insert into t values ('2026-01-01')")
    world.workflow(
        "watch",
        "trigger: {sql: {query: 'select max(stamp) from t', connection: 'sqlite:///data.db'}, "
        "every: 1m}\nmax_concurrent_runs: 5\n",
    )
    a, b = world.scheduler(), world.scheduler()
    assert a.tick(T0) == [] and b.tick(T0) == []  # the first look records the value
    assert a.tick(T0 + 61) == [] and world.runs() == []  # unchanged
    with sqlite3.connect(db) as conn:
        conn.execute("insert into t values ('2026-01-02')")
    assert a.tick(T0 + 62) == []  # not a minute since its last look
    fired = a.tick(T0 + 121) + b.tick(T0 + 121) + b.tick(T0 + 200)
    assert actions(fired) == [("fired", "watch", "sql")]
    (run,) = world.runs()
    assert run["trigger_type"] == "sql"
    assert world.history.get_run(run["id"])["trigger_info"] == {"value": "2026-01-02"}
    # Back to an old value is a change too; a restarted scheduler knows the last value.
    with sqlite3.connect(db) as conn:
        conn.execute("delete from t where stamp = '2026-01-02'")
    c = world.scheduler()
    assert actions(c.tick(T0 + 300) + a.tick(T0 + 300)) == [("fired", "watch", "sql")]
    assert c.tick(T0 + 400) == []
    assert len(world.runs()) == 2


def test_a_failing_query_fires_nothing_and_is_tried_again(world, caplog):
    world.workflow("watch", "trigger: {sql: {query: 'select max(x) from missing'}, every: 1s}\n")
    s = world.scheduler()
    assert s.tick(T0) == [] and s.tick(T0 + 2) == []
    assert caplog.text.count("the trigger's query failed") == 1
    assert world.runs() == []
