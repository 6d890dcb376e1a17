"""Task checks across a workflow file: unique keys, dependencies and cycles, named files.

Tasks that failed their own schema checks still take part (`loose_edges`), so every
problem of a file is reported in one pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core import graph
from ..core.errors import Problem
from ..core.hints import did_you_mean
from ..databricks.source_notebook import is_source_file
from . import schema
from .model import Edge, Task


def raw_kind(item: dict[str, Any]) -> str | None:
    """The one kind a task's raw mapping gives (None for none or several)."""
    kinds = [k for k in schema.TASK_KINDS if item.get(k) is not None]
    return kinds[0] if len(kinds) == 1 else None


def loose_edges(item: dict[str, Any]) -> list[Edge]:
    """Dependencies of a task that failed its own checks, so graph checks still see them."""
    edges = []
    for dep in item.get("depends_on") or [] if isinstance(item.get("depends_on"), list) else []:
        if isinstance(dep, str):
            edges.append(Edge(dep))
        elif isinstance(dep, dict) and isinstance(dep.get("task"), str):
            edges.append(
                Edge(
                    dep["task"],
                    dep.get("outcome") if isinstance(dep.get("outcome"), bool) else None,
                )
            )
    return edges


def loose_notebook_task(item: dict[str, Any], line: int | None) -> Task | None:
    """A notebook task that failed its own checks, as far as its parameters go."""
    parameters = item.get("parameters", {})
    if raw_kind(item) != "notebook" or not isinstance(item.get("notebook"), str):
        return None
    if not isinstance(parameters, dict) or not all(isinstance(k, str) for k in parameters):
        return None
    return Task(
        key=item["key"], kind="notebook", target=item["notebook"], line=line, parameters=parameters
    )


def check_graph(
    nodes: list[tuple[str, int | None, str | None, list[Edge]]], file: str, problems: list[Problem]
) -> None:
    """`nodes`: (key, line, kind or None when unknown, edges) for every task of the file."""
    by_key: dict[str, tuple[int | None, str | None]] = {}
    for key, line, kind, _ in nodes:
        if key in by_key:
            problems.append(
                Problem(
                    file, line, f"duplicate task key {key!r} (first used at line {by_key[key][0]})"
                )
            )
        else:
            by_key[key] = (line, kind)
    for key, line, _, edges in nodes:
        for edge in edges:
            if edge.task == key:
                problems.append(Problem(file, line, f"task {key!r} depends on itself"))
            elif edge.task not in by_key:
                hint = did_you_mean(edge.task, list(by_key))
                problems.append(
                    Problem(file, line, f"task {key!r} depends on unknown task {edge.task!r}{hint}")
                )
            elif edge.outcome is not None and by_key[edge.task][1] not in (None, "condition"):
                problems.append(
                    Problem(
                        file,
                        line,
                        f"task {key!r}: `outcome` is only for an edge from a condition task, "
                        f"and {edge.task!r} is a {by_key[edge.task][1]} task",
                    )
                )
    upstream: dict[str, list[str]] = {}
    for key, _, _, edges in nodes:
        upstream.setdefault(key, []).extend(
            e.task for e in edges if e.task in by_key and e.task != key
        )
    cycle = graph.find_cycle(upstream)
    if cycle:
        problems.append(
            Problem(file, by_key[cycle[0]][0], "dependency cycle: " + " -> ".join(cycle))
        )


def check_files(
    files: list[tuple[str, int | None, str, str]], root: Path, file: str, problems: list[Problem]
) -> None:
    """`files`: (task key, line, kind, path as written) for notebook and script tasks."""
    for key, line, kind, target in files:
        if "{{" in target:
            continue  # resolved when the task starts
        path = root / target
        try:
            found = path.is_file()
        except OSError as exc:  # a name over the system's limits (ENAMETOOLONG), a loop
            problems.append(Problem(file, line, f"task {key!r}: {kind} file: {exc.strerror}"))
            continue
        if not found:
            problems.append(Problem(file, line, f"task {key!r}: {kind} file {target!r} not found"))
        elif kind == "notebook" and path.suffix != ".ipynb" and not is_source_file(path):
            problems.append(
                Problem(file, line, f"task {key!r}: {target!r} is not an .ipynb notebook")
            )
