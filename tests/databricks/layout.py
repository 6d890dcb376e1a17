"""Projects laid out around the real Databricks job files, with small stand-ins for what they name.

Each job file is copied as found to where its bundle keeps it, so the paths it names (relative
to the file, as Databricks reads them) land on the stand-ins: notebooks, a SQL file and a
Python package, all under `tests/databricks/standins/`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
JOBS = HERE / "jobs"
STANDINS = HERE / "standins"
TEST_NOTEBOOKS = HERE.parent / "notebooks"

# job file -> (where the bundle keeps it, stand-ins copied to the project root)
LAYOUT = {
    "condition_task_on_job_parameter.yml": ("databricks.yml", ["query.sql"]),
    "task_value_condition_run_job.yml": ("resources/monitoring.yml", ["monitoring"]),
    "periodic_trigger_health_notifications.yml": ("resources/job.yml", ["src", "default_python"]),
    "cli_schema_fixture_for_each_continuous.yml": ("databricks.yml", []),
}


def lay_out(root: Path, job_file: str, *, standins: bool = True) -> Path:
    """Copy `job_file` (and its stand-ins) into the project at `root`; the copy's path."""
    where, names = LAYOUT[job_file]
    (root / "workflows").mkdir(exist_ok=True)
    target = root / where
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(JOBS / job_file, target)
    if standins:
        for name in names:
            source = STANDINS / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copyfile(source, root / name)
        if job_file == "cli_schema_fixture_for_each_continuous.yml":
            # Its notebook paths come from variables: `true` (a boolean) and `value3`.
            for name in ("true.ipynb", "value3.ipynb"):
                shutil.copyfile(TEST_NOTEBOOKS / "ok.ipynb", root / name)
    return target
