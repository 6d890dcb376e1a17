"""Files of the project's runs folder, read-only, as models shaped like Jupyter's contents API.

Jupyter's own contents API hides `.nbflow/` (a hidden folder); the JupyterLab extension
opens executed notebooks and logs through a read-only drive backed by these models. An
attempt a Dask worker ran is kept in the artifact store (`NBFLOW_ARTIFACTS`) and named by
its URL: such a file is read through a local copy (`artifactstore`).
"""

from __future__ import annotations

import base64
import mimetypes
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.errors import Forbidden, PathNotFound, UsageError
from ..workflows.project import Project


def runs_folder(project: Project) -> Path:
    return (project.state_dir / "runs").resolve()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def file_model(project: Project, path: str, *, content: bool = True) -> dict[str, Any]:
    """The model of one file in the runs folder (`path` relative to the project root).

    Notebooks come as JSON, text files as text, anything else as base64; never writable.
    """
    runs = runs_folder(project)
    stored = _stored(project, path)
    if stored is not None:
        return _model(project, path, stored, content=content, shown=path)
    given = Path(path)
    try:
        target = (given if given.is_absolute() else project.root / given).resolve()
    except (ValueError, RuntimeError) as exc:  # a NUL character, a symlink loop
        raise UsageError(f"{path!r}: not a usable path ({exc})") from None
    if target != runs and runs not in target.parents:
        raise Forbidden(
            f"{path!r} is not in the runs folder ({project.relative(runs)}/); "
            "only files of runs can be read here"
        )
    try:
        exists, is_file = target.exists(), target.is_file()
    except OSError as exc:  # a name over 255 bytes, a path over the system's limit
        raise UsageError(f"{path[:60]!r}: {exc.strerror}") from None
    if not exists:
        raise PathNotFound(f"{path}: no such file in {project.relative(runs)}/")
    if not is_file:
        raise UsageError(f"{path} is a folder, not a file")
    return _model(project, path, target, content=content, shown=project.relative(target))


def _stored(project: Project, path: str) -> Path | None:
    """A local copy of an artifact a cluster's worker kept in `NBFLOW_ARTIFACTS`, or None
    when `path` is not a URL. URLs elsewhere are refused: this reads only that store."""
    from ..execution import artifactstore

    collapsed = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):/+(.*)$", path)
    if collapsed is None:
        return None
    # A drive path has its slashes collapsed (`s3:/bucket/...`): the URL's are put back.
    scheme, rest = collapsed.groups()
    url = f"{scheme}:///{rest}" if scheme == "file" else f"{scheme}://{rest}"
    root = artifactstore.root_from_env()
    if root is None or not url.startswith(root.rstrip("/") + "/") or "/../" in url:
        raise Forbidden(
            f"{path!r} is not in the artifact store; only files of runs can be read here"
        )
    found = artifactstore.local_path(project.root, project.state_dir / "artifact-cache", url)
    if not found.is_file():
        raise PathNotFound(f"{path}: no such file in the artifact store")
    return found


def _model(
    project: Project, path: str, target: Path, *, content: bool, shown: str
) -> dict[str, Any]:
    try:
        info = target.stat()
        raw = target.read_bytes() if content else b""
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    model: dict[str, Any] = {
        "name": target.name,
        "path": shown,
        "type": "notebook" if target.suffix == ".ipynb" else "file",
        "format": None,
        "mimetype": None,
        "content": None,
        "writable": False,
        "created": _iso(info.st_ctime),
        "last_modified": _iso(info.st_mtime),
        "size": info.st_size,
    }
    guessed = mimetypes.guess_type(target.name)[0]
    if model["type"] == "file":
        model["mimetype"] = guessed or "text/plain"
    if not content:
        return model
    if model["type"] == "notebook":
        import nbformat

        try:
            # As Jupyter's contents API gives it: multi-line sources and outputs joined into
            # strings (on disk they are lists of lines, which JupyterLab would show joined
            # with commas).
            notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        except (ValueError, nbformat.reader.NotJSONError):
            raise UsageError(f"{path}: not a readable notebook") from None
        model.update(format="json", content=notebook)
        return model
    try:
        model.update(format="text", content=raw.decode("utf-8"))
    except UnicodeDecodeError:
        model.update(
            format="base64",
            mimetype=guessed or "application/octet-stream",
            content=base64.b64encode(raw).decode("ascii"),
        )
    return model
