"""Partial runs (`nbflow run --only`) and `health` duration rules, with real processes.

The duration tests pass the runner a clock that runs 600 times faster than the wall
clock, so a 10-minute threshold passes in a second without any test sleeping: the task
waits for a file that the notification of its warning writes.
"""

from __future__ import annotations

import sys
import time

import pytest

from nbflow import api
from nbflow.notify import deliveries as notify
from nbflow.workflows.project import Project

PY = sys.executable
GLUE_N = "from nbflow import glue; import sys; glue('n', int(sys.argv[1]))"
TWICE = "from nbflow import glue; import sys; glue('twice', 2 * int(sys.argv[1]))"

CHAIN = f"""
parameters: {{x: 5}}
tasks:
  - {{key: a, command: ["{PY}", -c, "{GLUE_N}", "{{{{params.x}}}}"]}}
  - {{key: b, depends_on: [a], command: ["{PY}", -c, "{TWICE}", "{{{{tasks.a.values.n}}}}"]}}
  - {{key: c, depends_on: [b], command: ["{PY}", -c, "pass"]}}
"""


def _states(doc):
    return {t["key"]: t["state"] for t in doc["tasks"]}


def test_only_runs_the_chosen_tasks_with_upstream_values_of_the_last_success(project):
    project.workflow("chain", CHAIN)
    code, first = project.cli_json("run", "chain")
    assert code == 0 and first["tasks"][1]["values"] == {"twice": 10}
    code, failed = project.cli_json("run", "chain", "-p", "x=oops")  # a fails: not a source
    assert code == 1 and failed["state"] == "failed"
    code, part = project.cli_json("run", "chain", "--only", "b", "-p", "x=7")
    assert code == 0 and part["state"] == "success"
    assert _states(part) == {
        "a": "skipped_by_selection",
        "b": "success",
        "c": "skipped_by_selection",
    }
    a, b, _ = part["tasks"]
    assert b["values"] == {"twice": 10}  # a's value 5 from run 1, not x=7
    assert a["values"] == {"n": 5} and a["attempts"] == []
    assert a["message"] == f"not selected (--only); values from run {first['id']}"
    shown = project.cli("show", str(part["id"]))
    assert "a                        skipped_by_selection" in shown.stdout
    # --from-run names the run to read from; the summary does not list left-out tasks.
    code, third = project.cli_json("run", "chain", "-p", "x=8")
    code, picked = project.cli_json(
        "run", "chain", "--only", "b", "--only", "c", "--from-run", str(first["id"])
    )
    assert code == 0 and picked["tasks"][1]["values"] == {"twice": 10}
    assert _states(picked)["c"] == "success"
    summary = project.cli("run", "chain", "--only", "b")
    assert summary.returncode == 0 and "skipped_by_selection" not in summary.stdout
    assert project.cli_json("show", str(third["id"]))[1]["tasks"][0]["values"] == {"n": 8}


def test_bad_selections_are_refused_before_anything_runs(project):
    project.workflow("chain", CHAIN)
    cases = [
        (
            ["--only", "nope"],
            "--only 'nope': no such task in workflows/chain.yaml (tasks: a, b, c)",
        ),
        (["--only", "b"], "no successful run of chain to take the values of a from"),
        (["--from-run", "1"], "--from-run needs --only"),
        (["--only", "b", "--from-run", "42"], "--from-run 42: no run 42"),
    ]
    for args, message in cases:
        proc = project.cli("run", "chain", *args)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert project.cli("runs").stdout.strip() == "no runs yet"
    # A chosen task with nothing upstream needs no earlier run.
    code, doc = project.cli_json("run", "chain", "--only", "a")
    assert code == 0 and _states(doc) == {
        "a": "success",
        "b": "skipped_by_selection",
        "c": "skipped_by_selection",
    }


class FastClock:
    """Wall-clock time running `factor` times faster from its creation; no waiting."""

    def __init__(self, factor: float = 600.0):
        self.base = time.time()
        self.started = time.monotonic()
        self.factor = factor

    def now(self) -> float:
        return self.base + (time.monotonic() - self.started) * self.factor

    async def sleep(self, seconds: float) -> None:
        return None


@pytest.fixture
def sent(monkeypatch, tmp_path):
    """Notifications as the runner hands them over; the run-level warning releases the task."""
    events: list[notify.Event] = []

    def send(self, destinations, event):
        events.append(event)
        if event.kind == "on_duration_warning" and event.task is None:
            (tmp_path / "release").write_text("go")

    monkeypatch.setattr(notify.Notifier, "send", send)
    monkeypatch.setattr(notify.Notifier, "wait", lambda self, timeout=None: [])
    return events


def test_duration_warnings_fire_once_per_run_and_attempt_and_show_marks_them(project, sent):
    wait = "import os, time\\nwhile not os.path.exists('release'): time.sleep(0.02)"
    project.workflow(
        "long",
        f"""
        health: {{duration_warning: 20m}}
        notifications:
          on_duration_warning: [{{webhook: "http://127.0.0.1:9/hook"}}]
        tasks:
          - key: slow
            command: ["{PY}", -c, "{wait}"]
            cwd: .
            health: {{duration_warning: 10m}}
          - {{key: quick, command: ["{PY}", -c, "pass"], health: {{duration_warning: 10m}}}}
        """,
    )
    doc = api.run(Project(project.root), "long", clock=FastClock())
    assert doc["state"] == "success"
    warnings = [(e.kind, e.task, e.attempt) for e in sent if e.kind == "on_duration_warning"]
    assert warnings == [("on_duration_warning", "slow", 1), ("on_duration_warning", None, None)]
    assert [(w["task"], w["attempt"], w["threshold"]) for w in doc["duration_warnings"]] == [
        ("slow", 1, 600.0),
        (None, None, 1200.0),
    ]
    shown = project.cli("show", str(doc["id"])).stdout
    assert "! ran longer than duration_warning 20m" in shown
    assert "attempt 1: success  .nbflow/runs/long/1/slow/attempt-1.log  ! ran longer than 10m" in (
        shown
    )
    assert shown.count("ran longer") == 2  # quick ended before its threshold
