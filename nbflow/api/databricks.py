"""The Databricks bridges: importing bundle jobs as workflows, exporting workflows as jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import (
    Conflict,
    Problem,
    UsageError,
    WorkflowFileError,
)
from ..workflows.project import Project
from .modules import (
    authoring,
    catalog,
    databricks_exporter,
    databricks_importer,
    databricks_jobfile,
    loader,
)
from .workflows import _shown, validate, workflow_path


def import_databricks(
    project: Project,
    file: str,
    *,
    job: str | None = None,
    variables: dict[str, str] | None = None,
    output: str | None = None,
    strict: bool = False,
    force: bool = False,
    webhooks: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write workflow files for the jobs of a Databricks bundle or Jobs API file.

    Returns `{"written": [{file, workflow, job}], "reports": [lines], "problems": [lines]}`:
    the reports say what was left out or translated (`ignored:`, `problem:`, `note:` at
    their line in FILE), the problems what `nbflow validate` finds in the written files (a
    notebook the job names that is not in the project yet). With `strict`, anything ignored
    or any problem is an error and nothing is written. Existing files are kept unless `force`.
    """
    source = Path(file)
    shown = str(_shown(source))
    jobs = databricks_jobfile.load(source, shown, variables)
    if output and not job and len(jobs.jobs) > 1:
        keys = ", ".join(j.key for j in jobs.jobs)
        raise UsageError(f"{shown} has {len(jobs.jobs)} jobs ({keys}): pick one with --job for -o")
    target = Path(output) if output else None
    if target is not None and target.suffix not in (".yaml", ".yml"):
        raise UsageError(f"-o {output}: a workflow file ends in .yaml or .yml")
    known = set(catalog.by_name(project))
    imported = databricks_importer.import_jobs(
        jobs,
        root=project.root,
        select=job,
        name=target.stem if target is not None else None,
        known_workflows=known,
        webhooks=webhooks,
    )
    reports = [r for item in imported for r in item.reports]
    if strict:
        refused = [r for r in reports if not r.message.startswith("note:")]
        if refused:
            raise WorkflowFileError(refused)
    planned: list[tuple[Path, str, Any]] = []
    for i, item in enumerate(imported):
        path = (
            target
            if (i == 0 and target is not None)
            else project.workflows_dir / f"{item.name}.yaml"
        )
        text = databricks_importer.workflow_text(item, shown, jobs.line(item.job.where))
        planned.append((path, text, item))
    if not force:
        for path, _, _ in planned:
            if path.exists():
                raise Conflict(f"{_shown(path)} already exists (--force replaces it)")
    written = []
    for path, text, item in planned:
        missing = {repr(m) for m in item.missing}

        def reported(problem: Problem, missing: set[str] = missing) -> bool:
            """A file the import already said is not in the project yet."""
            return "not found" in problem.message and any(m in problem.message for m in missing)

        mode = "overwrite" if force else "new"
        authoring.write_checked(path, text, project, mode=mode, tolerated=reported)
        written.append({"file": str(_shown(path)), "workflow": item.name, "job": item.job.key})
    _, problems = validate(project, [w["file"] for w in written])
    return {
        "written": written,
        "reports": [str(r) for r in reports],
        "problems": [str(p) for p in problems],
    }


def export_databricks(
    project: Project, workflow: str, *, output: str | None = None, strict: bool = False
) -> dict[str, Any]:
    """A workflow as a Databricks bundle job resource.

    Returns `{"text", "file" (None: not written), "reports"}`; paths in the text are
    relative to the output file's folder (the project root when there is no file). With
    `strict`, anything that cannot be exported is an error and nothing is written.
    """
    path = workflow_path(project, workflow)
    wf = loader.load_workflow(path, project.root)
    target = Path(output) if output else None
    base = target.resolve().parent if target is not None else project.root
    text, reports = databricks_exporter.export_workflow(
        wf, shown=str(path), base=base, in_file=target is not None
    )
    if strict and reports:
        raise WorkflowFileError(reports)
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    return {
        "text": text,
        "file": str(_shown(target)) if target is not None else None,
        "reports": [str(r) for r in reports],
    }
