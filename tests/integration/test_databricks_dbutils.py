"""`dbutils` in notebooks and scripts run on real kernels: Databricks notebooks run unchanged."""

from __future__ import annotations

import json

import nbformat
import pytest

PRODUCE = """\
# Databricks notebook source
# MAGIC %md
# MAGIC Counts a day's orders and ends with a summary for the job.

# COMMAND ----------

dbutils.widgets.text("day", "2026-01-01", "Day")
dbutils.widgets.dropdown("region", "eu", ["eu", "us"])

# COMMAND ----------

day = dbutils.widgets.get("day")
dbutils.jobs.taskValues.set(key="orders", value=42)
dbutils.jobs.taskValues.set("widgets", dbutils.widgets.getAll())

# COMMAND ----------

try:
    dbutils.notebook.exit(f"{day}/{dbutils.widgets.get('region')}: 42 orders")
except Exception:
    raise RuntimeError("exit is not an Exception a notebook could swallow")
raise RuntimeError("the rest of the cell is skipped")

# COMMAND ----------

raise RuntimeError("later cells are skipped")
"""

CONSUME = """\
# Databricks notebook source
dbutils.widgets.text("summary", "")

# COMMAND ----------

orders = dbutils.jobs.taskValues.get(taskKey="produce", key="orders", default=0, debugValue=0)
missing = dbutils.jobs.taskValues.get("produce", "refunds", default=-1)
dbutils.jobs.taskValues.set("seen", {"orders": orders, "missing": missing,
                                     "summary": dbutils.widgets.get("summary")})
"""


@pytest.mark.kernel
def test_a_databricks_notebook_with_widgets_task_values_and_exit_runs_unchanged(project):
    folder = project.root / "dbx"
    folder.mkdir()
    (folder / "produce.py").write_text(PRODUCE)
    (folder / "consume.py").write_text(CONSUME)
    project.workflow(
        "orders",
        """
        parameters: {region: us}
        tasks:
          - key: produce
            notebook: dbx/produce.py
            parameters: {day: "2026-05-01"}
          - key: consume
            notebook: dbx/consume.py
            depends_on: [produce]
            parameters: {summary: "{{tasks.produce.output.result}}"}
        """,
    )
    assert project.cli("validate").returncode == 0
    code, doc = project.cli_json("run", "orders")
    produce, consume = doc["tasks"]
    assert code == 0, (produce["message"], consume["message"])
    assert produce["values"] == {
        "orders": 42,
        # the task's parameter, the workflow's (pushed down, as Databricks does), as text
        "widgets": {"day": "2026-05-01", "region": "us"},
    }
    assert produce["output"] == {"result": "2026-05-01/us: 42 orders", "truncated": False}
    assert consume["values"] == {
        "seen": {"orders": 42, "missing": -1, "summary": "2026-05-01/us: 42 orders"}
    }
    assert consume["attempts"][0]["parameters"]["summary"] == "2026-05-01/us: 42 orders"
    assert consume["output"] is None  # no exit, no output
    nb = nbformat.read(str(project.root / produce["attempts"][0]["artifact"]), as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    exit_cell, later = code_cells[-2:]
    assert [o.get("text") for o in exit_cell.outputs] == [
        "Notebook exited: 2026-05-01/us: 42 orders\n"
    ]
    assert later.outputs == [] and later.metadata.papermill.status == "completed"
    assert not any(o.get("output_type") == "error" for c in code_cells for o in c.outputs)


PARENT = """\
# Databricks notebook source
result = dbutils.notebook.run("./child", 120, {"day": "2026-06-01"})
try:
    dbutils.notebook.run("broken", 0)
except Exception as exc:
    failure = str(exc)
dbutils.jobs.taskValues.set("child", {"result": result, "failure": failure})
"""

CHILD = """\
# Databricks notebook source
dbutils.widgets.text("day", "")

# COMMAND ----------

dbutils.notebook.exit("child saw " + dbutils.widgets.get("day"))
"""

BROKEN = """\
# Databricks notebook source
raise ValueError("the child fails")
"""

SPARK = """\
# Databricks notebook source
df = spark.read.table("sales")
"""

SCRIPT = """\
from nbflow.databricks.dbutils import dbutils

dbutils.jobs.taskValues.set("day", dbutils.widgets.get("day"))
dbutils.notebook.exit("script done")
print("not reached")
"""


@pytest.mark.kernel
def test_notebook_run_records_a_child_run_spark_is_named_and_scripts_have_dbutils(project):
    folder = project.root / "dbx"
    folder.mkdir()
    for name, text in {
        "parent.py": PARENT,
        "child.py": CHILD,
        "broken.py": BROKEN,
        "sparky.py": SPARK,
        "job.py": SCRIPT,
    }.items():
        (folder / name).write_text(text)
    project.workflow(
        "calls",
        """
        tasks:
          - key: parent
            notebook: dbx/parent.py
          - key: sparky
            notebook: dbx/sparky.py
          - key: script
            script: dbx/job.py
            parameters: {day: d1}
        """,
    )
    code, doc = project.cli_json("run", "calls")
    assert code == 1
    parent, sparky, script = doc["tasks"]
    assert parent["state"] == "success", parent["message"]
    child = parent["values"]["child"]
    assert child["result"] == "child saw 2026-06-01"
    assert child["failure"].startswith("dbutils.notebook.run('broken'): run ")
    assert child["failure"].endswith("ended failed: ValueError: the child fails")
    runs = json.loads(project.cli("runs", "--json").stdout)
    children = {r["workflow"]: r for r in runs if r["parent_run_id"] == doc["id"]}
    assert children.keys() == {"notebook-child", "notebook-broken"}
    assert children["notebook-child"]["state"] == "success"
    assert children["notebook-child"]["trigger"]["type"] == "workflow"
    assert sparky["state"] == "failed"
    assert sparky["message"].startswith(
        "NameError: name 'spark' is not defined: nbflow runs Databricks notebooks on a plain "
        "Python kernel, and `spark` (with `sc` and `sqlContext`) is not provided"
    )
    assert script["state"] == "success", script["message"]
    assert script["values"] == {"day": "d1"}
    assert script["output"] == {"result": "script done", "truncated": False}
    log = (project.root / script["attempts"][0]["artifact"]).read_text()
    assert "not reached" not in log
