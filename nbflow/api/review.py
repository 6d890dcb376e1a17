"""Reviewing runs: HTML reports, comparing two runs, glued values over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import (
    NbflowError,
    UsageError,
)
from ..workflows.project import Project
from .modules import (
    diff_module,
    loader,
    report_module,
)
from .reading import _artifact_file, _chosen_attempt, _units, open_store, show
from .workflows import _shown, workflow_path


def report(
    project: Project,
    run_id: int,
    task: str | None = None,
    *,
    attempt: int | None = None,
    no_input: bool | None = None,
) -> tuple[Path, str]:
    """(default file, HTML) of an attempt's executed notebook, or of the whole run.

    `no_input` None: as each task's `report: {no_input}` in the workflow file says.
    """
    doc = show(project, run_id)
    run_dir = project.run_dir(doc["workflow"], run_id)
    hidden = _no_input_tasks(project, doc) if no_input is None else None

    def leave_out(label: str) -> bool:
        return bool(no_input) if hidden is None else label.split("[", 1)[0] in hidden

    if task is not None:
        chosen, _ = _chosen_attempt(doc, task, attempt)
        path = _artifact_file(project, chosen["artifact"])
        if path.suffix != ".ipynb":
            raise UsageError(
                f"task {task!r} of run {run_id} is not a notebook: `nbflow logs` shows its log"
            )
        page = _attempt_page(
            path, chosen, f"run {run_id} · {task} · attempt {chosen['number']}", leave_out(task)
        )
        return path.with_suffix(".html"), page
    if attempt is not None:
        raise UsageError("--attempt needs a TASK")
    notebooks = {}
    for label, unit in _units(doc).items():
        last = unit["attempts"][-1] if unit["attempts"] else None
        if last and (last["artifact"] or "").endswith(".ipynb"):
            path = _artifact_file(project, last["artifact"])
            if path.is_file():
                try:
                    page = _attempt_page(path, last, f"run {run_id} · {label}", leave_out(label))
                except UsageError as exc:  # cut off or damaged: the rest of the run still shows
                    page = report_module.note_html(str(exc))
                notebooks[f"{label} · attempt {last['number']} · {last['state']}"] = page
    return run_dir / "report.html", report_module.run_html(doc, notebooks)


def _no_input_tasks(project: Project, doc: dict[str, Any]) -> set[str]:
    """The tasks whose reports leave the code out, as the run's workflow file says now."""
    try:
        workflow = loader.load_workflow(project.root / doc["workflow_path"], project.root)
    except NbflowError:  # gone or broken since the run: the report still shows the notebook
        return set()
    return {t.key for t in workflow.tasks if t.report_no_input}


def _attempt_page(path: Path, attempt: dict[str, Any], title: str, no_input: bool) -> str:
    if not path.is_file():
        raise UsageError(f"{_shown(path)}: the executed notebook is gone")
    try:
        return report_module.attempt_html(
            path, parameters=attempt["parameters"], title=title, no_input=no_input
        )
    except (ValueError, OSError) as exc:  # nbformat's NotJSONError is a ValueError
        raise UsageError(f"{_shown(path)}: not a readable notebook ({exc})") from None


def diff(project: Project, run_a: int, run_b: int, task: str | None = None) -> dict[str, Any]:
    """What differs between two runs (see `nbflow.review.diff`); `task` keeps one task (or `KEY[i]`)."""
    store = open_store(project)
    try:
        doc_a, doc_b = show(project, run_a, store), show(project, run_b, store)
    finally:
        store.close()
    units_a, units_b = diff_module.units(doc_a), diff_module.units(doc_b)
    if task is not None and task not in units_a and task not in units_b:
        known = ", ".join(dict.fromkeys([*units_a, *units_b]))
        raise UsageError(f"neither run {run_a} nor run {run_b} has a task {task!r} ({known})")

    def notebook(unit: dict[str, Any] | None) -> Path | None:
        artifact = diff_module.last_notebook(unit)
        path = _artifact_file(project, artifact) if artifact else None
        return path if path is not None and path.is_file() else None

    notebooks = {
        key: (notebook(units_a.get(key)), notebook(units_b.get(key)))
        for key in dict.fromkeys([*units_a, *units_b])
        if task is None or key == task
    }
    return diff_module.compare(doc_a, doc_b, notebooks, only=task)


def values(
    project: Project, workflow: str, names: list[str] | None = None, last: int = 20
) -> tuple[list[str], list[dict[str, Any]]]:
    """Glued values across the last runs of a workflow: (columns, one row per run, oldest first).

    Columns are `TASK.NAME` (default: every value any of those runs has); a run without a
    value has None there.
    """
    for name in names or []:
        if name.count(".") < 1 or not all(name.split(".", 1)):
            raise UsageError(f"{name!r}: expected TASK.NAME (as in `clean.dropped_share`)")
    store = open_store(project)
    try:
        runs = store.list_runs(workflow, last)
        docs = [show(project, r["id"], store) for r in reversed(runs)]
    finally:
        store.close()
    if not docs:
        workflow_path(project, workflow)  # an unknown workflow is an error, not an empty table
    found: dict[str, None] = {}
    rows = []
    for doc in docs:
        row: dict[str, Any] = {
            "run": doc["id"],
            "start_time": doc["start_time"],
            "state": doc["state"],
        }
        for task in doc["tasks"]:
            for name, value in task["values"].items():
                found.setdefault(f"{task['key']}.{name}")
                row[f"{task['key']}.{name}"] = value
        rows.append(row)
    columns = names or list(found)
    return columns, [
        {
            "run": r["run"],
            "start_time": r["start_time"],
            "state": r["state"],
            **{c: r.get(c) for c in columns},
        }
        for r in rows
    ]
