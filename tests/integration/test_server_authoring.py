"""REST routes for the JupyterLab extension: run a notebook, write workflows, read run files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tornado

from nbflow import api
from nbflow.workflows.project import Project
from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]

GOOD = "tasks:\n  - {key: a, notebook: notebooks/ok.ipynb}\n"
COMMENTED = """\
# Nightly numbers, kept by hand.
name: nightly   # the name people use
tasks:
  - key: first          # doubles x
    notebook: notebooks/ok.ipynb
    parameters: {x: 2}
  # and then another one
  - key: second
    notebook: notebooks/ok.ipynb
    depends_on: [first]
# when it runs
schedule:
  cron: "0 2 * * *"   # two at night
"""
TYPED = {
    "text": 'he said "hi"',
    "code": "007",
    "count": 3,
    "ratio": 2.5,
    "flag": True,
    "nothing": None,
    "items": [1, "2", None],
    "mapping": {"a": {"b": "true"}},
    "day": "2024-01-01",
}


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    server_root(jp_root_dir, monkeypatch, GOOD)
    (jp_root_dir / "notes.txt").write_text("not a notebook\n")
    return jp_root_dir


def _files(root: Path) -> dict[str, bytes]:
    """Every file of `workflows/` and `.nbflow/notebooks/`, to show nothing changed."""
    found = {}
    for folder in (root / "workflows", root / ".nbflow" / "notebooks"):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


async def _finished(jp_fetch, run_id: int, repairs: int = 0) -> dict:
    doc: dict = {}
    for _ in range(600):  # the run goes on in its own process; poll its document
        _, doc = await call(jp_fetch, "GET", f"runs/{run_id}")
        if doc["repair_count"] == repairs and doc["state"] not in ("queued", "running"):
            return doc
        await tornado.gen.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {doc}")


async def test_the_new_routes_need_authentication(jp_base_url, root, http_server_client):
    for method, path in [
        ("POST", "notebooks/run"),
        ("POST", "workflows"),
        ("POST", "workflows/good/tasks"),
        ("GET", "files?path=.nbflow/runs/good/1/a/attempt-1.ipynb"),
    ]:
        body = json.dumps({"path": "notebooks/ok.ipynb", "name": "x", "notebook": "n.ipynb"})
        response = await http_server_client.fetch(
            f"{jp_base_url}nbflow/api/{path}",
            method=method,
            body=None if method == "GET" else body,
            raise_error=False,
        )
        assert response.code == 403, (method, path, response.code)
    assert _files(root) == {"workflows/good.yaml": GOOD.encode()}


@pytest.mark.kernel
async def test_run_a_notebook_with_typed_parameters_read_it_back_and_repair_it(jp_fetch, root):
    code, started = await call(
        jp_fetch, "POST", "notebooks/run", {"path": "notebooks/echo.ipynb", "parameters": TYPED}
    )
    assert code == 202, started
    assert started["state"] == "queued" and started["workflow"] == "notebook-echo"
    doc = await _finished(jp_fetch, started["id"])
    assert doc["state"] == "success", doc
    assert doc["workflow"] == "notebook-echo" and doc["trigger"]["type"] == "api"
    assert doc["workflow_path"].startswith(".nbflow/notebooks/echo-")
    received = doc["tasks"][0]["values"]["received"]
    types = doc["tasks"][0]["values"]["types"]
    for name, value in TYPED.items():
        assert received[name] == value, name
    assert types["count"] == "int" and types["code"] == "str" and types["flag"] == "bool"
    assert types["nothing"] == "NoneType" and types["ratio"] == "float"
    assert received["kept"] == "notebook default"

    # Not one of the project's workflows.
    _, listed = await call(jp_fetch, "GET", "workflows")
    assert [w["name"] for w in listed] == ["good"]

    # The executed notebook, through the read-only drive's route.
    artifact = doc["tasks"][0]["attempts"][0]["artifact"]
    code, model = await call(jp_fetch, "GET", "files", path=artifact)
    assert code == 200, model
    assert model["type"] == "notebook" and model["format"] == "json"
    assert model["writable"] is False and model["path"] == artifact
    assert model["name"] == "attempt-1.ipynb" and model["size"] > 0
    assert model["created"] and model["last_modified"]
    injected = [
        c
        for c in model["content"]["cells"]
        if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    # Sources and outputs come joined into strings, as Jupyter's contents API gives them.
    assert isinstance(injected[0]["source"], str) and "count = 3" in injected[0]["source"]
    assert all(isinstance(c["source"], str) for c in model["content"]["cells"])
    code, bare = await call(jp_fetch, "GET", "files", path=artifact, content="0")
    assert code == 200 and bare["content"] is None and bare["type"] == "notebook"

    # The generated file stays, so the run can be repaired.
    code, _ = await call(jp_fetch, "POST", f"runs/{started['id']}/repair", {"tasks": ["echo"]})
    assert code == 202
    doc = await _finished(jp_fetch, started["id"], repairs=1)
    assert doc["state"] == "success"
    assert doc["tasks"][0]["values"]["received"]["count"] == 3


async def test_running_a_notebook_refuses_bad_requests(jp_fetch, root):
    cases = [
        (
            {"path": "notebooks/ok.ipynb", "parameters": {"y": 1, "z": 2}},
            400,
            "no parameter 'y', 'z'",
        ),
        ({"path": "notebooks/ok.ipynb", "parameters": {"x": "{{params.nope}}"}}, 400, "nope"),
        ({"path": "notebooks/missing.ipynb"}, 400, "no such notebook"),
        ({"path": "notes.txt"}, 400, "not an .ipynb notebook"),
        ({"path": "../outside.ipynb"}, 403, "outside the server's root"),
        ({"path": "/etc/passwd"}, 403, "outside the server's root"),
        ({"parameters": {}}, 400, "path: Field required"),
        ({"path": "notebooks/ok.ipynb", "parameters": [1]}, 400, "parameters"),
    ]
    for body, status, message in cases:
        code, error = await call(jp_fetch, "POST", "notebooks/run", body)
        assert code == status, (body, code, error)
        assert message in error["message"], error
    _, runs = await call(jp_fetch, "GET", "runs")
    assert runs == []
    assert _files(root) == {"workflows/good.yaml": GOOD.encode()}


async def test_create_a_scheduled_workflow(jp_fetch, root):
    body = {
        "name": "daily_report",
        "notebook": "notebooks/ok.ipynb",
        "parameters": {"x": 21},
        "description": "Doubles 21 every morning.",
        "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Berlin"},
    }
    code, entry = await call(jp_fetch, "POST", "workflows", body)
    assert code == 201, entry
    assert entry["file"] == "workflows/daily_report.yaml" and entry["name"] == "daily_report"
    assert entry["ok"] is True and entry["description"] == "Doubles 21 every morning."
    assert entry["tasks"] == [
        {"key": "ok", "kind": "notebook", "depends_on": [], "run_if": "all_success"}
    ]
    assert entry["schedule"]["schedule"] == {"cron": "0 6 * * *", "timezone": "Europe/Berlin"}
    assert entry["schedule"]["next_fire"].endswith(("+01:00", "+02:00"))
    text = (root / "workflows" / "daily_report.yaml").read_text()
    assert text.startswith("# Written by the nbflow JupyterLab extension")
    assert "x: 21" in text

    paths, problems = api.validate(Project(root))
    assert problems == [] and len(paths) == 2
    code, result = await call(jp_fetch, "POST", "workflows/validate", {})
    assert code == 200 and result["ok"] is True
    code, schedules = await call(jp_fetch, "GET", "schedules")
    assert [(s["workflow"], bool(s["next_fire"])) for s in schedules] == [("daily_report", True)]
    workflow = api.load(Project(root), "daily_report")
    assert workflow.tasks[0].parameters == {"x": 21}

    code, error = await call(jp_fetch, "POST", "workflows", body)
    assert code == 409 and "already exists" in error["message"]
    code, bare = await call(
        jp_fetch, "POST", "workflows", {"name": "plain", "notebook": "notebooks/ok.ipynb"}
    )
    assert code == 201 and bare["schedule"] is None and bare["parameters"] == {}


async def test_creating_a_workflow_refuses_bad_requests_and_writes_nothing(jp_fetch, root):
    ok = {"name": "daily", "notebook": "notebooks/ok.ipynb"}
    cases = [
        ({**ok, "schedule": {"cron": "0 25 * * *"}}, 400, "schedule.cron"),
        ({**ok, "schedule": {"cron": "0 6 * *"}}, 400, "schedule.cron"),
        (
            {**ok, "schedule": {"cron": "0 6 * * *", "timezone": "Mars/Olympus"}},
            400,
            "schedule.timezone",
        ),
        ({**ok, "schedule": {"timezone": "UTC"}}, 400, "schedule.cron: Field required"),
        ({**ok, "name": "daily report"}, 400, "name: 'daily report'"),
        ({**ok, "name": "../x"}, 400, "name: '../x'"),
        ({**ok, "name": ".hidden"}, 400, "name: '.hidden'"),
        ({**ok, "name": "good"}, 409, "workflows/good.yaml already exists"),
        ({**ok, "parameters": {"nope": 1}}, 400, "declares no parameter 'nope'"),
        ({**ok, "notebook": "notebooks/missing.ipynb"}, 400, "no such notebook"),
        ({**ok, "notebook": "../x.ipynb"}, 403, "outside the server's root"),
        ({**ok, "colour": "red"}, 400, "colour"),
        ({"notebook": "notebooks/ok.ipynb"}, 400, "name: Field required"),
    ]
    for body, status, message in cases:
        code, error = await call(jp_fetch, "POST", "workflows", body)
        assert code == status, (body, code, error)
        assert message in error["message"], error
    assert _files(root) == {"workflows/good.yaml": GOOD.encode()}


async def test_add_a_task_to_a_commented_workflow(jp_fetch, root):
    path = root / "workflows" / "nightly.yaml"
    path.write_text(COMMENTED)
    body = {
        "notebook": "notebooks/ok.ipynb",
        "key": "third",
        "parameters": {"x": 5},
        "depends_on": ["second"],
    }
    code, entry = await call(jp_fetch, "POST", "workflows/nightly/tasks", body)
    assert code == 201, entry
    assert entry["file"] == "workflows/nightly.yaml" and entry["ok"] is True
    assert [t["key"] for t in entry["tasks"]] == ["first", "second", "third"]
    assert entry["tasks"][-1]["depends_on"] == [{"task": "second", "outcome": None}]
    text = path.read_text()
    for comment in (
        "# Nightly numbers",
        "# the name people use",
        "# doubles x",
        "# and then another one",
        "# when it runs",
        "# two at night",
    ):
        assert comment in text
    assert text.startswith(COMMENTED.partition("# when it runs")[0])
    assert api.load(Project(root), "nightly").tasks[-1].parameters == {"x": 5}

    # The key defaults to the notebook's stem.
    code, entry = await call(
        jp_fetch,
        "POST",
        "workflows/good/tasks",
        {"notebook": "notebooks/echo.ipynb", "depends_on": ["a"]},
    )
    assert code == 201 and entry["tasks"][-1]["key"] == "echo"
    _, problems = api.validate(Project(root))
    assert problems == []


async def test_adding_a_task_refuses_bad_requests_and_leaves_the_file_alone(jp_fetch, root):
    path = root / "workflows" / "nightly.yaml"
    path.write_text(COMMENTED)
    (root / "workflows" / "broken.yaml").write_text("tasks:\n  - {key: a, notebok: x}\n")
    ok = {"notebook": "notebooks/ok.ipynb"}
    cases = [
        ("nope", ok, 404, "no workflow 'nope'"),
        ("nightly", {**ok, "key": "second"}, 409, "already has a task 'second'"),
        ("nightly", {**ok, "depends_on": ["first", "zero"]}, 400, "has no task 'zero'"),
        ("nightly", {**ok, "key": "a b"}, 400, "key: 'a b'"),
        ("nightly", {**ok, "parameters": {"y": 1}}, 400, "declares no parameter 'y'"),
        ("nightly", {**ok, "parameters": {"x": "{{tasks.first.values.doubled}}"}}, 400, "first"),
        ("nightly", {"notebook": "notebooks/missing.ipynb"}, 400, "no such notebook"),
        ("nightly", {"notebook": "../../x.ipynb"}, 403, "outside the server's root"),
        ("nightly", {"notebook": "notes.txt"}, 400, "not an .ipynb"),
        ("nightly", {**ok, "depends_on": "first"}, 400, "depends_on"),
        ("broken", ok, 400, "unknown key 'notebok'"),
    ]
    before = _files(root)
    for name, body, status, message in cases:
        code, error = await call(jp_fetch, "POST", f"workflows/{name}/tasks", body)
        assert code == status, (name, body, code, error)
        assert message in error["message"], error
        assert _files(root) == before
    code, error = await call(jp_fetch, "POST", "workflows/broken/tasks", ok)
    assert error["problems"][0]["line"] == 2


async def test_reading_run_files_stays_inside_the_runs_folder(jp_fetch, root):
    log = root / ".nbflow" / "runs" / "good" / "1" / "a" / "attempt-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("hello\nwörld\n")
    (log.parent / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00")
    code, model = await call(jp_fetch, "GET", "files", path=".nbflow/runs/good/1/a/attempt-1.log")
    assert code == 200, model
    assert model["type"] == "file" and model["format"] == "text"
    assert model["content"] == "hello\nwörld\n" and model["mimetype"] == "text/plain"
    assert model["writable"] is False and model["size"] == len("hello\nwörld\n".encode())
    code, model = await call(jp_fetch, "GET", "files", path=".nbflow/runs/good/1/a/chart.png")
    assert code == 200 and model["format"] == "base64" and model["mimetype"] == "image/png"
    (root / ".nbflow" / "history.db").touch()
    cases = [
        ("workflows/good.yaml", 403, "not in the runs folder"),
        (".nbflow/history.db", 403, "not in the runs folder"),
        (".nbflow/runs/../history.db", 403, "not in the runs folder"),
        ("../etc/passwd", 403, "outside the server's root"),
        ("/etc/passwd", 403, "outside the server's root"),
        (".nbflow/runs/good/2/a/attempt-1.ipynb", 404, "no such file"),
        (".nbflow/runs/good/1", 400, "is a folder"),
    ]
    for path, status, message in cases:
        code, error = await call(jp_fetch, "GET", "files", path=path)
        assert code == status, (path, code, error)
        assert message in error["message"], error
    code, error = await call(jp_fetch, "GET", "files")
    assert code == 400 and "path:" in error["message"]
    link = root / ".nbflow" / "runs" / "good" / "1" / "a" / "escape.txt"
    link.symlink_to(root / "notes.txt")
    code, error = await call(jp_fetch, "GET", "files", path=str(link.relative_to(root)))
    assert code == 403


async def test_runs_started_over_rest_run_in_the_server_on_its_warm_kernels(jp_fetch, root):
    """The server runs them itself (no `nbflow _execute` process), on its pool's kernels."""
    ids = []
    for x in (3, 4):
        code, started = await call(
            jp_fetch,
            "POST",
            "notebooks/run",
            {"path": "notebooks/traces.ipynb", "parameters": {"token": f"t{x}"}},
        )
        assert code == 202, started
        ids.append(started["id"])
    docs = [await _finished(jp_fetch, run_id) for run_id in ids]
    assert [d["state"] for d in docs] == ["success", "success"], docs
    store = api.open_store(Project(root))
    try:
        runners = {store.get_run(run_id)["runner_pid"] for run_id in ids}
    finally:
        store.close()
    assert runners == {os.getpid()}  # this process is the server
    values = [d["tasks"][0]["values"] for d in docs]
    assert [v["token"] for v in values] == ["t3", "t4"]
    assert all("nbflow.execution.kernels.kernelfork" in v["parent"] for v in values)
    assert values[0]["pid"] != values[1]["pid"]
    assert values[1]["found"]["global"] is False


