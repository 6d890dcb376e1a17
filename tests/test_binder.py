"""binder/: what mybinder.org (repo2docker) runs to build the project's image, replayed here.

repo2docker installs `binder/requirements.txt`, then runs `binder/postBuild` from the
repository root. This test does the same in a fresh virtual environment on a copy of the
working tree (committed or not), then checks what a Binder user relies on: the `nbflow`
and `jupyter lab` commands, and the example workflows.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IGNORED = (
    ".venv",
    ".nbflow",
    ".git",
    "build",
    "node_modules",
    "__pycache__",
    "dist",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "*.egg-info",
)
INSTALL_TIMEOUT = 1200  # seconds; pip may download jupyterlab, pandas and matplotlib
COMMAND_TIMEOUT = 300

pytestmark = pytest.mark.slow


def _working_tree_files(repo: Path) -> list[Path] | None:
    """Tracked files plus new ones not ignored by .gitignore, as in the work tree now.

    None when git cannot tell (no git, or not a checkout): the caller copies by pattern.
    """
    if shutil.which("git") is None or not (repo / ".git").exists():
        return None
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
    )
    if proc.returncode != 0:
        return None
    names = [n for n in proc.stdout.decode().split("\0") if n]
    # A tracked file deleted in the work tree is listed but gone: the work tree wins.
    return [Path(n) for n in names if (repo / n).is_file() and not _ignored(Path(n))]


def _ignored(rel: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in IGNORED)


def copy_working_tree(repo: Path, dest: Path) -> None:
    files = _working_tree_files(repo)
    if files is None:
        shutil.copytree(repo, dest, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
        return
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, target)  # keeps the mode: postBuild stays executable


def _venv_unavailable() -> str | None:
    for module in ("venv", "ensurepip"):
        if importlib.util.find_spec(module) is None:
            return f"`python -m venv` is unavailable: {sys.executable} has no `{module}` module"
    return None


def _run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = COMMAND_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _explain(proc: subprocess.CompletedProcess[str]) -> str:
    return (
        f"$ {' '.join(map(str, proc.args))}\nexit code {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    )


def _version_in(source: Path) -> str:
    found = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', source.read_text(), re.M)
    assert found, f"no __version__ in {source}"
    return found.group(1)


def test_binder_build_installs_nbflow_and_jupyterlab(tmp_path: Path) -> None:
    reason = _venv_unavailable()
    if reason:
        pytest.skip(reason)
    postbuild = REPO / "binder" / "postBuild"
    assert (REPO / "binder" / "requirements.txt").is_file()
    assert postbuild.is_file() and os.access(postbuild, os.X_OK), (
        "binder/postBuild must be executable"
    )

    started = time.monotonic()
    copy = tmp_path / "repo"
    copy_working_tree(REPO, copy)
    assert (copy / "binder" / "postBuild").is_file() and (copy / "pyproject.toml").is_file()
    assert not (copy / ".venv").exists() and not (copy / ".git").exists()

    venv = tmp_path / "venv"
    created = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert created.returncode == 0, _explain(created)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"

    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PYTHONPATH",
            "PYTHONHOME",
            "NBFLOW_HOME",
            "NBFLOW_DATABASE_URL",
            "JUPYTER_PATH",
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_DATA_DIR",
        )
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    env["PIP_NO_INPUT"] = "1"
    env["NBFLOW_HOME"] = str(tmp_path / "nbflow-home")  # runs stay out of the copy's tree

    # What repo2docker does first: the requirements file.
    reqs = _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "-r",
            str(copy / "binder" / "requirements.txt"),
        ],
        cwd=copy,
        env=env,
        timeout=INSTALL_TIMEOUT,
    )
    assert reqs.returncode == 0, _explain(reqs)

    # Then postBuild, from the repository root, run as repo2docker runs it.
    built = _run([str(copy / "binder" / "postBuild")], cwd=copy, env=env, timeout=INSTALL_TIMEOUT)
    assert built.returncode == 0, _explain(built)

    # nbflow is installed into the venv (not the copy imported from the cwd, not editable).
    version = _version_in(copy / "nbflow" / "__init__.py")
    shown = _run([str(bin_dir / "nbflow"), "--version"], cwd=tmp_path, env=env)
    assert shown.returncode == 0, _explain(shown)
    assert f"nbflow, version {version}" in shown.stdout, _explain(shown)
    where = _run(
        [str(python), "-c", "import nbflow; print(nbflow.__file__)"], cwd=tmp_path, env=env
    )
    assert where.returncode == 0, _explain(where)
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve()), _explain(where)

    lab = _run([str(bin_dir / "jupyter"), "lab", "--version"], cwd=copy, env=env)
    assert lab.returncode == 0, _explain(lab)
    assert re.search(r"^\d+\.\d+", lab.stdout.strip()), _explain(lab)

    # The lab extension was built by the install (nothing built is committed) and is enabled.
    labext = _run([str(bin_dir / "jupyter"), "labextension", "list"], cwd=copy, env=env)
    assert labext.returncode == 0, _explain(labext)
    assert re.search(r"nbflow v\S+ \S*enabled\S* \S*OK", labext.stdout + labext.stderr), _explain(
        labext
    )
    assert (venv / "share" / "jupyter" / "labextensions" / "nbflow" / "static").is_dir()
    serverext = _run([str(bin_dir / "jupyter"), "server", "extension", "list"], cwd=copy, env=env)
    assert re.search(r"nbflow\.server \S*enabled", serverext.stdout + serverext.stderr), _explain(
        serverext
    )

    validated = _run([str(bin_dir / "nbflow"), "validate"], cwd=copy, env=env)
    assert validated.returncode == 0, _explain(validated)
    assert "demo.yaml: ok" in validated.stdout, _explain(validated)

    # The example is ready to run: the demo workflow succeeds with binder's packages.
    demo = _run([str(bin_dir / "nbflow"), "run", "demo", "--json"], cwd=copy, env=env)
    assert demo.returncode == 0, _explain(demo)
    doc = json.loads(demo.stdout)
    assert doc["state"] == "success", _explain(demo)
    assert doc["tasks"] and all(t["state"] in ("success", "excluded") for t in doc["tasks"]), (
        _explain(demo)
    )

    print(f"binder build replayed in {time.monotonic() - started:.0f}s")
