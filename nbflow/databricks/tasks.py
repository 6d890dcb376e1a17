"""Databricks tasks as nbflow tasks: what every task has, and each kind mapped or kept disabled.

Notebook, Python file, wheel entry point, SQL file, condition, for_each and run-job tasks
become nbflow's notebook, script, command, sql, condition, `for_each` and workflow tasks.
A task nbflow cannot run (a pipeline, a JAR, a saved query, a job outside the file) stays in
the graph as a disabled placeholder, so its dependents keep their edges; if someone enables
it, it fails saying why. This module reads a task's key, dependencies, run_if, retries,
health and notifications, and picks its kind; `taskkinds.py` maps each kind's own fields and
`projectpaths.py` finds the files tasks name in the project.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..workflows.schema import KEY_PATTERN
from . import fields as F
from .jobfile import Job, JobFile
from .jobreport import JobReport, Path_
from .projectpaths import ProjectPaths
from .settings import health, notifications, seconds, text
from .taskkinds import TaskKinds, placeholder

WHOLE_REFERENCE = re.compile(r"^\s*\{\{[^{}]*\}\}\s*$")
RETRY_FOREVER = 100  # Databricks' max_retries -1; nbflow needs a number


class TaskImport(TaskKinds):
    """The tasks of one job, mapped; the files they name that are missing; the jobs they run."""

    def __init__(
        self,
        report: JobReport,
        jobfile: JobFile,
        job: Job,
        *,
        root: Path,
        known_workflows: set[str],
        webhooks: dict[str, str],
    ):
        self.report = report
        self.file = jobfile
        self.root = root
        self.known = known_workflows
        self.webhooks = webhooks
        self.paths = ProjectPaths(
            report, jobfile, root=root, git=isinstance(job.settings.get("git_source"), dict)
        )
        self.missing = self.paths.missing  # files tasks name that are not in the project
        self.children: list[str] = []

    def tasks(self, tasks: Any) -> tuple[list[dict[str, Any]], list[str]]:
        """The tasks as a workflow file lists them, and a comment for each saying whence."""
        if not isinstance(tasks, list) or not tasks:
            self.report.problem(("tasks",), "the job has no tasks")
            return [], []
        out = []
        comments = []
        for i, task in enumerate(tasks):
            rel: Path_ = ("tasks", i)
            if not isinstance(task, dict) or not isinstance(task.get("task_key"), str):
                self.report.problem(
                    rel, f"tasks[{i}] has no task_key: it is not a task and is left out"
                )
                continue
            if not re.match(KEY_PATTERN, task["task_key"]):
                self.report.problem(
                    rel + ("task_key",),
                    f"task_key {task['task_key']!r} may only hold letters, digits, '_' and '-' "
                    "here: the task is left out",
                )
                continue
            mapped, comment = self.task(task, rel)
            out.append(mapped)
            comments.append(comment)
        return out, comments

    def task(self, task: dict[str, Any], rel: Path_) -> tuple[dict[str, Any], str]:
        key = task["task_key"]
        kinds = [k for k in (*F.RUNNABLE_KINDS, *F.PLACEHOLDER_KINDS) if k in task]
        self.report.check_fields(task, rel, (*F.TASK_MAPPED, *kinds), F.TASK_IGNORED, "task")
        out: dict[str, Any] = {"key": key}
        if isinstance(task.get("description"), str) and task["description"]:
            out["description"] = task["description"]
        comment = [
            f"from tasks[{rel[1]}] {key} (line {self.report.line(rel)})"
            + (f": {kinds[0]}" if kinds else "")
        ]
        if len(kinds) != 1:
            why = "no kind of task" if not kinds else f"more than one kind ({', '.join(kinds)})"
            self.report.problem(rel, f"task {key!r} has {why}: kept as a disabled placeholder")
            out.update(placeholder(f"task {key} has {why}"))
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
                self.report.problem(
                    rel + ("run_if",),
                    f"run_if {run_if!r} is not one of {', '.join(F.RUN_IF)}: left out",
                )
        if kinds and kinds[0] != "condition_task":
            out.update(self.retries(task, rel))
        elif kinds:
            for k in ("max_retries", "min_retry_interval_millis", "retry_on_timeout"):
                if k in task:
                    self.report.ignore(rel + (k,), "a condition task is never retried")
        health(self.report, task.get("health"), rel + ("health",), job_level=False)
        notes, where = notifications(self.report, task, rel, self.webhooks)
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
                self.report.note(
                    rel + ("max_retries",),
                    f"max_retries -1 (retry forever) is written as retries: {RETRY_FOREVER}",
                )
            elif isinstance(retries, int) and not isinstance(retries, bool) and retries >= 0:
                if retries:
                    out["retries"] = retries
            else:
                self.report.problem(
                    rel + ("max_retries",),
                    f"max_retries {retries!r} is not a whole number: left out",
                )
        delay = seconds(
            self.report,
            task.get("min_retry_interval_millis"),
            rel + ("min_retry_interval_millis",),
            millis=True,
        )
        if delay:
            out["retry_delay"] = delay
        if task.get("retry_on_timeout") is True:
            out["retry_on_timeout"] = True
        timeout = seconds(self.report, task.get("timeout_seconds"), rel + ("timeout_seconds",))
        if timeout:
            out["timeout"] = timeout
        return out

    def depends_on(self, deps: Any, rel: Path_) -> list[Any]:
        if not isinstance(deps, list):
            self.report.problem(rel, "depends_on must be a list of {task_key}: left out")
            return []
        out: list[Any] = []
        for i, dep in enumerate(deps):
            key = dep.get("task_key") if isinstance(dep, dict) else None
            if not isinstance(key, str):
                self.report.problem(rel + (i,), "a dependency needs a task_key: left out")
                continue
            outcome = dep.get("outcome")
            if outcome is None:
                out.append(key)
            elif text(outcome).lower() in ("true", "false"):
                out.append({"task": key, "outcome": text(outcome).lower() == "true"})
            else:
                self.report.problem(
                    rel + (i, "outcome"),
                    f'outcome {outcome!r} is not "true" or "false": the edge is kept without it',
                )
                out.append(key)
        return out

    def kind(
        self, kind: str, task: dict[str, Any], rel: Path_, comment: list[str]
    ) -> dict[str, Any]:
        """The task's kind, by the method named as its field (`taskkinds.py`, or below)."""
        body = task[kind]
        at = rel + (kind,)
        if kind in F.PLACEHOLDER_KINDS:
            what = F.PLACEHOLDER_KINDS[kind]
            self.report.ignore(
                at, f"{what} has no local meaning: the task is kept as a disabled placeholder"
            )
            comment.append(f"disabled: {kind} ({what}) cannot run here")
            return placeholder(f"{kind} ({what})")
        if not isinstance(body, dict):
            self.report.problem(
                at, f"{kind} must be a mapping: the task is kept as a disabled placeholder"
            )
            return placeholder(f"{kind} is not a mapping")
        self.report.check_fields(
            body,
            at,
            [k for k, v in F.KIND_FIELDS[kind].items() if v is None],
            F.KIND_FIELDS[kind],
            kind,
        )
        built: dict[str, Any] = getattr(self, kind)(body, at, comment)
        return built

    def for_each_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        inner = body.get("task")
        if not isinstance(inner, dict):
            self.report.problem(
                at + ("task",), "for_each_task needs a task: kept as a disabled placeholder"
            )
            return placeholder("for_each_task without a task")
        inner_at = at + ("task",)
        kinds = [k for k in (*F.RUNNABLE_KINDS, *F.PLACEHOLDER_KINDS) if k in inner]
        ignored = dict(F.TASK_IGNORED)
        ignored["depends_on"] = "the iterations' task has no dependencies of its own"
        ignored["run_if"] = "the iterations' task has no run_if of its own"
        self.report.check_fields(inner, inner_at, (*F.TASK_MAPPED, *kinds), ignored, "task")
        comment.append(f"each iteration runs the task {inner.get('task_key')!r} of for_each_task")
        if len(kinds) != 1 or kinds[0] == "for_each_task":
            self.report.problem(
                inner_at,
                "the for_each task needs exactly one kind of task: kept as a disabled placeholder",
            )
            return placeholder("for_each_task without one kind of task")
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
            self.report.problem(
                at + ("inputs",),
                f"for_each_task.inputs {inputs!r} is neither a JSON list nor a "
                f"{{{{reference}}}}: the task is kept disabled with no inputs; fix "
                "for_each.inputs and remove `disabled`",
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
                self.report.problem(
                    at + ("concurrency",),
                    f"concurrency {concurrency!r} is not a whole number of at least 1: left out",
                )
        out["for_each"] = each
        return out