@pytest.mark.kernel
async def test_a_notebook_run_starts_from_the_checked_model_without_cli_or_rereads(
    jp_fetch, root, monkeypatch
):
    """POST notebooks/run records the run from the workflow it checked in memory and hands
    it to the server's launcher: no `nbflow` process, and the loader reads no workflow file
    but the new text's check (in a temporary file, before the kept file is written)."""
    import subprocess

    from nbflow.workflows import loader

    reads: list[Path] = []
    check_file = loader.check_file

    def counting(path, project_root=None):
        reads.append(Path(path))
        return check_file(path, project_root)

    spawned: list[object] = []

    class Recorded(subprocess.Popen):  # a kernel still starts as it would; commands are noted
        def __init__(self, args, *more, **options):
            spawned.append(args)
            super().__init__(args, *more, **options)

    monkeypatch.setattr(loader, "check_file", counting)
    monkeypatch.setattr(subprocess, "Popen", Recorded)
    code, started = await call(
        jp_fetch, "POST", "notebooks/run", {"path": "notebooks/ok.ipynb", "parameters": {"x": 5}}
    )
    assert code == 202, started
    assert set(started) == {"id", "state", "workflow"} and started["state"] == "queued"
    doc = await _finished(jp_fetch, started["id"])
    assert doc["state"] == "success", doc
    kept = root / doc["workflow_path"]
    assert kept.is_file()
    assert [p.resolve() for p in reads if p.resolve() == kept.resolve()] == []
    assert len([p for p in reads if p.parent.name == "notebooks"]) == 1  # the check, once
    cli = [
        a for a in spawned if "nbflow.cli" in (a if isinstance(a, str) else " ".join(map(str, a)))
    ]
    assert cli == []
