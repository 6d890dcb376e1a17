"""Databricks jobs as workflows: the real job files, Jobs API JSON, variables, and bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from nbflow import api
from nbflow.core.errors import Conflict, UsageError, WorkflowFileError
from nbflow.databricks import importer, jobfile
from nbflow.workflows import yamlload
from nbflow.workflows.project import Project
from tests.databricks.layout import lay_out


def imported(root: Path, job_file: str, **kwargs) -> list[importer.Imported]:
    path = lay_out(root, job_file)
    loaded = jobfile.load(path, path.name, kwargs.pop("variables", None))
    return importer.import_jobs(loaded, root=root, **kwargs)


def reports(item: importer.Imported) -> list[tuple[int | None, str]]:
    """Each report's line and its first words (what it is about)."""
    return [(r.line, r.message.split(" (")[0]) for r in item.reports]


def test_condition_task_on_a_job_parameter(tmp_path: Path):
    [job] = imported(tmp_path, "condition_task_on_job_parameter.yml")
    assert job.content == {
        "name": "example_job",
        "parameters": {"run_sql_task": "false"},
        "tasks": [
            {
                "key": "condition",
                "condition": {
                    "left": "{{ job.parameters.[run_sql_task] }}",
                    "op": "==",
                    "right": "true",
                },
            },
            {
                "key": "run_query",
                "sql": {"file": "query.sql"},
                "depends_on": [{"task": "condition", "outcome": True}],
            },
        ],
    }
    # The lookup variable ${var.warehouse_id} has no value, but only an ignored field uses it.
    assert reports(job) == [
        (27, "ignored: tasks[run_query].sql_task.warehouse_id"),
        (35, "ignored: targets"),
    ]


def test_task_value_condition_run_job_with_anchors_and_unknown_keys(tmp_path: Path):
    [job] = imported(tmp_path, "task_value_condition_run_job.yml")
    tasks = job.content["tasks"]
    assert job.content["schedule"] == {"cron": "0 0 18 * * ?", "timezone": "UTC"}
    assert tasks[0] == {
        "key": "monitored_metric_violation_check",
        "notebook": "monitoring/MonitoredMetricViolationCheck.py",
        "parameters": {
            "env": "default",  # ${bundle.target}: the file names no target
            "table_name_under_monitor": "dev.mlops_stacks.predictions",
            "metric_to_monitor": "root_mean_squared_error",
            "metric_violation_threshold": "100",  # Databricks passes parameters as text
            "num_evaluation_windows": "5",
            "num_violation_windows": "2",
            "git_source_info": "url:${bundle.git.origin_url}; branch:${bundle.git.branch}; "
            "commit:${bundle.git.commit}",
        },
    }
    assert tasks[1] == {
        "key": "is_metric_violated",
        "condition": {
            "left": "{{tasks.monitored_metric_violation_check.values.is_metric_violated}}",
            "op": "==",
            "right": "true",
        },
        "depends_on": ["monitored_metric_violation_check"],
    }
    # The job it runs is in another file of the bundle: a disabled placeholder keeps the edge.
    assert tasks[2]["key"] == "trigger_retraining"
    assert tasks[2]["disabled"] is True
    assert tasks[2]["depends_on"] == [{"task": "is_metric_violated", "outcome": True}]
    assert "model_training_job" in tasks[2]["command"][2]
    assert reports(job) == [
        (1, "ignored: common_permissions"),
        (8, "ignored: resources.quality_monitors.mlops_stacks_quality_monitor"),
        (27, "ignored: tasks[monitored_metric_violation_check].environment_key"),
        (
            37,
            "note: ${bundle.git.origin_url}, ${bundle.git.branch}, ${bundle.git.commit} are "
            "only known on Databricks: kept as written in tasks[monitored_metric_violation_check]"
            ".notebook_task.base_parameters.git_source_info",
        ),
        (46, "ignored: tasks[is_metric_violated].git_source_info"),
        (53, "ignored: tasks[trigger_retraining].run_job_task.job_id"),
        (54, "ignored: tasks[trigger_retraining].run_job_task.git_source_info"),
        (56, "ignored: environments"),
        (65, "ignored: permissions"),  # where `<<: *permissions` merges it in
    ]
    assert job.reports[-1].message.endswith("(merged from line 2)")
    assert "not a Databricks task field" in job.reports[4].message


