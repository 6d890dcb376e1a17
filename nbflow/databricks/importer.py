"""Databricks jobs as nbflow workflows: each field mapped, or listed at its line saying why not.

`import_jobs` turns the jobs of a `jobfile.JobFile` into workflow contents (plain data, in
the order they are written) with a comment saying where each part came from. Everything
that is not carried over is reported at its line (`jobreport.py`): `ignored:` what has no
local meaning (clusters, libraries, permissions, a pipeline task), `problem:` what
Databricks itself would refuse or fail on (a task without a key, `for_each` inputs that are
not a list, `continuous` with a trigger), `note:` what was translated and may surprise (a
periodic trigger became a cron schedule, a file-arrival URL a local folder).

This module maps the job's own settings: name, description, parameters, run limits, timeout,
health and notifications; `jobtriggers.py` maps its schedule, trigger and continuous, and
`tasks.py` its tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import Problem
from ..workflows.schema import PARAM_PATTERN
from . import fields as F
from .jobfile import Job, JobFile
from .jobreport import JobReport, Path_
from .jobtriggers import JobTriggers
from .settings import health, notifications, seconds, text
from .tasks import TaskImport


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
        self.name = name
        self.report = JobReport(jobfile, job)
        self.tasks = TaskImport(
            self.report,
            jobfile,
            job,
            root=root,
            known_workflows=known_workflows,
            webhooks=webhooks,
        )
        self.comments: dict[Path_, str] = {}

    def run(self) -> dict[str, Any]:
        s = self.job.settings
        self.report.check_fields(s, (), F.JOB_MAPPED, F.JOB_IGNORED, "job")
        content: dict[str, Any] = {"name": self.name}
        if isinstance(s.get("description"), str) and s["description"]:
            content["description"] = s["description"]
            self.comments[("description",)] = (
                f"from description (line {self.report.line(('description',))})"
            )
        self.parameters(s, content)
        JobTriggers(self.report, self.comments).triggers(s, content)
        if "max_concurrent_runs" in s:
            value = s["max_concurrent_runs"]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                content["max_concurrent_runs"] = value
            else:
                self.report.problem(
                    ("max_concurrent_runs",),
                    f"max_concurrent_runs {value!r} is not a number of at least 1: left out",
                )
        queue = s.get("queue")
        if isinstance(queue, dict) and isinstance(queue.get("enabled"), bool):
            content["queue"] = queue["enabled"]
        elif queue is not None:
            self.report.problem(("queue",), "queue must be {enabled: true|false}: left out")
        timeout = seconds(self.report, s.get("timeout_seconds"), ("timeout_seconds",))
        if timeout:
            content["timeout"] = timeout
        warning, whence = health(self.report, s.get("health"), ("health",), job_level=True)
        if warning:
            content["duration_warning"] = warning
            self.comments[("duration_warning",)] = whence or ""
        destinations, where = notifications(self.report, s, (), self.tasks.webhooks)
        if destinations:
            content["notifications"] = destinations
            self.comments[("notifications",)] = where
        content["tasks"], comments = self.tasks.tasks(s.get("tasks"))
        for i, comment in enumerate(comments):
            self.comments[("tasks", i)] = comment
        self.unresolved()
        return content

    def unresolved(self) -> None:
        """Note the `${...}` left as written in what was carried over."""
        for path, refs in self.file.unresolved.items():
            if path[: len(self.job.where)] != self.job.where:
                continue
            rel = path[len(self.job.where) :]
            if self.report.is_ignored(rel):
                continue
            unique = list(dict.fromkeys(refs))
            variables = [r for r in unique if r.startswith("${var.")]
            others = [r for r in unique if not r.startswith("${var.")]
            if variables:
                self.report.note(
                    rel,
                    f"{', '.join(variables)} has no value (no default): give --var NAME=VALUE; "
                    f"kept as written in {self.report.where(rel)}",
                )
            if others:
                verb = "is" if len(others) == 1 else "are"
                self.report.note(
                    rel,
                    f"{', '.join(others)} {verb} only known on Databricks: kept as written in "
                    f"{self.report.where(rel)}",
                )

    def parameters(self, s: dict[str, Any], content: dict[str, Any]) -> None:
        params = s.get("parameters")
        if params is None:
            return
        if not isinstance(params, list):
            self.report.problem(
                ("parameters",), "job parameters must be a list of {name, default}: left out"
            )
            return
        out: dict[str, Any] = {}
        for i, item in enumerate(params):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not re.match(PARAM_PATTERN, name):
                self.report.problem(
                    ("parameters", i),
                    f"job parameter {name!r} is not a name nbflow can use (letters, digits, "
                    "'_'): left out",
                )
                continue
            out[name] = text(item.get("default"))
        if out:
            content["parameters"] = out
            self.comments[("parameters",)] = (
                f"from parameters (line {self.report.line(('parameters',))}); Databricks passes "
                "them as text"
            )


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
            own,
            job,
            content,
            state.comments,
            state.report.reports,
            state.tasks.missing,
            state.tasks.children,
        )
        done[job.key] = imported
        queue.extend(j for j in jobfile.jobs if j.key in state.tasks.children and j.key not in done)
    result = list(done.values())
    if result:
        result[0].reports[:0] = bundle_reports
    for imported in result:
        imported.reports.sort(key=lambda p: p.line or 0)
    return result


def workflow_text(imported: Imported, shown: str, line: int | None) -> str:
    """The workflow file for an imported job, with a header and a comment on each part."""
    from ..workflows.yamltext import new_workflow_text

    title = imported.job.settings.get("name")
    header = (
        f"# Imported by `nbflow import databricks` from {shown}, job {imported.job.key}"
        + (f" (line {line})" if line else "")
        + (f': "{title}"' if isinstance(title, str) and title != imported.name else "")
        + ".\n# Each comment says where a part came from; the import listed what it left out.\n"
    )
    return new_workflow_text(imported.content, header, imported.comments)
