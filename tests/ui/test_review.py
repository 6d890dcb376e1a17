"""Reviewing runs in JupyterLab: compare two runs, a glued number charted across runs, a
run's and an attempt's HTML report in a sandboxed frame, and a backfill started from the
panel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import open_lab, open_panel

pytestmark = [pytest.mark.browser]

# scores.ipynb prints `batch of N`, shows an image that changes with n and one that does
# not, and glues `score` (n × 1.5) and `label`.
SCORES = """\
parameters: {n: 1}
tasks:
  - {key: score, notebook: notebooks/scores.ipynb, parameters: {n: "{{params.n}}"}}
"""

# No schedule: a backfill says how often (--every); each day's run is quick.
DAILY = """\
parameters: {region: eu}
tasks:
  - {key: load, command: [sh, -c, "echo {{run.trigger.time.iso_date}} {{params.region}}"]}
"""


def _runs(project, *ns: int) -> None:
    for n in ns:
        proc = project.cli("run", "scores", "-p", f"n={n}")
        assert proc.returncode == 0, proc.stderr


def _open_run(page, run_id: int):
    page.locator(f'#nbflow-panel .nbflow-run-item[data-run="{run_id}"]').click()
    view = page.locator(f".nbflow-run-view[data-run='{run_id}']")
    expect(view).to_have_attribute("data-state", "success")
    return view


def test_compare_a_run_with_another_of_its_workflow(page, ui_project):
    ui_project.workflow("scores", SCORES)
    _runs(ui_project, 2, 5)
    open_lab(page)
    open_panel(page)
    view = _open_run(page, 2)
    view.locator(".nbflow-compare").click()
    dialog = page.locator(".jp-Dialog")
    # The run before this one is proposed first; the list names each run of the workflow.
    choice = dialog.locator("select")
    expect(choice.locator("option")).to_have_count(1)
    assert choice.evaluate("s => s.value").startswith("#1 · success · ")
    dialog.locator(".jp-Dialog-footer .jp-mod-accept", has_text="Compare").click()

    compare = page.locator('.nbflow-compare-view[data-a="1"][data-b="2"]')
    expect(compare).to_be_visible()
    expect(page.locator('.lm-TabBar-tab[data-id="nbflow-compare-1-2"]')).to_have_text("Run #1 → #2")
    params = compare.locator('.nbflow-compare-params tr[data-name="n"]')
    expect(params.locator(".nbflow-side-a")).to_have_text("2")
    expect(params.locator(".nbflow-side-b")).to_have_text("5")
    row = compare.locator('.nbflow-compare-tasks tr[data-task="score"]')
    expect(row).to_have_attribute("data-changed", "true")
    expect(row.locator("td").nth(0)).to_have_text("success")  # the same state in both
    expect(row.locator("td").nth(1)).to_have_text(re.compile(r"^\d+\.\d s$"))  # durations
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^(\+|−|±)"))
    expect(row.locator(".nbflow-compare-summary")).to_have_text("1 parameter, 2 values, 2 cells")
    task = compare.locator('.nbflow-compare-task[data-task="score"]')
    values = task.locator(".nbflow-compare-values")
    expect(values.locator('tr[data-name="score"] td')).to_have_text(["3", "7.5"])
    expect(values.locator('tr[data-name="label"] td')).to_have_text(['"batch 2"', '"batch 5"'])
    # The printed line as lines removed and added; the image that changed, only as changed.
    stdout = task.locator('.nbflow-compare-output[data-type="stdout"]')
    expect(stdout.locator(".nbflow-line-removed")).to_have_text(["- batch of 2"])
    expect(stdout.locator(".nbflow-line-added")).to_have_text(["+ batch of 5"])
    kept = stdout.locator(
        ".nbflow-line-diff > div:not(.nbflow-line-removed):not(.nbflow-line-added)"
    )
    expect(kept).to_have_text([re.compile(r"^\s+checked$")])  # printed by both: unmarked
    images = task.locator('.nbflow-compare-output[data-type="image/png"]')
    expect(images).to_have_count(1)  # the image that never changes is not listed
    expect(images).to_have_attribute("data-change", "changed")
    expect(images).to_have_text("image/png changed")
    assert "data:image" not in images.inner_html()
    page.shots("compare", compare)

    # Each side opens its run.
    compare.locator('.nbflow-compare-open[data-run="1"]').click()
    expect(page.locator(".nbflow-run-view[data-run='1']")).to_be_visible()


def test_a_glued_number_is_charted_across_runs_and_follows_a_new_one(page, ui_project):
    ui_project.workflow("scores", SCORES)
    _runs(ui_project, 2, 6)
    open_lab(page)
    open_panel(page)
    view = _open_run(page, 2)
    charts = view.locator(".nbflow-values-over-time")
    # `score` is a number in every run: charted. `label` is text: not.
    expect(charts.locator(".nbflow-value-chart")).to_have_count(1)
    chart = charts.locator('.nbflow-value-chart[data-value="score.score"]')
    points = chart.locator(".nbflow-chart-point")
    expect(points).to_have_count(2)
    assert points.evaluate_all("ps => ps.map(p => [p.dataset.run, p.dataset.value])") == [
        ["1", "3"],
        ["2", "9"],
    ]
    # Oldest left, the higher value higher up; this run's point is the marked one.
    (x1, y1), (x2, y2) = points.evaluate_all(
        "ps => ps.map(p => [p.cx.baseVal.value, p.cy.baseVal.value])"
    )
    assert x1 < x2 and y2 < y1
    expect(chart.locator(".nbflow-current")).to_have_attribute("data-run", "2")
    expect(chart.locator(".nbflow-chart-high")).to_have_text("9")
    expect(chart.locator(".nbflow-chart-low")).to_have_text("3")
    expect(chart.locator(".nbflow-value-chart-now")).to_contain_text("this run 9")

    # A run that ends elsewhere (here the REST API) joins the chart: pushed, not polled.
    started = page.lab.api("POST", "runs", {"workflow": "scores", "parameters": {"n": 4}})
    assert started["id"] == 3
    expect(points).to_have_count(3, timeout=60_000)
    expect(chart.locator(".nbflow-value-chart-now")).to_contain_text("latest #3: 6 −3")
    expect(points.nth(2)).to_have_attribute("data-value", "6")
    page.shots("values-chart", charts)

    # A point opens its run.
    points.nth(0).click()
    expect(page.locator(".nbflow-run-view[data-run='1']")).to_be_visible()


def test_a_run_and_an_attempt_report_open_in_a_sandboxed_frame(page, ui_project):
    ui_project.workflow("scores", SCORES)
    _runs(ui_project, 7)
    open_lab(page)
    open_panel(page)
    view = _open_run(page, 1)

    view.locator(".nbflow-run-header .nbflow-report").click()
    widget = page.locator("#nbflow-report-1")
    expect(widget.locator(".nbflow-report-frame")).to_have_attribute("data-state", "ready")
    expect(page.locator('.lm-TabBar-tab[data-id="nbflow-report-1"]')).to_have_text("Report · run 1")
    iframe = widget.locator("iframe")
    expect(iframe).to_have_attribute("sandbox", "allow-scripts allow-popups")
    frame = page.frame_locator("#nbflow-report-1 iframe")
    # The run's page: its graph with the task's state, and the notebook inline.
    expect(frame.locator('g.task[data-key="score"][data-state="success"]')).to_have_count(1)
    page.shots("run-report", widget)

    # An attempt's report, from the task's attempts.
    page.locator('.lm-TabBar-tab[data-id="nbflow-run-1"]').click()
    view.locator('.nbflow-open-report[data-label="score"][data-attempt="1"]').click()
    widget = page.locator("#nbflow-report-1-score-1")
    expect(widget.locator(".nbflow-report-frame")).to_have_attribute("data-state", "ready")
    expect(page.locator('.lm-TabBar-tab[data-id="nbflow-report-1-score-1"]')).to_have_text(
        "Report · run 1 · score · attempt 1"
    )
    frame = page.frame_locator("#nbflow-report-1-score-1 iframe")
    expect(frame.locator("body")).to_contain_text("batch of 7")
    code_cell = frame.locator(".jp-InputArea-editor", has_text="print(f'batch of {n}')")
    expect(code_cell).to_have_count(1)
    # The page runs in an origin of its own: none of JupyterLab, its cookies or its API.
    content = widget.locator("iframe").element_handle().content_frame()
    reach = content.evaluate(
        """async () => {
            let parent = 'reachable';
            try { void window.parent.document.title; }
            catch (e) { parent = e.name; }
            let api;
            try { api = (await fetch('/nbflow/api/runs')).status; }
            catch (e) { api = 'refused'; }
            return {origin: window.origin, parent, cookie: (() => {
                try { return document.cookie; } catch (e) { return e.name; } })(), api};
        }"""
    )
    assert reach["origin"] == "null" and reach["parent"] == "SecurityError", reach
    assert reach["cookie"] == "SecurityError" and reach["api"] in ("refused", 403), reach

    # Hide code: the report again without the code cells, their outputs kept.
    code = widget.locator(".nbflow-report-code")
    expect(code).to_have_text("Hide code")
    code.click()
    expect(code).to_have_text("Show code")
    expect(frame.locator(".jp-InputArea-editor")).to_have_count(0)
    expect(frame.locator("body")).to_contain_text("batch of 7")
    page.shots("attempt-report", widget)
    # Download: the page as one file, named after the attempt.
    with page.expect_download() as info:
        widget.locator(".nbflow-report-download").click()
    download = info.value
    assert download.suggested_filename == "run-1-score-attempt-1-report.html"
    saved = Path(download.path()).read_text()
    assert saved.startswith("<!DOCTYPE html>") and "batch of 7" in saved
    assert "jp-InputArea-editor" not in saved.split("</style>")[-1]  # as shown: no code


def test_backfill_from_the_panel_with_its_form_then_follow_its_runs(page, ui_project):
    ui_project.workflow("daily", DAILY)
    open_lab(page)
    open_panel(page)
    page.locator('.nbflow-workflow[data-workflow="daily"] .nbflow-backfill').click()
    dialog = page.locator(".nbflow-backfill-dialog")
    form = dialog.locator(".nbflow-backfill-form")
    expect(form.locator('input[name="every"]')).to_have_value("1d")  # no schedule: every day
    form.locator('input[name="from"]').fill("2026-01-03")
    form.locator('input[name="to"]').fill("2026-01-01")
    form.locator('input[name="concurrency"]').fill("2")
    form.locator('input[name="region"]').fill("us")
    submit = dialog.locator(".jp-Dialog-footer .jp-mod-accept")
    expect(submit).to_have_text("Start backfill")
    submit.click()
    # The server's refusal in the form's words, at its field; nothing was recorded.
    expect(form.locator(".nbflow-error")).to_have_text(
        "To '2026-01-01' is before From '2026-01-03'"
    )
    expect(form.locator('input[name="to"]')).to_have_attribute("aria-invalid", "true")
    assert page.lab.api("GET", "backfills") == []
    page.shots("backfill-form", dialog.locator(".jp-Dialog-content"))
    form.locator('input[name="from"]').fill("2026-01-01")
    form.locator('input[name="to"]').fill("2026-01-03")
    submit.click()
    expect(dialog).to_have_count(0)

    view = page.locator('.nbflow-backfill-view[data-backfill="1"]')
    expect(view).to_have_attribute("data-state", "running")
    expect(view.locator(".nbflow-backfill-span")).to_contain_text(
        "2026-01-01 to 2026-01-03 · every 1d (UTC) · 2 at once"
    )
    days = view.locator(".nbflow-backfill-days tbody tr")
    expect(days).to_have_count(3)
    assert days.evaluate_all("rows => rows.map(r => r.dataset.time)") == [
        "2026-01-01T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00",
        "2026-01-03T00:00:00+00:00",
    ]
    # Nothing serves the project yet: the view says so and offers to start a scheduler.
    warning = view.locator(".nbflow-backfill-no-scheduler")
    expect(warning).to_be_visible()
    warning.locator(".nbflow-start-scheduler").click()
    # Each day's run starts and ends; the view follows, pushed by the server.
    expect(view).to_have_attribute("data-state", "finished", timeout=60_000)
    expect(view.locator(".nbflow-backfill-counts")).to_have_text("3 success")
    expect(warning).to_have_count(0)
    runs = view.locator(".nbflow-open-run")
    expect(runs).to_have_count(3)
    page.shots("backfill-view", view)
    # A day's run: a backfill run with the day's time and the form's parameter.
    day = days.nth(1).locator(".nbflow-open-run")
    run_id = int(day.get_attribute("data-run"))
    doc = page.lab.api("GET", f"runs/{run_id}")
    assert doc["trigger"] == {
        "type": "backfill",
        "time": "2026-01-02T00:00:00.000+00:00",
        "backfill_id": 1,
    }
    assert doc["parameters"]["region"] == "us"
    day.click()
    expect(page.locator(f".nbflow-run-view[data-run='{run_id}']")).to_contain_text(
        "backfill run of"
    )
