"""The lab extension's TypeScript: its unit tests (vitest, tests/ts/) pass and eslint finds
nothing, so `make test` checks the TypeScript as it checks the Python."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _jlpm() -> list[str]:
    """jlpm (yarn, from jupyter_builder) of this virtual environment, or the one on PATH."""
    beside = Path(sys.executable).parent / "jlpm"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("jlpm")
    if found is None:
        pytest.fail("jlpm is missing: `pip install jupyter_builder` (make install does)")
    return [found]


@pytest.fixture(scope="module")
def jlpm() -> list[str]:
    if shutil.which("node") is None and not (Path(sys.executable).parent / "node").exists():
        pytest.skip("Node.js is not installed: the TypeScript tests need it (make install)")
    command = _jlpm()
    if not (REPO / "node_modules" / ".bin" / "vitest").exists():
        # A fresh clone: the same install `make lab-build` does.
        done = subprocess.run(
            [*command, "install"], cwd=REPO, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return command


def _run(command: list[str]) -> str:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done.stdout


def test_the_typescript_unit_tests_pass(jlpm):
    out = _run([*jlpm, "test"])
    assert " passed" in out and " failed" not in out


def test_the_typescript_has_no_lint_errors(jlpm):
    _run([*jlpm, "lint"])
