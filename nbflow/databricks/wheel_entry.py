"""A Python wheel task's entry point, called as Databricks calls it: `python -m` this module.

`python -m nbflow.databricks.wheel_entry PACKAGE ENTRY_POINT [ARGS...]` looks up ENTRY_POINT
among the entry points of the installed distribution PACKAGE; when it has none of that name,
it calls `PACKAGE.ENTRY_POINT()` from the importable package, as Databricks does
(`python_wheel_task.entry_point`). The arguments are in `sys.argv[1:]`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any


class EntryPointNotFound(LookupError):
    """Neither the distribution's metadata nor the package has the entry point."""


def find(package: str, entry: str) -> Callable[[], Any]:
    """The function Databricks would call for `package` and `entry`."""
    try:
        for point in distribution(package).entry_points:
            if point.name == entry:
                return point.load()  # type: ignore[no-any-return]
    except PackageNotFoundError:
        pass
    module_name = package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EntryPointNotFound(
            f"package {package} is not installed and there is no module {module_name} to "
            f"import ({exc}): install the wheel in the environment nbflow runs in"
        ) from None
    function = getattr(module, entry, None)
    if not callable(function):
        raise EntryPointNotFound(
            f"package {package} has no entry point {entry!r} and module {module_name} no "
            f"function {entry}()"
        )
    return function  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(
            "usage: python -m nbflow.databricks.wheel_entry PACKAGE ENTRY_POINT [ARGS...]",
            file=sys.stderr,
        )
        return 2
    package, entry, *args = argv
    try:
        function = find(package, entry)
    except EntryPointNotFound as exc:
        print(f"python_wheel_task: {exc}", file=sys.stderr)
        return 2
    sys.argv = [entry, *args]
    result = function()
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
