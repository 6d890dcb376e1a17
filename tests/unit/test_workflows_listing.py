"""The workflows list (the panel's poll): each file read once for its entry and its schedule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from nbflow import api
from nbflow.workflows import loader
from nbflow.workflows.project import Project


def test_each_workflow_file_is_read_once_per_listing(mini, monkeypatch):
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    mini.write("tasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n", "plain")
    mini.write(
        'schedule: {cron: "0 6 * * *"}\ntasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n',
        "daily",
    )
    mini.write("tasks: [{key: a}]\n", "broken")
    reads: Counter[Path] = Counter()
    real = loader.check_file

    def counting(path, root=None):
        reads[Path(path).name] += 1
        return real(path, root)

    monkeypatch.setattr(loader, "check_file", counting)
    listed = {w["name"]: w for w in api.workflows(Project(mini.root))}
    assert reads == {"plain.yaml": 1, "daily.yaml": 1, "broken.yaml": 1}
    assert listed["plain"]["schedule"] is None and listed["broken"]["ok"] is False
    assert listed["daily"]["schedule"]["schedule"] == {"cron": "0 6 * * *", "timezone": "UTC"}
    assert listed["daily"]["schedule"]["triggers"] == ["schedule"]
