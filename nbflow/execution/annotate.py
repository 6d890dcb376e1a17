"""Executed notebooks as an attempt leaves them: read safely, marked where papermill does not.

papermill adds its error banner only for an exception raised in a cell. A timed-out,
canceled or dead-kernel attempt is saved with the interrupted cell marked `running` (or
even `completed`) and no error: this module adds a banner at the top, naming what
happened and where, and an error output on the interrupted cell. An attempt stopped
before its kernel ran a cell, or while papermill was saving, still leaves a notebook: the
parameterised one the runner wrote before starting the worker.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from ..core.errors import UnreadableNotebook as UnreadableNotebook  # named through this module too
from ..workflows import secrets

BANNER_TAG = "nbflow-error-banner"


def read_notebook(path: Path, shown: str | None = None) -> Any:
    """The notebook at `path`, or UnreadableNotebook naming it (`shown`, else the path)."""
    import nbformat  # imported when needed: its validator is slow to import

    name = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableNotebook(f"{name}: the executed notebook is gone") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableNotebook(f"{name}: the executed notebook cannot be read ({exc})") from None
    try:
        return nbformat.reads(text, as_version=4)
    except Exception:  # nbformat raises ValueError, AttributeError, jsonschema errors...
        pass
    try:
        json.loads(text)
    except ValueError:
        raise UnreadableNotebook(
            f"{name}: the executed notebook is not complete JSON; it was probably cut off "
            "while being saved when its attempt was stopped"
        ) from None
    raise UnreadableNotebook(f"{name}: the executed notebook is not a Jupyter notebook")


def _interrupted_cell(nb: Any) -> int | None:
    """The cell that was executing: papermill's `running` status, else the last started."""
    started = None
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("papermill", {})
        if meta.get("status") == "running":
            return index
        if cell.cell_type == "code" and meta.get("start_time"):
            started = index
    return started


def mark_interrupted(
    path: Path,
    *,
    headline: str,
    ename: str,
    evalue: str,
    prepared: Any = None,
    before_cells: str = " while the kernel was starting",
) -> int | None:
    """Add the banner and the error output; return the marked cell's index, if any.

    `prepared` is the parameterised notebook as written before the worker started: it
    stands in for an artifact that is missing or was cut off while papermill saved it.
    `before_cells` ends the headline when no cell had started.
    """
    import nbformat

    # A save the stop cut off, beside the notebook: the notebook holds the save before it.
    with contextlib.suppress(OSError):
        secrets.unfinished_save(path).unlink(missing_ok=True)
    note = ""
    try:
        nb = read_notebook(path)
    except UnreadableNotebook:
        if prepared is None:
            return None
        nb = nbformat.from_dict(prepared)
        if path.is_file():
            note = (
                " Its executed copy was cut off while being saved: this is the notebook as "
                "it was given to the kernel."
            )
    if any(BANNER_TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return None  # already marked
    index = _interrupted_cell(nb) if not note else None
    where = before_cells if not note else ""
    if index is not None:
        cell = nb.cells[index]
        count = cell.get("execution_count")
        where = f" in cell {index + 1}" + (f" (In [{count}])" if count else "")
        cell.setdefault("outputs", []).append(
            nbformat.v4.new_output(
                "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
            )
        )
        meta = cell.setdefault("metadata", {}).setdefault("papermill", {})
        meta["status"] = "failed"
        meta["exception"] = True
    banner = nbformat.v4.new_markdown_cell(
        f'<span style="color:red; font-size:1.5em;">nbflow: {headline}{where}.</span>\n\n'
        f"`{ename}: {evalue}`{note}"
    )
    banner.metadata["tags"] = [BANNER_TAG]
    nb.cells.insert(0, banner)
    tmp = path.with_name(path.name + ".tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)
    return index + 1 if index is not None else None
