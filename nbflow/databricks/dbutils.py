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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..core.errors import NbflowError
from . import context as task_context

EXTENSION = __name__  # the IPython extension: this module
SPARK_NAMES = ("spark", "sc", "sqlContext")
SKIPPED = "# skipped: the notebook ended earlier with dbutils.notebook.exit\n"


class InputWidgetNotDefined(NbflowError):
    """`dbutils.widgets.get` of a name neither declared nor given (Databricks' own name)."""


class NotebookRunError(NbflowError):
    """`dbutils.notebook.run` could not run the notebook, or its run did not succeed."""


class NotebookExit(BaseException):
    """Raised by `dbutils.notebook.exit` in a kernel: not an Exception, so that a user's
    `except Exception` does not swallow it; the extension makes its cell a success."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _shell() -> Any:
    """The IPython shell running this code, or None (a script: IPython is not even loaded)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


class Widgets:
    """Databricks widgets: the task's parameters (as text), else the declared defaults."""

    def __init__(self, owner: DBUtils):
        self._owner = owner
        self._declared: dict[str, str] = {}

    def _given(self) -> dict[str, str]:
        ctx = self._owner._context()
        if not ctx:
            return {}
        given = dict(ctx.get("parameters") or {})
        # A secret parameter is masked in the context file; its value is in the environment.
        for name, variable in (ctx.get("secret_env") or {}).items():
            if name in given and variable in os.environ:
                given[name] = os.environ[variable]
        return given

    def _declare(self, name: str, default: Any, choices: list[Any] | None, kind: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"dbutils.widgets.{kind}: the name must be a non-empty string")
        if choices is not None and kind == "dropdown" and _text(default) not in map(_text, choices):
            raise ValueError(
                f"dbutils.widgets.dropdown({name!r}): the default {_text(default)!r} is not one "
                f"of its choices {[_text(c) for c in choices]}"
            )
        self._declared[name] = _text(default)

    def text(self, name: str, defaultValue: Any = "", label: str | None = None) -> None:
        self._declare(name, defaultValue, None, "text")

    def dropdown(
        self,
        name: str,
        defaultValue: Any,  # Databricks' own argument names: callers pass them as keywords
        choices: list[Any],
        label: str | None = None,
    ) -> None:
        self._declare(name, defaultValue, list(choices), "dropdown")

    def combobox(
        self,
        name: str,
        defaultValue: Any,
        choices: list[Any] | None = None,
        label: str | None = None,
    ) -> None:
        self._declare(name, defaultValue, None, "combobox")

    def multiselect(
        self,
        name: str,
        defaultValue: Any,
        choices: list[Any] | None = None,
        label: str | None = None,
    ) -> None:
        self._declare(name, defaultValue, None, "multiselect")

    def get(self, name: str) -> str:
        given = self._given()
        if name in given:
            return given[name]
        if name in self._declared:
            return self._declared[name]
        raise InputWidgetNotDefined(
            f"No input widget named {name!r} is defined: declare it "
            f"(dbutils.widgets.text({name!r}, DEFAULT)) or give the task a parameter {name!r}"
        )

    def getArgument(self, name: str, optional: Any = None) -> Any:
        """The widget's value, or `optional` (Databricks' deprecated form of `get`)."""
        try:
            return self.get(name)
        except InputWidgetNotDefined:
            return optional

    def getAll(self) -> dict[str, str]:
        return {**self._declared, **self._given()}

    def remove(self, name: str) -> None:
        self._declared.pop(name, None)

    def removeAll(self) -> None:
        self._declared.clear()


