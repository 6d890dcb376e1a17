"""for_each iterations: a task's values gathered from what each of its iterations published."""

from __future__ import annotations

from typing import Any


def iteration_values(per_iteration: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """A for_each task's values: each name's values as a list in input order (None where an
    iteration published no value of that name)."""
    names = list(dict.fromkeys(name for values in per_iteration for name in values))
    return {name: [values.get(name) for values in per_iteration] for name in names}
