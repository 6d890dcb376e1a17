"""The child run of `dbutils.notebook.run`: one notebook run as a recorded child of a task's run.

`dbutils.notebook.run` (in a kernel or a script) starts `python -m nbflow.databricks.notebook_run`
with a JSON job on stdin: the project, the notebook, its arguments, the timeout and the run it
is a child of. The notebook becomes a one-task workflow kept in the state folder (as a
notebook run from JupyterLab is, so the run can be repaired) and runs to its end through
`api.run`; the last line of stdout is `{run_id, workflow, state, message, result}`, `result`
being the value the notebook passed to `dbutils.notebook.exit`, or `{error}`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HEADER = (
    "# Written by nbflow for dbutils.notebook.run: the notebook's run is a child of the\n"
    "# run that called it. nbflow keeps it so the run can be repaired; it is not one of the\n"
    "# project's workflows.\n"
)


def workflow_file(project: Any, notebook: Path, arguments: dict[str, Any], timeout: float) -> Path:
    """Write (and check) the one-task workflow that runs `notebook`; its path."""
    from ..workflows import authoring, yamltext

    written = project.relative(notebook)
    key = authoring.key_for(written)
    content: dict[str, Any] = {"name": authoring.run_workflow_name(written)}
    if timeout:
        content["timeout"] = timeout
    content["tasks"] = [yamltext.notebook_task(key, written, arguments, [])]
    text = yamltext.new_workflow_text(content, HEADER)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    target: Path = project.state_dir / "notebooks" / f"{key}-{digest}.yaml"
    authoring.write_checked(target, text, project, mode="overwrite")
    return target


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job's notebook as a child run; what `dbutils.notebook.run` reads back."""
    from .. import api
    from ..core.errors import NbflowError
    from ..workflows.project import Project

    project = Project(Path(job["project"]))
    try:
        path = workflow_file(
            project,
            Path(job["notebook"]),
            dict(job.get("arguments") or {}),
            job.get("timeout") or 0,
        )
        doc = api.run(
            project,
            str(path),
            trigger_type="workflow",
            parent_run_id=job.get("parent_run_id"),
        )
    except NbflowError as exc:
        return {"error": str(exc)}
    task = doc["tasks"][0]
    output = task.get("output") or {}
    return {
        "run_id": doc["id"],
        "workflow": doc["workflow"],
        "state": doc["state"],
        "message": task.get("message") or doc.get("message"),
        "result": output.get("result"),
    }


def main() -> int:
    job = json.load(sys.stdin)
    outcome = run_child(job)
    sys.stdout.write("\n" + json.dumps(outcome, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
