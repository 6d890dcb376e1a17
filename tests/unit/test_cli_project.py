"""The CLI outside a project, and listing the runs of a workflow that does not exist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def nbflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NBFLOW_HOME", None)
    env.pop("NBFLOW_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "nbflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args", [["runs"], ["show", "1"], ["logs", "1", "x"], ["schedule", "list"]]
)
def test_outside_a_project_reading_commands_say_so_and_create_nothing(tmp_path: Path, args):
    outside = tmp_path / "somewhere"
    outside.mkdir()
    proc = nbflow(outside, *args)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"nbflow: no nbflow project in {outside} or any folder above it (a project has a "
        "workflows/ folder): cd into one or pass --project DIR"
    ]
    assert list(outside.iterdir()) == []


def test_project_option_picks_one_from_outside(tmp_path: Path):
    (tmp_path / "proj" / "workflows").mkdir(parents=True)
    (tmp_path / "else").mkdir()
    proc = nbflow(tmp_path / "else", "--project", str(tmp_path / "proj"), "runs")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "no runs yet"


def test_runs_of_an_unknown_workflow_is_an_error_not_an_empty_list(tmp_path: Path):
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "demo.yaml").write_text('tasks:\n  - key: a\n    command: ["true"]\n')
    proc = nbflow(tmp_path, "runs", "--workflow", "nope")
    assert proc.returncode == 2
    assert "no workflow 'nope' in workflows/ (found: demo)" in proc.stderr
    known = nbflow(tmp_path, "runs", "--workflow", "demo")
    assert (known.returncode, known.stdout.strip()) == (0, "no runs yet")
