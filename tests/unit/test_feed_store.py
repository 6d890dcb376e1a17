"""The server's event feed reads the history through one store for its life."""

from __future__ import annotations

import os
import socket

import pytest

from nbflow import api
from nbflow.server import events
from nbflow.workflows.project import Project


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


def test_a_look_that_fails_is_read_again_so_the_change_it_missed_is_pushed(
    project, monkeypatch: pytest.MonkeyPatch
):
    """A scheduler's heartbeat lands; the look that should see it fails (a history busy for
    a moment): the next look reads again and pushes the change, not takes it as known."""
    import time

    project.workflow("w", "tasks: [{key: a, command: [echo]}]")
    root = Project(project.root)
    api.open_store(root, create=True).close()
    feed = events.Feed(root, tick=0.1)
    assert feed.look() == []  # the first look learns what is there
    store = api.open_store(root)
    store.beat_scheduler("here:1", {"host": "here", "pid": 1, "started": 1.0, "seen": time.time()})
    store.close()
    real_read = feed._read
    failures = [RuntimeError("database is locked")]

    def read_failing_once():
        if failures:
            raise failures.pop()
        return real_read()

    monkeypatch.setattr(feed, "_read", read_failing_once)
    with pytest.raises(RuntimeError):
        feed.look()
    assert ("workflows", {}) in feed.look()
    feed.drop_store()


def test_a_stream_that_subscribes_while_the_last_one_leaves_still_gets_its_first_read(
    project, monkeypatch: pytest.MonkeyPatch
):
    """The panel reconnects (its settings ask for another number of runs): the old stream
    leaves, and the new one subscribes while the feed is closing its store. The feed reads
    for the new stream at once, rather than leave it waiting for a read that never comes."""
    import asyncio
    import threading

    project.workflow("w", "tasks: [{key: a, command: [echo]}]")
    root = Project(project.root)
    api.open_store(root, create=True).close()
    feed = events.Feed(root, tick=0.01)
    closing = threading.Event()
    release = threading.Event()
    real_drop = feed.drop_store

    def drop_slowly() -> None:
        closing.set()
        assert release.wait(30)
        real_drop()

    monkeypatch.setattr(feed, "drop_store", drop_slowly)

    async def scenario() -> bool:
        first = feed.subscribe()
        await asyncio.wait_for(feed.ready.wait(), 30)
        feed.unsubscribe(first)
        await asyncio.to_thread(closing.wait, 30)  # the feed is closing its store now
        second = feed.subscribe()
        release.set()
        try:
            # The feed reads the history again (for the new stream's snapshot), and goes on.
            for _ in range(1000):
                if feed.primed and feed.ready.is_set():
                    return feed.task is not None and not feed.task.done()
                await asyncio.sleep(0.01)  # polling the feed's state, bounded
            return False
        finally:
            feed.unsubscribe(second)
            feed.close()

    assert asyncio.run(scenario()), "the new stream never got the feed's first read"
