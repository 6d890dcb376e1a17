"""POST /nbflow/api/workflows/{name}/backfill: records a backfill the schedulers run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]

DAILY = (
    'schedule: {cron: "0 2 * * *", timezone: Europe/Berlin}\n'
    "parameters: {x: 1}\n"
    'tasks:\n  - {key: a, notebook: notebooks/ok.ipynb, parameters: {x: "{{params.x}}"}}\n'
)


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    return server_root(jp_root_dir, monkeypatch, DAILY)


async def test_a_backfill_is_recorded_with_its_days(jp_fetch, root):
    body = {"from": "2026-01-01", "to": "2026-01-03", "concurrency": 2, "parameters": {"x": 5}}
    code, doc = await call(jp_fetch, "POST", "workflows/good/backfill", body)
    assert code == 202, doc
    assert doc["id"] == 1 and doc["state"] == "running" and doc["concurrency"] == 2
    assert doc["parameters"] == {"x": 5} and doc["counts"] == {"pending": 3}
    assert doc["days"][0] == {
        "time": "2026-01-01T02:00:00+01:00",
        "state": "pending",
        "run_id": None,
    }


@pytest.mark.parametrize(
    ("route", "body", "status", "message"),
    [
        ("workflows/good/backfill", {"from": "2026-01-01"}, 400, "to: Field required"),
        ("workflows/good/backfill", {"from": "x", "to": "2026-01-02"}, 400, "--from 'x'"),
        ("workflows/good/backfill", {"from": "2026-01-01", "to": "2026-01-02", "concurrency": 0}, 400, "concurrency"),
        ("workflows/good/backfill", {"from": "2026-01-01", "to": "2026-01-02", "nope": 1}, 400, "nope"),
        ("workflows/good/backfill", {"from": "2026-01-01", "to": "2026-01-02", "parameters": {"y": 1}}, 400, "no parameter 'y'"),
        ("workflows/missing/backfill", {"from": "2026-01-01", "to": "2026-01-02"}, 404, "missing"),
    ],
)  # fmt: skip
async def test_bad_backfill_requests_get_4xx(jp_fetch, root, route, body, status, message):
    code, error = await call(jp_fetch, "POST", route, body)
    assert code == status and message in error["message"], error
    code, listed = await call(
        jp_fetch, "POST", "workflows/good/backfill", {"from": "2026-01-01", "to": "2026-01-01"}
    )
    assert code == 202 and listed["id"] == 1  # nothing was recorded by the bad request


async def test_backfills_are_listed_shown_and_canceled(jp_fetch, root):
    (root / "workflows" / "other.yaml").write_text(
        "tasks:\n  - {key: a, notebook: notebooks/ok.ipynb}\n"
    )
    code, first = await call(
        jp_fetch, "POST", "workflows/good/backfill", {"from": "2026-01-01", "to": "2026-01-02"}
    )
    assert code == 202
    code, second = await call(
        jp_fetch,
        "POST",
        "workflows/other/backfill",
        {"from": "2026-01-01", "to": "2026-01-01", "every": "6h"},
    )
    assert code == 202 and second["counts"] == {"pending": 4}
    code, listed = await call(jp_fetch, "GET", "backfills")
    assert code == 200 and [b["id"] for b in listed] == [1, 2]
    code, listed = await call(jp_fetch, "GET", "backfills", workflow="other")
    assert code == 200 and [b["id"] for b in listed] == [2]
    code, shown = await call(jp_fetch, "GET", "backfills/1")
    assert code == 200 and shown == first
    code, canceled = await call(jp_fetch, "POST", "backfills/1/cancel")
    assert code == 202 and canceled["state"] == "canceled"
    assert canceled["counts"] == {"not_started": 2}
    code, error = await call(jp_fetch, "POST", "backfills/1/cancel")
    assert code == 409 and "already ended (canceled)" in error["message"]
    for route, method in (("backfills/7", "GET"), ("backfills/7/cancel", "POST")):
        code, error = await call(jp_fetch, method, route)
        assert code == 404 and "no backfill 7" in error["message"], error
    code, error = await call(jp_fetch, "GET", f"backfills/{2**63}")
    assert code == 404 and f"no backfill {2**63}" in error["message"]