def test_periodic_trigger_health_and_notifications(tmp_path: Path):
    [job] = imported(tmp_path, "periodic_trigger_health_notifications.yml")
    content = job.content
    assert content["schedule"] == {"cron": "0 * * * *", "timezone": "UTC"}
    assert content["duration_warning"] == "1h"
    assert content["notifications"] == {"on_failure": [{"email": "user@company.com"}]}
    assert [t["key"] for t in content["tasks"]] == [
        "notebook_task",
        "refresh_pipeline",
        "main_task",
    ]
    assert content["tasks"][0] == {"key": "notebook_task", "notebook": "src/notebook.ipynb"}
    pipeline = content["tasks"][1]
    assert pipeline["disabled"] is True and pipeline["depends_on"] == ["notebook_task"]
    assert content["tasks"][2] == {
        "key": "main_task",
        "command": ["python", "-m", "nbflow.databricks.wheel_entry", "default_python", "main"],
        "depends_on": ["refresh_pipeline"],
    }
    assert reports(job) == [
        (
            9,
            "note: periodic interval 1 HOURS became the cron schedule '0 * * * *' in UTC; "
            "Databricks counts the interval from the last run, nbflow fires on the clock",
        ),
        (20, "ignored: tasks[notebook_task].job_cluster_key"),
        (27, "ignored: tasks[refresh_pipeline].pipeline_task"),
        (33, "ignored: tasks[main_task].job_cluster_key"),
        (
            35,
            "note: package default_python is not installed here: the task finds it only if "
            "it is importable from the project folder",
        ),
        (37, "ignored: tasks[main_task].libraries"),
        (40, "ignored: job_clusters"),
        (53, "ignored: notification_settings"),
        (58, "ignored: webhook_notifications.on_failure[0]"),
    ]


def test_a_webhook_destination_id_is_mapped_to_the_url_given(tmp_path: Path):
    hook = "a3ed17dd-2658-45fc-9b45-850205add9a8"
    [job] = imported(
        tmp_path,
        "periodic_trigger_health_notifications.yml",
        webhooks={hook: "http://127.0.0.1:9/hook"},
    )
    assert job.content["notifications"]["on_failure"] == [
        {"email": "user@company.com"},
        {"webhook": "http://127.0.0.1:9/hook"},
    ]
    assert not any("webhook" in m for _, m in reports(job))


def test_schema_fixture_with_for_each_continuous_and_a_task_from_a_variable(tmp_path: Path):
    [job] = imported(tmp_path, "cli_schema_fixture_for_each_continuous.yml")
    assert job.content == {
        "name": "myjob",
        "description": "my job description",
        "continuous": True,
        "paused": True,
        "max_concurrent_runs": 10,
        "tasks": [
            {"key": "mytask", "notebook": "true.ipynb"},  # ${var.simplevar} is the boolean true
            {
                "key": "mytask2",
                "notebook": "value3.ipynb",  # ${var.complexvar.key3[0]}
                "disabled": True,
                "for_each": {"inputs": [], "concurrency": 10},
            },
        ],
    }
    assert reports(job) == [
        (4, "ignored: workspace"),
        (8, "ignored: presets"),
        (28, "ignored: run_as"),
        (35, "problem: continuous and trigger"),
        (40, "ignored: email_notifications.no_alert_for_skipped_runs"),
        (41, "ignored: environments"),
        (49, "ignored: tags"),
        (52, "ignored: git_source"),
        (59, "ignored: tasks[mytask].existing_cluster_id"),
        (
            62,
            "problem: for_each_task.inputs 'av' is neither a JSON list nor a {{reference}}: "
            "the task is kept disabled with no inputs; fix for_each.inputs and remove `disabled`",
        ),
        (68, "problem: tasks[2] has no task_key: it is not a task and is left out"),
    ]
    assert "(line 47)" in job.reports[3].message  # the trigger it conflicts with


