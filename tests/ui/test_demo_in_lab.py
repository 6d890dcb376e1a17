"""The demo workflow followed in JupyterLab: the views the README shows come from here."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from tests.conftest import REPO
from tests.ui.conftest import dag_drawing, open_lab, open_panel

pytestmark = [pytest.mark.browser, pytest.mark.kernel]


def test_the_demo_lights_up_its_dag_and_keeps_the_report(page, ui_project):
    root = ui_project.root
    for folder in ("data", "scripts", "queries"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(REPO / "notebooks", root / "notebooks", dirs_exist_ok=True)
    shutil.copy(REPO / "workflows" / "demo.yaml", root / "workflows" / "demo.yaml")

    open_lab(page, "notebooks/clean.ipynb")
    page.locator(".jp-NotebookPanel:visible .nbflow-run-button").first.click()
    dialog = page.locator(".nbflow-dialog")
    expect(dialog.locator(".nbflow-param").first).to_be_visible()
    page.shots("dialog")
    dialog.locator(".jp-Dialog-footer button", has_text="Cancel").click()
    expect(dialog).to_have_count(0)

    open_panel(page)
    page.locator('.nbflow-workflow[data-workflow="demo"] .nbflow-run-now').click()
    view = page.locator(".nbflow-run-view[data-run='1']")
    # While it runs, the panel lists it as running and the DAG shows progress.
    expect(view.locator('.nbflow-dag-node[data-state="running"]').first).to_be_visible(
        timeout=60_000
    )
    expect(view).to_have_attribute("data-state", "success", timeout=180_000)
    nodes = view.locator(".nbflow-dag-node")
    expect(nodes).to_have_count(9)
    # by_region and by_product reach report past rank_regions, not through it.
    assert dag_drawing(view)["hits"] == []
    expect(view.locator('.nbflow-dag-node[data-task="quality_alert"]')).to_have_attribute(
        "data-state", "excluded"
    )
    view.locator('.nbflow-dag-node[data-task="quality_ok"]').click()
    expect(view.locator(".nbflow-task-details")).to_contain_text("Outcome: true")
    view.locator('.nbflow-dag-node[data-task="clean"]').click()
    expect(view.locator(".nbflow-task-details .nbflow-values")).to_contain_text("dropped_share")
    page.shots("run-view")
    page.shots("panel", page.locator("#nbflow-panel"))

    view.locator('.nbflow-dag-node[data-task="report"]').click()
    view.locator(".nbflow-open-attempt").first.click()
    report = page.locator(".jp-NotebookPanel:visible")
    # The chart the report drew, kept in the executed copy.
    expect(report.locator(".jp-RenderedImage img").first).to_be_visible(timeout=30_000)
    # Printed lines read as printed (the drive gives joined text, not lists of lines).
    printed = report.locator(".jp-OutputArea-output", has_text="Total revenue").first
    assert "\n- Total revenue" in printed.inner_text() and ",-" not in printed.inner_text()
    page.shots("executed-report")
