"""Databricks tasks as nbflow tasks: each kind mapped, or kept as a disabled placeholder.

Notebook, Python file, wheel entry point, SQL file, condition, for_each and run-job tasks
become nbflow's notebook, script, command, sql, condition, `for_each` and workflow tasks.
A task nbflow cannot run (a pipeline, a JAR, a saved query, a job outside the file) stays in
the graph as a disabled placeholder, so its dependents keep their edges; if someone enables
it, it fails saying why. The files tasks name are looked for in the project: bundle paths
relative to the bundle file, Git paths from the project root, workspace paths by their
longest tail that exists in the project.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from ..workflows.schema import KEY_PATTERN
from . import fields as F
from .jobfile import Job, JobFile
from .jobreport import JobReport, Path_
from .settings import health, notifications, seconds, string_list, string_map, text
from .source_notebook import HEADER, is_source_file

CLOUD_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")
JOB_REFERENCE = re.compile(r"^\$\{resources\.jobs\.([^.}]+)\.id\}$")
WHOLE_REFERENCE = re.compile(r"^\s*\{\{[^{}]*\}\}\s*$")
RETRY_FOREVER = 100  # Databricks' max_retries -1; nbflow needs a number
PYTHON = "python"  # a command's `python` is the project's Python (runner.py)


class TaskImport:
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
        self.git = isinstance(job.settings.get("git_source"), dict)
        self.missing: list[str] = []
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

    def placeholder(self, reason: str) -> dict[str, Any]:
        """A task kept in the graph but not run: fails saying why if someone enables it."""
        message = f"not runnable here: {reason}"
        return {
            "command": [PYTHON, "-c", f"raise SystemExit({message!r})"],
            "disabled": True,
        }

    def kind(
        self, kind: str, task: dict[str, Any], rel: Path_, comment: list[str]
    ) -> dict[str, Any]:
        body = task[kind]
        at = rel + (kind,)
        if kind in F.PLACEHOLDER_KINDS:
            what = F.PLACEHOLDER_KINDS[kind]
            self.report.ignore(
                at, f"{what} has no local meaning: the task is kept as a disabled placeholder"
            )
            comment.append(f"disabled: {kind} ({what}) cannot run here")
            return self.placeholder(f"{kind} ({what})")
        if not isinstance(body, dict):
            self.report.problem(
                at, f"{kind} must be a mapping: the task is kept as a disabled placeholder"
            )
            return self.placeholder(f"{kind} is not a mapping")
        self.report.check_fields(
            body,
            at,
            [k for k, v in F.KIND_FIELDS[kind].items() if v is None],
            F.KIND_FIELDS[kind],
            kind,
        )
        built: dict[str, Any] = getattr(self, kind)(body, at, comment)
        return built

    def notebook_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        path = body.get("notebook_path")
        if not isinstance(path, str) and isinstance(path, (bool, int, float)):
            path = text(path)
        if not isinstance(path, str) or not path:
            self.report.problem(
                at + ("notebook_path",),
                "notebook_task needs a notebook_path: kept as a disabled placeholder",
            )
            return self.placeholder("no notebook_path")
        rel = at + ("notebook_path",)
        found = self.resolve(path, body.get("source"), rel, "notebook", (".ipynb", ".py"))
        params = string_map(self.report, body.get("base_parameters"), at + ("base_parameters",))
        out: dict[str, Any] = {"notebook": found}
        local = self.root / found
        if local.is_file() and local.suffix != ".ipynb" and not is_source_file(local):
            why = f"{found} is not a Python notebook"
            if local.suffix == ".py":  # Databricks refuses a plain file as a notebook too
                why = f"{found} is a Python file, not a notebook (no `{HEADER}` line)"
                self.report.problem(rel, f"{why}: the task is kept as a disabled placeholder")
            else:  # a SQL, Scala or R notebook: there is no such kernel here
                self.report.ignore(rel, f"{why}: the task is kept as a disabled placeholder")
            comment.append(f"disabled: {why}")
            return self.placeholder(why)
        if params:
            out["parameters"] = params
        return out

    def spark_python_task(
        self, body: dict[str, Any], at: Path_, comment: list[str]
    ) -> dict[str, Any]:
        path = body.get("python_file")
        if not isinstance(path, str) or not path:
            self.report.problem(
                at + ("python_file",),
                "spark_python_task needs a python_file: kept as a disabled placeholder",
            )
            return self.placeholder("no python_file")
        if CLOUD_URI.match(path):
            self.report.ignore(
                at + ("python_file",),
                f"{path} is in cloud storage: the task is kept as a disabled placeholder",
            )
            return self.placeholder(f"{path} is in cloud storage")
        out: dict[str, Any] = {
            "script": self.resolve(
                path, body.get("source"), at + ("python_file",), "Python file", ()
            )
        }
        args = string_list(self.report, body.get("parameters"), at + ("parameters",))
        if args:
            out["args"] = args
        comment.append("runs with the project's Python (pyspark is not provided)")
        return out

    def python_wheel_task(
        self, body: dict[str, Any], at: Path_, comment: list[str]
    ) -> dict[str, Any]:
        package, entry = body.get("package_name"), body.get("entry_point")
        if not isinstance(package, str) or not isinstance(entry, str):
            self.report.problem(
                at,
                "python_wheel_task needs package_name and entry_point: kept as a disabled "
                "placeholder",
            )
            return self.placeholder("no package_name or entry_point")
        args = string_list(self.report, body.get("parameters"), at + ("parameters",))
        named = body.get("named_parameters")
        if isinstance(named, dict):
            args += [f"--{k}={text(v)}" for k, v in named.items()]
        elif isinstance(named, list):
            args += [text(v) for v in named]
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            distribution(package)
        except PackageNotFoundError:
            self.report.note(
                at + ("package_name",),
                f"package {package} is not installed here: the task finds it only if it is "
                "importable from the project folder (pip install the wheel or its project)",
            )
        comment.append(f"the entry point {entry} of package {package}, found as Databricks does")
        return {
            "command": [
                PYTHON,
                "-m",
                "nbflow.databricks.wheel_entry",
                package,
                entry,
                *args,
            ]
        }

    def sql_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        params = string_map(self.report, body.get("parameters"), at + ("parameters",))
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
                self.report.ignore(
                    at + (kind,),
                    f"{what} lives in the workspace: the task is kept as a disabled placeholder",
                )
                comment.append(f"disabled: sql_task.{kind} ({what}) cannot run here")
                return self.placeholder(f"sql_task.{kind} ({what})")
        self.report.problem(
            at, "sql_task needs a file, query, alert or dashboard: kept as a disabled placeholder"
        )
        return self.placeholder("sql_task without SQL")

    def condition_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        op = body.get("op")
        if op not in F.OPERATORS:
            self.report.problem(
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
            self.report.problem(
                at + ("task",), "for_each_task needs a task: kept as a disabled placeholder"
            )
            return self.placeholder("for_each_task without a task")
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
        params = string_map(self.report, body.get("job_parameters"), at + ("job_parameters",))
        if target in keys:
            self.children.append(target)
            comment.append(f"job {target} of the same file runs as a child workflow")
        elif target is not None and target in self.known:
            self.report.note(
                at + ("job_id",), f"job {target} runs as the project's workflow {target}"
            )
        else:
            shown = target or ident
            self.report.ignore(
                at + ("job_id",),
                f"job {shown} is not in this file nor a workflow of the project: the task is "
                "kept as a disabled placeholder (import that job, then make this task `workflow: "
                "NAME`)",
            )
            comment.append(f"disabled: job {shown} is not part of this project")
            return self.placeholder(f"job {shown} is not part of this project")
        out: dict[str, Any] = {"workflow": target}
        if params:
            out["parameters"] = params
        return out

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
                        self.report.note(rel, f"{what} {written} is {shown} in the project")
                    return shown
        first = candidates[0] if candidates else self.root / written
        if not first.suffix and suffixes:
            first = first.with_name(first.name + suffixes[0])
        shown = self.relative(first)
        looked = "under the project" if written.startswith("/") else f"at {shown}"
        self.report.note(
            rel,
            f"{what} {written!r} is not in the project (looked {looked}): add it, or fix the "
            "path in the workflow file",
        )
        self.missing.append(shown)
        return shown

    def relative(self, path: Path) -> str:
        return PurePosixPath(Path(os.path.relpath(path.resolve(), self.root.resolve()))).as_posix()
