"""An attempt's log as text: a process's captured output, or a notebook's cell outputs."""

from __future__ import annotations

import re
from pathlib import Path

from ..execution.annotate import read_notebook

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def notebook_text(path: Path, shown: str | None = None) -> str:
    """The outputs of an executed notebook, cell by cell, as plain text.

    A notebook that cannot be read is an `UnreadableNotebook` naming it (`shown`, else the
    path), never a traceback.
    """
    nb = read_notebook(path, shown)
    parts = [f"executed notebook: {path}"]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.get("outputs"):
            continue
        count = cell.get("execution_count")
        parts.append(f"--- cell {index}" + (f" (In [{count}])" if count else ""))
        for output in cell.outputs:
            kind = output.get("output_type")
            if kind == "stream":
                parts.append(output.get("text", "").rstrip("\n"))
            elif kind == "error":
                trace = "\n".join(output.get("traceback", [])) or (
                    f"{output.get('ename')}: {output.get('evalue')}"
                )
                parts.append(_ANSI.sub("", trace))
            elif kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                if "text/plain" in data and not any(
                    m.startswith("application/scrapbook") for m in data
                ):
                    parts.append(str(data["text/plain"]).rstrip("\n"))
                elif "image/png" in data:
                    parts.append("[image]")
    return "\n".join(parts) + "\n"


def attempt_text(path: Path, shown: str | None = None) -> str:
    if path.suffix == ".ipynb":
        return notebook_text(path, shown)
    return path.read_text(encoding="utf-8", errors="replace")
