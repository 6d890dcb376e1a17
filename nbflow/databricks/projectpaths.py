"""Paths Databricks tasks name, found in the project: workspace, bundle-relative and Git paths.

Bundle paths are relative to the bundle file, Git paths to the project root, and workspace
paths (`/Workspace/Users/...`) are the longest tail of them that exists in the project. A
path that is nowhere is still written (as the workflow would name it) and listed as missing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from .jobfile import JobFile
from .jobreport import JobReport, Path_

CLOUD_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")


class ProjectPaths:
    """The files one job's tasks name, as the workflow writes them; those not found."""

    def __init__(self, report: JobReport, jobfile: JobFile, *, root: Path, git: bool):
        self.report = report
        self.file = jobfile
        self.root = root
        self.git = git  # the job's tasks come from a Git repository (`git_source`)
        self.missing: list[str] = []

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
