"""Runs at a glance: the matrix of a workflow's last runs × tasks, and a run's Gantt timeline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import open_lab, open_panel

pytestmark = [pytest.mark.browser]

# `flaky` fails until `ok` exists, and is retried once: a failed run has two attempts of it.
SHAPE = """\
tasks:
  - {key: extract, command: ["true"]}
  - key: flaky
    command: [sh, -c, "test -e ok"]
    depends_on: [extract]
    retries: 1
  - {key: load, command: ["true"], depends_on: [flaky]}
"""

# The second task runs until `go` exists: the matrix must follow a run as it goes.
GATED = """\
tasks:
  - {key: extract, command: ["true"]}
  - key: flaky
    command: [sh, -c, "while [ ! -e go ]; do sleep 0.05; done"]
    depends_on: [extract]
  - {key: load, command: ["true"], depends_on: [flaky]}
"""


def _cli_run(lab, workflow: str, code: int) -> None:
    process = lab.nbflow("run", workflow)
    out = process.communicate(timeout=120)[0]
    assert process.returncode == code, out


def test_the_matrix_shows_runs_by_tasks_and_follows_a_new_run(page, ui_project):
    ui_project.workflow("etl", SHAPE)
    _cli_run(page.lab, "etl", 1)  # flaky fails twice: run 1 failed, load upstream_failed
    (ui_project.root / "ok").touch()
    _cli_run(page.lab, "etl", 0)  # run 2 succeeds

    open_lab(page)
    open_panel(page)
    page.locator('.nbflow-workflow[data-workflow="etl"] .nbflow-open-matrix').click()
    view = page.locator('.nbflow-matrix-view[data-workflow="etl"]')
    expect(view.locator(".nbflow-matrix-run")).to_have_count(2)
    # Columns oldest to newest; rows in the workflow's task order.
    runs = view.locator(".nbflow-matrix-run")
    assert [runs.nth(i).get_attribute("data-run") for i in range(2)] == ["1", "2"]
    assert view.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.task)") == [
        "extract",
        "flaky",
        "load",
    ]
    states = view.locator(".nbflow-matrix-cell").evaluate_all(
        "cells => cells.map(c => [c.dataset.run, c.dataset.task, c.dataset.state])"
    )
    assert sorted(states) == [
        ["1", "extract", "success"],
        ["1", "flaky", "failed"],
        ["1", "load", "upstream_failed"],
        ["2", "extract", "success"],
        ["2", "flaky", "success"],
        ["2", "load", "success"],
    ]
    flaky = view.locator('.nbflow-matrix-cell[data-run="1"][data-task="flaky"]')
    expect(flaky).to_have_attribute("title", "flaky in run #1: failed, 2 attempts")
    expect(flaky).to_have_text(re.compile(r"^\d+\.\d s$"))  # its duration
    # The state colours come from the stylesheet: failed is red, success green.
    colour = "el => getComputedStyle(el).backgroundColor"
    assert flaky.evaluate(colour) == "rgb(198, 40, 40)"
    ok = view.locator('.nbflow-matrix-cell[data-run="2"][data-task="flaky"]')
    assert ok.evaluate(colour) == "rgb(46, 125, 50)"
    # No attempt, no duration: the cell names the state.
    expect(view.locator('.nbflow-matrix-cell[data-run="1"][data-task="load"]')).to_have_text(
        "upstream failed"
    )
    page.shots("matrix", view)

    # A run started from a terminal joins the matrix and changes state in it, pushed.
    ui_project.workflow("etl", GATED)
    process = page.lab.nbflow("run", "etl")
    try:
        cell = view.locator('.nbflow-matrix-cell[data-run="3"][data-task="flaky"]')
        expect(cell).to_have_attribute("data-state", "running", timeout=30_000)
        expect(view.locator(".nbflow-matrix-run")).to_have_count(3)
        (ui_project.root / "go").touch()
        expect(cell).to_have_attribute("data-state", "success", timeout=30_000)
        expect(view.locator('.nbflow-matrix-run[data-run="3"]')).to_have_attribute(
            "data-state", "success"
        )
    finally:
        (ui_project.root / "go").touch()
        assert process.wait(timeout=60) == 0, process.stdout.read()

    # A run's column opens its run view.
    runs.first.click()
    expect(page.locator(".nbflow-run-view[data-run='1']")).to_have_attribute("data-state", "failed")


def test_the_run_view_draws_each_attempt_on_a_timeline(page, ui_project):
    ui_project.workflow("etl", SHAPE)
    _cli_run(page.lab, "etl", 1)
    open_lab(page)
    open_panel(page)
    page.locator('#nbflow-panel .nbflow-run-item[data-run="1"]').click()
    view = page.locator(".nbflow-run-view[data-run='1']")
    gantt = view.locator("svg.nbflow-gantt")
    rows = gantt.locator(".nbflow-gantt-row")
    # load never ran: no row. flaky ran twice: two bars, one after the other.
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.unit)") == ["extract", "flaky"]
    bars = gantt.locator('.nbflow-gantt-row[data-unit="flaky"] .nbflow-gantt-bar')
    expect(bars).to_have_count(2)
    boxes = bars.evaluate_all(
        "bars => bars.map(b => [b.dataset.attempt, b.dataset.state, "
        "b.x.baseVal.value, b.width.baseVal.value])"
    )
    (a1, s1, x1, w1), (a2, s2, x2, _) = boxes
    assert (a1, s1, a2, s2) == ("1", "failed", "2", "failed")
    assert x1 + w1 <= x2 + 0.5  # the retry starts after the first attempt ended
    extract = gantt.locator('.nbflow-gantt-row[data-unit="extract"] .nbflow-gantt-bar')
    assert extract.evaluate("b => b.x.baseVal.value") <= x1  # upstream first
    # A bar's tooltip says which attempt it is, its state and its duration.
    expect(bars.first.locator("title")).to_have_text(
        re.compile(r"^flaky · attempt 1: failed, \d+\.\d s$")
    )
    # Clicking a row selects its task below.
    gantt.locator('.nbflow-gantt-row[data-unit="extract"]').click()
    expect(view.locator('.nbflow-task-details[data-task="extract"]')).to_be_visible()
    page.shots("timeline", view.locator(".nbflow-timeline"))