def test_a_missing_notebook_is_noted_and_resolved_against_the_bundle_file(tmp_path: Path):
    path = lay_out(tmp_path, "task_value_condition_run_job.yml", standins=False)
    [job] = importer.import_jobs(jobfile.load(path, "m.yml"), root=tmp_path)
    assert job.content["tasks"][0]["notebook"] == "monitoring/MonitoredMetricViolationCheck.py"
    assert job.missing == ["monitoring/MonitoredMetricViolationCheck.py"]
    [note] = [r for r in job.reports if r.line == 29]
    assert note.message == (
        "note: notebook '../monitoring/MonitoredMetricViolationCheck.py' is not in the project "
        "(looked at monitoring/MonitoredMetricViolationCheck.py): add it, or fix the path in "
        "the workflow file"
    )


def test_the_written_file_says_where_each_part_came_from_and_reads_back(tmp_path: Path):
    [job] = imported(tmp_path, "task_value_condition_run_job.yml")
    text = importer.workflow_text(job, "resources/monitoring.yml", 23)
    assert text.startswith(
        "# Imported by `nbflow import databricks` from resources/monitoring.yml, job "
        'retraining_job (line 23): "default-mlops_stacks-monitoring-retraining-job".'
    )
    assert "# from schedule (line 62): quartz_cron_expression, timezone_id\nschedule:" in text
    assert "  # from tasks[1] is_metric_violated (line 39): condition_task\n  - key:" in text
    assert yamlload.load(text).data == job.content


# ---- Jobs API JSON ---------------------------------------------------------------------------

