"""`dbutils` without a kernel: widgets, task values, exit, the context file, the kernel hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nbflow.core import refcheck
from nbflow.databricks import context as task_context
from nbflow.databricks import dbutils as module
from nbflow.databricks.dbutils import DBUtils, InputWidgetNotDefined, NotebookRunError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def task(tmp_path, monkeypatch):
    """A task context as the runner writes it, named in the environment; its artifact."""
    artifact = tmp_path / "attempt-1.ipynb"

    def write(parameters=None, values=None, tasks=("ingest", "report", "later")):
        env = task_context.write(
            artifact,
            project=tmp_path,
            run={"id": 7, "workflow": "daily"},
            task={"key": "report", "unit": "report", "attempt": 1, "path": str(artifact)},
            parameters=parameters or {},
            tasks=list(tasks),
            values=values if values is not None else {"ingest": {"rows": 42, "day": "d1"}},
        )
        monkeypatch.setenv(task_context.CONTEXT_ENV, env[task_context.CONTEXT_ENV])
        return artifact

    return write


# -- widgets ---------------------------------------------------------------------------------


def test_a_widget_reads_the_tasks_parameter_and_else_its_default(task):
    task(parameters={"day": "2026-05-01", "extra": "x"})
    dbutils = DBUtils()
    dbutils.widgets.text("day", "2026-01-01", "Day")
    dbutils.widgets.dropdown(name="region", defaultValue="eu", choices=["eu", "us"])
    dbutils.widgets.combobox("tier", "gold", ["gold", "silver"])
    dbutils.widgets.multiselect("cols", "a", ["a", "b"])
    assert dbutils.widgets.get("day") == "2026-05-01"
    assert dbutils.widgets.get("region") == "eu"
    assert dbutils.widgets.get("extra") == "x"  # given without a declaration, as in a job
    assert dbutils.widgets.getAll() == {
        "day": "2026-05-01",
        "region": "eu",
        "tier": "gold",
        "cols": "a",
        "extra": "x",
    }
    assert dbutils.widgets.getArgument("nope", "fallback") == "fallback"
    dbutils.widgets.remove("region")
    with pytest.raises(InputWidgetNotDefined, match="No input widget named 'region'"):
        dbutils.widgets.get("region")


def test_a_widget_neither_declared_nor_given_is_named(task):
    task()
    with pytest.raises(InputWidgetNotDefined) as caught:
        DBUtils().widgets.get("day")
    assert str(caught.value) == (
        "No input widget named 'day' is defined: declare it "
        "(dbutils.widgets.text('day', DEFAULT)) or give the task a parameter 'day'"
    )


def test_a_dropdown_default_must_be_one_of_its_choices(task):
    task()
    with pytest.raises(ValueError, match=r"the default 'fr' is not one of its choices \['eu'"):
        DBUtils().widgets.dropdown("region", "fr", ["eu", "us"])


def test_outside_a_task_widgets_are_their_defaults(monkeypatch):
    monkeypatch.delenv(task_context.CONTEXT_ENV, raising=False)
    dbutils = DBUtils()
    dbutils.widgets.text("day", "2026-01-01")
    assert dbutils.widgets.get("day") == "2026-01-01"


# -- task values -----------------------------------------------------------------------------


def test_task_values_of_a_finished_task_are_read_with_their_default(task):
    task()
    values = DBUtils().jobs.taskValues
    assert values.get(taskKey="ingest", key="rows") == 42
    assert values.get("ingest", "missing", default=0) == 0
    assert values.get("ingest", "rows", debugValue=1) == 42  # debugValue only outside a job
    with pytest.raises(ValueError, match="task 'ingest' published no value 'missing'"):
        values.get("ingest", "missing")
    with pytest.raises(ValueError, match="task 'later' has not finished before this task"):
        values.get("later", "rows", default=0)
    with pytest.raises(ValueError, match="task 'ingset' is not a task of workflow 'daily'"):
        values.get("ingset", "rows", default=0)


def test_outside_a_task_task_values_need_a_debug_value(monkeypatch):
    monkeypatch.delenv(task_context.CONTEXT_ENV, raising=False)
    values = DBUtils().jobs.taskValues
    assert values.get("ingest", "rows", default=3, debugValue=5) == 5
    with pytest.raises(TypeError, match="needs a debugValue"):
        values.get("ingest", "rows", default=3)


def test_a_task_value_set_in_a_script_goes_where_glue_writes(tmp_path, monkeypatch):
    values_file = tmp_path / "attempt-1.values.json"
    monkeypatch.setenv("NBFLOW_VALUES_FILE", str(values_file))
    values = DBUtils().jobs.taskValues
    values.set("rows", {"n": 3})
    assert json.loads(values_file.read_text()) == {"rows": {"n": 3}}
    with pytest.raises(ValueError) as caught:
        values.set("big", "x" * 60_000)
    assert str(caught.value).startswith(
        "dbutils.jobs.taskValues.set: value 'big' is 58 KiB; values are limited to 48 KiB"
    )


# -- exit and run ----------------------------------------------------------------------------


def test_exit_in_a_script_ends_it_successfully_and_keeps_the_value(task):
    artifact = task()
    dbutils = DBUtils()
    with pytest.raises(SystemExit) as caught:
        dbutils.notebook.exit(12)
    assert caught.value.code == 0
    assert dbutils.notebook.exited == "12"  # Databricks' exit value is text
    assert task_context.read_exit(artifact) == {"result": "12", "truncated": False}


def test_an_exit_value_over_48_kib_is_cut_as_databricks_cuts_it():
    text = "é" * 30_000  # 60,000 bytes in UTF-8
    kept = task_context.exit_output(text)
    assert kept["truncated"] is True
    assert len(kept["result"].encode()) <= task_context.MAX_RESULT_BYTES
    assert text.startswith(kept["result"]) and len(kept["result"]) == 24_576
    assert task_context.exit_output("ok") == {"result": "ok", "truncated": False}


def test_a_new_attempt_context_removes_a_stale_exit_file(task):
    artifact = task()
    task_context.write_exit(str(task_context.exit_path(artifact)), "old")
    task()
    assert task_context.read_exit(artifact) is None


def test_notebook_run_outside_a_task_says_why(monkeypatch):
    monkeypatch.delenv(task_context.CONTEXT_ENV, raising=False)
    with pytest.raises(NotebookRunError, match="works in a notebook or script that nbflow runs"):
        DBUtils().notebook.run("./child", 60)


def test_notebook_run_names_a_notebook_that_is_not_there(task):
    artifact = task()
    with pytest.raises(NotebookRunError) as caught:
        DBUtils().notebook.run("./child", 60, {"day": "d"})
    assert str(caught.value) == (
        f"dbutils.notebook.run ./child: no notebook {artifact.parent}/child "
        "(nor with .py or .ipynb)"
    )


def test_utilities_with_no_local_meaning_say_so():
    with pytest.raises(NotImplementedError, match="nbflow does not provide dbutils.fs"):
        DBUtils().fs.ls("/mnt")


def test_the_module_stands_for_the_object():
    assert module.widgets is module.dbutils.widgets
    assert module.notebook is module.dbutils.notebook
    assert module.jobs.taskValues is module.dbutils.jobs.taskValues


# -- references ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["notebook", "script", "command"])
def test_the_exit_value_of_a_python_task_is_a_valid_reference(kind):
    kinds = {"a": kind, "c": "condition"}

    def check(expr):
        return refcheck.check(
            expr, params=[], task="b", upstream={"a", "c"}, kinds=kinds, has_input=False
        )

    assert check("tasks.a.output.result") is None
    assert check("tasks.a.output.truncated") is None
    assert check("tasks.a.output.rows") == (
        f"{{{{tasks.a.output.rows}}}}: a {kind} task's output is output.result (the value it "
        "passes to dbutils.notebook.exit); output.rows is a sql task's"
    )
    assert check("tasks.c.output.result") == (
        "{{tasks.c.output.result}}: only sql, notebook, script and command tasks have an "
        "output, and 'c' is a condition task"
    )


# -- kernels ---------------------------------------------------------------------------------


def test_an_ipykernel_loads_the_extension_at_start_and_other_kernels_do_not():
    argv = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert module.kernel_arguments(argv) == [
        "--IPKernelApp.extra_extensions=nbflow.databricks.dbutils"
    ]
    assert module.kernel_arguments(["R", "--slave", "-e", "IRkernel::main()"]) == []


def test_the_kernel_manager_adds_the_extension_to_an_ipykernel_command():
    from jupyter_client.kernelspec import KernelSpec

    from nbflow.execution.kernels.managers import IPCKernelManager

    km = IPCKernelManager()
    km._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        language="python",
    )
    cmd = km.format_kernel_cmd()
    assert cmd[-1] == "--IPKernelApp.extra_extensions=nbflow.databricks.dbutils"


SHELL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
assert shell.run_cell(sys.argv[1]).success  # kernel_setup_code, as a warm kernel runs it
spark = shell.run_cell("spark.read.table('t')")
cells = [
    "x = dbutils.widgets.get('day')",
    "print('before'); dbutils.notebook.exit('bye ' + x); print('after')",
    "raise RuntimeError('a cell after exit ran')",
]
ok = [shell.run_cell(cell).success for cell in cells]
print(json.dumps({"ok": ok, "spark": str(spark.error_in_exec),
                  "ename": type(spark.error_in_exec).__name__}))
"""


def test_the_extension_ends_a_notebook_at_exit_and_names_spark(task, tmp_path):
    """In an IPython shell (no kernel needed), as set up by `kernel_setup_code`."""
    artifact = task(parameters={"day": "d9"})
    setup = module.kernel_setup_code(str(task_context.context_path(artifact)))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SHELL), setup],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "IPYTHONDIR": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "before" in lines and "Notebook exited: bye d9" in lines and "after" not in lines
    result = json.loads(lines[-1])
    assert result["ok"] == [True, True, True]  # the exit cell and the skipped one succeed
    assert result["ename"] == "NameError"
    assert result["spark"].startswith(
        "name 'spark' is not defined: nbflow runs Databricks notebooks on a plain Python kernel"
    )
    assert task_context.read_exit(artifact) == {"result": "bye d9", "truncated": False}
