"""The rules a tool holds: the import layers (.importlinter: faces on top, the facade below
them, then orchestration, execution, the run history and a pure core), ruff, mypy --strict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_import_rules_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is in the test extra: pip install -e '.[test]'"
    proc = subprocess.run([lint], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found is not None, f"{name} is in the dev extra: pip install -e '.[dev]'"
    return found


def test_ruff_finds_nothing_in_the_package_tests_and_benchmarks():
    proc = subprocess.run(
        [_tool("ruff"), "check", "nbflow", "tests", "benchmarks"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_strict_passes_on_the_package():
    # pyproject's [tool.mypy] sets strict = true; the untyped libraries it names are Any.
    proc = subprocess.run(
        [_tool("mypy"), "nbflow"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