API_JOB = {
    "job_id": 11,
    "creator_user_name": "someone@example.com",
    "settings": {
        "name": "Nightly load (prod)",
        "git_source": {"git_url": "https://github.com/a/b", "git_provider": "gitHub"},
        "parameters": [{"name": "day", "default": "{{job.start_time.iso_date}}"}],
        "schedule": {
            "quartz_cron_expression": "0 30 2 ? * MON-FRI",
            "timezone_id": "Europe/Berlin",
            "pause_status": "PAUSED",
        },
        "max_concurrent_runs": 2,
        "queue": {"enabled": False},
        "timeout_seconds": 7200,
        "health": {
            "rules": [
                {"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 1800},
                {"metric": "STREAMING_BACKLOG_BYTES", "op": "GREATER_THAN", "value": 1},
            ]
        },
        "email_notifications": {
            "on_start": ["ops@example.com"],
            "on_duration_warning_threshold_exceeded": ["ops@example.com"],
        },
        "tasks": [
            {
                "task_key": "ingest",
                "notebook_task": {
                    "notebook_path": "/Workspace/Users/someone@example.com/proj/notebooks/ingest",
                    "source": "WORKSPACE",
                    "base_parameters": {"day": "{{job.parameters.day}}", "limit": 10},
                },
                "max_retries": 2,
                "min_retry_interval_millis": 90000,
                "retry_on_timeout": True,
                "timeout_seconds": 600,
                "email_notifications": {"on_failure": ["ops@example.com"]},
            },
            {
                "task_key": "clean",
                "depends_on": [{"task_key": "ingest"}],
                "spark_python_task": {
                    "python_file": "scripts/clean.py",
                    "parameters": ["--day", "{{job.parameters.day}}"],
                },
                "run_if": "ALL_DONE",
                "max_retries": -1,
            },
            {
                "task_key": "per_region",
                "depends_on": [{"task_key": "clean"}],
                "for_each_task": {
                    "inputs": '["eu", "us"]',
                    "concurrency": 2,
                    "task": {
                        "task_key": "per_region_iteration",
                        "notebook_task": {
                            "notebook_path": "notebooks/region",
                            "base_parameters": {"region": "{{input}}"},
                        },
                        "max_retries": 1,
                    },
                },
            },
            {
                "task_key": "report",
                "depends_on": [{"task_key": "per_region"}],
                "run_job_task": {"job_id": 12, "job_parameters": {"day": "{{job.parameters.day}}"}},
            },
        ],
    },
}
CHILD_JOB = {
    "job_id": 12,
    "settings": {
        "name": "report",
        "parameters": [{"name": "day", "default": ""}],
        "trigger": {
            "pause_status": "UNPAUSED",
            "file_arrival": {
                "url": "s3://bucket/landing/",
                "min_time_between_triggers_seconds": 60,
                "wait_after_last_change_seconds": 120,
            },
        },
        "tasks": [
            {
                "task_key": "publish",
                "sql_task": {"warehouse_id": "w1", "file": {"path": "queries/publish.sql"}},
            }
        ],
    },
}


def api_project(root: Path) -> Path:
    for name in (
        "notebooks/ingest.py",
        "notebooks/region.ipynb",
        "scripts/clean.py",
        "queries/publish.sql",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# Databricks notebook source\n" if name.endswith(".py") else "{}")
    (root / "workflows").mkdir()
    path = root / "jobs.json"
    path.write_text(json.dumps({"jobs": [API_JOB, CHILD_JOB]}, indent=2))
    return path


def test_a_jobs_list_answer_maps_every_supported_field(tmp_path: Path):
    path = api_project(tmp_path)
    loaded = jobfile.load(path, "jobs.json")
    assert [j.key for j in loaded.jobs] == ["Nightly_load_prod", "report"]
    nightly, child = importer.import_jobs(loaded, root=tmp_path, select="11")
    assert nightly.children == ["report"]
    c = nightly.content
    assert c["parameters"] == {"day": "{{job.start_time.iso_date}}"}
    assert c["schedule"] == {
        "cron": "0 30 2 ? * MON-FRI",
        "timezone": "Europe/Berlin",
        "paused": True,
    }
    assert (c["max_concurrent_runs"], c["queue"], c["timeout"], c["duration_warning"]) == (
        2,
        False,
        "2h",
        "30m",
    )
    assert c["notifications"] == {
        "on_start": [{"email": "ops@example.com"}],
        "on_duration_warning": [{"email": "ops@example.com"}],
    }
    ingest, clean, per_region, report = c["tasks"]
    assert ingest == {
        "key": "ingest",
        "notebook": "notebooks/ingest.py",  # the workspace path, found in the project
        "parameters": {"day": "{{job.parameters.day}}", "limit": "10"},
        "retries": 2,
        "retry_delay": "90s",
        "retry_on_timeout": True,
        "timeout": "10m",
        "notifications": {"on_failure": [{"email": "ops@example.com"}]},
    }
    assert clean == {
        "key": "clean",
        "script": "scripts/clean.py",  # GIT source (git_source is set): from the project root
        "args": ["--day", "{{job.parameters.day}}"],
        "depends_on": ["ingest"],
        "run_if": "all_done",
        "retries": 100,
    }
    assert per_region == {
        "key": "per_region",
        "notebook": "notebooks/region.ipynb",
        "parameters": {"region": "{{input}}"},
        "retries": 1,
        "for_each": {"inputs": ["eu", "us"], "concurrency": 2},
        "depends_on": ["clean"],
    }
    assert report == {
        "key": "report",
        "workflow": "report",
        "parameters": {"day": "{{job.parameters.day}}"},
        "depends_on": ["per_region"],
    }
    assert child.content["file_arrival"] == {
        "path": "data/bucket/landing",
        "min_interval": "1m",
        "wait_after_last_change": "2m",
    }
    assert child.content["tasks"] == [{"key": "publish", "sql": {"file": "queries/publish.sql"}}]
    assert [m for _, m in reports(nightly)] == [
        "ignored: git_source",
        "ignored: health.rules[1]",
        "note: notebook /Workspace/Users/someone@example.com/proj/notebooks/ingest is "
        "notebooks/ingest.py in the project",
        "note: max_retries -1",
    ]
    assert any("watched locally in data/bucket/landing/" in r.message for r in child.reports)


def test_a_jobs_get_answer_and_bare_settings_are_one_job(tmp_path: Path):
    for doc in (API_JOB, API_JOB["settings"]):
        api_project(tmp_path)
        path = tmp_path / "one.json"
        path.write_text(json.dumps(doc))
        [job] = jobfile.load(path, "one.json").jobs
        assert job.key == "Nightly_load_prod"
        (tmp_path / "workflows").rmdir()


# ---- variables -----------------------------------------------------------------------------

BUNDLE = """\
bundle:
  name: vars
variables:
  catalog:
    default: dev_catalog
  layout:
    type: complex
    default:
      notebooks: [nb/a.ipynb, nb/b.ipynb]
targets:
  dev:
    default: true
    variables:
      catalog: dev_from_target
  prod: {}
resources:
  jobs:
    vars_job:
      name: vars ${bundle.target}
      tasks:
        - task_key: a
          notebook_task:
            notebook_path: ${var.layout.notebooks[1]}
            base_parameters:
              catalog: ${var.catalog}
              where: ${bundle.target}/${var.catalog}
"""


def load_bundle(tmp_path: Path, variables: dict[str, str] | None = None) -> dict:
    path = tmp_path / "databricks.yml"
    path.write_text(BUNDLE)
    [job] = importer.import_jobs(jobfile.load(path, "databricks.yml", variables), root=tmp_path)
    return job.content["tasks"][0]


def test_variables_come_from_var_then_the_default_target_then_defaults(tmp_path: Path):
    task = load_bundle(tmp_path)
    assert task["notebook"] == "nb/b.ipynb"
    assert task["parameters"] == {"catalog": "dev_from_target", "where": "dev/dev_from_target"}
    task = load_bundle(tmp_path, {"catalog": "given"})
    assert task["parameters"] == {"catalog": "given", "where": "dev/given"}


def test_an_unknown_var_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="--var nope: databricks.yml declares no such variable"):
        load_bundle(tmp_path, {"nope": "1"})


def test_a_variable_without_a_value_is_noted_where_it_is_used(tmp_path: Path):
    path = tmp_path / "databricks.yml"
    path.write_text(
        textwrap.dedent(
            """\
            variables:
              who: {description: no default}
            resources:
              jobs:
                j:
                  tasks:
                    - task_key: a
                      notebook_task: {notebook_path: x.ipynb, base_parameters: {who: "${var.who}"}}
            """
        )
    )
    [job] = importer.import_jobs(jobfile.load(path, "databricks.yml"), root=tmp_path)
    assert job.content["tasks"][0]["parameters"] == {"who": "${var.who}"}
    assert (8, "note: ${var.who} has no value") in reports(job)


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resources: [unclosed\n", "invalid YAML"),
        ("just: a mapping\n", "neither a bundle (no `resources.jobs`) nor a Jobs API job"),
        ("- a list\n", "expected a Databricks bundle or Jobs API job"),
        ("resources:\n  pipelines: {}\n", "the file defines no job"),
        ("resources:\n  jobs:\n    j: 3\n", "resources.jobs.j must be a mapping"),
    ],
)
def test_files_that_are_not_jobs_get_one_clear_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "x.yml"
    path.write_text(text)
    with pytest.raises(WorkflowFileError) as exc:
        jobfile.load(path, "x.yml")
    [problem] = exc.value.problems
    assert problem.file == "x.yml" and problem.line is not None and message in problem.message


