"""Schema messages: pydantic's validation errors on a workflow file as one sentence each.

Each error is followed back through the file's data to the place it stands (so the loader
can give its line), named as a user reads it (`tasks[clean].retries`), with the expected
form and a did-you-mean hint where one helps.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ..core import conditions
from ..core.hints import did_you_mean
from . import schema

_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "schedule": schema.Schedule,
    "file_arrival": schema.FileArrival,
    "continuous": schema.Continuous,
    "notifications": schema.Notifications,
    "defaults": schema.TaskSettings,
    "for_each": schema.ForEach,
    "condition": schema.Condition,
    "sql": schema.Sql,
    "trigger": schema.Trigger,
    "after": schema.AfterWorkflow,
    "health": schema.Health,
}

# What a value of a union-typed key should look like, for one clear message.
_EXPECTED = {
    "depends_on": "a task key, or {task: KEY, outcome: true|false} for a condition task",
    "on_start": "{email: ADDRESS} or {webhook: URL}",
    "on_success": "{email: ADDRESS} or {webhook: URL}",
    "on_failure": "{email: ADDRESS} or {webhook: URL}",
    "on_duration_warning": "{email: ADDRESS} or {webhook: URL}",
    "continuous": "true, false or {}",
    "command": "a list of arguments or one command line",
    "inputs": "a list, or a {{reference}} to a list",
    "args": "a list of strings or numbers",
    "retry_backoff": "a number of at least 1",
    "resources": "a mapping of resource names to amounts, as {kernel: 1, gpu: 1}",
}

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_for(path: tuple[Any, ...]) -> list[str]:
    if not path:
        return list(schema.Workflow.model_fields)
    if path[0] == "tasks" and len(path) == 2:
        return list(schema.Task.model_fields)
    for part in reversed(path):
        if isinstance(part, str) and part in _SECTION_MODELS:
            return list(_SECTION_MODELS[part].model_fields)
        if isinstance(part, str) and part in _EXPECTED and part.startswith("on_"):
            return ["email", "webhook"]
    return []


def path_text(path: tuple[Any, ...], task_keys: dict[int, str]) -> str:
    """A readable name for a place in the file, such as `tasks[clean].retries`."""
    parts: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int) and parts:  # a list index (a key `1:` starts a path as text)
            if i == 1 and path[0] == "tasks" and part in task_keys:
                parts[-1] += f"[{task_keys[part]}]"
            else:
                parts[-1] += f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts) or "the file"


def _data_path(data: Any, loc: tuple[Any, ...], error_type: str) -> tuple[tuple[Any, ...], bool]:
    """Follow `loc` through the data, skipping pydantic's union-branch labels.

    Returns the path and whether some labels were skipped (a union was tried).
    """
    path: list[Any] = []
    skipped = False
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif last and error_type in ("extra_forbidden", "missing"):
            path.append(part)
        else:
            skipped = True
    return tuple(path), skipped


def _value_at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def from_validation(
    exc: ValidationError, data: Any, prefix: tuple[Any, ...], task_keys: dict[int, str]
) -> list[tuple[tuple[Any, ...], str]]:
    """(path in the file, sentence) for each problem `exc` found in `data`, found at `prefix`."""
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    unions: set[tuple[Any, ...]] = set()
    for details in exc.errors():
        err: dict[str, Any] = dict(details)
        path, skipped = _data_path(data, tuple(err["loc"]), err["type"])
        grouped.setdefault(path, []).append(err)
        if skipped:
            unions.add(path)
    # A union member that does not even have the value's shape ("expected a string" for a
    # mapping) says nothing when another member reports a problem inside the value.
    for path in list(grouped):
        if path in unions and all(e["type"] in _TYPE_WORDS for e in grouped[path]):
            if any(other[: len(path)] == path and other != path for other in grouped):
                del grouped[path]
    out: list[tuple[tuple[Any, ...], str]] = []
    for path, errors in grouped.items():
        full = prefix + path
        where = path_text(full, task_keys)
        err: dict[str, Any] = errors[0]  # type: ignore[no-redef]
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(path[-1])
            parent = path_text(full[:-1], task_keys)
            hint = did_you_mean(key, _fields_for(full[:-1]))
            out.append((full, f"unknown key {key!r} in {parent}{hint}"))
            continue
        if kind == "invalid_key":  # `1: x`, `~: x`: YAML keys that are not text
            bad_key = err.get("input")
            # pydantic's loc names a key None as 'None': then `path` stops at the mapping.
            holder = full[:-1] if path and path[-1] == bad_key else full
            shown = path_text(holder, task_keys)
            out.append(((*holder, bad_key), f"{shown}: the key {bad_key!r} is not text (quote it)"))
            continue
        if kind == "missing":
            out.append(
                (
                    full,
                    f"{path_text(full[:-1], task_keys)} is missing the required key {path[-1]!r}",
                )
            )
            continue
        value = _value_at(data, path)
        if kind.startswith("union_tag") or (path in unions and len(errors) > 1):
            name = next((p for p in reversed(full) if isinstance(p, str)), "")
            expected = _EXPECTED.get(name)
            if expected:
                out.append((full, f"{where}: expected {expected}, got {_describe(value)}"))
                continue
            # A union of a section and a simpler form: report the section's own problem.
            errors = [e for e in errors if e["type"] not in _TYPE_WORDS] or errors
            err = errors[0]
            kind = err["type"]
        if kind in _TYPE_WORDS:
            message = f"{where}: expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
        elif kind == "literal_error":
            allowed = [
                str(v)
                for v in (err.get("ctx") or {}).get("expected", "").replace("'", "").split(" or ")
            ]
            choices = [c.strip() for part in allowed for c in part.split(",")]
            hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
            if full[-2:] == ("condition", "op") and isinstance(value, str):
                meant = conditions.suggest_operator(value)
                hint = f" (did you mean {meant!r}?)" if meant else hint
            message = f"{where}: {_describe(value)} is not one of {', '.join(choices)}{hint}"
        elif kind == "string_pattern_mismatch":
            value = err.get("input", value)  # a mapping's key, when the key is what is wrong
            if full[-1] == "key" or full[-2:-1] == ("parameters",) or full[-1] == "name":
                message = f"{where}: {_describe(value)} may only contain letters, digits, " + (
                    "'_' and '-'"
                    if full[-1] == "key"
                    else "'_'"
                    if "parameters" in full
                    else "'_', '.' and '-'"
                )
            elif full[-1] == "email":
                message = f"{where}: {_describe(value)} is not an email address"
            elif full[-1] == "webhook":
                message = f"{where}: {_describe(value)} is not an http:// or https:// URL"
            else:
                message = f"{where}: {_describe(value)} does not have the expected form"
        elif kind == "greater_than":
            limit = (err.get("ctx") or {}).get("gt")
            message = f"{where}: must be more than {limit}, got {_describe(value)}"
        elif kind == "greater_than_equal":
            limit = (err.get("ctx") or {}).get("ge")
            message = f"{where}: must be at least {limit}, got {_describe(value)}"
        elif kind == "too_short":
            message = f"{where}: must not be empty"
        elif kind == "value_error":
            text = str(err["msg"]).removeprefix("Value error, ")
            message = f"{where}: {text}"
        else:
            message = f"{where}: {err['msg']}"
        out.append((full, message))
    return out
