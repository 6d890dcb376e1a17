"""Running one notebook now: the run is recorded from the workflow checked in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from nbflow import api
from nbflow.core.errors import UsageError
from nbflow.workflows import authoring, loader
from nbflow.workflows.loader import check_file
from nbflow.workflows.project import Project


class RecordingLauncher:
    """Takes what `run_notebook` submits; runs nothing."""

    def __init__(self) -> None:
        self.submitted: list[tuple[int, Any]] = []

    def submit(self, project: Project, run_id: int, parallel: int | None = None, *, workflow=None):
        self.submitted.append((run_id, workflow))


@pytest.fixture
def project(mini, monkeypatch) -> Project:
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("n = 1", metadata={"tags": ["parameters"]}))
    nbformat.write(nb, str(mini.root / "notebooks" / "p.ipynb"))
    return Project(mini.root)


@pytest.fixture
def reads(monkeypatch) -> list[Path]:
    """Each file the workflow loader reads from now on."""
    seen: list[Path] = []
    real = loader.check_file

    def spy(path: Path, root: Path | None = None):
        seen.append(Path(path))
        return real(path, root)

    monkeypatch.setattr(loader, "check_file", spy)
    return seen


def test_the_workflow_is_the_one_its_kept_file_loads_as(project):
    target, workflow = authoring.notebook_run_workflow(project, "notebooks/p.ipynb", {"n": 2})
    assert workflow.path == target.resolve() and workflow.name == "notebook-p"
    assert check_file(target, project.root) == (workflow, [])


def test_the_run_is_recorded_from_the_model_and_handed_to_the_launcher(project, reads):
    launcher = RecordingLauncher()
    started = api.run_notebook(project, "notebooks/p.ipynb", {"n": 2}, launcher=launcher)
    assert started == {"id": 1, "state": "queued", "workflow": "notebook-p"}
    [(run_id, workflow)] = launcher.submitted
    assert run_id == 1 and workflow.name == "notebook-p"
    assert workflow.tasks[0].parameters == {"n": 2}
    # One read: the check of the new text, in a temporary file, before the file was written.
    assert len(reads) == 1 and reads[0].name.startswith(".") and reads[0].suffix == ".tmp"
    doc = api.show(project, run_id)
    assert doc["state"] == "queued" and doc["trigger"]["type"] == "api"
    assert doc["workflow"] == "notebook-p"
    assert doc["workflow_path"] == project.relative(workflow.path)
    assert [t["key"] for t in doc["tasks"]] == ["p"]


def test_a_refused_notebook_run_records_nothing(project, reads):
    launcher = RecordingLauncher()
    with pytest.raises(UsageError, match="declares no parameter 'm'"):
        api.run_notebook(project, "notebooks/p.ipynb", {"m": 2}, launcher=launcher)
    assert launcher.submitted == [] and reads == []
    assert not (project.state_dir / "notebooks").exists() or not any(
        (project.state_dir / "notebooks").iterdir()
    )
