"""The server's event feed reads the history through one store for its life."""

from __future__ import annotations

import os
import socket

import pytest

from nbflow import api
from nbflow.project import Project
from nbflow.server import events


def orphan(root: Project) -> int:
    """A run whose runner died (no such process) without finishing it."""
    store = api.open_store(root, create=True)
    try:
        return store.create_run(
            workflow="w",
            workflow_path="workflows/w.yaml",
            trigger_type="manual",
            trigger_time=1.0,
            parameters={},
            tasks=[("a", "command", [])],
            state="running",
            now=1.0,
            runner_pid=2**22 + os.getpid(),
            runner_host=socket.gethostname(),
            runner_started=1.0,
        )
    finally:
        store.close()


def test_the_feed_opens_the_history_once_and_still_finishes_a_dead_runners_run(
    project, monkeypatch: pytest.MonkeyPatch
):
    project.workflow("w", "tasks: [{key: a, command: [echo]}]")
    root = Project(project.root)
    api.open_store(root, create=True).close()
    feed = events.Feed(root, tick=0.1)
    monkeypatch.setattr(events, "RESYNC", 0.0)  # every look reads the history
    feed.look()  # opens it
    opened: list[object] = []
    real_open = api.open_store
    monkeypatch.setattr(api, "open_store", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    run_id = orphan(root)  # after the feed opened the history
    opened.clear()
    for _ in range(3):
        feed.look()
    assert opened == []  # the looks reuse the feed's store
    assert feed.store is not None
    assert feed.store.get_run(run_id)["state"] == "failed"  # a look finished it
    feed.drop_store()
    assert feed.store is None
