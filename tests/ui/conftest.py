"""Browser tests: a real `jupyter lab` per test, driven in Debian's headless Chromium.

Screenshots of each view are kept in tests/ui/artifacts/ (CI keeps them as artifacts).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_NOTEBOOKS, ProjectDir

CHROMIUM = Path(os.environ.get("NBFLOW_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Without these, Chromium stalls on connections this sandbox refuses (known-pitfalls).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A `jupyter lab` server on a free port with its root at a throw-away project."""

    def __init__(self, project: ProjectDir, home: Path):
        self.project = project
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = home / "config"
        (config / "labconfig").mkdir(parents=True)
        # The "Jupyter news" toast would cover nbflow's notifications.
        (config / "labconfig" / "default_setting_overrides.json").write_text(
            json.dumps(
                {
                    "@jupyterlab/apputils-extension:notification": {
                        "fetchNews": "false",
                        "checkForUpdates": False,
                    }
                }
            )
        )
        self.env = {
            **os.environ,
            # Stray user-level settings and kernels must not leak in (known-pitfalls).
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        }
        self.env.pop("NBFLOW_HOME", None)
        self.env.pop("NBFLOW_DATABASE_URL", None)
        self.home = home
        self.log = (home / "lab.log").open("w")
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.project.root}",
                "--LabApp.collaborative=False",
            ],
            cwd=self.project.root,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(self.home / "lab.log")

    def _wait_ready(self, log: Path, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)  # polling a starting server, not standing in for a result
        raise RuntimeError(f"jupyter lab did not answer in {timeout} s:\n{log.read_text()[-3000:]}")

    def api(self, method: str, route: str, body: object | None = None) -> object:
        """Call nbflow's REST API as the test (with the token)."""
        request = urllib.request.Request(
            f"{self.url}/nbflow/api/{route}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def jupyter(self, route: str) -> object:
        """GET Jupyter's own REST API (`sessions`, `kernels`) as the test."""
        request = urllib.request.Request(
            f"{self.url}/api/{route}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def nbflow(self, *args: str) -> subprocess.Popen:
        """`nbflow ARGS` started in the project, as a user types it in a terminal."""
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "nbflow"), *args],
            cwd=self.project.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def halt(self) -> None:
        """Stop the server (`start` starts it again on the same port, with the same token)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.halt()
        self.log.close()


# pytest-jupyter's plugin is global once the server tests load it, and two of its fixtures
# are autouse: they would take (and close) the event loop Playwright's sync API is running.
# Here no server runs in the test process, so neither has anything to do.
@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    yield


@pytest.fixture
def ui_project(tmp_path: Path) -> ProjectDir:
    root = tmp_path / "project"
    root.mkdir()
    project = ProjectDir(root)
    assert (root / "notebooks").is_dir() and TEST_NOTEBOOKS.is_dir()
    return project


@pytest.fixture
def lab(ui_project: ProjectDir, tmp_path: Path) -> Iterator[Lab]:
    server = Lab(ui_project, tmp_path / "jupyter")
    try:
        yield server
    finally:
        server.stop()


# Per module, not per session: Playwright's sync API keeps an event loop running in this
# thread until it stops, which the asyncio tests of later modules must not find.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(`make test` and .ci/run do: apt-get install -y chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Shots:
    """Saves screenshots named after the test into tests/ui/artifacts/."""

    def __init__(self, page, prefix: str):
        self.page = page
        self.prefix = prefix
        ARTIFACTS.mkdir(exist_ok=True)

    def __call__(self, name: str, locator=None) -> Path:
        path = ARTIFACTS / f"{self.prefix}-{name}.png"
        (locator or self.page).screenshot(path=str(path))
        return path


@pytest.fixture
def page(browser, lab: Lab, request: pytest.FixtureRequest):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.lab = lab  # type: ignore[attr-defined]
    page.shots = Shots(page, request.node.name.removeprefix("test_"))  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            page.shots("failure")  # type: ignore[attr-defined]
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def open_lab(page, path: str = "") -> None:
    """Load JupyterLab, with the notebook at `path` open (as its /lab/tree/ link does)."""
    lab: Lab = page.lab
    where = f"tree/{path}" if path else ""
    page.goto(f"{lab.url}/lab/{where}?token={lab.token}&reset")
    page.locator("#jp-main-dock-panel").wait_for()
    if path:
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()


def open_panel(page) -> None:
    """Click nbflow's icon in the left side bar."""
    page.locator('.jp-SideBar [data-id="nbflow-panel"]').click()
    page.locator("#nbflow-panel .nbflow-panel-content").wait_for()


def run_from_panel(page, workflow: str, run_id: int = 1):
    """Load JupyterLab, click "Run now" on `workflow` in the panel; the run view it opens."""
    open_lab(page)
    open_panel(page)
    page.locator(f'.nbflow-workflow[data-workflow="{workflow}"] .nbflow-run-now').click()
    return page.locator(f".nbflow-run-view[data-run='{run_id}']")


# Every edge sampled every 2 px along its drawn path; a sample strictly inside a box that is
# neither end of the edge is a hit.
_CROSSINGS = """svg => {
    const boxes = [...svg.querySelectorAll('.nbflow-dag-node')].map(g => {
        const m = g.transform.baseVal.consolidate().matrix;
        const r = g.querySelector('rect');
        return {key: g.dataset.task, x: m.e, y: m.f,
                w: r.width.baseVal.value, h: r.height.baseVal.value};
    });
    const hits = [];
    const edges = [...svg.querySelectorAll('.nbflow-dag-edge')];
    for (const g of edges) {
        const path = g.querySelector('path');
        const length = path.getTotalLength();
        for (let s = 0; s <= length; s += 2) {
            const p = path.getPointAtLength(s);
            for (const b of boxes) {
                if (b.key === g.dataset.from || b.key === g.dataset.to) continue;
                if (p.x > b.x + 1 && p.x < b.x + b.w - 1 && p.y > b.y + 1 && p.y < b.y + b.h - 1) {
                    hits.push(`${g.dataset.from}->${g.dataset.to} through ${b.key}`);
                    break;
                }
            }
        }
    }
    return {edges: edges.length, boxes: boxes.length, hits: [...new Set(hits)]};
}"""


def dag_drawing(view) -> dict:
    """The DAG a run view draws: its numbers of boxes and edges, and each edge that runs
    through a box other than its own two ends (`FROM->TO through KEY`)."""
    return view.locator("svg.nbflow-dag").evaluate(_CROSSINGS)
