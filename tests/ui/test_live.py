"""Live views: runs started outside JupyterLab show up and change state as the server pushes
them (server-sent events), with no reload and no polling, also across a server restart."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import open_lab, open_panel

pytestmark = [pytest.mark.browser]

# The first task runs until the test creates `go`: the views must show it running, then done.
GATED = """\
tasks:
  - key: wait
    command: [sh, -c, "while [ ! -e go ]; do sleep 0.05; done"]
  - {key: after, command: ["true"], depends_on: [wait]}
"""


class Requests:
    """The nbflow API requests the page makes, and whether it loaded the page again."""

    def __init__(self, page):
        self.urls: list[str] = []
        page.on("request", self._request)
        self.page = page
        # A mark in this document: a reload would start a new one without it.
        page.evaluate("window.nbflowTestMark = true")

    def _request(self, request) -> None:
        if "/nbflow/api/" in request.url:
            self.urls.append(request.url.split("/nbflow/api/", 1)[1])

    @property
    def reloaded(self) -> bool:
        return not self.page.evaluate("window.nbflowTestMark === true")

    def clear(self) -> None:
        self.urls.clear()

    def to_runs(self) -> list[str]:
        """Requests to the runs routes, without their query (JupyterLab adds a cache breaker)."""
        paths = [u.split("?")[0] for u in self.urls]
        return [p for p in paths if p.split("/")[0] == "runs"]


def _live(page):
    expect(page.locator('#nbflow-panel .nbflow-live[data-live="open"]')).to_have_count(1)


def test_a_cli_run_appears_and_changes_state_with_no_reload_and_no_poll(page, ui_project):
    ui_project.workflow("gated", GATED)
    open_lab(page)
    open_panel(page)
    _live(page)
    panel = page.locator("#nbflow-panel")
    expect(panel.locator(".nbflow-runs")).to_contain_text("No runs yet.")
    requests = Requests(page)

    process = page.lab.nbflow("run", "gated")
    try:
        item = panel.locator('.nbflow-run-item[data-run="1"]')
        expect(item).to_have_attribute("data-state", "running", timeout=30_000)
        expect(item).to_contain_text("gated")
        page.shots("panel-running", panel)
        # The panel learnt all this without asking for the runs (no poll) or reloading.
        assert requests.to_runs() == [] and not requests.reloaded, requests.urls

        item.click()
        view = page.locator(".nbflow-run-view[data-run='1']")
        expect(view.locator('.nbflow-dag-node[data-task="wait"]')).to_have_attribute(
            "data-state", "running"
        )
        expect(view.locator('.nbflow-dag-node[data-task="after"]')).to_have_attribute(
            "data-state", "pending"
        )
        assert requests.to_runs() == ["runs/1"]  # the view's one fetch when it opens
        requests.clear()

        (ui_project.root / "go").touch()
        expect(view).to_have_attribute("data-state", "success", timeout=30_000)
        expect(view.locator('.nbflow-dag-node[data-task="after"]')).to_have_attribute(
            "data-state", "success"
        )
        expect(item).to_have_attribute("data-state", "success")
        page.shots("run-view-done")
        assert requests.to_runs() == [] and not requests.reloaded, requests.urls
    finally:
        (ui_project.root / "go").touch()
        out = process.communicate(timeout=60)[0]
    assert process.returncode == 0, out


def test_the_views_resync_after_the_server_restarts(page, ui_project):
    ui_project.workflow("gated", GATED)
    lab = page.lab
    open_lab(page)
    open_panel(page)
    _live(page)
    panel = page.locator("#nbflow-panel")
    process = lab.nbflow("run", "gated")
    item = panel.locator('.nbflow-run-item[data-run="1"]')
    expect(item).to_have_attribute("data-state", "running", timeout=30_000)
    item.click()
    view = page.locator(".nbflow-run-view[data-run='1']")
    expect(view).to_have_attribute("data-state", "running")
    requests = Requests(page)

    # While the server is down, the run finishes and a second one runs: nothing can be pushed.
    lab.halt()
    expect(panel.locator(".nbflow-live")).not_to_have_attribute("data-live", "open")
    expect(panel.locator(".nbflow-reconnecting")).to_be_visible()
    (ui_project.root / "go").touch()
    assert process.wait(timeout=60) == 0, process.stdout.read()
    second = lab.nbflow("run", "gated")
    assert second.wait(timeout=60) == 0, second.stdout.read()
    page.shots("panel-reconnecting", panel)

    lab.start()
    _live(page)
    # The new stream's snapshot and the view's one fetch after it bring both views up to date.
    expect(view).to_have_attribute("data-state", "success", timeout=30_000)
    expect(item).to_have_attribute("data-state", "success")
    expect(panel.locator('.nbflow-run-item[data-run="2"]')).to_have_attribute(
        "data-state", "success"
    )
    expect(panel.locator(".nbflow-reconnecting")).to_have_count(0)
    assert not requests.reloaded
    assert requests.to_runs() == ["runs/1"]  # once after the reconnection, not on a timer
    page.shots("panel-resynced", panel)
