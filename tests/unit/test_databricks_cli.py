"""`nbflow import databricks` and `nbflow export databricks` as a user runs them (no kernel)."""

from __future__ import annotations

from pathlib import Path

from nbflow.workflows import yamlload
from tests.databricks.layout import lay_out
from tests.unit.test_cli_project import nbflow
from tests.unit.test_startup import loaded_by


def test_import_lists_what_it_leaves_out_writes_the_workflow_and_it_validates(tmp_path: Path):
    lay_out(tmp_path, "periodic_trigger_health_notifications.yml")
    proc = nbflow(tmp_path, "import", "databricks", "resources/job.yml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "wrote workflows/default_python_job.yaml (workflow default_python_job, job "
        "default_python_job)\n"
    )
    lines = proc.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        "resources/job.yml:9",
        "resources/job.yml:20",
        "resources/job.yml:27",
        "resources/job.yml:33",
        "resources/job.yml:35",
        "resources/job.yml:37",
        "resources/job.yml:40",
        "resources/job.yml:53",
        "resources/job.yml:58",
    ]
    assert lines[2] == (
        "resources/job.yml:27: ignored: tasks[refresh_pipeline].pipeline_task (a Lakeflow "
        "Declarative Pipeline has no local meaning: the task is kept as a disabled placeholder)"
    )
    assert nbflow(tmp_path, "validate").stdout == "workflows/default_python_job.yaml: ok\n"


def test_import_tells_when_what_it_wrote_does_not_validate_yet(tmp_path: Path):
    lay_out(tmp_path, "task_value_condition_run_job.yml", standins=False)
    proc = nbflow(tmp_path, "import", "databricks", "resources/monitoring.yml")
    assert proc.returncode == 0
    assert (
        "resources/monitoring.yml:29: note: notebook '../monitoring/MonitoredMetricViolationCheck"
        ".py' is not in the project" in proc.stderr
    )
    assert proc.stderr.splitlines()[-2:] == [
        "workflows/retraining_job.yaml:10: task 'monitored_metric_violation_check': notebook "
        "file 'monitoring/MonitoredMetricViolationCheck.py' not found",
        "nbflow validate finds the problems above: fix them before running",
    ]
    assert (tmp_path / "workflows" / "retraining_job.yaml").is_file()


def test_strict_import_exits_2_with_each_line_and_writes_nothing(tmp_path: Path):
    lay_out(tmp_path, "condition_task_on_job_parameter.yml")
    proc = nbflow(tmp_path, "import", "databricks", "databricks.yml", "--strict")
    assert proc.returncode == 2
    assert [line.split(" (")[0] for line in proc.stderr.splitlines()] == [
        "databricks.yml:27: ignored: tasks[run_query].sql_task.warehouse_id",
        "databricks.yml:35: ignored: targets",
    ]
    assert list((tmp_path / "workflows").iterdir()) == []


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path):
    (tmp_path / "workflows").mkdir()
    (tmp_path / "bad.yml").write_text("resources:\n  jobs: {j: {tasks: [}\n")
    for args, expected in [
        (["bad.yml"], "bad.yml:2: invalid YAML"),
        (["missing.yml"], "nbflow: missing.yml: no such file"),
        (["bad.yml", "--var", "novalue"], "--var 'novalue': expected NAME=VALUE"),
    ]:
        proc = nbflow(tmp_path, "import", "databricks", *args)
        assert proc.returncode == 2, args
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert len([line for line in proc.stderr.splitlines() if expected in line]) == 1


def test_export_prints_the_bundle_job_or_writes_it(tmp_path: Path):
    lay_out(tmp_path, "condition_task_on_job_parameter.yml")
    assert nbflow(tmp_path, "import", "databricks", "databricks.yml").returncode == 0
    proc = nbflow(tmp_path, "export", "databricks", "example_job")
    assert proc.returncode == 0 and proc.stderr == ""
    job = yamlload.load(proc.stdout).data["resources"]["jobs"]["example_job"]
    assert job["tasks"][1] == {
        "task_key": "run_query",
        "depends_on": [{"task_key": "condition", "outcome": "true"}],
        "sql_task": {"warehouse_id": "${var.warehouse_id}", "file": {"path": "query.sql"}},
    }
    proc = nbflow(tmp_path, "export", "databricks", "example_job", "-o", "resources/out.yml")
    assert proc.stdout == "wrote resources/out.yml\n"
    assert yamlload.load((tmp_path / "resources" / "out.yml").read_text()).data["resources"]


def test_help_does_not_load_the_databricks_package(tmp_path: Path):
    (tmp_path / "workflows").mkdir()
    assert not any(m.startswith("nbflow.databricks") for m in loaded_by(["--help"], tmp_path))
    assert not any(
        m.startswith("nbflow.databricks.") for m in loaded_by(["import", "--help"], tmp_path)
    )
