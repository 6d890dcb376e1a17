"""The REST API under abuse: hostile paths, bodies and files get a 4xx with a message, never
a 500, never a file of the run history opened, and never a frozen server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
import tornado

from nbflow import api
from nbflow.execution.runner import create_run
from nbflow.workflows.project import Project
from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]

GOOD = 'parameters: {x: 1}\ntasks:\n  - {key: a, notebook: notebooks/ok.ipynb, parameters: {x: "{{params.x}}"}}\n'
BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    + "tasks: []\n"
)


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    return server_root(jp_root_dir, monkeypatch, GOOD)


def strict_json(text: bytes | str) -> object:
    """JSON as a browser reads it: NaN and Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in a reply: not JSON for a browser")

    return json.loads(text, parse_constant=refuse)


async def raw(jp_fetch, method: str, route: str, body: str | None = None, **params):
    """(status, body as strict JSON) of a request whose body is sent as written."""
    try:
        response = await jp_fetch(
            "nbflow", "api", *route.split("/"), method=method, body=body, params=params or None
        )
    except tornado.httpclient.HTTPClientError as exc:
        return exc.code, strict_json(exc.response.body)
    return response.code, strict_json(response.body)


def history_requests(path: str) -> list[tuple[str, str, dict | None, dict]]:
    """Every route that reads a file named in the request, asked to read `path`."""
    return [
        ("POST", "workflows/validate", {"files": [path]}, {}),
        ("POST", "runs", {"workflow": path}, {}),
        ("GET", "notebooks/parameters", None, {"path": path}),
        ("POST", "notebooks/run", {"path": path}, {}),
        ("POST", "workflows", {"name": "w", "notebook": path}, {}),
        ("POST", "workflows/good/tasks", {"notebook": path}, {}),
    ]


async def test_no_route_opens_the_run_history(jp_fetch, root, monkeypatch):
    """Opening and closing history.db in the server drops SQLite's locks (and the WAL files)
    under the server's own connection: every such path is refused before anything is read."""
    code, _ = await call(jp_fetch, "GET", "runs")  # the history exists and is open
    assert code == 200
    state = root / ".nbflow"
    assert (state / "history.db").is_file()
    opened: list[str] = []
    real_open = Path.open

    def watching_open(self, *args, **kwargs):
        if state in Path(self).resolve().parents:
            opened.append(str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", watching_open)  # read_text/read_bytes go through it
    for target in (".nbflow/history.db", str(state / "history.db"), "notebooks/../.nbflow/x"):
        for method, route, body, params in history_requests(target):
            code, error = await call(jp_fetch, method, route, body, **params)
            assert code == 403, (route, target, code, error)
            assert "run history" in error["message"], error
    assert opened == []
    code, _ = await call(jp_fetch, "GET", "runs")
    assert code == 200


async def test_a_run_of_a_workflow_file_outside_the_root_is_refused(
    jp_fetch, root, tmp_path_factory, monkeypatch
):
    outside = tmp_path_factory.mktemp("outside")
    secret = "tasks: sk-0123456789abcdef\n"
    (outside / "leak.yaml").write_text(secret)
    (outside / "leak").write_text(secret)
    ran = outside / "ran"
    (outside / "cmd.yaml").write_text(f"tasks:\n  - {{key: t, command: [touch, {ran}]}}\n")
    monkeypatch.chdir(outside)  # the server's working folder is not its root
    relative = os.path.relpath(outside / "cmd.yaml", root)
    for workflow in (str(outside / "cmd.yaml"), str(relative), str(outside / "leak.yaml")):
        code, error = await call(jp_fetch, "POST", "runs", {"workflow": workflow})
        assert code == 403 and "outside the server's root" in error["message"], error
        assert "sk-" not in json.dumps(error)
    # A bare name is a workflow of the root's workflows/, not a file of the working folder.
    for workflow in ("leak", "leak.yaml"):
        code, error = await call(jp_fetch, "POST", "runs", {"workflow": workflow})
        assert code == 404 and "sk-" not in json.dumps(error), error
        code, error = await call(jp_fetch, "POST", f"schedules/{workflow}/pause")
        assert code == 404 and "sk-" not in json.dumps(error), error
    assert not ran.exists()
    assert not (root / ".nbflow" / "history.db").exists() or api.list_runs(Project(root)) == []


async def test_a_workflow_file_inside_the_root_runs_by_its_path(jp_fetch, root):
    (root / "workflows" / "cmd.yaml").write_text(
        f'tasks:\n  - {{key: t, command: ["{sys.executable}", "-c", "pass"]}}\n'
    )
    for workflow in ("workflows/cmd.yaml", str(root / "workflows" / "cmd.yaml"), "cmd"):
        code, started = await call(jp_fetch, "POST", "runs", {"workflow": workflow})
        assert code == 202, started
        doc = started
        for _ in range(600):  # the run goes on in its own process; poll its document
            code, doc = await call(jp_fetch, "GET", f"runs/{started['id']}")
            if doc["state"] not in ("queued", "running"):
                break
            await tornado.gen.sleep(0.1)
        assert doc["workflow"] == "cmd" and doc["state"] == "success", doc


async def test_an_alias_bomb_in_workflows_is_a_problem_not_a_frozen_server(jp_fetch, root):
    (root / "workflows" / "bomb.yaml").write_text(BOMB)
    assert len(BOMB) < 500
    started = time.monotonic()
    code, found = await call(jp_fetch, "GET", "workflows")
    assert code == 200
    bomb = next(w for w in found if w["file"] == "workflows/bomb.yaml")
    assert bomb["ok"] is False and "aliases expand" in bomb["problems"][0]["message"]
    assert bomb["problems"][0]["line"] is not None
    code, result = await call(
        jp_fetch, "POST", "workflows/validate", {"files": ["workflows/bomb.yaml"]}
    )
    assert code == 200 and result["ok"] is False
    code, error = await call(jp_fetch, "POST", "runs", {"workflow": "bomb"})
    assert code == 400 and "aliases expand" in error["message"]
    assert time.monotonic() - started < 30  # was 39 s and 2 GB for one parse


async def test_handlers_work_off_the_event_loop(jp_fetch, root, monkeypatch):
    """While a request waits for slow work (a parse, the history), the server answers others."""
    inside = threading.Event()
    release = threading.Event()

    def slow_workflows(project, store=None):
        inside.set()
        if not release.wait(timeout=20):
            raise AssertionError("nothing else was answered while this request worked")
        return []

    monkeypatch.setattr(api, "workflows", slow_workflows)
    slow = asyncio.ensure_future(call(jp_fetch, "GET", "workflows"))
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, inside.wait, 20)
    status = await jp_fetch("api", "status", method="GET")  # Jupyter's own route
    assert status.code == 200
    code, runs = await call(jp_fetch, "GET", "runs")  # and nbflow's
    assert code == 200
    release.set()
    assert await slow == (200, [])