def test_an_unknown_job_names_the_jobs_there_are(tmp_path: Path):
    path = lay_out(tmp_path, "condition_task_on_job_parameter.yml")
    with pytest.raises(UsageError, match=r"no job 'other' \(its jobs: example_job\)"):
        importer.import_jobs(jobfile.load(path, "databricks.yml"), root=tmp_path, select="other")


# ---- through the facade: files written, validated, refused -----------------------------------


def test_every_job_file_imports_into_a_workflow_that_validates(tmp_path: Path, monkeypatch):
    from tests.databricks.layout import LAYOUT

    for i, job_file in enumerate(LAYOUT):
        root = tmp_path / str(i)
        root.mkdir()
        path = lay_out(root, job_file)
        monkeypatch.chdir(root)
        result = api.import_databricks(Project(root), str(path.relative_to(root)))
        assert result["problems"] == [], job_file
        [written] = result["written"]
        paths, problems = api.validate(Project(root), [written["file"]])
        assert problems == []


def test_strict_refuses_what_would_be_left_out_and_writes_nothing(tmp_path: Path, monkeypatch):
    path = lay_out(tmp_path, "condition_task_on_job_parameter.yml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkflowFileError) as exc:
        api.import_databricks(Project(tmp_path), str(path), strict=True)
    assert [str(p) for p in exc.value.problems] == [
        "databricks.yml:27: ignored: tasks[run_query].sql_task.warehouse_id (SQL warehouses have no "
        "local meaning: the SQL runs on the project's SQL database (.nbflow/warehouse.db))",
        "databricks.yml:35: ignored: targets (targets are not merged: variables take the default "
        "target's values)",
    ]
    assert list((tmp_path / "workflows").iterdir()) == []


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path, monkeypatch):
    path = lay_out(tmp_path, "condition_task_on_job_parameter.yml")
    monkeypatch.chdir(tmp_path)
    existing = tmp_path / "workflows" / "example_job.yaml"
    existing.write_text("keep me\n")
    with pytest.raises(Conflict, match="already exists"):
        api.import_databricks(Project(tmp_path), str(path))
    assert existing.read_text() == "keep me\n"
    api.import_databricks(Project(tmp_path), str(path), force=True)
    assert existing.read_text().startswith("# Imported by")


