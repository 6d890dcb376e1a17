"""docs/architecture.md stays true: every module it names exists, and so does every function
it names beside a module (`module.py: name`, `_set(...)` of the runner)."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO

DOC = REPO / "docs" / "architecture.md"
PACKAGE = REPO / "nbflow"


def _defined(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _module(name: str):
    name = name.removeprefix("nbflow/")
    if name.startswith("tests/"):
        assert (REPO / name).is_file(), f"docs/architecture.md names {name}, which is missing"
        return REPO / name
    found = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).as_posix().endswith(name)]
    assert found, f"docs/architecture.md names {name}, which is not in nbflow/"
    return found[0]


def test_every_module_the_map_names_exists():
    text = DOC.read_text(encoding="utf-8")
    names = set(re.findall(r"\b([a-z_]+/(?:[a-z_]+/)?[a-z_]+\.py)\b", text))
    names |= set(re.findall(r"`([a-z_]+\.py)", text))
    assert len(names) > 30  # the map names most of the package
    for name in names:
        _module(name)


def test_every_function_named_beside_its_module_is_defined_there():
    text = DOC.read_text(encoding="utf-8")
    pairs = re.findall(r"`([a-z_]+/(?:[a-z_]+/)?[a-z_]+\.py):\s+([A-Za-z_]+)`", text)
    assert len(pairs) >= 5
    for module, name in pairs:
        assert name in _defined(_module(module)), f"{name} is not defined in {module}"


def test_where_state_changes_names_the_runners_own_methods():
    runner = _defined(PACKAGE / "execution" / "runner.py")
    for method in ("_set", "_record", "_run_state", "_decide_ready"):
        assert method in runner
