"""The REST API inside a real Jupyter server (pytest-jupyter starts it per test)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tornado
import yaml

from nbflow.server.routes import ROUTES
from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]

GOOD = 'parameters: {x: 1}\ntasks:\n  - {key: a, notebook: notebooks/ok.ipynb, parameters: {x: "{{params.x}}"}}\n'
BAD = "tasks:\n  - {key: a, notebok: notebooks/ok.ipynb}\n"


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    return server_root(jp_root_dir, monkeypatch, GOOD)


async def test_every_route_needs_authentication(
    jp_fetch, jp_serverapp, jp_base_url, root, http_server_client
):
    checked: list[int] = []
    for pattern, _ in ROUTES:
        path = (
            pattern.replace(r"(\d+)", "1")
            .replace("([A-Za-z0-9_.-]+)", "good")
            .replace("(pause|resume)", "pause")
        )
        for method in ("GET", "POST"):
            response = await http_server_client.fetch(
                f"{jp_base_url}nbflow/api/{path}",
                method=method,
                body=None if method == "GET" else "{}",
                raise_error=False,
            )
            assert response.code in (403, 405), (method, path, response.code)
            checked.append(response.code)
    assert checked.count(403) >= len(ROUTES)  # each route answered 403 to its method(s)
    # An unknown route says nothing (not even that it is unknown) without a token.
    response = await http_server_client.fetch(
        f"{jp_base_url}nbflow/api/nope", method="GET", raise_error=False
    )
    assert response.code == 403


async def test_workflows_validate_and_parameters(jp_fetch, root):
    (root / "workflows" / "bad.yaml").write_text(BAD)
    code, found = await call(jp_fetch, "GET", "workflows")
    assert code == 200
    by_name = {w["name"]: w for w in found}
    assert by_name["good"]["ok"] and by_name["good"]["tasks"][0]["key"] == "a"
    assert not by_name["bad"]["ok"]
    assert "unknown key 'notebok'" in by_name["bad"]["problems"][0]["message"]
    code, result = await call(
        jp_fetch, "POST", "workflows/validate", {"files": ["workflows/bad.yaml"]}
    )
    assert code == 200 and result["ok"] is False and result["problems"][0]["line"] == 2
    code, params = await call(jp_fetch, "GET", "notebooks/parameters", path="notebooks/echo.ipynb")
    assert code == 200
    assert {p["name"] for p in params["parameters"]} >= {"text", "code", "count"}


async def test_paths_outside_the_root_and_malformed_requests_get_4xx(jp_fetch, root):
    for path in ("../outside.ipynb", "/etc/passwd", "notebooks/../../x.ipynb"):
        code, error = await call(jp_fetch, "GET", "notebooks/parameters", path=path)
        assert code == 403 and "outside the server's root" in error["message"]
    code, error = await call(jp_fetch, "POST", "workflows/validate", {"files": ["../../x.yaml"]})
    assert code == 403
    cases = [
        ("POST", "runs", "not json", 400, "not JSON"),
        ("POST", "runs", {"workflw": "good"}, 400, "workflow: Field required"),
        ("POST", "runs", {"workflow": "good", "parallel": 0}, 400, "parallel"),
        ("POST", "runs", {"workflow": "nope"}, 404, "no workflow 'nope'"),
        ("POST", "runs", {"workflow": "good", "parameters": {"y": 1}}, 400, "has no parameter 'y'"),
        ("GET", "runs/999", None, 404, "no run 999"),
        ("POST", "runs/999/cancel", None, 404, "no run 999"),
        ("POST", "runs/999/repair", {"tasks": "a"}, 400, "tasks"),
        ("GET", "notebooks/parameters", None, 400, "path:"),
        # Past what the history's integer ids can hold: not there (was a 500).
        ("GET", "runs/99999999999999999999", None, 404, "no run 99999999999999999999"),
        ("POST", "runs/99999999999999999999/repair", {}, 404, "no run"),
        # No such route: a JSON answer, not Jupyter's HTML page.
        ("GET", "runs/abc", None, 404, "no route GET /nbflow/api/runs/abc"),
        ("POST", "nope", {}, 404, "openapi.yaml"),
    ]
    for method, path, body, status, message in cases:
        if body == "not json":
            try:
                await jp_fetch("nbflow", "api", path, method=method, body="{oops")
                raise AssertionError("accepted a body that is not JSON")
            except tornado.httpclient.HTTPClientError as exc:
                assert exc.code == status
                assert message in json.loads(exc.response.body)["message"]
            continue
        code, error = await call(jp_fetch, method, path, body)
        assert code == status, (path, body, code, error)
        assert message in error["message"], error
    (root / "workflows" / "good.yaml").write_text(BAD)
    code, error = await call(jp_fetch, "POST", "runs", {"workflow": "good"})
    assert code == 400 and error["problems"][0]["line"] == 2


@pytest.mark.kernel
async def test_start_a_run_follow_it_fetch_its_notebook_and_repair_it(jp_fetch, root):
    code, started = await call(
        jp_fetch, "POST", "runs", {"workflow": "good", "parameters": {"x": 21}}
    )
    assert code == 202
    run_id = started["id"]

    async def finished():
        code, doc = await call(jp_fetch, "GET", f"runs/{run_id}")
        return doc if doc["state"] not in ("queued", "running") else None

    doc = None
    for _ in range(600):  # the run goes on in its own process; poll its document
        doc = await finished()
        if doc:
            break
        await tornado.gen.sleep(0.1)
    assert doc and doc["state"] == "success", doc
    assert doc["trigger"]["type"] == "api"
    assert doc["tasks"][0]["values"] == {"doubled": 42}
    code, listed = await call(jp_fetch, "GET", "runs", workflow="good")
    assert [r["id"] for r in listed] == [run_id]
    code, artifact = await call(jp_fetch, "GET", f"runs/{run_id}/artifact", task="a")
    assert code == 200 and artifact["kind"] == "notebook"
    assert artifact["path"] == f".nbflow/runs/good/{run_id}/a/attempt-1.ipynb"
    assert artifact["content"]["cells"]
    code, error = await call(jp_fetch, "POST", f"runs/{run_id}/cancel")
    assert code == 409 and "already finished" in error["message"]
    code, _ = await call(jp_fetch, "POST", f"runs/{run_id}/repair", {"tasks": ["a"]})
    assert code == 202
    for _ in range(600):
        code, doc = await call(jp_fetch, "GET", f"runs/{run_id}")
        if doc["repair_count"] == 1 and doc["state"] not in ("queued", "running"):
            break
        await tornado.gen.sleep(0.1)
    assert doc["repair_count"] == 1 and doc["state"] == "success"
    assert [a["number"] for a in doc["tasks"][0]["attempts"]] == [1, 2]


async def test_schedules_pause_and_resume(jp_fetch, root):
    (root / "workflows" / "nightly.yaml").write_text(
        'schedule: {cron: "0 2 * * *", timezone: Europe/Berlin}\n' + GOOD
    )
    code, entries = await call(jp_fetch, "GET", "schedules")
    assert code == 200 and [e["workflow"] for e in entries] == ["nightly"]
    code, entry = await call(jp_fetch, "POST", "schedules/nightly/pause")
    assert code == 200 and entry["paused"] is True
    code, entry = await call(jp_fetch, "POST", "schedules/nightly/resume")
    assert code == 200 and entry["paused"] is False
    code, error = await call(jp_fetch, "POST", "schedules/good/pause")
    assert code == 400 and "has no trigger" in error["message"]
    code, error = await call(jp_fetch, "POST", "schedules/missing/pause")
    assert code == 404


async def test_the_openapi_description_matches_the_routes(jp_fetch, root):
    code, text = await call(jp_fetch, "GET", "openapi.yaml")
    assert code == 200
    spec = yaml.safe_load(text)
    documented = set(spec["paths"])
    served = set()
    for pattern, handler in ROUTES:
        path = "/" + pattern
        path = re.sub(r"runs/\(\\d\+\)", "runs/{run_id}", path)
        path = path.replace("diff/(\\d+)", "diff/{other_run_id}")
        path = path.replace(
            "schedules/([A-Za-z0-9_.-]+)/(pause|resume)", "schedules/{workflow}/VERB"
        )
        path = path.replace("workflows/([A-Za-z0-9_.-]+)/", "workflows/{name}/")
        path = path.replace("backfills/(\\d+)", "backfills/{backfill_id}")
        for variant in ["pause", "resume"] if "VERB" in path else [None]:
            p = path.replace("VERB", variant) if variant else path
            methods = {m for m in ("get", "post") if m in handler.__dict__}
            served.add(p)
            assert methods == set(spec["paths"][p]) - {"parameters"}, (p, methods)
    assert served == documented


async def test_start_the_scheduler_inside_the_server_on_request(jp_fetch, root):
    """The panel's button: a server started without run_scheduler starts one on request."""
    import os
    import sys

    import tornado.gen

    from nbflow.history import Store

    (root / "workflows" / "tick.yaml").write_text(
        'schedule: {cron: "* * * * * ?"}\n'
        f'tasks:\n  - {{key: t, command: ["{sys.executable}", "-c", "pass"]}}\n'
    )
    code, status = await call(jp_fetch, "GET", "scheduler")
    assert code == 200 and status["running"] is False
    code, status = await call(jp_fetch, "POST", "scheduler/start", {})
    assert code == 200 and status["running"] is True
    assert [s["pid"] for s in status["schedulers"]] == [os.getpid()]
    # Asked again: still the one scheduler, not a second one in the same server.
    code, again = await call(jp_fetch, "POST", "scheduler/start", {})
    assert code == 200 and [s["pid"] for s in again["schedulers"]] == [os.getpid()]

    store = Store(f"sqlite:///{root / '.nbflow' / 'history.db'}")
    try:
        for _ in range(300):  # it fires on this test's event loop: give it turns
            if store.list_runs("tick", limit=5):
                break
            await tornado.gen.sleep(0.1)
        fired = store.list_runs("tick", limit=5)
        assert fired and fired[0]["trigger_type"] == "schedule"
    finally:
        store.close()
