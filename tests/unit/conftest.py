"""Fixtures for the fast tier: a throw-away project with a notebook, and a workflow-file checker."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest

from nbflow.core.errors import Problem
from nbflow.workflows.loader import check_file
from nbflow.workflows.model import Workflow


class MiniProject:
    """`tmp_path` laid out as a project: `notebooks/x.ipynb`, `scripts/s.py`, `workflows/`."""

    def __init__(self, root: Path):
        self.root = root
        (root / "workflows").mkdir()
        (root / "notebooks").mkdir()
        (root / "scripts").mkdir()
        self.notebook("x")
        (root / "scripts" / "s.py").write_text("print('hi')\n")

    def notebook(self, name: str) -> Path:
        path = self.root / "notebooks" / f"{name}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), str(path))
        return path

    def write(self, text: str, name: str = "wf") -> Path:
        path = self.root / "workflows" / f"{name}.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def check(self, text: str, name: str = "wf") -> tuple[Workflow | None, list[Problem]]:
        return check_file(self.write(text, name), self.root)

    def problems(self, text: str, name: str = "wf") -> list[str]:
        """The problems of `text` as the user sees them, with the file path cut off."""
        path = self.write(text, name)
        workflow, problems = check_file(path, self.root)
        assert workflow is None, "a file with problems must not give a workflow"
        lines = [str(p) for p in problems]
        for line in lines:
            assert line.startswith(f"{path}:"), line
        return [line[len(str(path)) + 1 :] for line in lines]

    def load(self, text: str, name: str = "wf") -> Workflow:
        workflow, problems = self.check(text, name)
        assert problems == [], [str(p) for p in problems]
        assert workflow is not None
        return workflow


@pytest.fixture
def mini(tmp_path: Path) -> MiniProject:
    return MiniProject(tmp_path)
