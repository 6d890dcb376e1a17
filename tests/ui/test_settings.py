"""The extension's settings (schema/plugin.json) are JupyterLab settings the views obey."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import open_lab, open_panel

pytestmark = [pytest.mark.browser]

QUICK = 'tasks:\n  - {key: only, command: ["true"]}\n'


def _settings(lab, method: str, body: object | None = None) -> dict:
    request = urllib.request.Request(
        f"{lab.url}/lab/api/settings/nbflow:plugin",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {lab.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else {}


def test_the_user_settings_set_the_lists_and_the_new_schedule(page, ui_project):
    lab = page.lab
    # JupyterLab knows the settings: its Settings Editor shows them with their defaults.
    schema = _settings(lab, "GET")["schema"]["properties"]
    assert schema["recentRuns"]["default"] == 30 and schema["matrixRuns"]["default"] == 10
    assert {"reconnectDelay", "clockTick", "defaultCron", "defaultTimezone"} <= set(schema)
    assert schema["valuesRuns"]["default"] == 20 and schema["valuesRuns"]["minimum"] == 2

    _settings(
        lab,
        "PUT",
        {
            "raw": json.dumps(
                {
                    "recentRuns": 2,
                    "matrixRuns": 2,
                    "defaultCron": "30 7 * * 1",
                    "defaultTimezone": "Asia/Tokyo",
                }
            )
        },
    )
    ui_project.workflow("quick", QUICK)
    for _ in range(3):
        proc = ui_project.cli("run", "quick")
        assert proc.returncode == 0, proc.stderr

    open_lab(page, "notebooks/echo.ipynb")
    page.locator(".jp-NotebookPanel:visible .nbflow-run-button").first.click()
    dialog = page.locator(".nbflow-dialog")
    dialog.locator('input[value="schedule"]').check()
    expect(dialog.locator('input[name="cron"]')).to_have_value("30 7 * * 1")
    expect(dialog.locator('input[name="timezone"]')).to_have_value("Asia/Tokyo")
    page.shots("schedule-defaults", dialog.locator(".jp-Dialog-content"))
    dialog.locator(".jp-Dialog-footer button", has_text="Cancel").click()
    expect(dialog).to_have_count(0)

    open_panel(page)
    items = page.locator("#nbflow-panel .nbflow-run-item")
    expect(items).to_have_count(2)
    assert items.evaluate_all("els => els.map(e => e.dataset.run)") == ["3", "2"]

    page.locator('.nbflow-workflow[data-workflow="quick"] .nbflow-open-matrix').click()
    columns = page.locator('.nbflow-matrix-view[data-workflow="quick"] .nbflow-matrix-run')
    expect(columns).to_have_count(2)
    assert columns.evaluate_all("els => els.map(e => e.dataset.run)") == ["2", "3"]
