"""The demo workflow the README's quick start runs."""

from __future__ import annotations

import hashlib
import shutil

import nbformat
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.kernel


def test_demo_runs_end_to_end_and_leaves_sources_untouched(project):
    shutil.copytree(REPO / "data", project.root / "data")
    shutil.rmtree(project.root / "notebooks")
    shutil.copytree(REPO / "notebooks", project.root / "notebooks")
    shutil.copy(REPO / "workflows" / "demo.yaml", project.root / "workflows" / "demo.yaml")
    shutil.copytree(REPO / "scripts", project.root / "scripts")
    shutil.copytree(REPO / "queries", project.root / "queries")

    def digest():
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((project.root / "notebooks").glob("*.ipynb"))
        }

    before = digest()
    assert project.cli("validate").returncode == 0
    code, doc = project.cli_json("run", "demo")
    assert code == 0, doc
    assert doc["state"] == "success"
    assert {t["key"]: t["state"] for t in doc["tasks"]} == {
        "ingest": "success",
        "clean": "success",
        "quality_ok": "success",
        "quality_alert": "excluded",
        "by_region": "success",
        "by_product": "success",
        "load_warehouse": "success",
        "rank_regions": "success",
        "report": "success",
    }
    ranking = next(t for t in doc["tasks"] if t["key"] == "rank_regions")["output"]["rows"]
    assert [r["region"] for r in ranking] == ["West", "North", "East", "South"]
    report_inputs = next(t for t in doc["tasks"] if t["key"] == "report")["attempts"][0][
        "parameters"
    ]
    assert report_inputs["region_ranking"] == ranking
    clean = next(t for t in doc["tasks"] if t["key"] == "clean")
    assert clean["values"]["dropped_share"] == 0.0293
    assert next(t for t in doc["tasks"] if t["key"] == "quality_ok")["outcome"] is True
    report = next(t for t in doc["tasks"] if t["key"] == "report")
    executed = nbformat.read(project.root / report["attempts"][0]["artifact"], as_version=4)
    assert any(
        "image/png" in o.get("data", {}) for c in executed.cells for o in c.get("outputs", [])
    )
    assert (project.root / "build" / "demo" / "report.png").is_file()
    # by_region and by_product ran side by side.
    a, b = (
        next(t for t in doc["tasks"] if t["key"] == k)["attempts"][0]
        for k in ("by_region", "by_product")
    )
    assert a["start_time"] < b["end_time"] and b["start_time"] < a["end_time"]
    assert digest() == before

    # A stricter quality bar takes the other branch: an alert instead of the report.
    code, doc = project.cli_json("run", "demo", "-p", "max_dropped_share=0.01")
    assert code == 0, doc
    states = {t["key"]: t["state"] for t in doc["tasks"]}
    assert states["quality_alert"] == "success"
    assert states["by_region"] == states["by_product"] == states["report"] == "excluded"
    assert states["load_warehouse"] == states["rank_regions"] == "excluded"
    alert = (project.root / "build" / "demo" / "quality_alert.md").read_text()
    assert "Cleaning dropped 2.9% of the rows (limit 1.0%)" in alert
    assert "- duplicate: 30 rows" in alert
