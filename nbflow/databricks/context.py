"""The task context `dbutils` reads: a JSON file the runner writes beside each attempt.

The runner writes `attempt-N.context.json` (the task's parameters as widget text, the values
of the tasks that finished before it, where the run is) and names it in the attempt's
environment (`NBFLOW_TASK_CONTEXT`); the kernel or script reads it when `dbutils` is first
used. `dbutils.notebook.exit(value)` writes `attempt-N.exit.json`, which the runner reads
back as the task's output, `{"result": value, "truncated": false}` as Databricks'
`notebook_output` has it. Only json and os here: a kernel imports this at start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CONTEXT_ENV = "NBFLOW_TASK_CONTEXT"
# Databricks keeps the first 5 MB of an exit value; nbflow keeps what the history keeps of
# a value (48 KiB, scraps.MAX_VALUE_BYTES), and says it was cut as Databricks does.
MAX_RESULT_BYTES = 48 * 1024


def context_path(artifact: Path) -> Path:
    return artifact.with_suffix(".context.json")


def exit_path(artifact: Path) -> Path:
    return artifact.with_suffix(".exit.json")


def write(
    artifact: Path,
    *,
    project: Path,
    run: dict[str, Any],
    task: dict[str, Any],
    parameters: dict[str, str],
    tasks: list[str],
    values: dict[str, dict[str, Any]],
    secret_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """Write the context of the attempt whose artifact is `artifact`; the env naming it.

    A stale exit file of an earlier try of the same attempt path is removed, so an attempt
    that does not exit keeps no output.
    """
    exit_file = exit_path(artifact)
    exit_file.unlink(missing_ok=True)
    doc = {
        "version": 1,
        "project": str(project),
        "run": run,
        "task": task,
        "parameters": parameters,
        "tasks": tasks,
        "values": values,
        "secret_env": secret_env or {},  # secret parameters: masked above, read from here
        "exit_file": str(exit_file),
    }
    path = context_path(artifact)
    path.write_text(json.dumps(doc, default=str), encoding="utf-8")
    return {CONTEXT_ENV: str(path)}


def read() -> dict[str, Any] | None:
    """The context of the task running this process; None outside an nbflow task."""
    path = os.environ.get(CONTEXT_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


def exit_output(value: str) -> dict[str, Any]:
    """The output kept for an exit value: its first 48 KiB, and whether it was cut."""
    raw = value.encode("utf-8")
    if len(raw) <= MAX_RESULT_BYTES:
        return {"result": value, "truncated": False}
    return {"result": raw[:MAX_RESULT_BYTES].decode("utf-8", "ignore"), "truncated": True}


def write_exit(path: str, value: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(exit_output(value), fh)
    os.replace(tmp, path)


def read_exit(artifact: Path) -> dict[str, Any] | None:
    """The output an attempt's `dbutils.notebook.exit` left, or None."""
    try:
        doc = json.loads(exit_path(artifact).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("result"), str):
        return None
    return {"result": doc["result"], "truncated": bool(doc.get("truncated"))}
