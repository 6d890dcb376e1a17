"""GET /nbflow/api/events: run and task changes pushed to an open stream (server-sent events)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# A task that runs until the test creates `go`: the stream must show it running, then done.
GATED = """\
tasks:
  - key: wait
    command: [sh, -c, "while [ ! -e go ]; do sleep 0.05; done"]
  - {key: after, command: ["true"], depends_on: [wait]}
"""


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    root = server_root(jp_root_dir, monkeypatch, GATED)
    return root


class Stream:
    """An open event stream, its events parsed as they arrive."""

    def __init__(self, client, url: str, headers: dict[str, str]):
        self.events: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        self.buffer = ""
        self.done = asyncio.ensure_future(
            client.fetch(
                url,
                headers=headers,
                streaming_callback=self._chunk,
                request_timeout=120,
                raise_error=False,
            )
        )

    def _chunk(self, data: bytes) -> None:
        self.buffer += data.decode()
        while "\n\n" in self.buffer:
            block, self.buffer = self.buffer.split("\n\n", 1)
            fields = dict(
                line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
            )
            if "event" in fields:
                self.events.put_nowait((fields["event"], json.loads(fields["data"])))

    async def until(self, wanted, timeout: float = 60) -> list[tuple[str, object]]:
        """Events up to and including the first for which `wanted(name, data)` is true."""
        seen = []
        while True:
            name, data = await asyncio.wait_for(self.events.get(), timeout)
            seen.append((name, data))
            if wanted(name, data):
                return seen


def _nbflow(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "nbflow"), *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def test_a_cli_run_is_pushed_as_it_changes(
    jp_serverapp, jp_base_url, jp_auth_header, http_server_client, root
):
    stream = Stream(http_server_client, f"{jp_base_url}nbflow/api/events?limit=5", jp_auth_header)
    name, data = await asyncio.wait_for(stream.events.get(), 30)
    assert name == "snapshot" and data == {"runs": []}

    process = _nbflow(root, "run", "good")
    try:
        # Pushed while the first task runs: the run, its gated task running, the next pending.
        seen = await stream.until(
            lambda n, d: (
                n == "run"
                and {t["key"]: t["state"] for t in d["tasks"]}
                == {"wait": "running", "after": "pending"}
            )
        )
        run = seen[-1][1]
        assert run["id"] == 1 and run["state"] == "running" and run["workflow"] == "good"
        (root / "go").touch()
        seen = await stream.until(lambda n, d: n == "run" and d["state"] == "success")
        assert [t["state"] for t in seen[-1][1]["tasks"]] == ["success", "success"]
        # The workflows list is told to look again (a run appeared, a run finished).
        assert ("workflows", {}) in seen or await stream.until(lambda n, d: n == "workflows")
    finally:
        assert process.wait(timeout=60) == 0, process.stdout.read().decode()

    # The server stops: every stream ends (its browser reconnects to the next server).
    jp_serverapp.web_app.settings["nbflow_feed"].close()
    response = await asyncio.wait_for(stream.done, 10)
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/event-stream"


async def test_a_reconnecting_stream_starts_from_a_snapshot_of_the_newest_runs(
    jp_fetch, jp_serverapp, jp_base_url, jp_auth_header, http_server_client, root
):
    (root / "go").touch()
    for _ in range(3):
        process = _nbflow(root, "run", "good")
        assert process.wait(timeout=60) == 0, process.stdout.read().decode()
    stream = Stream(http_server_client, f"{jp_base_url}nbflow/api/events?limit=2", jp_auth_header)
    name, data = await asyncio.wait_for(stream.events.get(), 30)
    assert name == "snapshot"
    assert [(r["id"], r["state"]) for r in data["runs"]] == [(3, "success"), (2, "success")]
    jp_serverapp.web_app.settings["nbflow_feed"].close()
    await asyncio.wait_for(stream.done, 10)


async def test_a_bad_stream_request_is_a_4xx_in_json(jp_fetch, root):
    code, error = await call(jp_fetch, "GET", "events", limit="0")
    assert code == 400 and error["message"].startswith("limit: expected an integer")


async def test_a_backfill_recorded_and_canceled_is_pushed(
    jp_fetch, jp_serverapp, jp_base_url, jp_auth_header, http_server_client, root
):
    stream = Stream(http_server_client, f"{jp_base_url}nbflow/api/events", jp_auth_header)
    name, _ = await asyncio.wait_for(stream.events.get(), 30)
    assert name == "snapshot"
    body = {"from": "2026-01-01", "to": "2026-01-02", "every": "1d"}
    code, doc = await call(jp_fetch, "POST", "workflows/good/backfill", body)
    assert code == 202
    seen = await stream.until(lambda n, d: n == "backfill", timeout=30)
    assert seen[-1] == ("backfill", {"id": doc["id"], "state": "running"})
    code, _ = await call(jp_fetch, "POST", f"backfills/{doc['id']}/cancel")
    assert code == 202
    seen = await stream.until(lambda n, d: n == "backfill", timeout=30)
    assert seen[-1] == ("backfill", {"id": doc["id"], "state": "canceled"})
    jp_serverapp.web_app.settings["nbflow_feed"].close()
    await asyncio.wait_for(stream.done, 10)


async def test_a_scheduler_starting_tells_the_workflows_list_to_look_again(
    jp_fetch, jp_serverapp, jp_base_url, jp_auth_header, http_server_client, root
):
    stream = Stream(http_server_client, f"{jp_base_url}nbflow/api/events", jp_auth_header)
    name, _ = await asyncio.wait_for(stream.events.get(), 30)
    assert name == "snapshot"
    code, status = await call(jp_fetch, "POST", "scheduler/start")
    assert code == 200 and status["running"] is True
    # No run, no file changed: only the scheduler's heartbeat is new.
    seen = await stream.until(lambda n, d: n == "workflows", timeout=30)
    assert [n for n, _ in seen] == ["workflows"]
    jp_serverapp.web_app.settings["nbflow_feed"].close()
    await asyncio.wait_for(stream.done, 10)
