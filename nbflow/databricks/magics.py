"""The IPython magics a converted Databricks notebook uses: `%sql`, `%run` and other languages.

`source_notebook.py` rewrites Databricks magic cells into these and loads this extension in a
first cell (`%load_ext nbflow.databricks.magics`):

- `%%databricks_sql`: the statements run in one transaction on the project's SQL database
  (the one `sql` tasks use by default, `.nbflow/warehouse.db`), with `:name` markers bound to
  the notebook's variables of those names (widget values among them); the last statement's
  rows are shown and kept in `_sqldf` as a list of mappings, as Databricks keeps a DataFrame;
- `%databricks_run PATH`: runs another notebook's code cells in this notebook's namespace, as
  Databricks' `%run` does (PATH relative to the working directory, the notebook's folder
  unless the task sets `cwd`; `.py`/`.ipynb` may be left out);
- `%%databricks_cell LANGUAGE`: a Scala, R or `%fs` cell, which fails saying why.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class


class SqlError(RuntimeError):
    """A `%sql` cell failed: the database's own message."""


class Rows(list):  # type: ignore[type-arg]
    """The rows of a `%sql` cell (mappings), shown as a table."""

    def _repr_html_(self) -> str:
        if not self:
            return "<p>(no rows)</p>"
        columns = list(self[0])
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(r.get(c)))}</td>" for c in columns) + "</tr>"
            for r in self
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def database_url(cwd: Path | None = None) -> str:
    """The SQL database of the project around `cwd` (the one `sql` tasks use by default)."""
    from nbflow.workflows.project import Project, find_root

    start = cwd or Path.cwd()
    root = find_root(start)
    if root is None:
        raise SqlError(
            f"a %sql cell runs on the nbflow project's SQL database, and {start} is not inside "
            "a project (a folder with workflows/)"
        )
    return Project(root).warehouse_url


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def find_notebook(path: str, cwd: Path | None = None, caller: str = "%run") -> Path:
    """The notebook a `%run` (or `caller`) names: as given, or with `.py` or `.ipynb` added."""
    base = (cwd or Path.cwd()) / path
    for candidate in (
        base,
        base.with_name(base.name + ".py"),
        base.with_name(base.name + ".ipynb"),
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{caller} {path}: no notebook {base} (nor with .py or .ipynb)")


@magics_class
class DatabricksMagics(Magics):
    @property
    def _ns(self) -> dict[str, Any]:
        assert self.shell is not None  # a registered magic always has its shell
        return self.shell.user_ns  # type: ignore[no-any-return]

    @cell_magic
    def databricks_sql(self, line: str, cell: str) -> Rows:
        from nbflow.execution.sqlworker import execute, split_statements

        statements = split_statements(cell)
        if not statements:
            return Rows()
        names = {k: v for k, v in self._ns.items() if not k.startswith("_") and _plain(v)}
        result = execute({"url": database_url(), "statements": statements, "parameters": names})
        if result["state"] != "success":
            error = result["error"]
            raise SqlError(f"{error['ename']}: {error['evalue']}")
        rows = Rows(result["output"]["rows"])
        self._ns["_sqldf"] = rows
        return rows

    @line_magic
    def databricks_run(self, line: str) -> None:
        from .source_notebook import SETUP_TAG, read_notebook

        target = line.strip().strip("\"'")
        path = find_notebook(target)
        nb = read_notebook(path)
        assert self.shell is not None
        for index, cell in enumerate(nb.cells):
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.cell_type != "code" or SETUP_TAG in tags or "parameters" in tags:
                continue
            outcome = self.shell.run_cell(cell.source, store_history=False)
            if not outcome.success:
                raise RuntimeError(f"%run {target}: cell {index} of {path.name} failed")

    @cell_magic
    def databricks_cell(self, line: str, cell: str) -> None:
        language = line.strip() or "unknown"
        if language == "fs":
            raise NotImplementedError(
                "a %fs cell uses dbutils.fs, which nbflow does not provide: use Python's own "
                "file functions (pathlib, shutil) on local paths"
            )
        raise NotImplementedError(
            f"this cell is written in %{language}: nbflow runs the notebook on a Python "
            "kernel, where only Python, %sql, %sh, %pip and %md cells can run"
        )


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(DatabricksMagics)
