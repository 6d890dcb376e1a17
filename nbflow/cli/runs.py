"""Commands that read the run history: `runs`, `show`, `logs`."""

from __future__ import annotations

import json
from typing import Any

import click

from .app import (
    _print_json,
    _project,
    api,
    main,
)


@main.command()
@click.option("--workflow", "-w", help="Only runs of this workflow.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def runs(ctx: click.Context, workflow: str | None, limit: int, as_json: bool) -> None:
    """List runs, newest first."""
    docs = api.list_runs(_project(ctx), workflow, limit)
    if as_json:
        _print_json(docs)
        return
    if not docs:
        click.echo("no runs yet")
        return
    click.echo(f"{'id':>5}  {'workflow':20}  {'state':22}  {'trigger':8}  start")
    for d in docs:
        click.echo(
            f"{d['id']:>5}  {d['workflow'][:20]:20}  {d['state']:22}  "
            f"{d['trigger']['type']:8}  {d['start_time'] or '-'}"
        )


@main.command()
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, run_id: int, as_json: bool) -> None:
    """Show one run: its tasks, attempts, values and errors."""
    doc = api.show(_project(ctx), run_id)
    if as_json:
        _print_json(doc)
        return
    click.echo(f"run {doc['id']} of {doc['workflow']} ({doc['workflow_path']}): {doc['state']}")
    trigger = doc["trigger"]
    facts = [
        f"{name} {trigger[key]}"
        for key, name in (("backfill_id", "backfill"), ("run_id", "after run"), ("value", "value"))
        if key in trigger
    ]
    if "workflow" in trigger:
        facts[-1] += f" of {trigger['workflow']} ({trigger.get('state')})"
    extra = f" ({', '.join(facts)})" if facts else ""
    click.echo(f"  trigger {trigger['type']} at {trigger['time']}{extra}")
    click.echo(f"  started {doc['start_time'] or '-'}, ended {doc['end_time'] or '-'}")
    if doc["parameters"]:
        click.echo("  parameters: " + json.dumps(doc["parameters"]))
    for r in doc["repairs"]:
        click.echo(
            f"  repair {r['number']} at {r['time']}: {', '.join(r['tasks'])} -> {r['result']}"
        )
    warned = {(w["task"], w["attempt"]): w for w in doc.get("duration_warnings", [])}
    if (None, None) in warned:
        w = warned[(None, None)]
        click.echo(
            f"  ! ran longer than duration_warning {_duration(w['threshold'])} ({w['time']})"
        )
    for task in doc["tasks"]:
        line = f"  {task['key']:24} {task['state']:18}"
        if task["outcome"] is not None:
            line += f" outcome={str(task['outcome']).lower()}"
        if task["message"] and task["state"] != "success":
            line += f" {task['message'].splitlines()[0][:120]}"
        click.echo(line)
        _show_unit(task, "      ", warned, task["key"])
        for it in task.get("iterations", []):
            head = f"      [{it['index']}] input={json.dumps(it['input'])[:40]} {it['state']}"
            if it["message"] and it["state"] != "success":
                head += f" {it['message'].splitlines()[0][:100]}"
            click.echo(head)
            _show_unit(it, "          ", warned, f"{task['key']}[{it['index']}]")


def _duration(seconds: float) -> str:
    from ..core.durations import format_duration

    return format_duration(seconds)


def _show_unit(
    unit: dict[str, Any],
    indent: str,
    warned: dict[tuple[Any, Any], dict[str, Any]] | None = None,
    name: str = "",
) -> None:
    """Values and attempts of a task or of one for_each iteration."""
    for value_name, value in unit["values"].items():
        click.echo(f"{indent}value {value_name} = {json.dumps(value)[:100]}")
    output = unit.get("output") or {}
    if "rows" in output:
        first = json.dumps(output.get("first_row"))[:80]
        click.echo(f"{indent}output: {output.get('row_count', 0)} rows, first {first}")
    if "run_id" in output:
        click.echo(
            f"{indent}child run {output['run_id']}"
            + (f": {output['state']}" if output.get("state") else "")
        )
    for a in unit["attempts"]:
        err = a["error"]
        where = f" (cell {err['cell_index']})" if err and err.get("cell_index") is not None else ""
        mark = (warned or {}).get((name, a["number"]))
        late = f"  ! ran longer than {_duration(mark['threshold'])}" if mark else ""
        ran = a.get("executor") or {}
        on = (
            f"  on {ran.get('worker') or 'dask scheduler ' + str(ran.get('scheduler'))}"
            if ran.get("kind") == "dask"
            else ""
        )
        click.echo(
            f"{indent}attempt {a['number']}: {a['state']}{where}  {a['artifact'] or ''}{on}{late}"
        )


@main.command()
@click.argument("run_id", type=int)
@click.argument("task")
@click.option("--attempt", type=int, default=None, help="Attempt number (default: the last).")
@click.option("--path", "path_only", is_flag=True, help="Print only the artifact's path.")
@click.pass_context
def logs(ctx: click.Context, run_id: int, task: str, attempt: int | None, path_only: bool) -> None:
    """Print an attempt's log: a script's output, a notebook's cell outputs (KEY[i]: an iteration)."""
    path, text = api.logs(_project(ctx), run_id, task, attempt)
    click.echo(path if path_only else text, nl=path_only)
