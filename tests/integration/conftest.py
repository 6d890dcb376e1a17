"""Shared by the REST tests: the server with nbflow's extension, a project root, `call`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tornado

from tests.conftest import TEST_NOTEBOOKS


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"nbflow.server": True}}}


def server_root(root: Path, monkeypatch: pytest.MonkeyPatch, good: str) -> Path:
    """The server's root as a project: the test notebooks and `workflows/good.yaml`."""
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    shutil.copytree(TEST_NOTEBOOKS, root / "notebooks")
    (root / "workflows").mkdir()
    (root / "workflows" / "good.yaml").write_text(good)
    return root


async def call(jp_fetch, method: str, route: str, body=None, **params):
    """(status, JSON or text) of a request to nbflow's API, errors included."""
    try:
        response = await jp_fetch(
            "nbflow",
            "api",
            *route.split("/"),
            method=method,
            body=json.dumps(body) if body is not None else (None if method == "GET" else "{}"),
            params=params or None,
        )
    except tornado.httpclient.HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body) if exc.response.body else None
    text = response.body.decode()
    return response.code, (json.loads(text) if text and text[0] in "[{" else text)
