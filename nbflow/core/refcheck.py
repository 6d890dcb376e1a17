"""References checked without running: unknown names, tasks not upstream, bad namespaces."""

from __future__ import annotations

from collections.abc import Collection, Container, Iterator
from typing import Any

from . import references
from .hints import did_you_mean

RUN_FIELDS = ("id", "workflow", "repair_count")
TRIGGER_FIELDS = ("type", "files", "location", *references.TRIGGER_INFO)
TASK_FIELDS = ("key", "attempt")
# Tasks whose Python may end with `dbutils.notebook.exit(value)`: their output is that value.
EXIT_KINDS = ("notebook", "script", "command")

# Where references may stand in a task, as paths into the task's mapping.
TASK_PLACES = (
    "parameters",
    "args",
    "notebook",
    "script",
    "command",
    "cwd",
    "condition",
    "for_each",
    "sql",
    "workflow",
)


def strings(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every string inside `value` with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, path + (i,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, path + (key,))


def check_workflow_parameter(expr: str, kinds: dict[str, str | None]) -> str | None:
    """A message when `expr` may not stand in a workflow parameter's value (run.* only)."""
    if expr.split(".")[0] == "params":
        return f"{{{{{expr}}}}}: workflow parameters may refer to run.* only"
    return check(expr, params=[], task=None, upstream=set(), kinds=kinds, has_input=False)


def check(
    expr: str,
    *,
    params: list[str],
    task: str | None,
    upstream: Container[str],
    kinds: dict[str, str | None],
    has_input: bool,
    for_each: Collection[str] = (),
) -> str | None:
    """A message when the (canonical) reference `expr` can be known wrong, else None.

    `for_each` names the for_each tasks: their values are lists (one element per
    iteration) and they keep no output of their own.

    `kinds` maps each task key to its kind, or None when the task's kind is not known
    (it has problems of its own).
    """
    parts = expr.split(".")
    head = parts[0]
    shown = "{{" + expr + "}}"
    if head == "params":
        if len(parts) < 2:
            return f"{shown}: name a parameter, as in {{{{params.NAME}}}}"
        name = ".".join(parts[1:])
        if name not in params:
            known = ", ".join(params) or "none"
            return f"{shown}: unknown parameter {name!r}{did_you_mean(name, params)} (workflow parameters: {known})"
        return None
    if head == "run":
        rest = parts[1:]
        if len(rest) == 1 and rest[0] in RUN_FIELDS:
            return None
        if rest[:1] == ["start_time"] or rest[:2] == ["trigger", "time"]:
            arg = rest[-1] if len(rest) == (2 if rest[0] == "start_time" else 3) else None
            if arg in references.TIME_ARGS:
                return None
            return f"{shown}: give one of {', '.join(references.TIME_ARGS)} after the time"
        if len(rest) == 2 and rest[0] == "trigger" and rest[1] in TRIGGER_FIELDS:
            return None
        if rest[:2] == ["trigger", "params"] and len(rest) >= 3:
            return None  # the upstream workflow's parameter, known when the run starts
        if rest[:2] == ["trigger", "tasks"] and len(rest) >= 4:
            if rest[3:] == ["result_state"] or (rest[3] == "values" and len(rest) == 5):
                return None
            if rest[3] == "output":
                return None
            return (
                f"{shown}: use run.trigger.tasks.KEY.values.NAME or "
                "run.trigger.tasks.KEY.result_state"
            )
        return f"{shown}: unknown run field"
    if head == "task":
        if task is None:
            return f"{shown}: `task` is only known inside a task"
        if len(parts) == 2 and parts[1] in TASK_FIELDS:
            return None
        return f"{shown}: unknown task field (use task.key or task.attempt)"
    if head == "tasks":
        if task is None:
            return f"{shown}: workflow parameters cannot refer to tasks"
        if len(parts) < 3:
            return f"{shown}: use tasks.KEY.values.NAME, tasks.KEY.result_state or tasks.KEY.output"
        key, rest = parts[1], parts[2:]
        if key not in kinds:
            return f"{shown}: unknown task {key!r}{did_you_mean(key, list(kinds))}"
        if key not in upstream:
            return f"{shown}: task {key!r} is not upstream of {task!r} (add it to depends_on)"
        if rest == ["result_state"] or (rest[0] == "values" and len(rest) == 2):
            return None
        if rest[0] == "output":
            if key in for_each:
                return (
                    f"{shown}: a for_each task keeps no output of its own; its iterations' "
                    f"values are lists in tasks.{key}.values.NAME"
                )
            if kinds[key] in EXIT_KINDS:  # what the task passed to dbutils.notebook.exit
                if rest[1:] in ([], ["result"], ["truncated"]):
                    return None
                return (
                    f"{shown}: a {kinds[key]} task's output is output.result (the value it "
                    "passes to dbutils.notebook.exit); output.rows is a sql task's"
                )
            if kinds[key] not in ("sql", None):
                return (
                    f"{shown}: only sql, notebook, script and command tasks have an output, "
                    f"and {key!r} is a {kinds[key]} task"
                )
            if rest[1:2] in ([], ["rows"]) and len(rest) <= 2:
                return None
            if rest[1:2] == ["first_row"] and len(rest) == 3:
                return None
            return f"{shown}: use output.rows or output.first_row.COLUMN"
        return (
            f"{shown}: use tasks.{key}.values.NAME, tasks.{key}.result_state or tasks.{key}.output"
        )
    if head == "input":
        return None if has_input else f"{shown}: `input` is only set inside a for_each task"
    namespaces = ["params", "run", "task", "tasks", "input", "job"]
    return f"{shown}: unknown namespace {head!r}{did_you_mean(head, namespaces)}"
