"""The run view's DAG as drawn: edges go around the task boxes, every view keeps its arrows."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import dag_drawing, run_from_panel

pytestmark = [pytest.mark.browser]

# The demo's shape (by_region and by_product skip the column of rank_regions on their way
# to report) plus an edge that skips three columns; commands, so no kernel is needed.
SHAPE = """\
tasks:
  - {key: ingest, command: ["true"]}
  - {key: clean, command: ["true"], depends_on: [ingest]}
  - {key: by_region, command: ["true"], depends_on: [clean]}
  - {key: by_product, command: ["true"], depends_on: [clean]}
  - {key: load_warehouse, command: ["true"], depends_on: [clean]}
  - {key: rank_regions, command: ["true"], depends_on: [load_warehouse]}
  - key: report
    command: ["true"]
    depends_on: [by_region, by_product, rank_regions, ingest]
"""

MARKERS = """() => {
    const ids = [...document.querySelectorAll('marker')].map(m => m.id);
    const strays = [];
    for (const svg of document.querySelectorAll('svg.nbflow-dag')) {
        for (const path of svg.querySelectorAll('.nbflow-dag-edge path')) {
            const id = path.getAttribute('marker-end').match(/^url\\(#(.+)\\)$/)[1];
            if (!svg.querySelector(`marker[id="${id}"]`)) strays.push(id);
        }
    }
    return {ids, strays, views: document.querySelectorAll('svg.nbflow-dag').length};
}"""


def test_edges_go_around_the_boxes_and_each_view_has_its_own_arrowheads(page, ui_project):
    ui_project.workflow("shape", SHAPE)
    first = run_from_panel(page, "shape")
    expect(first).to_have_attribute("data-state", "success", timeout=60_000)
    drawn = dag_drawing(first)
    assert drawn["boxes"] == 7 and drawn["edges"] == 9
    assert drawn["hits"] == []
    page.shots("run-view", first.locator(".nbflow-dag-scroll"))

    # A second run view: its edges must point at a marker of its own SVG (with one shared
    # id, they point at the first view's, which is not drawn while its tab is hidden).
    page.locator('.nbflow-workflow[data-workflow="shape"] .nbflow-run-now').click()
    second = page.locator(".nbflow-run-view[data-run='2']")
    expect(second).to_have_attribute("data-state", "success", timeout=60_000)
    markers = page.evaluate(MARKERS)
    assert markers["views"] == 2
    assert len(markers["ids"]) == len(set(markers["ids"])) == 2
    assert markers["strays"] == []
    page.shots("second-run-view", second.locator(".nbflow-dag-scroll"))
