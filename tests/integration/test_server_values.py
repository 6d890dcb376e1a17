"""GET /nbflow/api/workflows/{name}/values: glued values over a workflow's runs (the lab's chart)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.kernel

GOOD = 'parameters: {x: 1}\ntasks:\n  - {key: a, notebook: notebooks/ok.ipynb, parameters: {x: "{{params.x}}"}}\n'


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch) -> Path:
    return server_root(jp_root_dir, monkeypatch, GOOD)


def _run(root: Path, x: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nbflow.cli", "run", "good", "-p", f"x={x}"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


async def test_values_over_the_last_runs_with_the_token_and_not_without(
    jp_fetch, jp_base_url, http_server_client, root
):
    code, empty = await call(jp_fetch, "GET", "workflows/good/values")
    assert (code, empty) == (200, {"workflow": "good", "columns": [], "runs": []})
    for x in (1, 5, 3):
        _run(root, x)
    code, doc = await call(jp_fetch, "GET", "workflows/good/values", last="2")
    assert code == 200 and doc["columns"] == ["a.doubled"]
    assert [(r["run"], r["state"], r["a.doubled"]) for r in doc["runs"]] == [
        (2, "success", 10),
        (3, "success", 6),
    ]
    assert all(r["start_time"] for r in doc["runs"])
    # Columns asked for by name; one no run has reads null.
    response = await jp_fetch(
        "nbflow",
        "api",
        "workflows",
        "good",
        "values",
        params=[("value", "a.doubled"), ("value", "a.nothing")],
    )
    doc = json.loads(response.body)
    assert response.code == 200 and doc["columns"] == ["a.doubled", "a.nothing"]
    assert [(r["a.doubled"], r["a.nothing"]) for r in doc["runs"]] == [
        (2, None),
        (10, None),
        (6, None),
    ]
    # Without the token: 403, and nothing of the values in the answer.
    response = await http_server_client.fetch(
        f"{jp_base_url}nbflow/api/workflows/good/values", method="GET", raise_error=False
    )
    assert response.code == 403 and b"doubled" not in response.body


@pytest.mark.parametrize(
    ("route", "params", "status", "message"),
    [
        ("workflows/good/values", {"last": "0"}, 400, "last: expected an integer from 1 to 1000, got '0'"),
        ("workflows/good/values", {"last": "x"}, 400, "last: expected an integer"),
        ("workflows/good/values", {"last": "1001"}, 400, "from 1 to 1000"),
        ("workflows/good/values", {"value": "nodot"}, 400, "'nodot': expected TASK.NAME"),
        ("workflows/good.yaml/values", {}, 400, "name the workflow"),
        ("workflows/missing/values", {}, 404, "no workflow 'missing'"),
    ],
)  # fmt: skip
async def test_bad_values_requests_get_4xx_with_one_sentence(
    jp_fetch, root, route, params, status, message
):
    code, error = await call(jp_fetch, "GET", route, **params)
    assert code == status and message in error["message"], error
    assert "Traceback" not in error["message"] and error["message"].count("\n") == 0
