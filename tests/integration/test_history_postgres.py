"""The run history itself on PostgreSQL (NBFLOW_DATABASE_URL), not only SQL tasks against it."""

from __future__ import annotations

import sys

from nbflow.history import Store
from tests.conftest import fresh_postgres_database


def test_runs_show_and_repair_with_the_history_on_postgresql(project, postgres_url, monkeypatch):
    url = fresh_postgres_database(postgres_url)
    monkeypatch.setenv("NBFLOW_DATABASE_URL", url)
    marker = project.root / "fixed.marker"
    # `second` fails until the marker exists; its value reaches `third` after the repair.
    check = f"import os,sys; sys.exit(0 if os.path.exists({str(marker)!r}) else 3)"
    project.workflow(
        "pg",
        f"""
        tasks:
          - key: first
            command: ["{sys.executable}", "-c", "print('one')"]
          - key: second
            command: ["{sys.executable}", "-c", "{check}"]
            depends_on: [first]
          - key: third
            command: ["{sys.executable}", "-c", "pass"]
            depends_on: [second]
        """,
    )
    code, doc = project.cli_json("run", "pg")
    assert code == 1 and doc["state"] == "failed", doc
    states = {t["key"]: t["state"] for t in doc["tasks"]}
    assert states == {"first": "success", "second": "failed", "third": "upstream_failed"}

    listed = project.cli("runs")
    assert listed.returncode == 0 and "pg" in listed.stdout and "failed" in listed.stdout

    marker.write_text("fixed")
    code, repaired = project.cli_json("repair", str(doc["id"]))
    assert code == 0 and repaired["state"] == "success", repaired
    attempts = {t["key"]: len(t["attempts"]) for t in repaired["tasks"]}
    assert attempts == {"first": 1, "second": 2, "third": 1}  # only what failed ran again

    # It really is PostgreSQL's history: no SQLite file was made, and the rows are there.
    assert not (project.root / ".nbflow" / "history.db").exists()
    store = Store(url)
    try:
        (run,) = store.list_runs("pg", limit=10)
        assert run["state"] == "success" and run["repair_count"] == 1
    finally:
        store.close()


def test_two_schedulers_keep_max_concurrent_runs_on_postgresql(tmp_path, postgres_url):
    from tests.unit.test_scheduler import World, run_two_schedulers

    world = World(tmp_path)
    world.url = fresh_postgres_database(postgres_url)
    order, most = run_two_schedulers(world, seconds=16.0)
    assert most == 1
    assert order == sorted(set(order)) and len(order) >= 4


def test_two_stores_racing_for_one_run_slot_on_postgresql(postgres_url):
    from tests.contract.test_history import race_for_slots

    race_for_slots(fresh_postgres_database(postgres_url))
