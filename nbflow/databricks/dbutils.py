"""`dbutils` in the notebooks and scripts nbflow runs, as Databricks documents it for jobs.

- `dbutils.widgets` (`text`, `dropdown`, `combobox`, `multiselect`, `get`, `getAll`,
  `getArgument`, `remove`, `removeAll`) reads the task's parameters as text, a widget's
  default when the task does not give it;
- `dbutils.jobs.taskValues.set(key, value)` publishes a value as `nbflow.glue` does (same
  48 KiB rule); `.get(taskKey, key, default, debugValue)` reads a value a finished task of the
  run published;
- `dbutils.notebook.exit(value)` ends the notebook successfully, skipping the cells after it,
  and keeps `value` as the task's output (`{{tasks.KEY.output.result}}`);
  `dbutils.notebook.run(path, timeout_seconds, arguments)` runs another notebook as a child
  run of this one and returns its exit value (`notebook_run.py`).

What the task is comes from the context file the runner names in the attempt's environment
(`context.py`), read at first use. In a kernel, this module is an IPython extension: loading
it defines `dbutils` (and `displayHTML`), makes `notebook.exit` a success that turns the later
cells into no-ops, and says that `spark` is not provided when a cell uses it. Cold kernels
load it at start (`kernel_arguments`, used by `nbflow.execution.kernels.managers`); a kernel started ahead of time
runs `kernel_setup_code(...)` before the notebook. A script imports it:
`from nbflow.databricks.dbutils import dbutils`. Nothing here needs the Databricks SDK.

Each part has its module: `dbutils_widgets.py`, `dbutils_jobs.py` (taskValues),
`dbutils_notebook.py`, and `dbutils_extension.py` (the IPython extension and the kernels'
hooks, all importable from here).
"""

from __future__ import annotations

import os
from typing import Any

from ..core.errors import InputWidgetNotDefined, NotebookRunError
from . import context as task_context
from .dbutils_extension import (
    EXTENSION,
    install,
    kernel_arguments,
    kernel_setup_code,
    load_ipython_extension,
)
from .dbutils_jobs import Jobs, TaskValues
from .dbutils_notebook import Notebook, NotebookExit
from .dbutils_widgets import Widgets

__all__ = [
    "EXTENSION",
    "DBUtils",
    "InputWidgetNotDefined",
    "Jobs",
    "Notebook",
    "NotebookExit",
    "NotebookRunError",
    "TaskValues",
    "Widgets",
    "dbutils",
    "install",
    "jobs",
    "kernel_arguments",
    "kernel_setup_code",
    "load_ipython_extension",
    "notebook",
    "widgets",
]


class _Unavailable:
    """A Databricks utility with no local meaning: any use says so."""

    def __init__(self, name: str, advice: str):
        self._name = name
        self._advice = advice

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise NotImplementedError(
            f"dbutils.{self._name}.{attr}: nbflow does not provide dbutils.{self._name}; "
            + self._advice
        )


class DBUtils:
    """The `dbutils` object: `widgets`, `jobs.taskValues` and `notebook` work here."""

    def __init__(self) -> None:
        self._loaded: tuple[str | None, dict[str, Any] | None] | None = None
        self.widgets = Widgets(self)
        self.jobs = Jobs(self)
        self.notebook = Notebook(self)
        self.fs = _Unavailable("fs", "use Python's own file functions on local paths")
        self.secrets = _Unavailable("secrets", "read secrets from the task's environment (env:)")
        self.library = _Unavailable("library", "install packages in the project's environment")
        self.credentials = _Unavailable("credentials", "nothing here needs them")
        self.data = _Unavailable("data", "summarise data with pandas")

    def _context(self) -> dict[str, Any] | None:
        """The task context named in the environment now (re-read when the name changes:
        a kernel started ahead of time is pointed at its task after it started)."""
        name = os.environ.get(task_context.CONTEXT_ENV)
        if self._loaded is None or self._loaded[0] != name:
            self._loaded = (name, task_context.read())
        return self._loaded[1]

    def help(self) -> None:
        print(__doc__)


dbutils = DBUtils()
# `from nbflow.databricks import dbutils` gives this module: let it stand for the object too.
widgets, jobs, notebook = dbutils.widgets, dbutils.jobs, dbutils.notebook