class TaskValues:
    """Values a task publishes for the tasks after it (`{{tasks.KEY.values.NAME}}`)."""

    def __init__(self, owner: DBUtils):
        self._owner = owner

    def set(self, key: str, value: Any) -> None:
        from ..glue import glue

        try:
            glue(key, value)
        except ValueError as exc:
            raise ValueError(
                "dbutils.jobs.taskValues.set: " + str(exc).removeprefix("glue: ")
            ) from None

    def get(
        self,
        taskKey: str,  # Databricks' own argument names: callers pass them as keywords
        key: str,
        default: Any = None,
        debugValue: Any = None,
    ) -> Any:
        ctx = self._owner._context()
        if ctx is None:  # outside a task, as Databricks outside a job
            if debugValue is None:
                raise TypeError(
                    "dbutils.jobs.taskValues.get outside a task run by nbflow needs a debugValue "
                    "(it cannot be None)"
                )
            return debugValue
        values = ctx.get("values") or {}
        if taskKey not in values:
            known = ctx.get("tasks") or []
            why = (
                "has not finished before this task (add it to depends_on)"
                if taskKey in known
                else f"is not a task of workflow {ctx['run'].get('workflow')!r}"
            )
            raise ValueError(f"dbutils.jobs.taskValues.get: task {taskKey!r} {why}")
        published = values[taskKey] or {}
        if key in published:
            return published[key]
        if default is not None:
            return default
        raise ValueError(
            f"dbutils.jobs.taskValues.get: task {taskKey!r} published no value {key!r} "
            f"(its values: {', '.join(published) or 'none'}); pass a default"
        )


class Jobs:
    def __init__(self, owner: DBUtils):
        self.taskValues = TaskValues(owner)


class Notebook:
    """Ending this notebook with a value, and running another one."""

    def __init__(self, owner: DBUtils):
        self._owner = owner
        self.exited: str | None = None  # the exit value once `exit` was called

    def exit(self, value: Any) -> None:
        text = _text(value)
        ctx = self._owner._context()
        if ctx is not None:
            task_context.write_exit(ctx["exit_file"], text)
        self.exited = text
        shell = _shell()
        if shell is None:
            sys.exit(0)  # a script: the process ends, successfully
        install(shell)  # done when the kernel started; here for a shell that did not load it
        print(f"Notebook exited: {text}")
        raise NotebookExit(text)

    def run(
        self,
        path: str,
        timeout_seconds: int = 0,
        arguments: dict[str, Any] | None = None,
    ) -> str:
        """Run the notebook at `path` (relative to this notebook's folder) as a child run of
        this run, with `arguments` as its parameters; its exit value ("" without one).

        Raises NotebookRunError when the notebook cannot run or its run does not succeed
        (`timeout_seconds` of 0 means no limit).
        """
        ctx = self._owner._context()
        if ctx is None:
            raise NotebookRunError(
                "dbutils.notebook.run works in a notebook or script that nbflow runs as a task "
                "(it records the notebook's run as a child of the task's run)"
            )
        from .magics import find_notebook

        here = Path(ctx["task"].get("path") or Path.cwd() / "_").parent
        try:
            notebook = find_notebook(str(path), here, caller="dbutils.notebook.run")
        except FileNotFoundError as exc:
            raise NotebookRunError(str(exc)) from None
        job = {
            "project": ctx["project"],
            "notebook": str(notebook),
            "arguments": dict(arguments or {}),
            "timeout": timeout_seconds or 0,
            "parent_run_id": ctx["run"]["id"],
        }
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in (task_context.CONTEXT_ENV, "NBFLOW_VALUES_FILE")
        }
        proc = subprocess.run(
            [sys.executable, "-m", "nbflow.databricks.notebook_run"],
            input=json.dumps(job, default=str),
            capture_output=True,
            text=True,
            env=env,
            cwd=ctx["project"],
        )
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        try:
            outcome = json.loads(lines[-1])
        except (IndexError, ValueError):
            detail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise NotebookRunError(
                f"dbutils.notebook.run({path!r}): the run could not start "
                f"(exit code {proc.returncode}): {detail}"
            ) from None
        if outcome.get("error"):
            raise NotebookRunError(f"dbutils.notebook.run({path!r}): {outcome['error']}")
        print(f"Notebook run: run {outcome['run_id']} of {outcome['workflow']}, {outcome['state']}")
        if outcome["state"] not in ("success", "success_with_failures"):
            raise NotebookRunError(
                f"dbutils.notebook.run({path!r}): run {outcome['run_id']} ended "
                f"{outcome['state']}"
                + (f": {outcome['message']}" if outcome.get("message") else "")
            )
        return str(outcome.get("result") or "")


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


# -- the IPython extension -----------------------------------------------------------------


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
    return [SKIPPED] if dbutils.notebook.exited is not None else lines


def install(shell: Any) -> None:
    """Set up `dbutils` in an IPython shell (once per shell)."""
    if shell is None or getattr(shell, "_nbflow_dbutils", False):
        return
    shell._nbflow_dbutils = True

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


# -- how kernels get it ----------------------------------------------------------------------


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
