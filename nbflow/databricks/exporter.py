"""nbflow workflows as Databricks bundle job resources, listing what has no Databricks form.

`export_workflow` writes the job the way `importer.py` reads it back, so that import then
export keeps every field both sides know: tasks and their kinds, dependencies with outcomes,
`run_if`, parameters, retries and timeouts, `for_each`, child workflows (`run_job_task`), the
schedule (as Quartz), file arrival, continuous runs, run limits, the duration warning and
email notifications. References are written in Databricks' spellings (`{{params.x}}` becomes
`{{job.parameters.x}}`). What Databricks cannot hold is reported, one `not exported:` line per
setting at its line in the workflow file: kernels, working directories, environments, webhook
URLs (Databricks names notification destinations by id), SQL connections and inline SQL,
command tasks, and the disabled placeholders an import left for tasks that cannot run here.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ..core import references
from ..core.cronexpr import to_quartz
from ..core.errors import Problem
from ..workflows import yamlload
from ..workflows.model import Task, Workflow
from . import fields as F
from .jobfile import job_key

WHEEL_ENTRY = "nbflow.databricks.wheel_entry"
PLACEHOLDER = re.compile(r"^raise SystemExit\('not runnable here: ")
OPERATORS = {v: k for k, v in F.OPERATORS.items()}
EVENTS = {v: k for k, v in F.EVENTS.items()}
# nbflow's reference spellings and Databricks' (the reverse of references.ALIASES).
SPELLINGS = {
    "params": "job.parameters",
    "run.id": "job.run_id",
    "run.workflow": "job.name",
    "run.start_time": "job.start_time",
    "run.trigger": "job.trigger",
    "run.repair_count": "job.repair_count",
    "task.key": "task.name",
    "task.attempt": "task.execution_count",
}
WAREHOUSE = "${var.warehouse_id}"


def databricks_references(value: Any) -> Any:
    """`value` with every `{{reference}}` in its Databricks spelling."""
    if isinstance(value, dict):
        return {k: databricks_references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [databricks_references(v) for v in value]
    if not isinstance(value, str):
        return value

    def spell(match: re.Match[str]) -> str:
        expr = references.canonical(match.group(1))
        for ours, theirs in SPELLINGS.items():
            if expr == ours or expr.startswith(ours + "."):
                expr = theirs + expr[len(ours) :]
                break
        return "{{" + expr + "}}"

    return references.REFERENCE.sub(spell, value)


def text(value: Any) -> str:
    """A value as Databricks holds parameters: text (JSON for lists and mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


class _Export:
    def __init__(self, workflow: Workflow, shown: str, base: Path):
        self.wf = workflow
        self.shown = shown
        self.base = base  # the folder the bundle file is written to
        self.reports: list[Problem] = []
        self.doc = yamlload.load(workflow.path.read_text(encoding="utf-8"))
        self.uses_warehouse = False

    def skip(self, line: int | None, message: str) -> None:
        self.reports.append(Problem(self.shown, line, f"not exported: {message}"))

    def line(self, *path: Any) -> int | None:
        return self.doc.line_of(path)

    def path(self, written: str) -> str:
        target = (self.wf.root / written).resolve()
        return PurePosixPath(Path(os.path.relpath(target, self.base.resolve()))).as_posix()

    # ---- the job -----------------------------------------------------------------------

    def job(self) -> dict[str, Any]:
        settings = self.wf.settings
        assert settings is not None
        job: dict[str, Any] = {"name": self.wf.name}
        if self.wf.description:
            job["description"] = self.wf.description
        if self.wf.parameters:
            job["parameters"] = [
                {"name": k, "default": text(databricks_references(v))}
                for k, v in self.wf.parameters.items()
            ]
        paused = "PAUSED" if settings.paused else None
        if settings.schedule is not None:
            try:
                quartz = to_quartz(settings.schedule.cron)
            except ValueError as exc:
                self.skip(self.line("schedule", "cron"), f"schedule: {exc}")
            else:
                job["schedule"] = {
                    "quartz_cron_expression": quartz,
                    "timezone_id": settings.schedule.timezone,
                    "pause_status": "PAUSED" if settings.schedule.paused or paused else "UNPAUSED",
                }
        if settings.file_arrival is not None:
            arrival = settings.file_arrival
            trigger: dict[str, Any] = {"url": arrival.path}
            if arrival.min_interval:
                trigger["min_time_between_triggers_seconds"] = int(round(arrival.min_interval))
            if arrival.wait_after_last_change:
                trigger["wait_after_last_change_seconds"] = int(
                    round(arrival.wait_after_last_change)
                )
            if arrival.pattern != "*":
                self.skip(
                    self.line("file_arrival", "pattern"),
                    f"file_arrival.pattern {arrival.pattern!r} (Databricks watches every file at "
                    "the URL)",
                )
            self.skip(
                self.line("file_arrival", "path"),
                f"file_arrival.path {arrival.path!r} is a local folder: the job's trigger URL "
                "is that path until you write your storage URL there",
            )
            job["trigger"] = {"pause_status": paused or "UNPAUSED", "file_arrival": trigger}
        if settings.continuous not in (None, False):
            job["continuous"] = {"pause_status": paused or "UNPAUSED"}
        if settings.max_concurrent_runs != 1:
            job["max_concurrent_runs"] = settings.max_concurrent_runs
        job["queue"] = {"enabled": settings.queue}
        if settings.timeout:
            job["timeout_seconds"] = int(round(settings.timeout))
        if settings.duration_warning:
            job["health"] = {
                "rules": [
                    {
                        "metric": "RUN_DURATION_SECONDS",
                        "op": "GREATER_THAN",
                        "value": int(round(settings.duration_warning)),
                    }
                ]
            }
        job.update(self.notifications(settings.notifications, ("notifications",)))
        exported = {t.key for t in self.wf.tasks if self.exportable(t)}
        job["tasks"] = [self.task(t, exported) for t in self.wf.tasks if t.key in exported]
        return job

    def notifications(self, notifications: Any, where: tuple[Any, ...]) -> dict[str, Any]:
        if notifications is None:
            return {}
        emails: dict[str, list[str]] = {}
        for event in ("on_start", "on_success", "on_failure", "on_duration_warning"):
            for i, dest in enumerate(getattr(notifications, event)):
                if hasattr(dest, "email"):
                    emails.setdefault(EVENTS[event], []).append(dest.email)
                else:
                    self.skip(
                        self.line(*where, event, i),
                        f"webhook {dest.webhook} (Databricks names notification destinations "
                        "by id: add it to webhook_notifications by hand)",
                    )
        return {"email_notifications": emails} if emails else {}

    # ---- tasks -------------------------------------------------------------------------

    def exportable(self, task: Task) -> bool:
        target = task.target
        if task.kind == "command":
            argv = target if isinstance(target, list) else [target]
            if len(argv) >= 5 and argv[1:3] == ["-m", WHEEL_ENTRY]:
                return True
            if task.disabled and len(argv) == 3 and PLACEHOLDER.match(str(argv[2])):
                self.skip(
                    task.line, f"task {task.key!r}: a placeholder for a task that cannot run here"
                )
            else:
                self.skip(task.line, f"task {task.key!r}: a command task has no Databricks form")
            return False
        if task.kind == "sql" and target.query is not None:
            self.skip(
                task.line,
                f"task {task.key!r}: inline SQL (Databricks runs a saved query or a file)",
            )
            return False
        return True

    def task(self, task: Task, exported: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"task_key": task.key}
        if task.description:
            out["description"] = task.description
        deps = []
        for edge in task.depends_on:
            if edge.task not in exported:
                self.skip(
                    task.line,
                    f"task {task.key!r}: its dependency on {edge.task!r}, which is not exported",
                )
                continue
            dep: dict[str, Any] = {"task_key": edge.task}
            if edge.outcome is not None:
                dep["outcome"] = "true" if edge.outcome else "false"
            deps.append(dep)
        if deps:
            out["depends_on"] = deps
        if task.run_if != "all_success":
            out["run_if"] = task.run_if.upper()
        body = self.kind(task)
        if task.for_each is not None:
            inputs = task.for_each.inputs
            inner: dict[str, Any] = {"task_key": f"{task.key}_iteration", **body}
            inner.update(self.retries(task))
            out["for_each_task"] = {
                "inputs": databricks_references(inputs)
                if isinstance(inputs, str)
                else json.dumps(inputs),
                "concurrency": task.for_each.concurrency,
                "task": inner,
            }
        else:
            out.update(body)
            if task.kind != "condition":
                out.update(self.retries(task))
        out.update(
            self.notifications(task.notifications, ("tasks", self.index(task), "notifications"))
        )
        if task.disabled:
            out["disabled"] = True
        for name, value, default in (
            ("kernel", task.kernel, None),
            ("cwd", task.cwd, None),
            ("env", task.env, {}),
            ("python", task.python, None),
            ("retry_backoff", task.retry_backoff, 1.0),
        ):
            if value != default:
                self.skip(
                    self.line("tasks", self.index(task), name) or task.line,
                    f"task {task.key!r}: {name} (no Databricks task setting)",
                )
        return out

    def index(self, task: Task) -> int:
        return next(i for i, t in enumerate(self.wf.tasks) if t.key == task.key)

    def retries(self, task: Task) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if task.retries:
            out["max_retries"] = task.retries
        if task.retry_delay:
            out["min_retry_interval_millis"] = int(round(task.retry_delay * 1000))
        if task.retry_on_timeout:
            out["retry_on_timeout"] = True
        if task.timeout:
            out["timeout_seconds"] = int(round(task.timeout))
        return out

    def kind(self, task: Task) -> dict[str, Any]:
        target = task.target
        params = {k: text(databricks_references(v)) for k, v in task.parameters.items()}
        if task.kind == "notebook":
            body: dict[str, Any] = {"notebook_path": self.path(target)}
            if params:
                body["base_parameters"] = params
            return {"notebook_task": body}
        if task.kind == "script":
            body = {"python_file": self.path(target)}
            if task.args:
                body["parameters"] = [text(databricks_references(a)) for a in task.args]
            return {"spark_python_task": body}
        if task.kind == "command":
            argv = [str(a) for a in (target if isinstance(target, list) else [target])]
            body = {"package_name": argv[3], "entry_point": argv[4]}
            rest = [*argv[5:], *(text(a) for a in task.args)]
            if rest:
                body["parameters"] = databricks_references(rest)
            return {"python_wheel_task": body}
        if task.kind == "sql":
            self.uses_warehouse = True
            body = {"warehouse_id": WAREHOUSE, "file": {"path": self.path(target.file)}}
            if target.parameters:
                body["parameters"] = {
                    k: text(databricks_references(v)) for k, v in target.parameters.items()
                }
            if target.connection:
                self.skip(
                    self.line("tasks", self.index(task), "sql", "connection") or task.line,
                    f"task {task.key!r}: sql.connection (Databricks runs SQL on the warehouse "
                    "in var.warehouse_id)",
                )
            return {"sql_task": body}
        if task.kind == "condition":
            return {
                "condition_task": {
                    "op": OPERATORS[target.op],
                    "left": text(databricks_references(target.left)),
                    "right": text(databricks_references(target.right)),
                }
            }
        body = {"job_id": f"${{resources.jobs.{job_key(str(target))}.id}}"}
        if params:
            body["job_parameters"] = params
        return {"run_job_task": body}


def _plain_safe(value: str) -> bool:
    read = yamlload.resolve_plain(value)
    return isinstance(read, str) and read == value


def _node(value: Any) -> Any:
    """Block style for mappings and lists of mappings, flow style for lists of scalars."""
    if isinstance(value, dict):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = _node(v)
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_node(v) for v in value)
        if all(not isinstance(v, (dict, list)) for v in value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and not _plain_safe(value):
        return DoubleQuotedScalarString(value)
    return value


def export_workflow(
    workflow: Workflow, *, shown: str, base: Path, in_file: bool = True
) -> tuple[str, list[Problem]]:
    """The bundle text for `workflow` (paths relative to `base`) and what was not exported.

    `in_file`: the text is written to a file in `base` (else it is printed, `base` the root).
    """
    state = _Export(workflow, shown, base)
    job = state.job()
    bundle: dict[str, Any] = {}
    if state.uses_warehouse:
        bundle["variables"] = {
            "warehouse_id": {"description": "The SQL warehouse the job's SQL tasks run on"}
        }
    bundle["resources"] = {"jobs": {job_key(workflow.name): job}}
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump(_node(bundle), out)
    relative_to = "this file" if in_file else "the project root (as for a databricks.yml there)"
    header = (
        f"# Exported by `nbflow export databricks` from {shown}: a bundle job resource.\n"
        f"# Paths are relative to {relative_to}; include it from databricks.yml.\n"
    )
    return header + out.getvalue(), state.reports
