"""Databricks jobs as nbflow workflows: each field mapped, or listed at its line saying why not.

`import_jobs` turns the jobs of a `jobfile.JobFile` into workflow contents (plain data, in
the order they are written) with a comment saying where each part came from. Everything
that is not carried over is reported as a `Problem` at its line, in one of three kinds:

- `ignored:` what has no local meaning (clusters, libraries, permissions, a pipeline task...);
- `problem:` what Databricks itself would refuse or fail on (a task without a key, `for_each`
  inputs that are not a list, `continuous` with a trigger);
- `note:` what was translated and may surprise (a periodic trigger became a cron schedule, a
  workspace path was found in the project, a file-arrival URL became a local folder).

A task nbflow cannot run (a pipeline, a JAR, a job outside the file) stays in the graph as a
disabled placeholder, so its dependents keep their edges. Nothing here reads the project
beyond looking for the files tasks name.
"""

from __future__ import annotations

import json
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..cronexpr import check_cron
from ..durations import format_duration
from ..errors import Problem
from ..schema import KEY_PATTERN, PARAM_PATTERN
from . import fields as F
from .jobfile import Job, JobFile

Path_ = tuple[Any, ...]

CLOUD_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")
JOB_REFERENCE = re.compile(r"^\$\{resources\.jobs\.([^.}]+)\.id\}$")
WHOLE_REFERENCE = re.compile(r"^\s*\{\{[^{}]*\}\}\s*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
RETRY_FOREVER = 100  # Databricks' max_retries -1; nbflow needs a number
PLACEHOLDER_COMMAND = "python"


@dataclass
class Imported:
    """One job as a workflow: its contents, comments and everything reported about it."""

    name: str
    job: Job
    content: dict[str, Any]
    comments: dict[Path_, str]
    reports: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # files tasks name that are not there
    children: list[str] = field(default_factory=list)  # jobs of the file this job runs


def text(value: Any) -> str:
    """A value as Databricks passes parameters: always a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def periodic_cron(interval: int, unit: str) -> tuple[str, bool]:
    """(5-field cron, exact) for Databricks' `trigger.periodic`."""
    steps = {
        "MINUTES": (60, "{s} * * * *"),
        "HOURS": (24, "0 {s} * * *"),
        "DAYS": (None, "0 0 {s} * *"),
    }
    if unit == "WEEKS":
        return "0 0 * * 1", interval == 1
    limit, form = steps[unit]
    step = "*" if interval == 1 else f"*/{interval}"
    exact = interval == 1 or (limit is not None and limit % interval == 0)
    return form.format(s=step), exact


class _JobImport:
    def __init__(
        self,
        jobfile: JobFile,
        job: Job,
        *,
        root: Path,
        name: str,
        known_workflows: set[str],
        webhooks: dict[str, str],
    ):
        self.file = jobfile
        self.job = job
        self.root = root
        self.name = name
        self.known = known_workflows
        self.webhooks = webhooks
        self.reports: list[Problem] = []
        self.ignored_paths: list[Path_] = []
        self.missing: list[str] = []
        self.children: list[str] = []
        self.comments: dict[Path_, str] = {}
        self.git = isinstance(job.settings.get("git_source"), dict)
        self.task_names: dict[int, str] = {}

    # ---- reporting -------------------------------------------------------------------------

    def where(self, rel: Path_) -> str:
        """A readable name for a place in the job, such as `tasks[ingest].max_retries`."""
        parts: list[str] = []
        for i, part in enumerate(rel):
            if isinstance(part, int):
                label = self.task_names.get(part) if i == 1 and rel[0] == "tasks" else None
                if parts:
                    parts[-1] += f"[{label or part}]"
                else:
                    parts.append(f"[{part}]")
            else:
                parts.append(str(part))
        return ".".join(parts) or f"job {self.job.key}"

    def _line(self, rel: Path_) -> tuple[int | None, str]:
        full = self.job.where + rel
        doc = self.file.doc
        probe = full
        while probe:
            if probe in doc.merged:
                own = doc.line_of(full)
                return doc.merged[probe], f" (merged from line {own})" if own else ""
            if probe in doc.lines:
                break
            probe = probe[:-1]
        return doc.line_of(full), ""

    def report(self, kind: str, rel: Path_, message: str) -> None:
        line, merged = self._line(rel)
        self.reports.append(Problem(self.file.shown, line, f"{kind}: {message}{merged}"))

    def ignore(self, rel: Path_, reason: str) -> None:
        self.ignored_paths.append(rel)
        self.report("ignored", rel, f"{self.where(rel)} ({reason})")

    def note(self, rel: Path_, message: str) -> None:
        self.report("note", rel, message)

    def problem(self, rel: Path_, message: str) -> None:
        self.report("problem", rel, message)

    def line(self, rel: Path_) -> int | None:
        return self._line(rel)[0]

    def check_fields(
        self, value: dict[str, Any], rel: Path_, mapped: Any, ignored: dict[str, Any], what: str
    ) -> None:
        for key in value:
            if key in mapped:
                continue
            if key in ignored:
                if ignored[key] is not None:
                    self.ignore(rel + (key,), ignored[key])
            else:
                self.ignore(rel + (key,), f"not a Databricks {what} field")

    # ---- files -----------------------------------------------------------------------------

    def resolve(
        self, written: str, source: Any, rel: Path_, what: str, suffixes: tuple[str, ...]
    ) -> str:
        """A path a task names, as the workflow writes it (relative to the project root)."""
        bundle_relative = self.file.kind == "bundle" and not written.startswith("/")
        git = source == "GIT" or (source is None and self.git and not written.startswith("/"))
        candidates: list[Path] = []
        if written.startswith("/"):
            parts = PurePosixPath(written).parts[1:]
            if parts[:1] == ("Workspace",):
                parts = parts[1:]
            candidates = [self.root.joinpath(*parts[i:]) for i in range(len(parts))]
        elif bundle_relative and not git:
            candidates = [self.file.path.parent / written]
        else:
            candidates = [self.root / written]
        for candidate in candidates:
            for suffix in ("", *suffixes):
                path = candidate.with_name(candidate.name + suffix) if suffix else candidate
                if path.is_file():
                    shown = self.relative(path)
                    if written.startswith("/"):
                        self.note(rel, f"{what} {written} is {shown} in the project")
                    return shown
        first = candidates[0] if candidates else self.root / written
        if not first.suffix and suffixes:
            first = first.with_name(first.name + suffixes[0])
        shown = self.relative(first)
        looked = "under the project" if written.startswith("/") else f"at {shown}"
        self.note(
            rel,
            f"{what} {written!r} is not in the project (looked {looked}): add it, or fix the path in the workflow file",
        )
        self.missing.append(shown)
        return shown

    def relative(self, path: Path) -> str:
        return PurePosixPath(Path(os.path.relpath(path.resolve(), self.root.resolve()))).as_posix()

    # ---- the job ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        s = self.job.settings
        for i, task in enumerate(s.get("tasks") or []):
            if isinstance(task, dict) and isinstance(task.get("task_key"), str):
                self.task_names[i] = task["task_key"]
        self.check_fields(s, (), F.JOB_MAPPED, F.JOB_IGNORED, "job")
        content: dict[str, Any] = {"name": self.name}
        if isinstance(s.get("description"), str) and s["description"]:
            content["description"] = s["description"]
            self.comments[("description",)] = (
                f"from description (line {self.line(('description',))})"
            )
        self.parameters(s, content)
        self.triggers(s, content)
        if "max_concurrent_runs" in s:
            value = s["max_concurrent_runs"]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                content["max_concurrent_runs"] = value
            else:
                self.problem(
                    ("max_concurrent_runs",),
                    f"max_concurrent_runs {value!r} is not a number of at least 1: left out",
                )
        queue = s.get("queue")
        if isinstance(queue, dict) and isinstance(queue.get("enabled"), bool):
            content["queue"] = queue["enabled"]
        elif queue is not None:
            self.problem(("queue",), "queue must be {enabled: true|false}: left out")
        timeout = self.seconds(s.get("timeout_seconds"), ("timeout_seconds",))
        if timeout:
            content["timeout"] = timeout
        warning = self.health(s.get("health"), ("health",), job_level=True)
        if warning:
            content["duration_warning"] = warning
        notifications, where = self.notifications(s, ())
        if notifications:
            content["notifications"] = notifications
            self.comments[("notifications",)] = where
        content["tasks"] = self.tasks(s.get("tasks"))
        for path, refs in self.file.unresolved.items():
            if path[: len(self.job.where)] != self.job.where:
                continue
            rel = path[len(self.job.where) :]
            if any(rel[: len(p)] == p for p in self.ignored_paths):
                continue
            unique = list(dict.fromkeys(refs))
            variables = [r for r in unique if r.startswith("${var.")]
            others = [r for r in unique if not r.startswith("${var.")]
            if variables:
                self.note(
                    rel,
                    f"{', '.join(variables)} has no value (no default): give --var NAME=VALUE; kept as written in {self.where(rel)}",
                )
            if others:
                verb = "is" if len(others) == 1 else "are"
                self.note(
                    rel,
                    f"{', '.join(others)} {verb} only known on Databricks: kept as written in {self.where(rel)}",
                )
        return content

    def parameters(self, s: dict[str, Any], content: dict[str, Any]) -> None:
        params = s.get("parameters")
        if params is None:
            return
        if not isinstance(params, list):
            self.problem(
                ("parameters",), "job parameters must be a list of {name, default}: left out"
            )
            return
        out: dict[str, Any] = {}
        for i, item in enumerate(params):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not re.match(PARAM_PATTERN, name):
                self.problem(
                    ("parameters", i),
                    f"job parameter {name!r} is not a name nbflow can use (letters, digits, '_'): left out",
                )
                continue
            out[name] = text(item.get("default"))
        if out:
            content["parameters"] = out
            self.comments[("parameters",)] = (
                f"from parameters (line {self.line(('parameters',))}); Databricks passes them as text"
            )

    def seconds(self, value: Any, rel: Path_, millis: bool = False) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.problem(
                rel,
                f"{self.where(rel)} {value!r} is not a number of {'milliseconds' if millis else 'seconds'}: left out",
            )
            return None
        if value == 0:
            return None  # Databricks: 0 means none
        return format_duration(value / 1000 if millis else value)

    def health(self, value: Any, rel: Path_, *, job_level: bool) -> str | None:
        if value is None:
            return None
        rules = value.get("rules") if isinstance(value, dict) else None
        if not isinstance(rules, list):
            self.problem(rel, "health must hold a list of rules: left out")
            return None
        warning = None
        for i, rule in enumerate(rules):
            at = rel + ("rules", i)
            if not isinstance(rule, dict) or rule.get("metric") != "RUN_DURATION_SECONDS":
                metric = rule.get("metric") if isinstance(rule, dict) else rule
                self.ignore(at, f"health metric {metric} has no local meaning")
            elif not job_level:
                self.ignore(at, "nbflow warns about a run's duration, not a task's")
            elif rule.get("op") != "GREATER_THAN":
                self.problem(at, f"health rule op {rule.get('op')!r} is not GREATER_THAN: left out")
            else:
                warning = self.seconds(rule.get("value"), at + ("value",))
                self.comments[("duration_warning",)] = (
                    f"from health.rules[{i}] (line {self.line(at)}): RUN_DURATION_SECONDS"
                )
        return warning

    def notifications(self, holder: dict[str, Any], rel: Path_) -> tuple[dict[str, Any], str]:
        """Email and webhook notifications as nbflow's, and where they came from."""
        out: dict[str, list[dict[str, str]]] = {}
        emails = holder.get("email_notifications")
        if isinstance(emails, dict):
            for event, addresses in emails.items():
                at = rel + ("email_notifications", event)
                if event in F.EVENTS_IGNORED:
                    self.ignore(at, F.EVENTS_IGNORED[event])
                    continue
                if event not in F.EVENTS:
                    self.ignore(at, "not a Databricks notification event")
                    continue
                for j, address in enumerate(
                    addresses if isinstance(addresses, list) else [addresses]
                ):
                    if isinstance(address, str) and EMAIL.match(address):
                        out.setdefault(F.EVENTS[event], []).append({"email": address})
                    else:
                        self.problem(at + (j,), f"{address!r} is not an email address: left out")
        hooks = holder.get("webhook_notifications")
        if isinstance(hooks, dict):
            for event, destinations in hooks.items():
                at = rel + ("webhook_notifications", event)
                if event not in F.EVENTS:
                    self.ignore(
                        at, F.EVENTS_IGNORED.get(event, "not a Databricks notification event")
                    )
                    continue
                for j, dest in enumerate(
                    destinations if isinstance(destinations, list) else [destinations]
                ):
                    ident = dest.get("id") if isinstance(dest, dict) else dest
                    if isinstance(ident, str) and ident in self.webhooks:
                        out.setdefault(F.EVENTS[event], []).append(
                            {"webhook": self.webhooks[ident]}
                        )
                    else:
                        self.ignore(
                            at + (j,),
                            f"webhook destination {ident} lives in the workspace: give its URL with --webhook {ident}=URL",
                        )
        where = "from " + " and ".join(
            f"{k} (line {self.line(rel + (k,))})"
            for k in ("email_notifications", "webhook_notifications")
            if k in holder
        )
        return out, where

    def triggers(self, s: dict[str, Any], content: dict[str, Any]) -> None:
        schedule = s.get("schedule")
        trigger = s.get("trigger")
        continuous = s.get("continuous")
        if continuous is not None:
            if schedule is not None or trigger is not None:
                other = "schedule" if schedule is not None else "trigger"
                self.problem(
                    ("continuous",),
                    f"continuous and {other} (line {self.line((other,))}) are both set and Databricks "
                    f"accepts only one: nbflow keeps continuous and leaves {other} out",
                )
                self.ignored_paths.append((other,))
                schedule = trigger = None
            content["continuous"] = True
            paused = isinstance(continuous, dict) and continuous.get("pause_status") == "PAUSED"
            if paused:
                content["paused"] = True
            if isinstance(continuous, dict) and "task_retry_mode" in continuous:
                self.ignore(
                    ("continuous", "task_retry_mode"), "task retries follow each task's retries"
                )
            self.comments[("continuous",)] = f"from continuous (line {self.line(('continuous',))})"
        if schedule is not None:
            self.schedule(schedule, content)
        if trigger is not None:
            self.trigger(trigger, content)

    def schedule(self, schedule: Any, content: dict[str, Any]) -> None:
        rel: Path_ = ("schedule",)
        if not isinstance(schedule, dict) or not isinstance(
            schedule.get("quartz_cron_expression"), str
        ):
            self.problem(rel, "schedule needs a quartz_cron_expression: left out")
            return
        cron = schedule["quartz_cron_expression"].strip()
        try:
            check_cron(cron)
        except ValueError as exc:
            self.problem(rel + ("quartz_cron_expression",), f"{exc}: the schedule is left out")
            return
        out: dict[str, Any] = {"cron": cron}
        tz = schedule.get("timezone_id")
        if tz is not None:
            if self.timezone(tz, rel + ("timezone_id",)):
                out["timezone"] = tz
            else:
                return
        if schedule.get("pause_status") == "PAUSED":
            out["paused"] = True
        self.check_fields(
            schedule, rel, ("quartz_cron_expression", "timezone_id", "pause_status"), {}, "schedule"
        )
        content["schedule"] = out
        self.comments[("schedule",)] = (
            f"from schedule (line {self.line(rel)}): quartz_cron_expression, timezone_id"
        )

    def timezone(self, tz: Any, rel: Path_) -> bool:
        try:
            zoneinfo.ZoneInfo(str(tz))
            return True
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.problem(
                rel, f"time zone {tz!r} is not an IANA time zone: the schedule is left out"
            )
            return False

    def trigger(self, trigger: Any, content: dict[str, Any]) -> None:
        rel: Path_ = ("trigger",)
        if not isinstance(trigger, dict):
            self.problem(rel, "trigger must be a mapping: left out")
            return
        paused = trigger.get("pause_status") == "PAUSED"
        arrival = trigger.get("file_arrival")
        periodic = trigger.get("periodic")
        for kind in ("table", "table_update", "model", "sql_condition"):
            if kind in trigger:
                self.ignore(
                    rel + (kind,), f"{kind} triggers watch workspace tables: no local meaning"
                )
        if isinstance(arrival, dict) and isinstance(arrival.get("url"), str):
            url = arrival["url"]
            # A storage URL or a volume path becomes a folder under data/; a relative path
            # (what `nbflow export databricks` writes) is already a folder of the project.
            remote = bool(CLOUD_URI.match(url)) or url.startswith("/")
            local = (
                "data/" + re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*:/+", "", url).strip("/")
                if remote
                else url.rstrip("/")
            )
            out: dict[str, Any] = {"path": local}
            for key, name in (
                ("min_time_between_triggers_seconds", "min_interval"),
                ("wait_after_last_change_seconds", "wait_after_last_change"),
            ):
                value = self.seconds(arrival.get(key), rel + ("file_arrival", key))
                if value:
                    out[name] = value
            content["file_arrival"] = out
            if paused:
                content["paused"] = True
            if remote:
                self.note(
                    rel + ("file_arrival", "url"),
                    f"file arrivals at {url} are watched locally in {local}/: change file_arrival.path to the folder you use",
                )
            self.comments[("file_arrival",)] = (
                f"from trigger.file_arrival (line {self.line(rel + ('file_arrival',))}): {url}"
            )
        elif isinstance(periodic, dict):
            interval, unit = periodic.get("interval"), periodic.get("unit")
            if (
                not isinstance(interval, int)
                or isinstance(interval, bool)
                or interval < 1
                or unit not in ("MINUTES", "HOURS", "DAYS", "WEEKS")
            ):
                self.problem(
                    rel + ("periodic",),
                    "periodic needs a whole interval of at least 1 and a unit (MINUTES, HOURS, DAYS, WEEKS): left out",
                )
                return
            if "schedule" in content:
                self.problem(
                    rel, "a job has a schedule or a trigger, not both: the trigger is left out"
                )
                return
            cron, exact = periodic_cron(interval, unit)
            content["schedule"] = {
                "cron": cron,
                "timezone": "UTC",
                **({"paused": True} if paused else {}),
            }
            how = (
                ""
                if exact
                else " (approximately: the interval does not divide the next larger unit)"
            )
            self.note(
                rel + ("periodic",),
                f"periodic interval {interval} {unit} became the cron schedule {cron!r} in UTC{how}; Databricks counts the interval from the last run, nbflow fires on the clock",
            )
            self.comments[("schedule",)] = (
                f"from trigger.periodic (line {self.line(rel + ('periodic',))}): every {interval} {unit}"
            )
        elif not any(k in trigger for k in ("table", "table_update", "model", "sql_condition")):
            self.ignore(
                rel, "it names no kind of trigger (file_arrival, periodic): nothing to trigger"
            )

    # ---- tasks -----------------------------------------------------------------------------

    def tasks(self, tasks: Any) -> list[dict[str, Any]]:
        if not isinstance(tasks, list) or not tasks:
            self.problem(("tasks",), "the job has no tasks")
            return []
        out = []
        for i, task in enumerate(tasks):
            rel: Path_ = ("tasks", i)
            if not isinstance(task, dict) or not isinstance(task.get("task_key"), str):
                self.problem(rel, f"tasks[{i}] has no task_key: it is not a task and is left out")
                continue
            if not re.match(KEY_PATTERN, task["task_key"]):
                self.problem(
                    rel + ("task_key",),
                    f"task_key {task['task_key']!r} may only hold letters, digits, '_' and '-' here: the task is left out",
                )
                continue
            mapped, comment = self.task(task, rel)
            self.comments[("tasks", len(out))] = comment
            out.append(mapped)
        return out

    def task(self, task: dict[str, Any], rel: Path_) -> tuple[dict[str, Any], str]:
        key = task["task_key"]
        kinds = [k for k in (*F.RUNNABLE_KINDS, *F.PLACEHOLDER_KINDS) if k in task]
        self.check_fields(task, rel, (*F.TASK_MAPPED, *kinds), F.TASK_IGNORED, "task")
        out: dict[str, Any] = {"key": key}
        if isinstance(task.get("description"), str) and task["description"]:
            out["description"] = task["description"]
        comment = [
            f"from tasks[{rel[1]}] {key} (line {self.line(rel)})"
            + (f": {kinds[0]}" if kinds else "")
        ]
        if len(kinds) != 1:
            why = "no kind of task" if not kinds else f"more than one kind ({', '.join(kinds)})"
            self.problem(rel, f"task {key!r} has {why}: kept as a disabled placeholder")
            out.update(self.placeholder(f"task {key} has {why}"))
            comment.append(f"disabled: {why}")
        else:
            body = self.kind(kinds[0], task, rel, comment)
            out.update(body)
        if "depends_on" in task:
            deps = self.depends_on(task["depends_on"], rel + ("depends_on",))
            if deps:
                out["depends_on"] = deps
        run_if = task.get("run_if")
        if run_if is not None:
            if run_if in F.RUN_IF:
                if run_if != "ALL_SUCCESS":
                    out["run_if"] = run_if.lower()
            else:
                self.problem(
                    rel + ("run_if",),
                    f"run_if {run_if!r} is not one of {', '.join(F.RUN_IF)}: left out",
                )
        if kinds and kinds[0] != "condition_task":
            out.update(self.retries(task, rel))
        elif kinds:
            for k in ("max_retries", "min_retry_interval_millis", "retry_on_timeout"):
                if k in task:
                    self.ignore(rel + (k,), "a condition task is never retried")
        self.health(task.get("health"), rel + ("health",), job_level=False)
        notes, where = self.notifications(task, rel)
        if notes:
            out["notifications"] = notes
            comment.append(f"notifications {where}")
        if task.get("disabled") is True:
            out["disabled"] = True
        return out, "\n".join(comment)

    def retries(self, task: dict[str, Any], rel: Path_) -> dict[str, Any]:
        out: dict[str, Any] = {}
        retries = task.get("max_retries")
        if retries is not None:
            if retries == -1:
                out["retries"] = RETRY_FOREVER
                self.note(
                    rel + ("max_retries",),
                    f"max_retries -1 (retry forever) is written as retries: {RETRY_FOREVER}",
                )
            elif isinstance(retries, int) and not isinstance(retries, bool) and retries >= 0:
                if retries:
                    out["retries"] = retries
            else:
                self.problem(
                    rel + ("max_retries",),
                    f"max_retries {retries!r} is not a whole number: left out",
                )
        delay = self.seconds(
            task.get("min_retry_interval_millis"), rel + ("min_retry_interval_millis",), millis=True
        )
        if delay:
            out["retry_delay"] = delay
        if task.get("retry_on_timeout") is True:
            out["retry_on_timeout"] = True
        timeout = self.seconds(task.get("timeout_seconds"), rel + ("timeout_seconds",))
        if timeout:
            out["timeout"] = timeout
        return out

    def depends_on(self, deps: Any, rel: Path_) -> list[Any]:
        if not isinstance(deps, list):
            self.problem(rel, "depends_on must be a list of {task_key}: left out")
            return []
        out: list[Any] = []
        for i, dep in enumerate(deps):
            key = dep.get("task_key") if isinstance(dep, dict) else None
            if not isinstance(key, str):
                self.problem(rel + (i,), "a dependency needs a task_key: left out")
                continue
            outcome = dep.get("outcome")
            if outcome is None:
                out.append(key)
            elif text(outcome).lower() in ("true", "false"):
                out.append({"task": key, "outcome": text(outcome).lower() == "true"})
            else:
                self.problem(
                    rel + (i, "outcome"),
                    f'outcome {outcome!r} is not "true" or "false": the edge is kept without it',
                )
                out.append(key)
        return out

    def placeholder(self, reason: str) -> dict[str, Any]:
        """A task kept in the graph but not run: fails saying why if someone enables it."""
        message = f"not runnable here: {reason}"
        return {
            "command": [PLACEHOLDER_COMMAND, "-c", f"raise SystemExit({message!r})"],
            "disabled": True,
        }

    def kind(
        self, kind: str, task: dict[str, Any], rel: Path_, comment: list[str]
    ) -> dict[str, Any]:
        body = task[kind]
        at = rel + (kind,)
        if kind in F.PLACEHOLDER_KINDS:
            what = F.PLACEHOLDER_KINDS[kind]
            self.ignore(
                at, f"{what} has no local meaning: the task is kept as a disabled placeholder"
            )
            comment.append(f"disabled: {kind} ({what}) cannot run here")
            return self.placeholder(f"{kind} ({what})")
        if not isinstance(body, dict):
            self.problem(
                at, f"{kind} must be a mapping: the task is kept as a disabled placeholder"
            )
            return self.placeholder(f"{kind} is not a mapping")
        self.check_fields(
            body,
            at,
            [k for k, v in F.KIND_FIELDS[kind].items() if v is None],
            F.KIND_FIELDS[kind],
            kind,
        )
        return getattr(self, kind)(body, at, comment)

    def notebook_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        path = body.get("notebook_path")
        if not isinstance(path, str) and isinstance(path, (bool, int, float)):
            path = text(path)
        if not isinstance(path, str) or not path:
            self.problem(
                at + ("notebook_path",),
                "notebook_task needs a notebook_path: kept as a disabled placeholder",
            )
            return self.placeholder("no notebook_path")
        out: dict[str, Any] = {
            "notebook": self.resolve(
                path, body.get("source"), at + ("notebook_path",), "notebook", (".ipynb", ".py")
            )
        }
        params = self.string_map(body.get("base_parameters"), at + ("base_parameters",))
        if params:
            out["parameters"] = params
        return out

    def string_map(self, value: Any, rel: Path_) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(rel, f"{self.where(rel)} must be a mapping of names to values: left out")
            return {}
        out = {}
        for name, v in value.items():
            if isinstance(name, str) and re.match(PARAM_PATTERN, name):
                out[name] = text(v)
            else:
                self.problem(
                    rel + (name,),
                    f"parameter {name!r} is not a name nbflow can pass (letters, digits, '_'): left out",
                )
        return out

    def string_list(self, value: Any, rel: Path_) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(rel, f"{self.where(rel)} must be a list: left out")
            return []
        return [text(v) for v in value]

    def spark_python_task(
        self, body: dict[str, Any], at: Path_, comment: list[str]
    ) -> dict[str, Any]:
        path = body.get("python_file")
        if not isinstance(path, str) or not path:
            self.problem(
                at + ("python_file",),
                "spark_python_task needs a python_file: kept as a disabled placeholder",
            )
            return self.placeholder("no python_file")
        if CLOUD_URI.match(path):
            self.ignore(
                at + ("python_file",),
                f"{path} is in cloud storage: the task is kept as a disabled placeholder",
            )
            return self.placeholder(f"{path} is in cloud storage")
        out: dict[str, Any] = {
            "script": self.resolve(
                path, body.get("source"), at + ("python_file",), "Python file", ()
            )
        }
        args = self.string_list(body.get("parameters"), at + ("parameters",))
        if args:
            out["args"] = args
        comment.append("runs with the project's Python (pyspark is not provided)")
        return out

    def python_wheel_task(
        self, body: dict[str, Any], at: Path_, comment: list[str]
    ) -> dict[str, Any]:
        package, entry = body.get("package_name"), body.get("entry_point")
        if not isinstance(package, str) or not isinstance(entry, str):
            self.problem(
                at,
                "python_wheel_task needs package_name and entry_point: kept as a disabled placeholder",
            )
            return self.placeholder("no package_name or entry_point")
        args = self.string_list(body.get("parameters"), at + ("parameters",))
        named = body.get("named_parameters")
        if isinstance(named, dict):
            args += [f"--{k}={text(v)}" for k, v in named.items()]
        elif isinstance(named, list):
            args += [text(v) for v in named]
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            distribution(package)
        except PackageNotFoundError:
            self.note(
                at + ("package_name",),
                f"package {package} is not installed here: the task finds it only if it is importable from the project folder (pip install the wheel or its project)",
            )
        comment.append(f"the entry point {entry} of package {package}, found as Databricks does")
        return {
            "command": [
                PLACEHOLDER_COMMAND,
                "-m",
                "nbflow.databricks.wheel_entry",
                package,
                entry,
                *args,
            ]
        }

    def sql_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        params = self.string_map(body.get("parameters"), at + ("parameters",))
        file = body.get("file")
        if isinstance(file, dict) and isinstance(file.get("path"), str):
            path = self.resolve(
                file["path"], file.get("source"), at + ("file", "path"), "SQL file", ()
            )
            sql: dict[str, Any] = {"file": path}
            if params:
                sql["parameters"] = params
            comment.append("runs on the project's SQL database unless you add a connection")
            return {"sql": sql}
        for kind, what in (
            ("query", "a saved query"),
            ("alert", "a SQL alert"),
            ("dashboard", "a SQL dashboard"),
        ):
            if kind in body:
                self.ignore(
                    at + (kind,),
                    f"{what} lives in the workspace: the task is kept as a disabled placeholder",
                )
                comment.append(f"disabled: sql_task.{kind} ({what}) cannot run here")
                return self.placeholder(f"sql_task.{kind} ({what})")
        self.problem(
            at, "sql_task needs a file, query, alert or dashboard: kept as a disabled placeholder"
        )
        return self.placeholder("sql_task without SQL")

    def condition_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        op = body.get("op")
        if op not in F.OPERATORS:
            self.problem(
                at + ("op",),
                f"op {op!r} is not one of {', '.join(F.OPERATORS)}: kept as a disabled placeholder",
            )
            return self.placeholder(f"unknown condition op {op!r}")
        return {
            "condition": {
                "left": text(body.get("left")),
                "op": F.OPERATORS[op],
                "right": text(body.get("right")),
            }
        }

    def for_each_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        inner = body.get("task")
        if not isinstance(inner, dict):
            self.problem(
                at + ("task",), "for_each_task needs a task: kept as a disabled placeholder"
            )
            return self.placeholder("for_each_task without a task")
        inner_at = at + ("task",)
        kinds = [k for k in (*F.RUNNABLE_KINDS, *F.PLACEHOLDER_KINDS) if k in inner]
        ignored = dict(F.TASK_IGNORED)
        ignored["depends_on"] = "the iterations' task has no dependencies of its own"
        ignored["run_if"] = "the iterations' task has no run_if of its own"
        self.check_fields(inner, inner_at, (*F.TASK_MAPPED, *kinds), ignored, "task")
        comment.append(f"each iteration runs the task {inner.get('task_key')!r} of for_each_task")
        if len(kinds) != 1 or kinds[0] == "for_each_task":
            self.problem(
                inner_at,
                "the for_each task needs exactly one kind of task: kept as a disabled placeholder",
            )
            return self.placeholder("for_each_task without one kind of task")
        out = self.kind(kinds[0], inner, inner_at, comment)
        out.update(self.retries(inner, inner_at))
        inputs = body.get("inputs")
        parsed: Any = inputs
        if isinstance(inputs, str) and not WHOLE_REFERENCE.match(inputs):
            try:
                parsed = json.loads(inputs)
            except ValueError:
                parsed = None
        if not (
            isinstance(parsed, list) or (isinstance(parsed, str) and WHOLE_REFERENCE.match(parsed))
        ):
            self.problem(
                at + ("inputs",),
                f"for_each_task.inputs {inputs!r} is neither a JSON list nor a {{{{reference}}}}: the task is kept disabled with no inputs; fix for_each.inputs and remove `disabled`",
            )
            parsed = []
            out["disabled"] = True
            comment.append(f"disabled: inputs {inputs!r} is not a JSON list")
        each: dict[str, Any] = {"inputs": parsed}
        concurrency = body.get("concurrency")
        if concurrency is not None:
            if (
                isinstance(concurrency, int)
                and not isinstance(concurrency, bool)
                and concurrency >= 1
            ):
                each["concurrency"] = concurrency
            else:
                self.problem(
                    at + ("concurrency",),
                    f"concurrency {concurrency!r} is not a whole number of at least 1: left out",
                )
        out["for_each"] = each
        return out

    def run_job_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        ident = body.get("job_id")
        target = None
        match = JOB_REFERENCE.match(ident) if isinstance(ident, str) else None
        keys = {j.key: j for j in self.file.jobs}
        if match:
            target = match.group(1)
        elif ident is not None:
            target = next(
                (
                    j.key
                    for j in self.file.jobs
                    if j.job_id is not None and str(j.job_id) == str(ident)
                ),
                None,
            )
        params = self.string_map(body.get("job_parameters"), at + ("job_parameters",))
        if target in keys:
            self.children.append(target)
            comment.append(f"job {target} of the same file runs as a child workflow")
        elif target is not None and target in self.known:
            self.note(at + ("job_id",), f"job {target} runs as the project's workflow {target}")
        else:
            shown = target or ident
            self.ignore(
                at + ("job_id",),
                f"job {shown} is not in this file nor a workflow of the project: the task is kept as a disabled placeholder (import that job, then make this task `workflow: NAME`)",
            )
            comment.append(f"disabled: job {shown} is not part of this project")
            return self.placeholder(f"job {shown} is not part of this project")
        out: dict[str, Any] = {"workflow": target}
        if params:
            out["parameters"] = params
        return out


def import_jobs(
    jobfile: JobFile,
    *,
    root: Path,
    select: str | None = None,
    name: str | None = None,
    known_workflows: set[str] | None = None,
    webhooks: dict[str, str] | None = None,
) -> list[Imported]:
    """The jobs of the file as workflows: `select` and the jobs it runs, or all of them.

    `name` names the selected job's workflow (default: the job's key); the others keep
    their keys, which `workflow:` tasks name.
    """
    wanted = [jobfile.job(select)] if select else list(jobfile.jobs)
    done: dict[str, Imported] = {}
    queue = list(wanted)
    bundle_reports = list(jobfile.ignored)
    while queue:
        job = queue.pop(0)
        if job.key in done:
            continue
        own = name if (name and job is wanted[0]) else job.key
        state = _JobImport(
            jobfile,
            job,
            root=root,
            name=own,
            known_workflows=set(known_workflows or ()) | {j.key for j in jobfile.jobs},
            webhooks=dict(webhooks or {}),
        )
        content = state.run()
        imported = Imported(
            own, job, content, state.comments, state.reports, state.missing, state.children
        )
        done[job.key] = imported
        queue.extend(j for j in jobfile.jobs if j.key in state.children and j.key not in done)
    result = list(done.values())
    if result:
        result[0].reports[:0] = bundle_reports
    for imported in result:
        imported.reports.sort(key=lambda p: p.line or 0)
    return result


def workflow_text(imported: Imported, shown: str, line: int | None) -> str:
    """The workflow file for an imported job, with a header and a comment on each part."""
    from ..authoring import new_workflow_text

    title = imported.job.settings.get("name")
    header = (
        f"# Imported by `nbflow import databricks` from {shown}, job {imported.job.key}"
        + (f" (line {line})" if line else "")
        + (f': "{title}"' if isinstance(title, str) and title != imported.name else "")
        + ".\n# Each comment says where a part came from; the import listed what it left out.\n"
    )
    return new_workflow_text(imported.content, header, imported.comments)
