"""Commands that run: `run`, `repair`, `cancel`, and the server's detached `_execute`."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..core.paramvalues import parse_assignments
from ..workflows.project import Project
from .app import (
    FINISHED_OK,
    PARAM_HELP,
    QUIET_STATES,
    _print_json,
    _project,
    _shown,
    api,
    dask_option,
    main,
    param_option,
    reporting,
)


@main.command()
@click.argument("workflow")
@param_option(PARAM_HELP)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=None,
    help="Tasks run at once (default: the number of cores).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run document as JSON at the end.")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="KEY",
    help="Run just this task (repeatable); the others are skipped_by_selection.",
)
@click.option(
    "--from-run",
    type=int,
    default=None,
    metavar="ID",
    help="With --only: read left-out tasks' values from this run (default: the latest "
    "successful one).",
)
@dask_option
@click.pass_context
def run(
    ctx: click.Context,
    workflow: str,
    params: tuple[str, ...],
    parallel: int | None,
    as_json: bool,
    only: tuple[str, ...],
    from_run: int | None,
    dask: str | None,
) -> None:
    """Run WORKFLOW (a file or a name in workflows/) and wait for it to finish."""
    project = _project(ctx)
    overrides = parse_assignments(params)
    live = sys.stderr.isatty()
    reporter = reporting.LiveReporter() if live else reporting.PlainReporter()
    started: list[int] = []
    homes: list[Project] = []

    def created(run_id: int, wf: Any) -> None:
        home = Project(wf.root)  # the workflow's own project, where its run is kept
        homes.append(home)
        where = home.run_dir(wf.name, run_id)
        click.echo(f"run {run_id} of {wf.name}: artifacts in {_shown(where)}/", err=True)
        if isinstance(reporter, reporting.LiveReporter):
            reporter.start([t.key for t in wf.tasks])
            started.append(run_id)

    try:
        doc = api.run(
            project,
            workflow,
            overrides=overrides,
            parallel=parallel,
            observer=reporter,
            on_created=created,
            only=list(only) or None,
            from_run=from_run,
            dask=dask,
        )
    finally:
        if started and isinstance(reporter, reporting.LiveReporter):
            reporter.__exit__(None, None, None)
    if as_json:
        _print_json(doc)
    else:
        _summary(doc, homes[0] if homes else project)
    sys.exit(0 if doc["state"] in FINISHED_OK else 1)


def _summary(doc: dict[str, Any], project: Project) -> None:
    failed = [t for t in doc["tasks"] if t["state"] not in QUIET_STATES]
    click.echo(f"run {doc['id']} of {doc['workflow']}: {doc['state']}")
    for task in failed:
        click.echo(
            f"  {task['key']}: {task['state']}"
            + (f" - {task['message']}" if task["message"] else "")
        )
        artifact = task["attempts"][-1]["artifact"] if task["attempts"] else None
        if artifact and (project.root / artifact).is_file():
            click.echo(f"    see {artifact}")


@main.command("_execute", hidden=True)
@click.argument("run_id", type=int)
@click.option("--parallel", type=click.IntRange(min=1), default=None)
@click.pass_context
def execute_recorded(ctx: click.Context, run_id: int, parallel: int | None) -> None:
    """Run a run recorded by the Jupyter server (internal)."""
    doc = api.execute(_project(ctx), run_id, parallel=parallel)
    sys.exit(0 if doc["state"] in FINISHED_OK else 1)


@main.command()
@click.argument("run_id", type=int)
@click.option(
    "--wait",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait for the run to stop.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def cancel(ctx: click.Context, run_id: int, wait: float, as_json: bool) -> None:
    """Cancel a run in progress (from any shell) and wait until it has stopped."""
    doc = api.cancel(_project(ctx), run_id, wait=wait)
    if as_json:
        _print_json(doc)
    else:
        click.echo(f"run {doc['id']} of {doc['workflow']}: {doc['state']}")
    sys.exit(0 if doc["state"] == "canceled" else 1)


@main.command()
@click.argument("run_id", type=int)
@click.option(
    "--task",
    "-t",
    "tasks",
    multiple=True,
    metavar="KEY",
    help="Rerun this task (repeatable); default: every task that did not succeed.",
)
@click.option("--no-dependents", is_flag=True, help="Do not rerun what depends on them.")
@param_option("Override a workflow parameter for the repair.")
@click.option("--parallel", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
@dask_option
@click.pass_context
def repair(
    ctx: click.Context,
    run_id: int,
    tasks: tuple[str, ...],
    no_dependents: bool,
    params: tuple[str, ...],
    parallel: int | None,
    as_json: bool,
    dask: str | None,
) -> None:
    """Rerun the failed part of a finished run (or the tasks named) in the same run."""
    project = _project(ctx)
    reporter = reporting.PlainReporter()
    doc = api.repair(
        project,
        run_id,
        tasks=list(tasks) or None,
        dependents=not no_dependents,
        overrides=parse_assignments(params),
        parallel=parallel,
        observer=reporter,
        dask=dask,
    )
    if as_json:
        _print_json(doc)
    else:
        _summary(doc, project)
    sys.exit(0 if doc["state"] in FINISHED_OK else 1)
