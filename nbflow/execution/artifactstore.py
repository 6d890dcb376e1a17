"""Artifact store: where a cluster's attempts keep executed notebooks and logs (path or fsspec URL).

`NBFLOW_ARTIFACTS` names it: a folder on a file system every machine shares
(`/shared/nbflow`, `file:///shared/nbflow`) or any fsspec URL (`s3://bucket/prefix`). A
Dask worker writes an attempt's artifact there under the same relative name it has in the
project's state folder (`runs/WORKFLOW/RUN/TASK/attempt-N.ipynb`), and the history records
the full URL. Readers (`show`, `logs`, `report`, the REST API) copy such an artifact into a
local cache once and read that copy; a plain project-relative artifact is read in place.
fsspec is imported only when a URL is used.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

ARTIFACTS_ENV = "NBFLOW_ARTIFACTS"


def root_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The artifact store's root as a URL, or None when it is not set."""
    value = (environ if environ is not None else os.environ).get(ARTIFACTS_ENV, "").strip()
    if not value:
        return None
    if "://" not in value:  # a path on a shared file system
        return "file://" + str(Path(value).expanduser().resolve())
    return value.rstrip("/")


def is_url(artifact: str | None) -> bool:
    return bool(artifact) and "://" in str(artifact)


def join(root: str, relative: str) -> str:
    return root.rstrip("/") + "/" + relative.lstrip("/")


def _fs(url: str) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def put(local: Path, url: str) -> None:
    """Write a local file to the store (the worker, once an attempt has ended)."""
    fs, path = _fs(url)
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)
    fs.put_file(str(local), path)


def fetch(url: str, cache: Path) -> Path | None:
    """A local copy of an artifact in the store; None when the store does not have it.

    The copy is refreshed while the attempt may still be writing (the store's size or
    modification time changed), so a cached log is never older than the store's.
    """
    fs, path = _fs(url)
    try:
        info = fs.info(path)
    except (FileNotFoundError, OSError):
        return None
    stamp = f"{info.get('size')}-{info.get('LastModified') or info.get('mtime') or ''}"
    name = hashlib.sha256(url.encode()).hexdigest()[:24]
    target = cache / name / url.rsplit("/", 1)[-1]
    marker = target.with_name(target.name + ".stamp")
    if target.is_file() and marker.is_file() and marker.read_text() == stamp:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    fs.get_file(path, str(partial))
    os.replace(partial, target)
    marker.write_text(stamp)
    return target


def local_path(project_root: Path, cache: Path, artifact: str) -> Path:
    """Where to read an attempt's artifact on this machine: in place, or a cached copy.

    An artifact in a store that cannot be reached reads as missing (the callers say the
    log or notebook is gone), and so does one the store does not have.
    """
    if not is_url(artifact):
        return project_root / artifact
    try:
        found = fetch(artifact, cache)
    except Exception:  # noqa: BLE001 - no credentials, no network: the artifact is not here
        found = None
    return found if found is not None else cache / "missing" / artifact.rsplit("/", 1)[-1]
