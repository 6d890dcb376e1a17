"""Repair: rerun the failed part of a finished run in the same run id."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nbflow import api
from nbflow.history import Store
from nbflow.workflows.project import Project

pytestmark = pytest.mark.kernel

WORKFLOW = """
parameters: {message: first try}
tasks:
  - {key: g, notebook: notebooks/glue_values.ipynb}
  - key: uses
    notebook: notebooks/receive.ipynb
    depends_on: [g]
    parameters: {received: "{{tasks.g.values.count}}"}
  - key: shaky
    notebook: NOTEBOOK
    depends_on: [g]
    parameters: {message: "{{params.message}}"}
  - {key: after, notebook: notebooks/receive.ipynb, depends_on: [shaky, uses], parameters: {received: 1}}
  - {key: side, notebook: notebooks/ok.ipynb}
"""


def states(doc):
    return {t["key"]: t["state"] for t in doc["tasks"]}


def attempts(doc, key):
    return [a["number"] for a in next(t for t in doc["tasks"] if t["key"] == key)["attempts"]]


def test_default_repair_reruns_what_failed_and_what_depends_on_it(project):
    project.workflow("r", WORKFLOW.replace("NOTEBOOK", "notebooks/fail.ipynb"))
    proj = Project(project.root)
    doc = api.run(proj, "r")
    assert states(doc) == {
        "g": "success",
        "uses": "success",
        "shaky": "failed",
        "after": "upstream_failed",
        "side": "success",
    }
    # A repair of a run that did not change re-reads the file: fix the notebook first.
    project.workflow(
        "r",
        WORKFLOW.replace("NOTEBOOK", "notebooks/receive.ipynb").replace(
            'parameters: {message: "{{params.message}}"}',
            'parameters: {received: "{{params.message}}"}',
        ),
    )
    code, doc = project.cli_json("repair", "1", "-p", "message=second try")
    assert code == 0, doc
    assert doc["state"] == "success"
    assert states(doc) == {k: "success" for k in ("g", "uses", "shaky", "after", "side")}
    # Kept tasks were not rerun; selected ones continue their attempt numbers.
    assert (
        attempts(doc, "g") == [1] and attempts(doc, "uses") == [1] and attempts(doc, "side") == [1]
    )
    assert attempts(doc, "shaky") == [1, 2]
    assert attempts(doc, "after") == [1]
    shaky = next(t for t in doc["tasks"] if t["key"] == "shaky")
    assert shaky["values"]["received"] == "second try"
    assert doc["parameters"]["message"] == "second try"
    assert doc["repair_count"] == 1
    assert doc["repairs"][0]["tasks"] == ["shaky", "after"]
    text = project.cli("show", "1").stdout
    assert "repair 1 at" in text and "shaky, after -> success" in text


def test_named_tasks_with_and_without_dependents_reuse_kept_values(project):
    project.workflow(
        "r",
        WORKFLOW.replace("NOTEBOOK", "notebooks/ok.ipynb").replace(
            'parameters: {message: "{{params.message}}"}', ""
        ),
    )
    proj = Project(project.root)
    assert api.run(proj, "r")["state"] == "success"
    doc = api.repair(proj, 1, tasks=["uses"], dependents=False)
    assert doc["repairs"][-1]["tasks"] == ["uses"]
    assert attempts(doc, "uses") == [1, 2] and attempts(doc, "after") == [1]
    # `uses` read g's value from the history: g did not run again.
    uses = next(t for t in doc["tasks"] if t["key"] == "uses")
    assert uses["values"]["received"] == 42 and attempts(doc, "g") == [1]
    doc = api.repair(proj, 1, tasks=["uses"])
    assert doc["repairs"][-1]["tasks"] == ["uses", "after"]
    assert attempts(doc, "uses") == [1, 2, 3] and attempts(doc, "after") == [1, 2]
    assert doc["repair_count"] == 2


def test_repair_refusals(project):
    project.workflow(
        "r",
        WORKFLOW.replace("NOTEBOOK", "notebooks/ok.ipynb").replace(
            'parameters: {message: "{{params.message}}"}', ""
        ),
    )
    proj = Project(project.root)
    api.run(proj, "r")
    proc = project.cli("repair", "1")
    assert proc.returncode == 2
    assert "every task succeeded; name tasks with --task" in proc.stderr
    proc = project.cli("repair", "1", "--task", "nope")
    assert proc.returncode == 2 and "--task 'nope': no such task" in proc.stderr
    # A run in progress (its runner alive: this process) cannot be repaired.
    store = Store(f"sqlite:///{project.root / '.nbflow' / 'history.db'}")
    store.update_run(1, state="running")
    proc = project.cli("repair", "1", "--task", "g")
    assert proc.returncode == 2 and "run 1 is still running" in proc.stderr
    store.update_run(1, state="success")
    # Of two claims on the same repair number, one wins.
    common = dict(
        now=0.0, tasks=["g"], parameters={}, runner_pid=1, runner_host="h", runner_started=None
    )
    assert store.claim_repair(1, expected_count=0, **common) is True
    assert store.claim_repair(1, expected_count=0, **common) is False


def test_a_second_repair_while_one_runs_is_refused(project):
    from tests.integration.test_failures import wait_for

    project.workflow(
        "r",
        "tasks:\n  - {key: nap, notebook: notebooks/sleepy.ipynb, parameters: {seconds: 0}}\n"
        "  - {key: boom, notebook: notebooks/fail.ipynb}\n",
    )
    api.run(Project(project.root), "r")
    project.workflow(
        "r",
        "tasks:\n  - {key: nap, notebook: notebooks/sleepy.ipynb, parameters: {seconds: 30}}\n"
        "  - {key: boom, notebook: notebooks/fail.ipynb}\n",
    )
    cmd = [sys.executable, "-m", "nbflow.cli", "repair", "1", "--task", "nap"]
    first = subprocess.Popen(
        cmd, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for(lambda: api.show(Project(project.root), 1)["state"] == "running", "the first repair")
    second = project.cli("repair", "1", "--task", "nap")
    assert second.returncode == 2
    assert "run 1 is still running; repair it once it has finished" in second.stderr
    assert project.cli("cancel", "1").returncode == 0
    first.communicate(timeout=120)
    doc = api.show(Project(project.root), 1)
    assert doc["repair_count"] == 1 and len(doc["repairs"]) == 1
    assert doc["repairs"][0]["result"] == "canceled"
