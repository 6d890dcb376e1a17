"""A full disk under the run history and a runs folder nbflow cannot write: one sentence
that names the place, never a traceback, and nothing recorded lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbflow.history import Store

QUICK = f'["{sys.executable}", "-c", "pass"]'


def nbflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NBFLOW_HOME", "NBFLOW_DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "nbflow.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def mount_tmpfs(tmp_path: Path):
    """Mount a small tmpfs (root only): `mount_tmpfs(folder, "size=512k")`."""
    mounted: list[Path] = []

    def mount(folder: Path, options: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_full_disk_under_the_history_is_one_sentence_and_loses_nothing(tmp_path, mount_tmpfs):
    root = mount_tmpfs(tmp_path / "disk", "size=512k")
    (root / "workflows").mkdir()
    (root / "workflows" / "w.yaml").write_text(f"tasks:\n  - {{key: t, command: {QUICK}}}\n")
    assert nbflow(root, "run", "w").returncode == 0
    filler = fill(root)
    db = root / ".nbflow" / "history.db"
    for args in (("run", "w"), ("runs",)):
        done = nbflow(root, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and "sqlalchemy" not in done.stderr
        (line,) = done.stderr.strip().splitlines()[-1:]
        assert line.startswith(f"nbflow: cannot use the run history at {db}: ")
        assert line.endswith(
            "(the disk it is on is full); free some space there and try again"
        ) or (line.endswith(": database or disk is full; free some space there and try again")), (
            line
        )
    filler.unlink()
    store = Store(f"sqlite:///{db}")
    try:
        assert [(r["id"], r["state"]) for r in store.list_runs()] == [(1, "success")]
    finally:
        store.close()


def _run_once(project) -> tuple[subprocess.CompletedProcess[str], dict]:
    project.workflow(
        "w",
        f"""
        tasks:
          - {{key: t, command: {QUICK}}}
          - {{key: u, command: {QUICK}, depends_on: [t]}}
        """,
    )
    done = project.cli("run", "w", "--json")
    assert "Traceback" not in done.stderr
    return done, json.loads(done.stdout)


def test_a_runs_folder_that_is_a_file_is_named(project):
    (project.root / ".nbflow").mkdir()
    (project.root / ".nbflow" / "runs").write_text("not a folder")
    done, doc = _run_once(project)
    assert done.returncode == 1
    assert [(t["key"], t["state"]) for t in doc["tasks"]] == [
        ("t", "failed"),
        ("u", "upstream_failed"),
    ]
    assert doc["tasks"][0]["message"] == (
        "OSError: cannot create the task's folder .nbflow/runs/w/1/t: .nbflow/runs: Not a directory"
    )


def test_a_read_only_runs_folder_is_named(project, mount_tmpfs):
    mount_tmpfs(project.root / ".nbflow" / "runs", "ro,size=64k")
    done, doc = _run_once(project)
    assert done.returncode == 1
    assert doc["tasks"][0]["message"] == (
        "OSError: cannot create the task's folder .nbflow/runs/w/1/t: .nbflow/runs: "
        "Read-only file system"
    )
