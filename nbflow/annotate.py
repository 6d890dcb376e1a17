"""Marking an executed notebook where papermill leaves it looking fine.

papermill adds its error banner only for an exception raised in a cell. A timed-out,
canceled or dead-kernel attempt is saved with the interrupted cell marked `running` (or
even `completed`) and no error: this module adds a banner at the top, naming what
happened and where, and an error output on the interrupted cell.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BANNER_TAG = "nbflow-error-banner"


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


def mark_interrupted(path: Path, *, headline: str, ename: str, evalue: str) -> int | None:
    """Add the banner and the error output; return the marked cell's index, if any."""
    import nbformat
    from nbformat.v4 import new_markdown_cell

    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return None
    if any(BANNER_TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return None  # already marked
    index = _interrupted_cell(nb)
    where = ""
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
    banner = new_markdown_cell(
        f'<span style="color:red; font-size:1.5em;">nbflow: {headline}{where}.</span>\n\n'
        f"`{ename}: {evalue}`"
    )
    banner.metadata["tags"] = [BANNER_TAG]
    nb.cells.insert(0, banner)
    tmp = path.with_name(path.name + ".tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)
    return index + 1 if index is not None else None
