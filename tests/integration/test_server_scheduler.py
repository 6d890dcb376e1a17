"""The scheduler inside the Jupyter server (NbflowServer.run_scheduler), next to a daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tornado

from nbflow.history import Store

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {"jpserver_extensions": {"nbflow.server": True}},
        "NbflowServer": {"run_scheduler": True, "scheduler_tick": 0.1},
    }


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    (jp_root_dir / "workflows").mkdir()
    (jp_root_dir / "workflows" / "tick.yaml").write_text(
        'schedule: {cron: "* * * * * ?"}\nmax_concurrent_runs: 3\n'
        f'tasks:\n  - {{key: t, command: ["{sys.executable}", "-c", "pass"]}}\n'
    )
    return jp_root_dir


def runs(root: Path) -> list[dict]:
    db = root / ".nbflow" / "history.db"
    if not db.exists():
        return []
    store = Store(f"sqlite:///{db}")
    try:
        return store.list_runs(limit=1000)
    finally:
        store.close()


async def wait_runs(root: Path, count: int) -> None:
    for _ in range(300):  # the server's scheduler fires on the test's own event loop
        if len(runs(root)) >= count:
            return
        await tornado.gen.sleep(0.1)
    raise AssertionError(f"fewer than {count} runs")


async def scheduler_pids(jp_fetch) -> set[int]:
    response = await jp_fetch("nbflow", "api", "scheduler", method="GET")
    status = json.loads(response.body)
    assert status["running"] is bool(status["schedulers"])
    return {s["pid"] for s in status["schedulers"]}


async def test_the_servers_scheduler_fires_and_shares_fires_with_a_daemon(
    jp_serverapp, jp_fetch, root
):
    await wait_runs(root, 2)
    assert {r["runner_pid"] for r in runs(root)} == {os.getpid()}  # the server fired them
    # The lab's panel asks whether a scheduler serves the project: this server does.
    assert await scheduler_pids(jp_fetch) == {os.getpid()}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "nbflow.cli", "schedule", "--tick", "0.1"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # the daemon is listed once its first look (and heartbeat) is done
            if daemon.pid in await scheduler_pids(jp_fetch) or daemon.poll() is not None:
                break
            await tornado.gen.sleep(0.1)
        assert await scheduler_pids(jp_fetch) == {os.getpid(), daemon.pid}
        before = len(runs(root))
        await wait_runs(root, before + 4)  # fired by either, each fire time once (checked below)
    finally:
        daemon.send_signal(signal.SIGINT)
        await tornado.gen.sleep(0)
        daemon.communicate(timeout=60)
    # A daemon that stops cleanly is no longer listed (its heartbeat is removed).
    assert await scheduler_pids(jp_fetch) == {os.getpid()}
    times = [r["trigger_time"] for r in runs(root)]
    assert len(times) == len(set(times)), "a fire time started two runs"
