"""The `dbutils` IPython extension, and how each kernel gets it (at start, or set up later).

Loading it (as `nbflow.databricks.dbutils`, which stands for it) defines `dbutils` and
`displayHTML`, makes `dbutils.notebook.exit` a success that turns the later cells into
no-ops, and says that `spark` is not provided when a cell uses it. Cold kernels load it at
start (`kernel_arguments`, used by `nbflow.execution.kernels.managers`); a kernel started
ahead of time runs `kernel_setup_code(...)` before the notebook.
"""

from __future__ import annotations

from typing import Any

from . import context as task_context
from .dbutils_notebook import NotebookExit

# The module IPython loads: `dbutils`, which hands `load_ipython_extension` on from here.
EXTENSION = "nbflow.databricks.dbutils"
SPARK_NAMES = ("spark", "sc", "sqlContext")
SKIPPED = "# skipped: the notebook ended earlier with dbutils.notebook.exit\n"


def _spark_message(name: str) -> str:
    return (
        f"name {name!r} is not defined: nbflow runs Databricks notebooks on a plain Python "
        "kernel, and `spark` (with `sc` and `sqlContext`) is not provided; use pandas or a "
        "%sql cell, or create a SparkSession yourself where pyspark is installed"
    )


def _on_exception(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> list[Any]:
    """IPython's handler for the exceptions this extension watches."""
    if isinstance(value, NotebookExit):
        return []  # nothing to show: `_after_cell` makes the cell a success
    if isinstance(value, NameError) and getattr(value, "name", None) in SPARK_NAMES:
        value.args = (_spark_message(str(value.name)),)
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
    return []


def _skip_after_exit(lines: list[str]) -> list[str]:
    """An input transformer: once the notebook exited, every later cell runs as a comment,
    so papermill still sees each cell executed successfully."""
    from .dbutils import dbutils

    return [SKIPPED] if dbutils.notebook.exited is not None else lines


def install(shell: Any) -> None:
    """Set up `dbutils` in an IPython shell (once per shell)."""
    if shell is None or getattr(shell, "_nbflow_dbutils", False):
        return
    shell._nbflow_dbutils = True
    from .dbutils import dbutils

    def after_cell(result: Any) -> None:
        if result is not None and isinstance(result.error_in_exec, NotebookExit):
            result.error_in_exec = None  # the reply says "ok": the notebook ended well
            shell.last_execution_succeeded = True

    shell.push({"dbutils": dbutils, "displayHTML": _display_html}, interactive=False)
    shell.set_custom_exc((NotebookExit, NameError), _on_exception)
    shell.events.register("post_run_cell", after_cell)
    shell.input_transformers_cleanup.append(_skip_after_exit)


def _display_html(html: str) -> None:
    from IPython.display import HTML, display

    display(HTML(html))


def load_ipython_extension(ipython: Any) -> None:
    install(ipython)


def kernel_arguments(argv: list[str]) -> list[str]:
    """Arguments that make a kernel started with `argv` load this extension at start: an
    ipykernel's; none for other kernels (which have no IPython extensions)."""
    if any("ipykernel" in part for part in argv):
        return [f"--IPKernelApp.extra_extensions={EXTENSION}"]
    return []


def kernel_setup_code(context_file: str | None = None) -> str:
    """Python code that sets up `dbutils` in an IPython kernel that is already running (a
    kernel started ahead of time), pointing it at the attempt's context file when given.

    Run it (silently) before the notebook's first cell.
    """
    lines = ["import os as _nbflow_os"]
    if context_file is not None:
        lines.append(f"_nbflow_os.environ[{task_context.CONTEXT_ENV!r}] = {context_file!r}")
    lines += [
        f"get_ipython().extension_manager.load_extension({EXTENSION!r})",
        "del _nbflow_os",
    ]
    return "\n".join(lines) + "\n"
