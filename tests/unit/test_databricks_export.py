"""Workflows as Databricks bundle jobs, and import then export keeping the supported fields."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from nbflow import api
from nbflow.core import references
from nbflow.core.cronexpr import to_quartz
from nbflow.core.errors import WorkflowFileError
from nbflow.databricks import exporter
from nbflow.workflows import loader, yamlload
from nbflow.workflows.project import Project
from tests.databricks.layout import LAYOUT, lay_out

FULL = """\
name: nightly
description: Everything Databricks can hold.
parameters: {day: "{{run.trigger.time.iso_date}}", limit: 10}
schedule: {cron: "30 2 * * 1-5", timezone: Europe/Berlin, paused: true}
max_concurrent_runs: 3
queue: false
timeout: 2h
duration_warning: 30m
notifications:
  on_failure: [{email: ops@example.com}, {webhook: "http://127.0.0.1:9/hook"}]
  on_duration_warning: [{email: ops@example.com}]
tasks:
  - key: ingest
    notebook: notebooks/ingest.ipynb
    parameters: {day: "{{params.day}}", n: 3, tags: [a, b]}
    retries: 2
    retry_delay: 90s
    retry_on_timeout: true
    timeout: 10m
    notifications: {on_start: [{email: me@example.com}]}
  - key: clean
    script: scripts/clean.py
    args: ["--day", "{{params.day}}", "--attempt", "{{task.attempt}}"]
    depends_on: [ingest]
    run_if: all_done
  - key: ok
    condition: {left: "{{tasks.clean.values.rows}}", op: ">", right: 0}
    depends_on: [clean]
  - key: per_region
    notebook: notebooks/region.ipynb
    parameters: {region: "{{input}}"}
    for_each: {inputs: [eu, us], concurrency: 2}
    retries: 1
    depends_on: [{task: ok, outcome: true}]
  - key: totals
    sql: {file: queries/totals.sql, parameters: {day: "{{params.day}}"}}
    depends_on: [per_region]
  - key: wheel
    command: [python, -m, nbflow.databricks.wheel_entry, sales_pkg, main, --fast]
    depends_on: [totals]
    disabled: true
  - key: report
    workflow: child
    parameters: {day: "{{params.day}}"}
    depends_on: [{task: ok, outcome: false}]
  - key: inline
    sql: {query: "SELECT 1"}
    kernel: python3
