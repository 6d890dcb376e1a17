"""GET /runs/{id}/report: an attempt's or a run's HTML report from the Jupyter server."""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest
import tornado

from tests.integration.conftest import call, server_root

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.kernel

GOOD = """\
tasks:
  - key: a
    notebook: notebooks/ok.ipynb
    report: {no_input: true}
  - key: b
    command: [echo, hi]
"""


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


async def test_reports_as_html_sandboxed_following_the_task_setting(
    jp_fetch, jp_root_dir, monkeypatch
):
    root = server_root(jp_root_dir, monkeypatch, GOOD)
    proc = subprocess.run(
        [sys.executable, "-m", "nbflow.cli", "run", "good"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr

    async def page(**params: str) -> tuple[str, tornado.httputil.HTTPHeaders]:
        response = await jp_fetch("nbflow", "api", "runs", "1", "report", params=params)
        assert response.code == 200
        return response.body.decode(), response.headers

    body, headers = await page(task="a")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
    assert body.startswith("<!DOCTYPE html>") and "sb.glue(" not in text_of(body)  # no code
    shown, _ = await page(task="a", attempt="1", no_input="0")
    assert "sb.glue('doubled', x * 2)" in text_of(shown)
    run_page, _ = await page()
    assert re.search(r'<g class="task" data-key="a" data-state="success"', run_page)
    for params, status, message in [
        ({"task": "b"}, 400, "is not a notebook"),
        ({"task": "a", "attempt": "2"}, 400, "has no attempt 2"),
        ({"task": "a", "no_input": "2"}, 400, "no_input: expected an integer from 0 to 1"),
        ({"attempt": "1"}, 400, "--attempt needs a TASK"),
    ]:
        code, error = await call(jp_fetch, "GET", "runs/1/report", **params)
        assert code == status and message in error["message"], (params, code, error)
    code, error = await call(jp_fetch, "GET", "runs/5/report")
    assert code == 404 and "no run 5" in error["message"]
