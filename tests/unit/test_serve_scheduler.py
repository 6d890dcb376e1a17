"""The scheduler a Jupyter server runs in its loop, when that loop goes away first."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from nbflow import api
from nbflow.workflows.project import Project


def test_a_scheduler_left_by_a_closed_loop_ends_quietly_while_another_loop_runs(
    project, monkeypatch: pytest.MonkeyPatch
):
    """A stopped server's loop may close with the scheduler suspended in it; the garbage
    collector closes the coroutine later, maybe while another loop runs in the thread. Its
    cleanup must not touch the closed loop (seen in CI as 'Event loop is closed')."""
    monkeypatch.setenv("NBFLOW_WARM_KERNELS", "0")
    project.workflow("w", "tasks: [{key: a, command: [echo]}]")
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    loop = asyncio.new_event_loop()
    ready = asyncio.Event()

    async def start() -> asyncio.Task[None]:
        task = asyncio.ensure_future(
            api.serve_scheduler(Project(project.root), asyncio.Event(), ready=ready)
        )
        await ready.wait()
        return task

    task = loop.run_until_complete(start())
    loop.close()  # the server went away with the scheduler suspended
    del task

    async def elsewhere() -> None:
        gc.collect()

    asyncio.run(elsewhere())
    assert unraisable == []


def test_a_slow_trigger_query_does_not_hold_up_the_loop_the_runs_share(
    project, monkeypatch: pytest.MonkeyPatch
):
    """A tick runs in a thread: while a trigger's query waits on a slow database, the
    scheduler's loop (its runs, the Jupyter server's requests) goes on."""
    import threading

    from nbflow.scheduling import sqltrigger

    monkeypatch.setenv("NBFLOW_WARM_KERNELS", "0")
    project.workflow(
        "watch",
        "trigger: {sql: {query: 'select 1'}, every: 1s}\ntasks: [{key: a, command: [echo]}]",
    )
    entered, returned, release = threading.Event(), threading.Event(), threading.Event()

    def slow_query(self, query, connection):
        entered.set()
        release.wait(10)  # let go by the test, or after 10 s when the loop was held up
        returned.set()
        return 1

    monkeypatch.setattr(sqltrigger.SqlTrigger, "query", slow_query)

    async def scenario() -> bool:
        stop = asyncio.Event()
        serving = asyncio.ensure_future(api.serve_scheduler(Project(project.root), stop))
        while not entered.is_set():
            await asyncio.sleep(0.01)
        seen_while_blocked = not returned.is_set()  # this coroutine ran during the query
        release.set()
        stop.set()
        await serving
        return seen_while_blocked

    assert asyncio.run(scenario())
