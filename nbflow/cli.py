"""The `nbflow` command: parses arguments, calls `api`, prints; no logic of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .startup import lazy_module, skip_unused_imports

skip_unused_imports()  # before anything imports nbformat (see startup.py)

import click  # noqa: E402

from . import __version__  # noqa: E402
from .errors import NbflowError, WorkflowFileError  # noqa: E402
from .params import parse_assignments  # noqa: E402
from .project import Project  # noqa: E402

# Each command imports only what it uses: `--help`, `runs` and `show` never load the runner,
# papermill, nbformat or the YAML loader.
api = lazy_module("nbflow.api")
reporting = lazy_module("nbflow.reporting")

FINISHED_OK = ("success", "success_with_failures")
QUIET_STATES = ("success", "excluded", "disabled", "skipped_by_selection")  # not in a summary


dask_option = click.option(
    "--dask",
    metavar="ADDRESS",
    envvar="NBFLOW_DASK_ADDRESS",
    default=None,
    help="Run the attempts on the workers of this Dask scheduler (tcp://HOST:8786); "
    "env NBFLOW_DASK_ADDRESS. See docs/cluster.md.",
)


def _project(ctx: click.Context) -> Project:
    return Project.discover(ctx.obj.get("project"))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, default=str))


class _Group(click.Group):
    """Turns nbflow's own errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkflowFileError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(2)
        except NbflowError as exc:
            click.echo(f"nbflow: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="nbflow")
@click.option(
    "--project", metavar="DIR", help="Project root (default: found from the current folder)."
)
@click.pass_context
def main(ctx: click.Context, project: str | None) -> None:
    """Run Jupyter notebooks as workflows."""
    ctx.obj = {"project": project}


@main.command()
@click.argument("files", nargs=-1)
@click.pass_context
def validate(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Check workflow files (default: all of workflows/)."""
    paths, problems = api.validate(_project(ctx), list(files) or None)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        sys.exit(2)
    for path in paths:
        click.echo(f"{path}: ok")


@main.command()
@click.argument("workflow")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a workflow parameter (JSON when it parses as JSON; True, False and None as "
    "in Python; else text; \\{{ for a literal {{).",
)
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
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a workflow parameter for the repair.",
)
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
    from .durations import format_duration

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
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("nbflow.notify").setLevel(logging.WARNING)
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
@click.option(
    "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a parameter."
)
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
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("nbflow.notify").setLevel(logging.WARNING)
    return api.serve_backfill(project, backfill_id, parallel=parallel)


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


@main.command()
@click.argument("notebook")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def params(ctx: click.Context, notebook: str, as_json: bool) -> None:
    """List a notebook's parameters (name, type, default, help)."""
    found = api.notebook_params(_project(ctx), notebook)
    if as_json:
        _print_json([p.as_dict() for p in found])
        return
    if not found:
        click.echo(
            f"{notebook}: declares no parameters (no cell tagged `parameters`, or no assignment in it)"
        )
        return
    for p in found:
        click.echo(
            f"{p.name}: {p.type or '?'} = {p.default_text}" + (f"  # {p.help}" if p.help else "")
        )


@main.group("import")
def import_group() -> None:
    """Turn job definitions of other tools into workflow files."""


def _pairs(items: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"{option} {item!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


@import_group.command("databricks")
@click.argument("file")
@click.option("--job", metavar="KEY", help="Only this job (and the jobs it runs); default: all.")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="A bundle variable's value (${var.NAME}), as `databricks bundle --var` takes it.",
)
@click.option(
    "--webhook",
    "webhooks",
    multiple=True,
    metavar="ID=URL",
    help="The URL of a workspace notification destination the job names by id.",
)
@click.option(
    "-o", "--output", metavar="FILE", help="The workflow file (default: workflows/KEY.yaml)."
)
@click.option("--strict", is_flag=True, help="Refuse the job if anything would be left out.")
@click.option("--force", is_flag=True, help="Replace workflow files that exist.")
@click.pass_context
def import_databricks(
    ctx: click.Context,
    file: str,
    job: str | None,
    variables: tuple[str, ...],
    webhooks: tuple[str, ...],
    output: str | None,
    strict: bool,
    force: bool,
) -> None:
    """Write workflow files for the jobs of a Databricks bundle (YAML) or Jobs API (JSON) FILE."""
    result = api.import_databricks(
        _project(ctx),
        file,
        job=job,
        variables=_pairs(variables, "--var"),
        webhooks=_pairs(webhooks, "--webhook"),
        output=output,
        strict=strict,
        force=force,
    )
    for line in result["reports"]:
        click.echo(line, err=True)
    for entry in result["written"]:
        click.echo(f"wrote {entry['file']} (workflow {entry['workflow']}, job {entry['job']})")
    for line in result["problems"]:
        click.echo(line, err=True)
    if result["problems"]:
        click.echo("nbflow validate finds the problems above: fix them before running", err=True)


@main.group("export")
def export_group() -> None:
    """Write workflows as job definitions of other tools."""


@export_group.command("databricks")
@click.argument("workflow")
@click.option(
    "-o", "--output", metavar="FILE", help="Write the bundle resource here (default: print it)."
)
@click.option("--strict", is_flag=True, help="Refuse the workflow if anything cannot be exported.")
@click.pass_context
def export_databricks(ctx: click.Context, workflow: str, output: str | None, strict: bool) -> None:
    """Write WORKFLOW as a Databricks bundle job resource (YAML)."""
    result = api.export_databricks(_project(ctx), workflow, output=output, strict=strict)
    for line in result["reports"]:
        click.echo(line, err=True)
    if result["file"]:
        click.echo(f"wrote {result['file']}")
    else:
        click.echo(result["text"], nl=False)


if __name__ == "__main__":
    main()
