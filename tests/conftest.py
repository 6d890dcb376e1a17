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


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def fresh_postgres_database(server_url: str) -> str:
    """A new empty database on the test PostgreSQL server; its URL."""
    import secrets

    import sqlalchemy as sa

    name = f"nbflow_test_{secrets.token_hex(4)}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory):
    """A real PostgreSQL server for the session (Debian's package), on a free local port."""
    import pwd
    import socket

    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    folder = tmp_path_factory.mktemp("pg")
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the package's user
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        shutil.chown(folder, "postgres")
        os.chmod(folder, 0o755)
        for parent in folder.parents:
            if str(parent).startswith(str(tmp_path_factory.getbasetemp().parent)):
                os.chmod(parent, os.stat(parent).st_mode | 0o011)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(folder / "log"),
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
        )
