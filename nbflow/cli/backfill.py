"""The `backfill` group: `start` (the default), `list`, `show`, `cancel`, `resume`."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..core.paramvalues import parse_assignments
from ..workflows.project import Project
from .app import (
    FINISHED_OK,
    _print_json,
    _project,
    api,
    daemon_logging,
    main,
    param_option,
)


class _StartGroup(click.Group):
    """`nbflow backfill WORKFLOW ...` means `nbflow backfill start WORKFLOW ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_StartGroup)
def backfill() -> None:
    """Run a workflow once per fire time of a past date range (see subcommands).

    `nbflow backfill WORKFLOW --from DATE --to DATE` starts one.
    """


def _backfill_line(doc: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in sorted(doc["counts"].items()))
    every = f" every {doc['every']}" if doc["every"] else ""
    return (
        f"backfill {doc['id']} of {doc['workflow']} ({doc['from']} to {doc['to']}{every}): "
        f"{doc['state']}; {len(doc['days'])} fire times: {counts}"
    )


@backfill.command("start")
@click.argument("workflow")
@click.option("--from", "start", required=True, metavar="DATE", help="First day (or date-time).")
@click.option("--to", "end", required=True, metavar="DATE", help="Last day (or date-time).")
@click.option(
    "--every", metavar="DURATION", help="Fire times every DURATION from --from (1d, 6h, ...)."
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs of the backfill at once.",
)
@click.option("--rerun", is_flag=True, help="Run fire times again that already ran.")
@param_option("Override a parameter.")
@click.option("--detach", is_flag=True, help="Record it and return: the schedulers run it.")
@click.option("--parallel", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def backfill_start(
    ctx: click.Context,
    workflow: str,
    start: str,
    end: str,
    every: str | None,
    concurrency: int,
    rerun: bool,
    params: tuple[str, ...],
    detach: bool,
    parallel: int | None,
    as_json: bool,
) -> None:
    """Start WORKFLOW once per fire time from --from to --to and wait for the runs."""
    project = _project(ctx)
    doc = api.backfill(
        project,
        workflow,
        start=start,
        end=end,
        every=every,
        concurrency=concurrency,
        rerun=rerun,
        overrides=parse_assignments(params),
    )
    if not detach:
        click.echo(_backfill_line(doc), err=True)
        doc = _serve_backfill(project, doc["id"], parallel)
    if as_json:
        _print_json(doc)
    else:
        click.echo(_backfill_line(doc))
    sys.exit(0 if detach or _backfill_ok(doc) else 1)


def _backfill_ok(doc: dict[str, Any]) -> bool:
    return doc["state"] == "finished" and all(
        d["state"] in (*FINISHED_OK, "skipped") for d in doc["days"]
    )


def _serve_backfill(project: Project, backfill_id: int, parallel: int | None) -> dict[str, Any]:
    daemon_logging()
    result: dict[str, Any] = api.serve_backfill(project, backfill_id, parallel=parallel)
    return result


@backfill.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def backfill_list(ctx: click.Context, as_json: bool) -> None:
    """Every backfill, oldest first: its range, state and how its days went."""
    docs = api.backfills(_project(ctx))
    if as_json:
        _print_json(docs)
        return
    if not docs:
        click.echo("no backfills yet")
    for doc in docs:
        click.echo(_backfill_line(doc))


@backfill.command("show")
@click.argument("backfill_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def backfill_show(ctx: click.Context, backfill_id: int, as_json: bool) -> None:
    """One backfill: each fire time with its run."""
    (doc,) = api.backfills(_project(ctx), backfill_id)
    if as_json:
        _print_json(doc)
        return
    click.echo(_backfill_line(doc))
    for day in doc["days"]:
        run = f"run {day['run_id']}" if day["run_id"] else ""
        click.echo(f"  {day['time']}  {day['state']:22} {run}".rstrip())


@backfill.command("cancel")
@click.argument("backfill_id", type=int)
@click.pass_context
def backfill_cancel(ctx: click.Context, backfill_id: int) -> None:
    """Start no more days of a backfill and cancel its runs still going."""
    doc = api.cancel_backfill(_project(ctx), backfill_id)
    click.echo(_backfill_line(doc))


@backfill.command("resume")
@click.argument("backfill_id", type=int)
@click.option("--parallel", type=click.IntRange(min=1), default=None)
@click.pass_context
def backfill_resume(ctx: click.Context, backfill_id: int, parallel: int | None) -> None:
    """Go on with an interrupted backfill in the foreground; days already started are not
    run again."""
    doc = _serve_backfill(_project(ctx), backfill_id, parallel)
    click.echo(_backfill_line(doc))
    sys.exit(0 if _backfill_ok(doc) else 1)