"""


@pytest.fixture
def full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    for name in (
        "notebooks/ingest.ipynb",
        "notebooks/region.ipynb",
        "scripts/clean.py",
        "queries/totals.sql",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}" if name.endswith(".ipynb") else "x = 1\n")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "nightly.yaml").write_text(FULL)
    (tmp_path / "workflows" / "child.yaml").write_text(
        "parameters: {day: ''}\ntasks:\n  - key: a\n    script: scripts/clean.py\n"
    )
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


def test_a_workflow_becomes_a_bundle_job(full: Project):
    result = api.export_databricks(full, "nightly", output="resources/nightly.yml")
    written = (full.root / "resources" / "nightly.yml").read_text()
    assert written.splitlines()[:2] == [
        "# Exported by `nbflow export databricks` from workflows/nightly.yaml: a bundle job "
        "resource.",
        "# Paths are relative to this file; include it from databricks.yml.",
    ]
    doc = yamlload.load(written).data
    assert doc["variables"] == {
        "warehouse_id": {"description": "The SQL warehouse the job's SQL tasks run on"}
    }
    job = doc["resources"]["jobs"]["nightly"]
    assert {k: v for k, v in job.items() if k != "tasks"} == {
        "name": "nightly",
        "description": "Everything Databricks can hold.",
        "parameters": [
            {"name": "day", "default": "{{job.trigger.time.iso_date}}"},
            {"name": "limit", "default": "10"},
        ],
        "schedule": {
            "quartz_cron_expression": "0 30 2 ? * 2-6",
            "timezone_id": "Europe/Berlin",
            "pause_status": "PAUSED",
        },
        "max_concurrent_runs": 3,
        "queue": {"enabled": False},
        "timeout_seconds": 7200,
        "health": {
            "rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 1800}]
        },
        "email_notifications": {
            "on_failure": ["ops@example.com"],
            "on_duration_warning_threshold_exceeded": ["ops@example.com"],
        },
    }
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert tasks["ingest"] == {
        "task_key": "ingest",
        "notebook_task": {
            "notebook_path": "../notebooks/ingest.ipynb",
            "base_parameters": {"day": "{{job.parameters.day}}", "n": "3", "tags": '["a", "b"]'},
        },
        "max_retries": 2,
        "min_retry_interval_millis": 90000,
        "retry_on_timeout": True,
        "timeout_seconds": 600,
        "email_notifications": {"on_start": ["me@example.com"]},
    }
    assert tasks["clean"]["spark_python_task"] == {
        "python_file": "../scripts/clean.py",
        "parameters": ["--day", "{{job.parameters.day}}", "--attempt", "{{task.execution_count}}"],
    }
    assert tasks["clean"]["run_if"] == "ALL_DONE"
    assert tasks["ok"]["condition_task"] == {
        "op": "GREATER_THAN",
        "left": "{{tasks.clean.values.rows}}",
        "right": "0",
    }
    assert tasks["per_region"]["depends_on"] == [{"task_key": "ok", "outcome": "true"}]
    assert tasks["per_region"]["for_each_task"] == {
        "inputs": '["eu", "us"]',
        "concurrency": 2,
        "task": {
            "task_key": "per_region_iteration",
            "notebook_task": {
                "notebook_path": "../notebooks/region.ipynb",
                "base_parameters": {"region": "{{input}}"},
            },
            "max_retries": 1,
        },
    }
    assert tasks["totals"]["sql_task"] == {
        "warehouse_id": "${var.warehouse_id}",
        "file": {"path": "../queries/totals.sql"},
        "parameters": {"day": "{{job.parameters.day}}"},
    }
    assert tasks["wheel"]["python_wheel_task"] == {
        "package_name": "sales_pkg",
        "entry_point": "main",
        "parameters": ["--fast"],
    }
    assert tasks["wheel"]["disabled"] is True
    assert tasks["report"]["run_job_task"] == {
        "job_id": "${resources.jobs.child.id}",
        "job_parameters": {"day": "{{job.parameters.day}}"},
    }
    assert "inline" not in tasks
    assert result["reports"] == [
        "workflows/nightly.yaml:10: not exported: webhook http://127.0.0.1:9/hook (Databricks "
        "names notification destinations by id: add it to webhook_notifications by hand)",
        "workflows/nightly.yaml:46: not exported: task 'inline': inline SQL (Databricks runs a "
        "saved query or a file)",
    ]


def test_strict_export_refuses_and_writes_nothing(full: Project):
    with pytest.raises(WorkflowFileError) as exc:
        api.export_databricks(full, "nightly", output="out.yml", strict=True)
    assert len(exc.value.problems) == 2
    assert not (full.root / "out.yml").exists()


def test_without_a_file_the_text_is_returned_with_paths_from_the_project_root(full: Project):
    result = api.export_databricks(full, "child")
    assert result["file"] is None
    assert "# Paths are relative to the project root" in result["text"]
    job = yamlload.load(result["text"]).data["resources"]["jobs"]["child"]
    assert job["tasks"] == [
        {"task_key": "a", "spark_python_task": {"python_file": "scripts/clean.py"}}
    ]
    assert job["parameters"] == [{"name": "day", "default": ""}]


def comparable(workflow: Any) -> dict[str, Any]:
    """What import and export both carry, in one spelling (Quartz, canonical references)."""

    def canon(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        if isinstance(value, list):
            return [canon(v) for v in value]
        if isinstance(value, str):
            return references.REFERENCE.sub(
                lambda m: "{{" + references.canonical(m.group(1)) + "}}", value
            )
        return value

    def texts(values: dict[str, Any]) -> dict[str, str]:
        return {k: exporter.text(v) for k, v in values.items()}  # Databricks holds text

    def destinations(notifications: Any) -> Any:
        if notifications is None:
            return None
        return {
            event: [d.model_dump() for d in getattr(notifications, event)]
            for event in ("on_start", "on_success", "on_failure", "on_duration_warning")
        }

    s = workflow.settings
    placeholders = {
        t.key
        for t in workflow.tasks
        if t.kind == "command" and "not runnable here" in str(t.target)
    }
    tasks = []
    for t in workflow.tasks:
        if t.key in placeholders:
            continue
        target = t.target.model_dump() if hasattr(t.target, "model_dump") else t.target
        if t.kind == "condition":  # operands are text there; `"0" == 0` compares as numbers here
            target = {
                **target,
                "left": exporter.text(target["left"]),
                "right": exporter.text(target["right"]),
            }
        tasks.append(
            canon(
                {
                    "key": t.key,
                    "kind": t.kind,
                    "target": target,
                    "parameters": texts(t.parameters),
                    "args": [exporter.text(a) for a in t.args],
                    "depends_on": [
                        (e.task, e.outcome) for e in t.depends_on if e.task not in placeholders
                    ],
                    "run_if": t.run_if,
                    "for_each": (t.for_each.inputs, t.for_each.concurrency) if t.for_each else None,
                    "retries": (t.retries, t.retry_delay, t.retry_on_timeout, t.timeout),
                    "disabled": t.disabled,
                    "notifications": destinations(t.notifications),
                }
            )
        )
    return {
        "description": workflow.description,
        "parameters": canon(texts(workflow.parameters)),
        "schedule": (to_quartz(s.schedule.cron), s.schedule.timezone, s.schedule.paused)
        if s.schedule
        else None,
        "file_arrival": s.file_arrival.model_dump() if s.file_arrival else None,
        "continuous": s.continuous,
        "paused": s.paused,
        "limits": (s.max_concurrent_runs, s.queue, s.timeout, s.duration_warning),
        "notifications": destinations(s.notifications),
        "tasks": tasks,
    }


def round_trip(project: Project, workflow_file: str) -> tuple[dict[str, Any], dict[str, Any]]:
    first = loader.load_workflow(Path(workflow_file), project.root)
    api.export_databricks(project, workflow_file, output="resources/exported.yml")
    result = api.import_databricks(project, "resources/exported.yml", output="workflows/again.yaml")
    assert result["problems"] == []
    again = loader.load_workflow(project.root / "workflows" / "again.yaml", project.root)
    return comparable(first), comparable(again)


@pytest.mark.parametrize("job_file", list(LAYOUT))
def test_import_then_export_keeps_each_job_files_supported_fields(job_file, tmp_path, monkeypatch):
    path = lay_out(tmp_path, job_file)
    monkeypatch.chdir(tmp_path)
    project = Project(tmp_path)
    [written] = api.import_databricks(project, str(path.relative_to(tmp_path)))["written"]
    before, after = round_trip(project, written["file"])
    assert after == before


def test_a_workflow_with_every_exportable_field_round_trips(full: Project):
    # `inline` (SQL text) and the webhook have no Databricks form: the export lists them.
    text = FULL.replace(', {webhook: "http://127.0.0.1:9/hook"}', "")
    text = text[: text.index("  - key: inline")]
    (full.root / "workflows" / "nightly.yaml").write_text(text)
    before, after = round_trip(full, "workflows/nightly.yaml")
    assert after == before


def test_a_cron_quartz_cannot_express_is_reported(full: Project):
    (full.root / "workflows" / "both.yaml").write_text(
        textwrap.dedent(
            """\
            schedule: {cron: "0 0 1 * 1"}
            tasks:
              - key: a
                script: scripts/clean.py
            """
        )
    )
    result = api.export_databricks(full, "both")
    assert "schedule" not in yamlload.load(result["text"]).data["resources"]["jobs"]["both"]
    assert result["reports"] == [
        "workflows/both.yaml:1: not exported: schedule: '0 0 1 * 1' restricts both the day of "
        "the month and the day of the week, which Quartz cannot express"
    ]
