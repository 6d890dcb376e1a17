"""The `schedule` group: the daemon, `list`, `pause`, `resume`."""

from __future__ import annotations

import click

from .app import (
    _print_json,
    _project,
    api,
    daemon_logging,
    dask_option,
    main,
)


@main.group(invoke_without_command=True)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=None,
    help="Tasks run at once in each run (default: the number of cores).",
)
@click.option(
    "--tick",
    type=click.FloatRange(min=0.05, max=60),
    default=0.5,
    show_default=True,
    help="Seconds between looks at file-arrival folders and pause changes.",
)
@dask_option
@click.pass_context
def schedule(ctx: click.Context, parallel: int | None, tick: float, dask: str | None) -> None:
    """Run the scheduler for every workflow of the project until Ctrl-C (see subcommands)."""
    if ctx.invoked_subcommand is not None:
        return
    daemon_logging()
    api.schedule(_project(ctx), parallel=parallel, tick=tick, dask=dask)


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schedule_list(ctx: click.Context, as_json: bool) -> None:
    """Each workflow's triggers, paused state and next fire time."""
    entries = api.schedule_list(_project(ctx))
    if as_json:
        _print_json(entries)
        return
    if not entries:
        click.echo("no workflow has a trigger")
        return
    status = api.scheduler_status(_project(ctx))
    if status["running"]:
        serving = ", ".join(f"{s['host']} pid {s['pid']}" for s in status["schedulers"])
        click.echo(f"scheduler running: {serving}")
        for s in status["schedulers"]:
            for kernel, pool in (s.get("kernels") or {}).items():
                rss = pool.get("rss") or []
                memory = f", {sum(rss) / len(rss) / 2**20:.0f} MiB RSS each" if rss else ""
                click.echo(
                    f"  warm kernels (pid {s['pid']}): {kernel} {pool['idle']} idle"
                    f"{memory}, {pool['leased']} running"
                )
    else:
        click.echo("no scheduler is running: triggers fire only while `nbflow schedule` runs")
    for e in entries:
        kinds = ", ".join(e["triggers"])
        state = f"paused ({e['paused_by']})" if e["paused"] else "active"
        line = f"{e['workflow']:20} {kinds:28} {state:18}"
        if e["schedule"]:
            line += f" {e['schedule']['cron']} {e['schedule']['timezone']}  next {e['next_fire']}"
        click.echo(line)


@schedule.command("pause")
@click.argument("workflow")
@click.pass_context
def schedule_pause(ctx: click.Context, workflow: str) -> None:
    """Stop a workflow's triggers (manual runs still work); takes effect while a scheduler runs."""
    entry = api.set_paused(_project(ctx), workflow, True)
    click.echo(f"{entry['workflow']}: paused")


@schedule.command("resume")
@click.argument("workflow")
@click.pass_context
def schedule_resume(ctx: click.Context, workflow: str) -> None:
    """Resume a workflow's triggers; fire times passed while paused are not caught up."""
    entry = api.set_paused(_project(ctx), workflow, False)
    state = f"still paused by its file ({entry['file']})" if entry["paused"] else "active"
    click.echo(
        f"{entry['workflow']}: {state}"
        + (f", next {entry['next_fire']}" if entry["next_fire"] else "")
    )
