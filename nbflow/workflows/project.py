"""A project: its root folder, its workflow files and its `.nbflow/` state folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import UsageError

STATE_DIR_ENV = "NBFLOW_HOME"  # where run history and artifacts go, instead of ROOT/.nbflow
DB_URL_ENV = "NBFLOW_DATABASE_URL"  # a SQLAlchemy URL for the run history


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `workflows/` or `.nbflow/`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "workflows").is_dir() or (folder / ".nbflow").is_dir():
            return folder
    return None


@dataclass(frozen=True)
class Project:
    root: Path
    # False when discovery found no project and fell back to the current folder: commands that
    # only read the history then say so instead of creating `.nbflow/` there.
    found: bool = True

    @classmethod
    def discover(cls, root: str | Path | None = None) -> Project:
        if root is not None:
            path = Path(root).resolve()
            if not path.is_dir():
                raise UsageError(f"--project {root}: no such folder")
            return cls(path)
        root_found = find_root(Path.cwd())
        return cls(root_found) if root_found else cls(Path.cwd().resolve(), found=False)

    @property
    def exists(self) -> bool:
        """Whether there is a project here, or its state lives elsewhere (NBFLOW_HOME, a URL)."""
        return self.found or bool(os.environ.get(STATE_DIR_ENV) or os.environ.get(DB_URL_ENV))

    @property
    def state_dir(self) -> Path:
        override = os.environ.get(STATE_DIR_ENV)
        return Path(override).resolve() if override else self.root / ".nbflow"

    @property
    def database_url(self) -> str:
        return os.environ.get(DB_URL_ENV) or f"sqlite:///{self.state_dir / 'history.db'}"

    @property
    def warehouse_url(self) -> str:
        """The embedded database sql tasks use when they name no connection."""
        return f"sqlite:///{self.state_dir / 'warehouse.db'}"

    @property
    def workflows_dir(self) -> Path:
        return self.root / "workflows"

    def workflow_files(self) -> list[Path]:
        if not self.workflows_dir.is_dir():
            return []
        return sorted(
            p for p in self.workflows_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
        )

    def run_dir(self, workflow: str, run_id: int) -> Path:
        return self.state_dir / "runs" / workflow / str(run_id)

    def holds_state(self, path: Path) -> bool:
        """Whether `path` (resolved) is nbflow's own: its state folder or the history's files.

        A server must never open one: SQLite's locks belong to the process, and closing any
        handle on the database file drops them under the process's own open connection.
        """
        root, state = self.root.resolve(), self.state_dir.resolve()
        folders = {root / ".nbflow"}
        if state != root and state not in root.parents:  # NBFLOW_HOME=ROOT: only the files
            folders.add(state)
        for folder in folders:
            if path == folder or folder in path.parents:
                return True
        if self.database_url.startswith("sqlite:///"):
            database = Path(self.database_url[len("sqlite:///") :].split("?")[0]).resolve()
            # The database and its companions: -wal, -shm, -journal.
            return path.parent == database.parent and path.name.startswith(database.name)
        return False

    def relative(self, path: Path) -> str:
        """A path as shown to users and stored: relative to the root when inside it."""
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path.resolve())
