"""The panel's requests read the run history the server opened once."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbflow.history import engine
from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]

SCHEDULED = 'schedule: {cron: "0 6 * * *"}\ntasks:\n  - {key: a, notebook: notebooks/ok.ipynb}\n'


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    return server_root(jp_root_dir, monkeypatch, SCHEDULED)


async def test_polls_do_not_open_the_history_each_time(jp_fetch, root, monkeypatch):
    opened: list[str] = []
    real_create = engine.Database._create

    def counting(self):  # every store opened in this process makes or checks its tables
        opened.append(self.url)
        return real_create(self)

    monkeypatch.setattr(engine.Database, "_create", counting)
    for _ in range(3):
        code, listed = await call(jp_fetch, "GET", "workflows")
        assert code == 200 and listed[0]["schedule"]["triggers"] == ["schedule"]
        code, status = await call(jp_fetch, "GET", "scheduler")
        assert code == 200 and status["running"] is False
        code, runs = await call(jp_fetch, "GET", "runs")
        assert code == 200 and runs == []
        code, schedules = await call(jp_fetch, "GET", "schedules")
        assert code == 200 and [s["workflow"] for s in schedules] == ["good"]
        code, error = await call(jp_fetch, "GET", "runs/1")
        assert code == 404 and "no run 1" in error["message"]
        code, backfills = await call(jp_fetch, "GET", "backfills")
        assert code == 200 and backfills == []
        code, error = await call(jp_fetch, "GET", "backfills/1")
        assert code == 404 and "backfill 1" in error["message"]
    assert len(opened) == 1
