"""Databricks notebooks as papermill runs them: source-format `.py` files and Databricks `.ipynb`.

A Databricks source-format notebook is a Python file that starts with `# Databricks notebook
source`, whose cells are separated by `# COMMAND ----------` lines and whose non-Python cells
are commented out with `# MAGIC`. A notebook exported from Databricks as `.ipynb` is an
ordinary notebook whose code cells may still start with a Databricks magic (`%md`, `%sql`).
Both are converted to an nbformat notebook that a Python kernel runs:

- `%md` cells become Markdown cells; `%python` cells plain code; `%pip` and `%sh` stay IPython
  magics (`%sh` as the `%%sh` cell magic);
- `%sql` cells run on the project's SQL database (the one `sql` tasks use) through the
  `%%databricks_sql` magic, `%run ./other` runs the other notebook in the same namespace as
  Databricks does (`%databricks_run`), and cells in other languages fail with a message naming
  the language (both in `magics.py`, loaded by a first cell);
- the widgets the notebook declares (`dbutils.widgets.text("name", "default")`, `dropdown`,
  `combobox`, `multiselect`, or the widget list of an exported `.ipynb`) become a cell tagged
  `parameters` holding their defaults, placed before the first declaration, so that papermill
  injects a task's parameters of the same names after it.

The source file is never changed; the runner keeps the executed copy as `.ipynb`. Nothing here
imports nbformat or papermill until a notebook is converted (the loader only asks whether a
file is a Databricks notebook).
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = "# Databricks notebook source"
SEPARATOR = re.compile(r"^# COMMAND -{5,}\s*$")
MAGIC_PREFIX = "# MAGIC"
TITLE = re.compile(r"^# DBTITLE \d+,(.*)$")
IPYNB_MARKER = b"application/vnd.databricks.v1+notebook"
WIDGET_KINDS = ("text", "dropdown", "combobox", "multiselect")
SETUP_TAG = "nbflow-databricks"  # the first cell, which loads the magics below
EXTENSION = "nbflow.databricks.magics"
PYTHON_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def is_source_file(path: Path) -> bool:
    """Whether `path` is a Databricks source-format notebook (a `.py` file with the header)."""
    if path.suffix != ".py":
        return False
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return first.strip() == HEADER


def is_databricks_ipynb(path: Path) -> bool:
    """Whether `path` is an `.ipynb` exported from Databricks (its metadata says so)."""
    if path.suffix != ".ipynb":
        return False
    try:
        return IPYNB_MARKER in path.read_bytes()
    except OSError:
        return False


def is_databricks_notebook(path: Path) -> bool:
    return is_source_file(path) or is_databricks_ipynb(path)


@dataclass(frozen=True)
class SourceCell:
    """One cell of a source-format file: its text with `# MAGIC` removed, and its title."""

    source: str
    magic: bool  # the cell was written as `# MAGIC` lines
    title: str | None = None


def split_cells(text: str) -> list[SourceCell]:
    """The cells of a source-format notebook, in order (empty cells dropped)."""
    lines = text.lstrip("\ufeff").splitlines()
    if lines and lines[0].strip() == HEADER:
        lines = lines[1:]
    chunks: list[list[str]] = [[]]
    for line in lines:
        if SEPARATOR.match(line):
            chunks.append([])
        else:
            chunks[-1].append(line)
    cells = []
    for chunk in chunks:
        while chunk and not chunk[0].strip():
            chunk.pop(0)
        while chunk and not chunk[-1].strip():
            chunk.pop()
        title = None
        if chunk and (m := TITLE.match(chunk[0])):
            title = m.group(1).strip()
            chunk = chunk[1:]
        if not chunk:
            continue
        magic = all(line.startswith(MAGIC_PREFIX) for line in chunk)
        if magic:
            chunk = [_unmagic(line) for line in chunk]
        cells.append(SourceCell("\n".join(chunk), magic, title))
    return cells


def _unmagic(line: str) -> str:
    rest = line[len(MAGIC_PREFIX) :]
    return rest[1:] if rest.startswith(" ") else rest


def convert_cell(source: str) -> tuple[str, str]:
    """(cell type, source) for a cell as a Python kernel runs it, given its Databricks text."""
    first, _, rest = source.partition("\n")
    word = first.strip().split(maxsplit=1)
    magic = word[0] if word and word[0].startswith("%") else None
    after = word[1] if len(word) > 1 else ""
    if magic in ("%md", "%md-sandbox"):
        return "markdown", "\n".join(p for p in (after, rest) if p)
    if magic == "%python":
        return "code", "\n".join(p for p in (after, rest) if p)
    if magic == "%sql":
        return "code", "%%databricks_sql\n" + "\n".join(p for p in (after, rest) if p)
    if magic == "%sh":
        return "code", "%%sh\n" + "\n".join(p for p in (after, rest) if p)
    if magic == "%run":
        return "code", f"%databricks_run {after}".rstrip() + (f"\n{rest}" if rest else "")
    if magic in ("%pip", "%conda") or magic is None:
        return "code", source
    if re.fullmatch(r"%[A-Za-z]+", magic or ""):
        # %scala, %r, %fs...: there is no such kernel here; the cell fails saying so.
        language = (magic or "%")[1:]
        return "code", f"%%databricks_cell {language}\n" + "\n".join(p for p in (after, rest) if p)
    return "code", source  # `%%time` and other IPython magics run as they are


def widgets_in(code: str) -> list[tuple[str, str, str]]:
    """(name, default, kind) of each `dbutils.widgets.KIND(name, default, ...)` in `code`."""
    cleaned = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()
    )
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        if not (
            node.func.attr in WIDGET_KINDS
            and isinstance(owner, ast.Attribute)
            and owner.attr == "widgets"
            and isinstance(owner.value, ast.Name)
            and owner.value.id == "dbutils"
        ):
            continue
        given = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        name = node.args[0] if node.args else given.get("name")
        default = node.args[1] if len(node.args) > 1 else given.get("defaultValue")
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            value = default.value if isinstance(default, ast.Constant) else ""
            found.append((name.value, "" if value is None else str(value), node.func.attr))
    return found


def _ipynb_widgets(metadata: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Widgets recorded in an exported notebook's Databricks metadata."""
    info = metadata.get("application/vnd.databricks.v1+notebook") or {}
    widgets = info.get("widgets") or {}
    found = []
    for name, widget in widgets.items() if isinstance(widgets, dict) else ():
        details = (widget or {}).get("widgetInfo") or {}
        default = details.get("defaultValue", "")
        found.append(
            (str(name), "" if default is None else str(default), details.get("widgetType", "text"))
        )
    return found


