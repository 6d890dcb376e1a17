"""Every import in nbflow, module-level or inside a function, names a module that exists.

A function's import runs only when it is called: one left naming a module that moved
breaks that one command (`show` did, after the CLI became a package), not the import.
"""

from __future__ import annotations

import ast
import importlib.util

from tests.conftest import REPO

PACKAGE = REPO / "nbflow"


def module_name(path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def test_every_relative_import_names_an_existing_module():
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "labextension" in path.parts:
            continue
        here = module_name(path)
        package = here if path.name == "__init__.py" else here.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            for name in names:
                if importlib.util.find_spec(name) is None and not _attribute(name):
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert missing == []


def _attribute(name: str) -> bool:
    """`from . import x` where x is a name defined in the package, not a module."""
    module, _, attr = name.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False
