"""What an import says about one job: where each of its fields is, and what was left out.

A `JobReport` turns a place in a job (a path relative to the job's mapping) into its line in
the file, saying so when a merge key (`<<: *anchor`) brought the field in, and collects the
import's reports as `Problem`s of three kinds: `ignored:` (no local meaning), `problem:`
(Databricks itself would refuse or fail on it) and `note:` (translated in a way that may
surprise). It remembers what was ignored, so nothing is reported twice below it.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import Problem
from .jobfile import Job, JobFile

Path_ = tuple[Any, ...]


class JobReport:
    """The reports about one job of a file, each at its line."""

    def __init__(self, jobfile: JobFile, job: Job):
        self.file = jobfile
        self.job = job
        self.reports: list[Problem] = []
        self.ignored_paths: list[Path_] = []
        tasks = job.settings.get("tasks")
        self.task_names = {
            i: t["task_key"]
            for i, t in enumerate(tasks if isinstance(tasks, list) else [])
            if isinstance(t, dict) and isinstance(t.get("task_key"), str)
        }

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

    def is_ignored(self, rel: Path_) -> bool:
        """Whether `rel` is inside a field that was already reported as ignored."""
        return any(rel[: len(p)] == p for p in self.ignored_paths)
