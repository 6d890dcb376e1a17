"""Commands for reviewing runs: `report`, `diff`, `values`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .app import (
    _print_json,
    _project,
    _shown,
    api,
    main,
)


@main.command()
@click.argument("run_id", type=int)
@click.argument("task", required=False)
@click.option("--attempt", type=int, default=None, help="Attempt number (default: the last).")
@click.option("-o", "--output", metavar="FILE", help="Where to write it ('-': standard output).")
@click.option(
    "--input/--no-input",
    "with_input",
    default=None,
    help="Show the code, or leave it out (outputs and text only); default: as the task's "
    "`report: {no_input}` says.",
)
@click.pass_context
def report(
    ctx: click.Context,
    run_id: int,
    task: str | None,
    attempt: int | None,
    output: str | None,
    with_input: bool | None,
) -> None:
    """Write an HTML report of a run, or of a task's executed notebook (KEY[i]: an iteration).

    Without -o it goes beside the run's artifacts (report.html, or attempt-N.html).
    """
    no_input = None if with_input is None else not with_input
    default, page = api.report(_project(ctx), run_id, task, attempt=attempt, no_input=no_input)
    if output == "-":
        click.echo(page, nl=False)
        return
    target = Path(output) if output else default
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
    click.echo(_shown(target))


@main.command("diff")
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@click.option("--task", "-t", metavar="KEY", help="Only this task (KEY[i]: an iteration).")
@click.option("--json", "as_json", is_flag=True, help="The comparison as JSON (as the REST API).")
@click.pass_context
def diff_(ctx: click.Context, run_a: int, run_b: int, task: str | None, as_json: bool) -> None:
    """Compare two runs: parameters, task states and durations, values and cell outputs."""
    found = api.diff(_project(ctx), run_a, run_b, task)
    if as_json:
        _print_json(found)
        return
    a, b = found["a"], found["b"]
    click.echo(
        f"run {a['id']} ({a['workflow']}, {a['state']}) -> run {b['id']} "
        f"({b['workflow']}, {b['state']})"
    )
    for change in found["parameters"]:
        click.echo(f"  parameter {_change(change)}")
    if not found["parameters"]:
        click.echo("  parameters: the same")
    for entry in found["tasks"]:
        sides = [entry[s] for s in ("a", "b")]
        shown = [
            f"{u['state']} {u['duration']:.1f}s"
            if u and u["duration"] is not None
            else (u["state"] if u else "-")
            for u in sides
        ]
        mark = "*" if entry["changed"] else " "
        click.echo(f"{mark} {entry['key']:24} {shown[0]:>26} -> {shown[1]}")
        for change in entry["parameters"]:
            click.echo(f"      parameter {_change(change)}")
        for change in entry["values"]:
            click.echo(f"      value {_change(change)}")
        if entry["output"] is not None:
            click.echo("      output changed")
        if entry["note"]:
            click.echo(f"      {entry['note']}")
        for cell in entry["cells"] or []:
            where = "cell " + " -> ".join(
                "-" if cell[s] is None else str(cell[s]) for s in ("a", "b")
            )
            what = [cell["change"]] + (["source changed"] if cell["source_changed"] else [])
            click.echo(f"      {where}: {', '.join(what)}")
            for out in cell["outputs"]:
                click.echo(f"        {out['type']} {out['change']}")
                if "a" in out or "b" in out:
                    _text_diff(out.get("a", ""), out.get("b", ""), "          ")


def _change(change: dict[str, Any]) -> str:
    def shown(side: str) -> str:
        return json.dumps(change[side], default=str)[:80] if side in change else "(none)"

    return f"{change['name']}: {shown('a')} -> {shown('b')}"


def _text_diff(a: str, b: str, indent: str, limit: int = 20) -> None:
    import difflib

    lines = [
        line
        for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
        if not line.startswith(("---", "+++", "@@"))
    ]
    for line in lines[:limit]:
        click.echo(f"{indent}{line[:120]}")
    if len(lines) > limit:
        click.echo(f"{indent}... {len(lines) - limit} more lines")


@main.command("values")
@click.argument("workflow")
@click.argument("names", nargs=-1, metavar="[TASK.NAME]...")
@click.option("--last", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, in a list.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.pass_context
def values_(
    ctx: click.Context,
    workflow: str,
    names: tuple[str, ...],
    last: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Glued values over the last runs of WORKFLOW: one row per run, oldest first."""
    columns, rows = api.values(_project(ctx), workflow, list(names) or None, last)
    if as_json:
        _print_json(rows)
        return
    header = ["run", "start_time", "state", *columns]
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                [
                    v if isinstance(v, str | int | float) or v is None else json.dumps(v)
                    for v in (row[h] for h in header)
                ]
            )
        return
    if not rows:
        click.echo(f"no runs of {workflow} yet")
        return
    cells = [
        [str(row[h]) if isinstance(row[h], str) else json.dumps(row[h]) for h in header]
        for row in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for c in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