def parameters_source(widgets: list[tuple[str, str, str]]) -> str:
    """A `parameters` cell declaring each widget (as a Python name) with its default."""
    lines = [
        "# The notebook's widgets with their defaults (written by nbflow): a task's parameters",
        "# of the same names are injected after this cell.",
    ]
    seen = set()
    for name, default, kind in widgets:
        if name in seen:
            continue
        seen.add(name)
        if name.isidentifier():
            lines.append(f"{name} = {default!r}  # dbutils.widgets.{kind}")
        else:
            lines.append(f"# widget {name!r} is not a Python name: it cannot be a parameter")
    return "\n".join(lines)


def _build(
    cells: list[tuple[str, str, dict[str, Any]]],
    widgets: list[tuple[str, str, str]],
    metadata: dict[str, Any],
) -> Any:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata.update(metadata)
    nb.metadata["kernelspec"] = nb.metadata.get("kernelspec") or dict(PYTHON_KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    needs_magics = any(
        kind == "code" and re.match(r"%%?databricks_", source) for kind, source, _ in cells
    )
    if needs_magics:
        nb.cells.append(
            nbformat.v4.new_code_cell(f"%load_ext {EXTENSION}", metadata={"tags": [SETUP_TAG]})
        )
    has_parameters = any("parameters" in (meta.get("tags") or []) for _, _, meta in cells)
    place = None
    if widgets and not has_parameters:
        place = next(
            (
                i
                for i, (kind, source, _) in enumerate(cells)
                if kind == "code" and "dbutils.widgets" in source
            ),
            next((i for i, (kind, _, _) in enumerate(cells) if kind == "code"), len(cells)),
        )
    for i, (kind, source, meta) in enumerate(cells):
        if i == place:
            nb.cells.append(
                nbformat.v4.new_code_cell(
                    parameters_source(widgets), metadata={"tags": ["parameters"]}
                )
            )
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source, metadata=meta))
        elif kind == "raw":
            nb.cells.append(nbformat.v4.new_raw_cell(source, metadata=meta))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata=meta))
    if place == len(cells):
        nb.cells.append(
            nbformat.v4.new_code_cell(parameters_source(widgets), metadata={"tags": ["parameters"]})
        )
    return nb


