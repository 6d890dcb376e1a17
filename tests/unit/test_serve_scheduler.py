"""The scheduler a Jupyter server runs in its loop, when that loop goes away first."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from nbflow import api
from nbflow.project import Project


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
