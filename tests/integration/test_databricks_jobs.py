"""The real Databricks job files imported and run on real kernels, with small stand-ins.

The stand-ins include a Databricks source-format notebook (`%md`, `%sql`, `%sh` cells, a
`DBTITLE`) and an `.ipynb` as Databricks exports it; the executed copies are kept as `.ipynb`.
"""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from tests.databricks.layout import lay_out


def imported(project, job_file: str) -> str:
    """Lay the job file out in the project, import it, check it validates; its workflow name."""
    path = lay_out(project.root, job_file)
    proc = project.cli("import", "databricks", str(path.relative_to(project.root)))
    assert proc.returncode == 0, proc.stderr
    assert "nbflow validate finds" not in proc.stderr
    [line] = proc.stdout.splitlines()
    assert project.cli("validate").returncode == 0
    return line.split("(workflow ")[1].split(",")[0]


def states(doc) -> dict[str, str]:
    return {t["key"]: t["state"] for t in doc["tasks"]}


@pytest.mark.kernel
def test_a_task_value_read_by_a_condition_from_a_databricks_source_notebook(project):
    name = imported(project, "task_value_condition_run_job.yml")
    code, doc = project.cli_json("run", name)
    assert code == 0, doc
    assert states(doc) == {
        "monitored_metric_violation_check": "success",
        "is_metric_violated": "success",
        "trigger_retraining": "disabled",  # the job it runs is in another file of the bundle
    }
    check = doc["tasks"][0]
    assert check["values"] == {"is_metric_violated": "true"}  # 250 over the threshold of 100
    assert doc["tasks"][1]["outcome"] is True
    artifact = project.root / check["attempts"][0]["artifact"]
    assert artifact.suffix == ".ipynb"
    nb = nbformat.read(str(artifact), as_version=4)
    assert nb.metadata.papermill.input_path.endswith("monitoring/MonitoredMetricViolationCheck.py")
    outputs = {
        c.source.splitlines()[0]: c.get("outputs", []) for c in nb.cells if c.cell_type == "code"
    }
    sql = outputs["%%databricks_sql"][0]["data"]["text/plain"]
    assert "'worst': 250.0" in sql  # the %sql cell ran on the project's SQL database
    assert outputs["%%sh"][0]["text"] == "a shell cell runs too\n"
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert markdown[0].startswith("# Stand-in for mlops-stacks' MonitoredMetricViolationCheck")
    # The source notebook is untouched.
    source = project.root / "monitoring" / "MonitoredMetricViolationCheck.py"
    assert source.read_text().startswith("# Databricks notebook source\n# MAGIC %md")


@pytest.mark.kernel
def test_a_condition_on_a_job_parameter_and_a_sql_file(project):
    name = imported(project, "condition_task_on_job_parameter.yml")
    code, doc = project.cli_json("run", name)
    assert code == 0 and states(doc) == {"condition": "success", "run_query": "excluded"}
    code, doc = project.cli_json("run", name, "-p", "run_sql_task=true")
    assert code == 0 and states(doc) == {"condition": "success", "run_query": "success"}
    assert doc["tasks"][1]["output"]["rows"] == [{"ran": 1}]


@pytest.mark.kernel
def test_a_notebook_exported_from_databricks_and_a_wheel_entry_point(project):
    name = imported(project, "periodic_trigger_health_notifications.yml")
    code, doc = project.cli_json("run", name)
    assert code == 0, json.dumps(doc, indent=1)
    assert states(doc) == {
        "notebook_task": "success",
        "refresh_pipeline": "disabled",  # a pipeline has no local meaning
        "main_task": "success",
    }
    assert doc["tasks"][0]["values"] == {"rows": 5}
    assert doc["tasks"][2]["values"] == {"argv": []}  # default_python.main() was called
    nb = nbformat.read(str(project.root / doc["tasks"][0]["attempts"][0]["artifact"]), 4)
    assert [c.cell_type for c in nb.cells][:3] == ["markdown", "markdown", "code"]


@pytest.mark.kernel
def test_the_schema_fixture_runs_what_it_can(project):
    name = imported(project, "cli_schema_fixture_for_each_continuous.yml")
    code, doc = project.cli_json("run", name)
    assert code == 0
    assert states(doc) == {"mytask": "success", "mytask2": "disabled"}


def test_a_command_naming_python_runs_the_projects_python(project):
    """Imported wheel tasks are `python -m ...`: the Python running nbflow, not PATH's."""
    project.workflow(
        "py",
        """
        tasks:
          - key: which
            command: [python, -c, "import sys; from nbflow import glue; glue('exe', sys.executable)"]
        """,
    )
    proc = project.cli("run", "py", "--json", env={"PATH": "/nonexistent"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["tasks"][0]["attempts"][0]["parameters"]["argv"][0] == sys.executable


WIDGETS = """\
# Databricks notebook source
# A stand-in for dbutils, which nbflow does not provide yet: widgets read the parameters.
class _Widgets:
    def text(self, name, default, label=None):
        pass

    def get(self, name):
        return str(globals()[name])


class dbutils:  # noqa: N801
    widgets = _Widgets()

# COMMAND ----------

dbutils.widgets.text("day", "2026-01-01")
dbutils.widgets.text("region", "eu")

# COMMAND ----------

# MAGIC %run ./helpers

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE TABLE IF NOT EXISTS days (day TEXT);
# MAGIC INSERT INTO days VALUES (:day);
# MAGIC SELECT day FROM days WHERE day = :day

# COMMAND ----------

from nbflow import glue

glue("seen", {"day": dbutils.widgets.get("day"), "region": dbutils.widgets.get("region"),
              "sql": _sqldf, "shout": shout("hi")})
"""

HELPERS = """\
# Databricks notebook source
def shout(text):
    return text.upper() + "!"
"""

SCALA = """\
# Databricks notebook source
x = 1

# COMMAND ----------

# MAGIC %scala
# MAGIC println("hello")
"""


@pytest.mark.kernel
def test_widgets_get_the_tasks_parameters_and_run_and_sql_cells_work(project):
    folder = project.root / "dbx"
    folder.mkdir()
    (folder / "widgets.py").write_text(WIDGETS)
    (folder / "helpers.py").write_text(HELPERS)
    (folder / "scala.py").write_text(SCALA)
    project.workflow(
        "dbx",
        """
        tasks:
          - key: widgets
            notebook: dbx/widgets.py
            parameters: {day: "2026-05-01"}
          - key: scala
            notebook: dbx/scala.py
        """,
    )
    assert project.cli("params", "dbx/widgets.py").stdout == (
        "day: str = '2026-01-01'  # dbutils.widgets.text\n"
        "region: str = 'eu'  # dbutils.widgets.text\n"
    )
    code, doc = project.cli_json("run", "dbx")
    assert code == 1
    widgets, scala = doc["tasks"]
    assert widgets["state"] == "success", widgets["message"]
    assert widgets["values"]["seen"] == {
        "day": "2026-05-01",  # the task's parameter, injected after the widgets' cell
        "region": "eu",  # the widget's default
        "sql": [{"day": "2026-05-01"}],  # :day bound to the notebook's variable
        "shout": "HI!",  # from the notebook %run ran
    }
    assert scala["state"] == "failed"
    assert scala["message"] == (
        "NotImplementedError: this cell is written in %scala: nbflow runs the notebook on a "
        "Python kernel, where only Python, %sql, %sh, %pip and %md cells can run"
    )
