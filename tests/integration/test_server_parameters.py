"""Other parameter values for a run or a repair through REST, as `-p` gives them on the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import tornado

from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# A command, so that no kernel is needed; it fails, so that the run can be repaired.
FAILS = 'parameters: {x: 1}\ntasks:\n  - {key: a, command: ["false", "{{params.x}}"]}\n'


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    return server_root(jp_root_dir, monkeypatch, FAILS)


async def _settled(jp_fetch, run_id: int, repairs: int) -> dict:
    doc: dict = {}
    for _ in range(600):  # the run goes on in its own process; poll its document
        _, doc = await call(jp_fetch, "GET", f"runs/{run_id}")
        if doc["repair_count"] == repairs and doc["state"] not in ("queued", "running"):
            return doc
        await tornado.gen.sleep(0.1)
    raise AssertionError(f"run {run_id} did not settle: {doc}")


async def test_repair_with_other_parameters_and_refuse_unknown_ones(jp_fetch, root):
    code, started = await call(
        jp_fetch, "POST", "runs", {"workflow": "good", "parameters": {"x": 5}}
    )
    assert code == 202
    run_id = started["id"]
    doc = await _settled(jp_fetch, run_id, 0)
    assert doc["state"] == "failed" and doc["parameters"] == {"x": 5}

    # A name the workflow does not declare is refused at once, as `repair -p` refuses it
    # (it was accepted with 202, and the repair then failed unseen in its own process).
    code, error = await call(jp_fetch, "POST", f"runs/{run_id}/repair", {"parameters": {"y": 1}})
    assert code == 400 and "has no parameter 'y'" in error["message"], error
    _, doc = await call(jp_fetch, "GET", f"runs/{run_id}")
    assert doc["repair_count"] == 0

    # A text that reads as a number stays text on its way through the repair process.
    code, _ = await call(jp_fetch, "POST", f"runs/{run_id}/repair", {"parameters": {"x": "007"}})
    assert code == 202
    doc = await _settled(jp_fetch, run_id, 1)
    assert doc["parameters"] == {"x": "007"}
    repaired = doc["tasks"][0]["attempts"][-1]
    assert repaired["number"] == 2 and repaired["parameters"]["argv"] == ["false", "007"]
