"""Databricks notebooks converted for papermill: source format, exported .ipynb, widgets."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from nbflow.databricks import source_notebook as sn
from nbflow.workflows.paramcell import notebook_parameters, parse_parameters_source

SOURCE = """\
# Databricks notebook source
# MAGIC %md
# MAGIC # Sales
# MAGIC
# MAGIC Loads a day of sales.

# COMMAND ----------

# DBTITLE 1,Widgets
dbutils.widgets.text("day", "2026-01-01", "Day")
dbutils.widgets.dropdown(name="region", defaultValue="eu", choices=["eu", "us"])
dbutils.widgets.text("not-a-name", "x")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT * FROM sales WHERE day = :day

# COMMAND ----------

# MAGIC %pip install tqdm

# COMMAND ----------

# MAGIC %sh ls -l

# COMMAND ----------

# MAGIC %run ./helpers

# COMMAND ----------

# MAGIC %scala
# MAGIC println("no")

# COMMAND ----------

# MAGIC %python
# MAGIC x = 1

# COMMAND ----------

day = dbutils.widgets.get("day")
"""


def cells(nb) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


def test_a_source_format_notebook_becomes_cells_a_python_kernel_runs():
    nb = sn.from_source(SOURCE)
    assert nb.metadata.kernelspec["name"] == "python3"
    params = (
        "# The notebook's widgets with their defaults (written by nbflow): a task's parameters\n"
        "# of the same names are injected after this cell.\n"
        "day = '2026-01-01'  # dbutils.widgets.text\n"
        "region = 'eu'  # dbutils.widgets.dropdown\n"
        "# widget 'not-a-name' is not a Python name: it cannot be a parameter"
    )
    assert cells(nb) == [
        ("code", "%load_ext nbflow.databricks.magics", ["nbflow-databricks"]),
        ("markdown", "# Sales\n\nLoads a day of sales.", []),
        ("code", params, ["parameters"]),  # before the first widget declaration
        (
            "code",
            'dbutils.widgets.text("day", "2026-01-01", "Day")\n'
            'dbutils.widgets.dropdown(name="region", defaultValue="eu", choices=["eu", "us"])\n'
            'dbutils.widgets.text("not-a-name", "x")',
            [],
        ),
        ("code", "%%databricks_sql\nSELECT * FROM sales WHERE day = :day", []),
        ("code", "%pip install tqdm", []),
        ("code", "%%sh\nls -l", []),
        ("code", "%databricks_run ./helpers", []),
        ("code", '%%databricks_cell scala\nprintln("no")', []),
        ("code", "x = 1", []),
        ("code", 'day = dbutils.widgets.get("day")', []),
    ]
    assert nb.cells[3].metadata["title"] == "Widgets"
    nbformat.validate(nb)


def test_without_widgets_or_magics_nothing_is_added():
    nb = sn.from_source("# Databricks notebook source\nx = 1\n\n# COMMAND ----------\n\ny = 2\n")
    assert cells(nb) == [("code", "x = 1", []), ("code", "y = 2", [])]


def test_the_widget_parameters_are_the_notebooks_parameters(tmp_path: Path):
    path = tmp_path / "sales.py"
    path.write_text(SOURCE)
    found = notebook_parameters(path)
    assert [(p.name, p.default, p.type) for p in found] == [
        ("day", "2026-01-01", "str"),
        ("region", "eu", "str"),
    ]
    assert parse_parameters_source(sn.parameters_source([("a", "1", "text")]))[0].default == "1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Databricks notebook source\nx = 1\n", True),
        ("\ufeff# Databricks notebook source\n", True),
        ("# a plain script\n", False),
        ("", False),
    ],
)
def test_a_source_file_is_known_by_its_first_line(tmp_path: Path, text: str, expected: bool):
    path = tmp_path / "n.py"
    path.write_text(text, encoding="utf-8")
    assert sn.is_source_file(path) is expected
    assert sn.is_source_file(tmp_path / "absent.py") is False


def exported_ipynb(path: Path) -> None:
    """A notebook as Databricks exports it: its metadata, `%md`/`%sql` code cells, widgets."""
    cell_meta = {"application/vnd.databricks.v1+cell": {"title": "", "nuid": "1"}}
    doc = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": cell_meta,
                "outputs": [],
                "source": ["%md\n", "# Title"],
            },
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": cell_meta,
                "outputs": [],
                "source": ["threshold = float(dbutils.widgets.get('threshold'))"],
            },
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": cell_meta,
                "outputs": [],
                "source": ["%sql\n", "SELECT 1"],
            },
        ],
        "metadata": {
            "application/vnd.databricks.v1+notebook": {
                "language": "python",
                "notebookName": "check",
                "widgets": {
                    "threshold": {
                        "currentValue": "0.5",
                        "nuid": "2",
                        "widgetInfo": {
                            "widgetType": "text",
                            "defaultValue": "0.1",
                            "name": "threshold",
                        },
                    }
                },
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 0,
    }
    path.write_text(json.dumps(doc))


def test_an_ipynb_exported_from_databricks_is_converted(tmp_path: Path):
    path = tmp_path / "check.ipynb"
    exported_ipynb(path)
    assert sn.is_databricks_ipynb(path)
    nb = sn.read_notebook(path)
    assert nb.metadata.kernelspec["name"] == "python3"  # Databricks exports none
    assert [(t, s.splitlines()[0] if s else "", tags) for t, s, tags in cells(nb)] == [
        ("code", "%load_ext nbflow.databricks.magics", ["nbflow-databricks"]),
        ("markdown", "# Title", []),
        (
            "code",
            "# The notebook's widgets with their defaults (written by nbflow): a task's parameters",
            ["parameters"],
        ),
        ("code", "threshold = float(dbutils.widgets.get('threshold'))", []),
        ("code", "%%databricks_sql", []),
    ]
    assert "threshold = '0.1'  # dbutils.widgets.text" in nb.cells[2].source
    assert [p.name for p in notebook_parameters(path)] == ["threshold"]


def test_an_ordinary_notebook_is_read_as_it_is(tmp_path: Path):
    path = tmp_path / "plain.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%md\nnot Databricks")])
    nbformat.write(nb, str(path))
    assert not sn.is_databricks_notebook(path)
    assert sn.read_notebook(path).cells[0].source == "%md\nnot Databricks"


def test_the_loader_accepts_a_source_notebook_and_still_refuses_other_files(mini):
    (mini.root / "notebooks" / "db.py").write_text("# Databricks notebook source\nx = 1\n")
    (mini.root / "notebooks" / "plain.py").write_text("x = 1\n")
    wf, problems = mini.check(
        "tasks:\n  - key: a\n    notebook: notebooks/db.py\n"
        "  - key: b\n    notebook: notebooks/plain.py\n"
    )
    assert [p.message for p in problems] == [
        "task 'b': 'notebooks/plain.py' is not an .ipynb notebook"
    ]
