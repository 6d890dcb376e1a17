"""errors: one tree under NbflowError, defined in errors.py and named where they are raised."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nbflow import history
from nbflow.core import conditions, errors, references
from nbflow.execution import annotate
from nbflow.workflows import secrets, yamlload

PACKAGE = Path(errors.__file__).resolve().parents[1]  # nbflow/, errors.py is in core/

# Exceptions that keep a home of their own, and why.
ELSEWHERE = {
    # Not an error: dbutils.notebook.exit's way out of a cell, a BaseException as SystemExit.
    "databricks/dbutils_notebook.py": {"NotebookExit"},
    # Databricks' runtime names, raised inside a task's kernel as Databricks raises them.
    "databricks/magics.py": {"SqlError"},
    "databricks/wheel_entry.py": {"EntryPointNotFound"},
    # The REST layer's own 400 answer; it never leaves the server.
    "server/base.py": {"BadRequest"},
}


@pytest.mark.parametrize(
    "name", ["HistoryError", "SecretMissing", "YamlError", "ReferenceError_", "ConditionError"]
)
def test_each_error_is_in_the_tree(name):
    assert issubclass(getattr(errors, name), errors.NbflowError)


def test_errors_keep_the_builtin_kinds_callers_catch_them_as():
    assert issubclass(errors.ReferenceError_, LookupError)
    assert issubclass(errors.ConditionError, ValueError)
    assert issubclass(errors.UnreadableNotebook, errors.UsageError)


def test_the_modules_that_raise_them_name_the_same_classes():
    assert history.HistoryError is errors.HistoryError
    assert secrets.SecretMissing is errors.SecretMissing
    assert yamlload.YamlError is errors.YamlError
    assert references.ReferenceError_ is errors.ReferenceError_
    assert conditions.ConditionError is errors.ConditionError
    assert annotate.UnreadableNotebook is errors.UnreadableNotebook


def _exception_classes(tree: ast.Module) -> set[str]:
    """Top-level classes whose bases name an exception (an Error, an Exception, the tree)."""
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
            if any(b.endswith(("Error", "Exception", "Error_")) for b in bases):
                found.add(node.name)
    return found


def test_no_public_exception_is_defined_outside_errors_py():
    strays = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "core/errors.py":
            continue
        names = _exception_classes(ast.parse(path.read_text(), str(path)))
        names -= ELSEWHERE.get(rel, set())
        if names:
            strays[rel] = sorted(names)
    assert strays == {}
