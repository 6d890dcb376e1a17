"""Start-up: commands that execute nothing import only what they use (no timing, module sets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# What executing or parsing needs, and `--help`, `runs` and `show` must not load.
HEAVY = ("nbformat", "papermill", "jupyter_client", "pydantic", "ruamel", "nbflow.execution.runner")

PROBE = """
import json, sys
from nbflow.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    # A lazy module never used is a placeholder, a skipped one is None: neither is loaded.
    loaded = [
        n for n, m in list(sys.modules.items())
        if m is not None and type(m).__name__ != "_LazyModule"
    ]
    print("MODULES=" + json.dumps(sorted(loaded)))
"""


def loaded_by(args: list[str], cwd: Path) -> set[str]:
    """The modules `nbflow ARGS` has imported when it finishes, run in its own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NBFLOW_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)


@pytest.fixture
def empty_project(tmp_path: Path) -> Path:
    (tmp_path / "workflows").mkdir()
    return tmp_path


@pytest.mark.parametrize("args", [["--help"], ["runs"], ["show", "1"], ["runs", "--json"]])
def test_history_commands_load_no_notebook_machinery(empty_project: Path, args: list[str]):
    assert heavy_in(loaded_by(args, empty_project)) == []


def test_help_does_not_even_load_the_history(empty_project: Path):
    assert "sqlalchemy" not in loaded_by(["--help"], empty_project)


def test_cli_never_loads_the_slow_format_checker_nbformat_does_not_use(tmp_path: Path):
    """`params` reads a notebook with nbformat, whose validator would import rfc3987_syntax."""
    (tmp_path / "workflows").mkdir()
    nb = REPO / "tests" / "notebooks" / "echo.ipynb"
    modules = loaded_by(["params", str(nb)], tmp_path)
    assert "nbformat" in modules and "jsonschema" in modules
    assert "rfc3987_syntax" not in modules


def test_nbformat_still_validates_without_it():
    """Skipping the module changes nothing nbformat checks: a broken notebook is still caught."""
    code = (
        "from nbflow.startup import skip_unused_imports; skip_unused_imports()\n"
        "import nbformat, sys\n"
        "nb = nbformat.v4.new_notebook(); nb.cells.append(nbformat.v4.new_code_cell('1'))\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['outputs'] = [{'output_type': 'nonsense'}]\n"
        "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('caught')\n"
        "print('rfc3987_syntax' in sys.modules and sys.modules['rfc3987_syntax'] is not None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.stdout.split() == ["caught", "False"], out.stderr


def test_papermill_is_imported_without_its_remote_store_handlers():
    """nbflow gives papermill local paths: boto3 and pyarrow's HDFS are not loaded for it,
    papermill still runs its local I/O, and the hidden modules import normally afterwards."""
    code = (
        "import sys, importlib.util\n"
        "from nbflow.startup import import_papermill, PAPERMILL_BACKENDS\n"
        "pm = import_papermill()\n"
        "from papermill.iorw import papermill_io\n"
        "assert type(papermill_io.get_handler('x.ipynb')).__name__ == 'LocalHandler'\n"
        "assert not any(sys.modules.get(n) for n in ('boto3', 'pyarrow', 'papermill.s3'))\n"
        "assert all(n not in sys.modules for n in PAPERMILL_BACKENDS)  # not left hidden\n"
        "if importlib.util.find_spec('pyarrow'):\n"
        "    import pyarrow.fs\n"
        "print('ok', pm.__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert proc.stdout.strip() == "ok papermill", proc.stderr


def test_validate_does_not_load_the_history(empty_project: Path):
    """Checking workflow files reads no run: SQLAlchemy (the history's) is not imported."""
    (empty_project / "workflows" / "w.yaml").write_text("tasks: [{key: a, command: [echo]}]\n")
    modules = loaded_by(["validate"], empty_project)
    assert "nbflow.workflows.loader" in modules
    assert "sqlalchemy" not in modules
