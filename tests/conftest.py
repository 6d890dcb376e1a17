"""Shared fixtures: a throw-away project with the test notebooks, and the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


class ProjectDir:
    """A project folder in tmp_path: `notebooks/` with the test notebooks, `workflows/`."""

    def __init__(self, root: Path):
        self.root = root
        (root / "workflows").mkdir()
        shutil.copytree(TEST_NOTEBOOKS, root / "notebooks")

    def workflow(self, name: str, text: str) -> Path:
        path = self.root / "workflows" / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`nbflow ARGS` in the project folder, as a separate process."""
        return subprocess.run(
            [sys.executable, "-m", "nbflow.cli", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=600,
        )

    def cli_json(self, *args: str) -> tuple[int, dict]:
        proc = self.cli(*args, "--json")
        assert proc.stdout.strip(), proc.stderr
        return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectDir:
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return ProjectDir(tmp_path)