def test_output_names_the_workflow_and_needs_one_job(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = api_project(tmp_path)
    with pytest.raises(
        UsageError, match=r"has 2 jobs \(Nightly_load_prod, report\): pick one with --job"
    ):
        api.import_databricks(Project(tmp_path), str(path), output="workflows/x.yaml")
    result = api.import_databricks(
        Project(tmp_path), str(path), job="report", output="workflows/pub.yaml"
    )
    assert result["written"] == [{"file": "workflows/pub.yaml", "workflow": "pub", "job": "report"}]


def test_a_job_run_by_another_of_the_same_file_is_imported_as_its_child(tmp_path, monkeypatch):
    (tmp_path / "nb.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    (tmp_path / "databricks.yml").write_text(
        textwrap.dedent(
            """\
            resources:
              jobs:
                parent:
                  tasks:
                    - task_key: run_child
                      run_job_task:
                        job_id: ${resources.jobs.child.id}
                        job_parameters: {day: "2026-01-01"}
                child:
                  parameters: [{name: day, default: ""}]
                  tasks:
                    - task_key: a
                      notebook_task: {notebook_path: ./nb.ipynb}
                other:
                  tasks:
                    - task_key: b
                      notebook_task: {notebook_path: ./nb.ipynb}
            """
        )
    )
    (tmp_path / "workflows").mkdir()
    monkeypatch.chdir(tmp_path)
    result = api.import_databricks(Project(tmp_path), "databricks.yml", job="parent")
    assert [w["workflow"] for w in result["written"]] == ["parent", "child"]
    assert result["problems"] == []
    parent = yamlload.load((tmp_path / "workflows" / "parent.yaml").read_text()).data
    assert parent["tasks"] == [
        {"key": "run_child", "workflow": "child", "parameters": {"day": "2026-01-01"}}
    ]


def test_a_notebook_path_that_is_not_a_python_notebook_becomes_a_placeholder(tmp_path: Path):
    (tmp_path / "plain.py").write_text("print('a file, not a notebook')\n")
    (tmp_path / "report.sql").write_text("-- Databricks notebook source\nSELECT 1\n")
    path = tmp_path / "databricks.yml"
    path.write_text(
        textwrap.dedent(
            """\
            resources:
              jobs:
                j:
                  tasks:
                    - task_key: a
                      notebook_task: {notebook_path: ./plain.py}
                    - task_key: b
                      notebook_task: {notebook_path: ./report.sql}
            """
        )
    )
    [job] = importer.import_jobs(jobfile.load(path, "databricks.yml"), root=tmp_path)
    assert [(t["key"], t["disabled"]) for t in job.content["tasks"]] == [("a", True), ("b", True)]
    assert reports(job) == [
        (6, "problem: plain.py is a Python file, not a notebook"),
        (8, "ignored: tasks[b].notebook_task.notebook_path"),
    ]


def test_json_that_yaml_cannot_read_is_still_read_and_bad_json_named_at_its_line(tmp_path):
    path = tmp_path / "job.json"
    path.write_text('{\n\t"name": "tabbed",\n\t"tasks": [\n\t\t{"task_key": "a"}\n\t]\n}\n')
    [job] = jobfile.load(path, "job.json").jobs
    assert job.key == "tabbed"
    path.write_text('{\n\t"name": "broken",\n\t"tasks": [\n}\n')
    with pytest.raises(WorkflowFileError) as exc:
        jobfile.load(path, "job.json")
    [problem] = exc.value.problems
    assert problem.line == 4 and problem.message.startswith("invalid JSON")
