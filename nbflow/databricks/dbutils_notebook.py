"""`dbutils.notebook`: ending this notebook with a value, and running another one as a child run.

`exit` writes the value where the runner keeps it as the task's output (`context.py`); in a
kernel it raises `NotebookExit`, which the IPython extension (`dbutils_extension.py`) turns
into a success. `run` hands the child to `python -m nbflow.databricks.notebook_run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import NotebookRunError
from . import context as task_context
from .dbutils_widgets import as_text

if TYPE_CHECKING:
    from .dbutils import DBUtils


class NotebookExit(BaseException):
    """Raised by `dbutils.notebook.exit` in a kernel: not an Exception, so that a user's
    `except Exception` does not swallow it; the extension makes its cell a success."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


def _shell() -> Any:
    """The IPython shell running this code, or None (a script: IPython is not even loaded)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


class Notebook:
    """Ending this notebook with a value, and running another one."""

    def __init__(self, owner: DBUtils):
        self._owner = owner
        self.exited: str | None = None  # the exit value once `exit` was called

    def exit(self, value: Any) -> None:
        text = as_text(value)
        ctx = self._owner._context()
        if ctx is not None:
            task_context.write_exit(ctx["exit_file"], text)
        self.exited = text
        shell = _shell()
        if shell is None:
            sys.exit(0)  # a script: the process ends, successfully
        from .dbutils_extension import install

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
