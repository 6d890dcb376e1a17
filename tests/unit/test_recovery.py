"""Crash recovery of a run whose runner died, whatever state its executed notebook is in."""

from __future__ import annotations

import html
import os
import socket
from pathlib import Path

import nbformat
import pytest

from nbflow import api
from nbflow.api.repairs import REPAIRABLE
from nbflow.core.errors import UsageError
from nbflow.core.states import ACTIVE_RUN_STATES
from nbflow.execution import annotate, recovery
from nbflow.history import Store
from nbflow.workflows import secrets
from nbflow.workflows.project import Project

ARTIFACT = ".nbflow/runs/crash/1/nap/attempt-1.ipynb"


def orphan(store: Store) -> int:
    """A run of this host whose runner is gone: this process's pid with another start time
    stands for a pid the system gave to someone else. `nap` was running, `after` waits on it."""
    run_id = store.create_run(
        workflow="crash",
        workflow_path="workflows/crash.yaml",
        trigger_type="manual",
        trigger_time=1.0,
        parameters={},
        tasks=[("nap", "notebook", []), ("after", "notebook", [{"task": "nap", "outcome": None}])],
        state="running",
        now=1.0,
        runner_pid=os.getpid(),
        runner_host=socket.gethostname(),
        runner_started=1.0,
    )
    store.update_task(run_id, "nap", state="running", start_time=2.0)
    store.add_attempt(
        run_id, "nap", 1, start_time=2.0, parameters={"seconds": 60}, artifact=ARTIFACT
    )
    return run_id


def recovered(tmp_path: Path, content: str | None) -> tuple[dict, Path]:
    """Recover the orphan with its notebook holding `content` (None: no file); the run and
    the notebook's path."""
    project = Project(tmp_path)
    path = tmp_path / ARTIFACT
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is not None:
        path.write_text(content, encoding="utf-8")
    project.state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(project.database_url)
    try:
        run_id = orphan(store)
        assert recovery.recover(store, project, now=50.0) == [run_id]
        run = store.get_run(run_id)
    finally:
        store.close()
    return run, path


def outcome(run: dict) -> dict:
    """What recovery recorded: the run's and each task's state and message, and attempts."""
    return {
        "run": (run["state"], run["end_time"], run["message"]),
        "tasks": {
            t["key"]: (
                t["state"],
                t["message"],
                [
                    (a["number"], a["state"], a["error_ename"], a["parameters"], a["artifact"])
                    for a in t["attempts"]
                ],
            )
            for t in run["tasks"]
        },
    }


@pytest.mark.parametrize(
    "content",
    ["", '{"cells": [{"cell_type": "code", "sou', "\x00" * 64],
    ids=["empty", "cut-off-json", "zeros"],
)
def test_recovery_treats_an_unreadable_notebook_as_no_notebook(tmp_path: Path, content: str):
    run, path = recovered(tmp_path / "damaged", content)
    no_notebook, _ = recovered(tmp_path / "missing", None)
    assert outcome(run) == outcome(no_notebook)
    message = run["message"]
    assert message.startswith("runner died (process ") and message.endswith(" is gone)")
    assert outcome(run)["tasks"] == {
        "nap": ("failed", message, [(1, "failed", "RunnerDied", {"seconds": 60}, ARTIFACT)]),
        "after": ("upstream_failed", message, []),
    }
    # The run is finished and every task is one a repair runs again.
    assert run["state"] not in ACTIVE_RUN_STATES
    assert all(t["state"] in REPAIRABLE for t in run["tasks"])
    # What the attempt left is kept as it was, for whoever looks into the crash.
    assert path.read_text(encoding="utf-8") == content


def test_recovery_marks_a_whole_notebook_where_the_runner_died(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    started = nbformat.v4.new_code_cell("time.sleep(seconds)")
    started.metadata["papermill"] = {"status": "running", "start_time": "2026-01-01T00:00:00"}
    nb.cells = [nbformat.v4.new_code_cell("import time"), started]
    leftover = secrets.unfinished_save(tmp_path / ARTIFACT)
    leftover.parent.mkdir(parents=True)
    leftover.write_text('{"cells": [')  # a later save, cut off when the worker was killed
    run, path = recovered(tmp_path, nbformat.writes(nb))
    assert not leftover.exists()
    marked = annotate.read_notebook(path)
    assert annotate.BANNER_TAG in marked.cells[0].metadata["tags"]
    assert "the runner died in cell 2." in marked.cells[0].source
    assert marked.cells[2].outputs[-1]["ename"] == "RunnerDied"
    assert run["tasks"][0]["attempts"][0]["error_ename"] == "RunnerDied"


def test_a_crashed_run_whose_notebook_was_cut_off_is_reviewed_without_a_traceback(
    tmp_path: Path,
):
    run, _ = recovered(tmp_path, '{"cells": [{"cell_type": "code", "sou')
    project, run_id = Project(tmp_path), run["id"]
    doc = api.show(project, run_id)
    assert doc["tasks"][0]["attempts"][0]["error"]["ename"] == "RunnerDied"
    # The run's page says which notebook cannot be shown, and shows the rest of the run.
    _, page = api.report(project, run_id)
    shown = html.unescape(page)  # the notebook's page is an iframe's escaped `srcdoc`
    assert "nap · attempt 1 · failed" in shown
    assert "attempt-1.ipynb: not a readable notebook" in shown
    assert "runner died (process" in shown
    with pytest.raises(UsageError, match=r"attempt-1\.ipynb: not a readable notebook"):
        api.report(project, run_id, "nap")
    cut_off = "the executed notebook is not complete JSON; it was probably cut off"
    with pytest.raises(UsageError, match=cut_off):
        api.logs(project, run_id, "nap")
    with pytest.raises(UsageError, match=cut_off):
        api.artifact(project, run_id, "nap")
    (nap, _) = api.diff(project, run_id, run_id)["tasks"]
    assert nap["key"] == "nap" and nap["cells"] is None
    assert nap["note"].endswith(
        f"attempt-1.ipynb: {cut_off} while being saved when its attempt was stopped"
    )
    # Named as the history records it, inside the project: no server path in an answer.
    artifact = doc["tasks"][0]["attempts"][0]["artifact"]
    assert nap["note"].startswith(f"{artifact}: ") and str(tmp_path) not in nap["note"]
