"""`nbflow diff` and GET /runs/{a}/diff/{b}: what differs between two runs, and only that."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.kernel


def test_two_demo_runs_with_another_top_n_differ_in_exactly_that(project):
    for folder in ("data", "scripts", "queries"):
        shutil.copytree(REPO / folder, project.root / folder)
    shutil.rmtree(project.root / "notebooks")
    shutil.copytree(REPO / "notebooks", project.root / "notebooks")
    shutil.copy(REPO / "workflows" / "demo.yaml", project.root / "workflows")
    for top in (3, 4):
        proc = project.cli("run", "demo", "-p", f"top_n={top}")
        assert proc.returncode == 0, proc.stderr

    proc = project.cli("diff", "1", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert (found["a"]["id"], found["b"]["id"]) == (1, 2)
    assert found["parameters"] == [{"name": "top_n", "a": 3, "b": 4}]
    tasks = {t["key"]: t for t in found["tasks"]}
    assert len(tasks) == 9 and all(t["a"]["duration"] is not None for t in tasks.values())
    assert {k for k, t in tasks.items() if t["changed"]} == {"by_product", "report"}
    assert all(t["values"] == [] and t["output"] is None for t in tasks.values())
    # Only by_product declares top_n: the other notebooks received the same parameters.
    assert {k: t["parameters"] for k, t in tasks.items() if t["parameters"]} == {
        "by_product": [{"name": "top_n", "a": 3, "b": 4}]
    }
    # The ranking table has one more row; the report's chart has one more bar.
    (table,) = tasks["by_product"]["cells"]
    assert (table["a"], table["b"], table["change"], table["source_changed"]) == (
        4,
        4,
        "changed",
        False,
    )
    assert {o["type"] for o in table["outputs"]} == {"text/plain", "text/html"}
    plain = next(o for o in table["outputs"] if o["type"] == "text/plain")
    assert "Pour-over kit" in plain["b"] and "Pour-over kit" not in plain["a"]
    (chart,) = tasks["report"]["cells"]
    assert chart["outputs"] == [{"type": "image/png", "change": "changed"}]
    assert all(t["cells"] == [] for k, t in tasks.items() if k in ("ingest", "clean", "by_region"))

    text = project.cli("diff", "1", "2").stdout.splitlines()
    assert "  parameter top_n: 3 -> 4" in text
    assert sorted(line.split()[1] for line in text if line.startswith("*")) == [
        "by_product",
        "report",
    ]
    assert "        image/png changed" in text
    only = json.loads(project.cli("diff", "1", "2", "--task", "report", "--json").stdout)
    assert [t["key"] for t in only["tasks"]] == ["report"]


def test_diff_refusals(project):
    project.workflow("w", "tasks:\n  - {key: a, command: [echo, hi]}\n")
    assert project.cli("run", "w").returncode == 0
    cases = {
        ("diff", "1", "9"): "no run 9",
        ("diff", "1", "1", "--task", "b"): "neither run 1 nor run 1 has a task 'b' (a)",
    }
    for args, message in cases.items():
        proc = project.cli(*args)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


GOOD = (
    "parameters: {v: 1}\n"
    "tasks:\n  - {key: r, notebook: notebooks/receive.ipynb, "
    'parameters: {received: "{{params.v}}"}}\n'
)


async def test_the_rest_route_answers_what_diff_json_prints(jp_fetch, jp_root_dir, monkeypatch):
    root = server_root(jp_root_dir, monkeypatch, GOOD)

    def nbflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nbflow.cli", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )

    for v in ("1", "2"):
        assert nbflow("run", "good", "-p", f"v={v}").returncode == 0
    code, found = await call(jp_fetch, "GET", "runs/1/diff/2")
    assert code == 200
    assert found == json.loads(nbflow("diff", "1", "2", "--json").stdout)
    assert found["parameters"] == [{"name": "v", "a": 1, "b": 2}]
    (task,) = found["tasks"]
    assert task["values"] == [{"name": "received", "a": 1, "b": 2}]
    code, one = await call(jp_fetch, "GET", "runs/1/diff/2", task="r")
    assert code == 200 and [t["key"] for t in one["tasks"]] == ["r"]
    for route, params, status, message in [
        ("runs/1/diff/3", {}, 404, "no run 3"),
        ("runs/99999999999999999999/diff/1", {}, 404, "no run"),
        ("runs/1/diff/2", {"task": "zz"}, 400, "has a task 'zz'"),
    ]:
        code, error = await call(jp_fetch, "GET", route, **params)
        assert code == status and message in error["message"], (route, code, error)