def from_source(text: str) -> Any:
    """The nbformat notebook for the text of a source-format notebook."""
    cells: list[tuple[str, str, dict[str, Any]]] = []
    widgets: list[tuple[str, str, str]] = []
    for cell in split_cells(text):
        kind, source = convert_cell(cell.source)
        meta: dict[str, Any] = {"title": cell.title} if cell.title else {}
        if kind == "code" and not cell.magic:
            widgets.extend(widgets_in(source))
        cells.append((kind, source, meta))
    return _build(cells, widgets, {})


def from_ipynb(nb: Any) -> Any:
    """A notebook exported from Databricks, with its magic cells converted."""
    cells: list[tuple[str, str, dict[str, Any]]] = []
    widgets = _ipynb_widgets(dict(nb.metadata))
    for cell in nb.cells:
        meta = dict(cell.get("metadata") or {})
        if cell.cell_type == "code":
            kind, source = convert_cell(cell.source)
            if kind == "code" and not source.startswith("%"):
                widgets.extend(widgets_in(source))
        else:
            kind, source = cell.cell_type, cell.source
        cells.append((kind, source, meta))
    metadata = {k: v for k, v in dict(nb.metadata).items() if k != "kernelspec" or v}
    return _build(cells, widgets, metadata)


def read_notebook(path: Path) -> Any:
    """Any notebook nbflow runs, as nbformat reads it: Databricks ones converted first."""
    import nbformat

    if is_source_file(path):
        return from_source(path.read_text(encoding="utf-8-sig"))
    nb = nbformat.read(str(path), as_version=4)
    if IPYNB_MARKER.decode() in nb.metadata or any(
        "application/vnd.databricks.v1+cell" in (c.get("metadata") or {}) for c in nb.cells
    ):
        return from_ipynb(nb)
    return nb


class _ConvertingHandler:
    """A papermill I/O handler that reads one Databricks notebook as its converted `.ipynb`."""

    def __init__(self, local: Any):
        self.local = local

    def read(self, path: str) -> str:
        import nbformat

        text: str = nbformat.writes(read_notebook(Path(path)))
        return text

    def write(self, buf: str, path: str) -> None:
        self.local.write(buf, path)

    def listdir(self, path: str) -> Any:
        return self.local.listdir(path)

    def pretty_path(self, path: str) -> str:
        return path


def papermill_input(path: str) -> str:
    """Let papermill read `path` converted when it is a Databricks notebook; return `path`.

    papermill picks an I/O handler by path prefix and has no hook for file formats; a
    handler registered for exactly this file converts it when papermill reads it, and the
    executed notebook still records the real source path (a NotebookNode given as input
    would be copied whole into its metadata). Meant for the one-attempt worker process.
    """
    source = Path(path)
    if not is_databricks_notebook(source):
        return path
    from ..startup import import_papermill

    import_papermill()
    from papermill.iorw import LocalHandler, papermill_io

    papermill_io.register(path, _ConvertingHandler(LocalHandler()))
    # papermill warns about any input not named .ipynb before it asks the handler.
    warnings.filterwarnings("ignore", message="The specified file .* does not end in one of")
    return path
