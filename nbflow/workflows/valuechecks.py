"""Value checks of a workflow file: references, parameters and text, each at its line.

`{{references}}` that can be known wrong before a run, parameters against what the notebooks
receiving them declare, and text UTF-8 cannot carry (a lone surrogate) anywhere in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core import graph, paramvalues, refcheck, references
from ..core.errors import Problem
from . import params, yamlload
from .messages import path_text
from .model import Task
from .taskchecks import loose_edges, raw_kind


def check_references(
    workflow_params: dict[str, Any],
    raw_tasks: list[Any],
    doc: yamlload.Document,
    file: str,
    problems: list[Problem],
) -> None:
    """References that can be known wrong before running, at their line.

    Read from the file's data, not from checked tasks, so they are reported in the same
    pass as every other problem: a task with problems of its own still has its references
    checked, and others may refer to it.
    """
    entries = [
        (i, item)
        for i, item in enumerate(raw_tasks)
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    ]
    kinds: dict[str, str | None] = {}
    upstream: dict[str, list[str]] = {}
    for _, item in entries:
        kinds.setdefault(item["key"], raw_kind(item))
        upstream.setdefault(item["key"], [e.task for e in loose_edges(item)])
    ancestry = graph.Ancestry(upstream)
    each = {item["key"] for _, item in entries if item.get("for_each") is not None}
    for path, text in refcheck.strings(workflow_params, ("parameters",)):
        for expr in references.find(text):
            message = refcheck.check_workflow_parameter(expr, kinds)
            if message:
                problems.append(
                    Problem(file, doc.line_of(path), f"{path_text(path, {})}: {message}")
                )
    params_known = [k for k in workflow_params if isinstance(k, str)]
    for i, item in entries:
        key = item["key"]
        ancestors = ancestry.of(key)
        for place in refcheck.TASK_PLACES:
            if place not in item:
                continue
            for path, text in refcheck.strings(item[place], ("tasks", i, place)):
                in_inputs = path[2:4] == ("for_each", "inputs")
                for expr in references.find(text):
                    message = refcheck.check(
                        expr,
                        params=params_known,
                        task=key,
                        upstream=ancestors,
                        kinds=kinds,
                        has_input=isinstance(item.get("for_each"), dict) and not in_inputs,
                        for_each=each,
                    )
                    if message:
                        where = path_text(path, {i: key})
                        problems.append(Problem(file, doc.line_of(path), f"{where}: {message}"))


def check_notebook_parameters(
    workflow_params: dict[str, Any],
    tasks: list[tuple[int, Task]],
    root: Path,
    doc: yamlload.Document,
    file: str,
    problems: list[Problem],
) -> None:
    """Parameters each notebook task would receive, against what its notebook declares."""
    for i, task in tasks:
        for name, message in params.task_parameter_problems(root, task):
            # A cell nbflow cannot read is the notebook's problem: reported at `notebook:`.
            at: tuple[Any, ...] = (
                ("tasks", i, "parameters", name) if name else ("tasks", i, "notebook")
            )
            where = path_text(at, {i: task.key}) + ": " if name else ""
            problems.append(Problem(file, doc.line_of(at), where + message))
    only_tasks = [task for _, task in tasks]
    place = {id(task): i for i, task in tasks}
    for name, task, message in params.workflow_value_problems(root, only_tasks, workflow_params):
        if name is None:
            at = ("tasks", place[id(task)], "notebook")
            problems.append(Problem(file, doc.line_of(at), message))
        else:
            at = ("parameters", name)
            problems.append(Problem(file, doc.line_of(at), f"{path_text(at, {})}: {message}"))


def check_text(data: Any, doc: yamlload.Document, file: str, problems: list[Problem]) -> None:
    """Text that UTF-8 cannot encode (a lone surrogate from a `\\udXXX` escape) anywhere."""
    for path, text in _all_strings(data, ()):
        message = paramvalues.surrogate_problem(text)
        if message:
            shown = path_text(tuple(_printable(p) for p in path), {})
            problems.append(Problem(file, doc.line_of(path), f"{shown}: {message}"))


def _all_strings(value: Any, path: tuple[Any, ...]) -> Any:
    """Every string in `value`, keys included, with the path where it stands."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _all_strings(item, path + (i,))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield path + (key,), key
            yield from _all_strings(item, path + (key,))


def _printable(part: Any) -> Any:
    return part.encode("utf-8", "backslashreplace").decode() if isinstance(part, str) else part
