"""Databricks task kinds as nbflow task bodies: notebook, Python file, wheel, SQL, condition, job.

Each method reads one kind's mapping (`notebook_task`, `spark_python_task`, ...) and returns
the keys of the nbflow task it becomes, or a disabled placeholder when the task cannot run
here, saying why in the job's report and in the workflow file's comment. `tasks.py` reads
what every task has and picks the method by the task's kind; `for_each_task`, a task around a
task, is there too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import fields as F
from .jobfile import JobFile
from .jobreport import JobReport, Path_
from .projectpaths import CLOUD_URI, ProjectPaths
from .settings import string_list, string_map, text
from .source_notebook import HEADER, is_source_file

JOB_REFERENCE = re.compile(r"^\$\{resources\.jobs\.([^.}]+)\.id\}$")
PYTHON = "python"  # a command's `python` is the project's Python (runner.py)


def placeholder(reason: str) -> dict[str, Any]:
    """A task kept in the graph but not run: fails saying why if someone enables it."""
    message = f"not runnable here: {reason}"
    return {
        "command": [PYTHON, "-c", f"raise SystemExit({message!r})"],
        "disabled": True,
    }


class TaskKinds:
    """One method per runnable kind, named as the kind's field (mixed into `TaskImport`)."""

    report: JobReport
    file: JobFile
    root: Path
    known: set[str]  # the project's workflows, and the jobs of the file
    children: list[str]  # jobs of the file that tasks run
    paths: ProjectPaths

    def notebook_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        path = body.get("notebook_path")
        if not isinstance(path, str) and isinstance(path, (bool, int, float)):
            path = text(path)
        if not isinstance(path, str) or not path:
            self.report.problem(
                at + ("notebook_path",),
                "notebook_task needs a notebook_path: kept as a disabled placeholder",
            )
            return placeholder("no notebook_path")
        rel = at + ("notebook_path",)
        found = self.paths.resolve(path, body.get("source"), rel, "notebook", (".ipynb", ".py"))
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
            return placeholder(why)
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
            return placeholder("no python_file")
        if CLOUD_URI.match(path):
            self.report.ignore(
                at + ("python_file",),
                f"{path} is in cloud storage: the task is kept as a disabled placeholder",
            )
            return placeholder(f"{path} is in cloud storage")
        out: dict[str, Any] = {
            "script": self.paths.resolve(
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
            return placeholder("no package_name or entry_point")
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
            path = self.paths.resolve(
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
                return placeholder(f"sql_task.{kind} ({what})")
        self.report.problem(
            at, "sql_task needs a file, query, alert or dashboard: kept as a disabled placeholder"
        )
        return placeholder("sql_task without SQL")

    def condition_task(self, body: dict[str, Any], at: Path_, comment: list[str]) -> dict[str, Any]:
        op = body.get("op")
        if op not in F.OPERATORS:
            self.report.problem(
                at + ("op",),
                f"op {op!r} is not one of {', '.join(F.OPERATORS)}: kept as a disabled placeholder",
            )
            return placeholder(f"unknown condition op {op!r}")
        return {
            "condition": {
                "left": text(body.get("left")),
                "op": F.OPERATORS[op],
                "right": text(body.get("right")),
            }
        }

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
            return placeholder(f"job {shown} is not part of this project")
        out: dict[str, Any] = {"workflow": target}
        if params:
            out["parameters"] = params
        return out
