"""The server's shared run history: opened once, recovered per read, reopened when it fails."""

from __future__ import annotations

import pytest

from nbflow import api
from nbflow.core.errors import RunNotFound
from nbflow.server.history import SharedHistory
from nbflow.workflows.project import Project
from tests.unit.test_feed_store import orphan


@pytest.fixture
def root(project) -> Project:
    project.workflow("w", "tasks: [{key: a, command: [echo]}]")
    root = Project(project.root)
    api.open_store(root, create=True).close()
    return root


@pytest.fixture
def opened(monkeypatch) -> list[object]:
    """Each history the server side opens from now on."""
    seen: list[object] = []
    real_open = api.open_store
    monkeypatch.setattr(api, "open_store", lambda *a, **k: seen.append(a) or real_open(*a, **k))
    return seen


def test_reads_share_one_store_and_each_finishes_a_dead_runners_run(root, opened):
    history = SharedHistory(root)
    try:
        assert history.read(lambda store: api.list_runs(root, store=store)) == []
        assert len(opened) == 1
        run_id = orphan(root)  # after the shared store was opened
        opened.clear()
        doc = history.read(lambda store: api.show(root, run_id, store))
        assert doc["state"] == "failed" and "runner died" in doc["message"]
        with pytest.raises(RunNotFound):  # the request's mistake: the store stays
            history.read(lambda store: api.show(root, run_id + 1, store))
        assert (
            history.read(lambda store: api.scheduler_status(root, store=store))["running"] is False
        )
        assert opened == []
    finally:
        history.close()


def test_a_store_whose_files_were_replaced_is_opened_again(root, opened):
    history = SharedHistory(root)
    try:
        history.read(lambda store: api.list_runs(root, store=store))
        for path in root.state_dir.glob("history.db*"):
            path.unlink()
        assert history.read(lambda store: api.list_runs(root, store=store)) == []
        assert len(opened) == 2
    finally:
        history.close()


def test_a_store_that_fails_at_once_on_opening_is_not_tried_again(root, opened):
    history = SharedHistory(root)
    calls = []

    def failing(store):
        calls.append(store)
        raise RuntimeError("broken")

    try:
        with pytest.raises(RuntimeError):
            history.read(failing)
        assert len(calls) == 1 and len(opened) == 1  # a new store failed: that is the answer
    finally:
        history.close()