async def test_a_fuzzed_file_gets_its_line_over_rest(jp_fetch, root):
    (root / "workflows" / "loop.yaml").write_text("x: &a [*a]\ntasks: []\n")
    code, result = await call(
        jp_fetch, "POST", "workflows/validate", {"files": ["workflows/loop.yaml"]}
    )
    assert code == 200, result
    assert result["problems"][0]["line"] == 1
    assert "refers to the value that contains it" in result["problems"][0]["message"]


def path_fields(path: str) -> list[tuple[str, str, dict | None, dict]]:
    return [
        *history_requests(path),
        ("GET", "files", None, {"path": path}),
        ("POST", "workflows", {"name": path, "notebook": "notebooks/ok.ipynb"}, {}),
    ]


@pytest.mark.parametrize(
    "path",
    [
        "notebooks/a\x00b.ipynb",  # NUL
        "notebooks/" + "n" * 300 + ".ipynb",  # a name over 255 bytes
        "/".join(["d" * 200] * 30) + ".yaml",  # a path over 4096 bytes
    ],
)
async def test_impossible_paths_get_4xx(jp_fetch, root, path):
    for method, route, body, params in path_fields(path):
        code, error = await call(jp_fetch, method, route, body, **params)
        assert 400 <= code < 500, (route, code, error)
        assert error["message"], error


@pytest.mark.parametrize(
    "body, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"workflow": "good", "parameters": {"x": ' + "[" * 500 + "]" * 500 + "}}", "nested"),
        ('{"workflow": "good", "parameters": {"x": NaN}}', "NaN"),
        ('{"workflow": "good", "parameters": {"x": Infinity}}', "Infinity"),
        ('{"workflow": "good", "parameters": {"x": -Infinity}}', "Infinity"),
        ('{"workflow": "good", "parameters": {"x": 1e999}}', "1e999"),
    ],
)
async def test_hostile_bodies_get_400(jp_fetch, root, body, message):
    for route in ("runs", "runs/1/repair", "notebooks/run", "workflows"):
        code, error = await raw(jp_fetch, "POST", route, body)
        assert code == 400, (route, code, error)
        assert message in error["message"], error
    code, runs = await raw(jp_fetch, "GET", "runs")
    assert code == 200 and runs == []  # nothing was recorded


@pytest.mark.parametrize("limit", ["9" * 30, "-1", "0", "1e3"])
async def test_a_limit_out_of_range_gets_400(jp_fetch, root, limit):
    code, error = await raw(jp_fetch, "GET", "runs", limit=limit)
    assert code == 400 and "limit" in error["message"], error
    code, error = await raw(jp_fetch, "GET", "runs/1/artifact", task="a", attempt="9" * 30)
    assert code in (400, 404), error


async def test_replies_are_json_a_browser_reads(jp_fetch, root):
    """NaN from a workflow file (`.nan` is YAML) is shown as text, not as bare NaN."""
    (root / "workflows" / "odd.yaml").write_text(
        "parameters: {x: 1, nan: .nan, big: .inf, small: -.inf}\n" + GOOD.split("\n", 1)[1]
    )
    code, found = await raw(jp_fetch, "GET", "workflows")
    assert code == 200
    odd = next(w for w in found if w["file"] == "workflows/odd.yaml")
    assert odd["parameters"] == {"x": 1, "nan": "NaN", "big": "Infinity", "small": "-Infinity"}


async def test_a_truncated_artifact_notebook_gets_400(jp_fetch, root):
    project = Project(root)
    workflow = api.load(project, "good")
    store = api.open_store(project)
    try:
        run_id = create_run(
            store,
            workflow,
            project,
            parameters={"x": 1},
            trigger_type="manual",
            trigger_time=1.0,
            now=1.0,
        )
        artifact = f".nbflow/runs/good/{run_id}/a/attempt-1.ipynb"
        (root / artifact).parent.mkdir(parents=True)
        (root / artifact).write_text('{"cells": [{"cell_type": "code", "sour')
        store.add_attempt(run_id, "a", 1, start_time=1.0, parameters={}, artifact=artifact)
        store.finish_attempt(run_id, "a", 1, state="failed", end_time=2.0)
        store.update_task(run_id, "a", state="failed")
        store.update_run(run_id, state="failed", end_time=2.0)
    finally:
        store.close()
    code, error = await raw(jp_fetch, "GET", f"runs/{run_id}/artifact", task="a")
    assert code == 400 and "the executed notebook is not complete JSON" in error["message"], error
    code, model = await raw(jp_fetch, "GET", "files", path=artifact)
    assert code == 400, model
