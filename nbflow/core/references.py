"""`{{references}}`: find them in values and resolve them against a run's context.

A value that is exactly one reference keeps the referenced value's type; a reference inside
a longer string is rendered as text (JSON for lists and mappings, lower-case booleans).
`\\{{` is a literal `{{`: what follows it is not a reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from .errors import ReferenceError_ as ReferenceError_  # named through this module too

REFERENCE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
ESCAPE = "\\{{"  # written before what would be a reference, it stands for a literal `{{`
# An escape or a reference, whichever starts first: one scan, so escaped text never resolves.
_TOKEN = re.compile(r"\\\{\{|\{\{\s*([^{}]*?)\s*\}\}")

ALIASES = {
    "job.parameters": "params",
    "job.run_id": "run.id",
    "job.id": "run.workflow",
    "job.name": "run.workflow",
    "job.start_time": "run.start_time",
    "job.trigger": "run.trigger",
    "job.repair_count": "run.repair_count",
    "task.name": "task.key",
    "task.execution_count": "task.attempt",
}

TIME_ARGS = (
    "iso_date",
    "iso_datetime",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "timestamp_ms",
    "iso_weekday",
    "is_weekday",
)


# Facts about what started a run, beyond its type and time (`run.trigger.NAME`): the
# upstream run of a workflow-completion trigger, a SQL trigger's value, the backfill.
TRIGGER_INFO = ("run_id", "workflow", "state", "value", "backfill_id")


def canonical(expr: str) -> str:
    """Rewrite a Databricks spelling to nbflow's; `a.[b c]` bracket keys become `a.b c`."""
    expr = re.sub(r"\.\[\s*([^\]]*?)\s*\]", r".\1", expr.strip())
    for alias, target in ALIASES.items():
        if expr == alias or expr.startswith(alias + "."):
            return target + expr[len(alias) :]
    return expr


def time_arg(ts: float, arg: str, tz: Any = timezone.utc) -> Any:
    moment = datetime.fromtimestamp(ts, tz=tz)
    values = {
        "iso_date": moment.date().isoformat(),
        "iso_datetime": moment.isoformat(),
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "timestamp_ms": int(round(ts * 1000)),
        "iso_weekday": moment.isoweekday(),
        "is_weekday": moment.isoweekday() <= 5,
    }
    if arg not in values:
        raise ReferenceError_(f"unknown time field {arg!r} (use one of {', '.join(TIME_ARGS)})")
    return values[arg]


def render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def is_whole(value: str) -> bool:
    """Whether the text is exactly one reference (its value keeps its own type)."""
    return "{{" in value and REFERENCE.fullmatch(value) is not None


def substitute(value: Any, lookup: Callable[[str], Any]) -> Any:
    """Resolve every reference in `value` (recursing into lists and mappings)."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        whole = REFERENCE.fullmatch(value)
        if whole:
            return lookup(canonical(whole.group(1)))

        def replace(m: re.Match[str]) -> str:
            if m.group(0) == ESCAPE:
                return "{{"
            return render(lookup(canonical(m.group(1))))

        return _TOKEN.sub(replace, value)
    if isinstance(value, list):
        return [substitute(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, lookup) for k, v in value.items()}
    return value


def find(value: Any) -> list[str]:
    """Every reference in `value`, canonical spelling."""
    if isinstance(value, str):
        return [canonical(m.group(1)) for m in _TOKEN.finditer(value) if m.group(0) != ESCAPE]
    if isinstance(value, list):
        return [r for v in value for r in find(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in find(v)]
    return []


class Context:
    """What references resolve against when a task starts."""

    def __init__(
        self,
        *,
        params: dict[str, Any],
        run: dict[str, Any],
        tasks: dict[str, dict[str, Any]],
        task: dict[str, Any] | None = None,
        input_value: Any = None,
        has_input: bool = False,
    ):
        self.params = params
        self.run = run
        self.tasks = tasks
        self.task = task or {}
        self.input_value = input_value
        self.has_input = has_input

    def lookup(self, expr: str) -> Any:
        parts = expr.split(".")
        head = parts[0]
        if head == "params" and len(parts) >= 2:
            name = ".".join(parts[1:])
            if name not in self.params:
                raise ReferenceError_(f"{{{{{expr}}}}}: no workflow parameter named {name!r}")
            return self.params[name]
        if head == "run" and len(parts) >= 2:
            return self._run(expr, parts[1:])
        if head == "task" and len(parts) == 2 and parts[1] in self.task:
            return self.task[parts[1]]
        if head == "tasks" and len(parts) >= 3:
            return self._tasks(expr, parts[1], parts[2:])
        if head == "input":
            if not self.has_input:
                raise ReferenceError_(f"{{{{{expr}}}}}: `input` is only set inside a for_each task")
            value = self.input_value
            for field in parts[1:]:
                if not isinstance(value, dict) or field not in value:
                    raise ReferenceError_(f"{{{{{expr}}}}}: the input has no field {field!r}")
                value = value[field]
            return value
        raise ReferenceError_(f"{{{{{expr}}}}}: unknown reference")

    def _run(self, expr: str, rest: list[str]) -> Any:
        if rest[0] in ("id", "workflow", "repair_count") and len(rest) == 1:
            return self.run[rest[0]]
        # Times read in the schedule's time zone (UTC without one): a stable logical date.
        tz = ZoneInfo(self.run.get("timezone") or "UTC")
        if rest[0] == "start_time" and len(rest) == 2:
            return time_arg(self.run["start_time"], rest[1], tz)
        if rest[0] == "trigger" and len(rest) >= 2:
            if rest[1] == "time" and len(rest) == 3:
                return time_arg(self.run["trigger_time"], rest[2], tz)
            if rest[1] == "type" and len(rest) == 2:
                return self.run["trigger_type"]
            if rest[1] in ("files", "location") and len(rest) == 2:
                return self.run.get("trigger_" + rest[1])
            info = self.run.get("trigger_info") or {}
            if rest[1] in TRIGGER_INFO and len(rest) == 2:
                return info.get(rest[1])  # None when another kind of trigger started the run
            if rest[1] in ("params", "tasks") and len(rest) >= 3:
                return self._upstream(expr, info, rest[1:])
        raise ReferenceError_(f"{{{{{expr}}}}}: unknown reference")

    def _upstream(self, expr: str, info: dict[str, Any], rest: list[str]) -> Any:
        """`run.trigger.params.NAME` and `run.trigger.tasks.KEY...`: the upstream run's."""
        if "run_id" not in info:
            raise ReferenceError_(
                f"{{{{{expr}}}}}: this run was not started by another workflow's run "
                "(`trigger: {after: ...}`)"
            )
        if rest[0] == "params":
            name = ".".join(rest[1:])
            params = info.get("params") or {}
            if name not in params:
                raise ReferenceError_(
                    f"{{{{{expr}}}}}: run {info['run_id']} of {info.get('workflow')} has no "
                    f"parameter {name!r}"
                )
            return params[name]
        upstream = Context(params={}, run={}, tasks=info.get("tasks") or {})
        try:
            return upstream._tasks(expr, rest[1], rest[2:]) if len(rest) >= 3 else None
        except ReferenceError_ as exc:
            where = f"run {info['run_id']} of {info.get('workflow')}"
            raise ReferenceError_(str(exc).replace("upstream", f"in {where}")) from None

    def _tasks(self, expr: str, key: str, rest: list[str]) -> Any:
        if key not in self.tasks:
            raise ReferenceError_(f"{{{{{expr}}}}}: no task {key!r} has finished upstream")
        info = self.tasks[key]
        if rest == ["result_state"]:
            return info["state"]
        if rest[0] == "values" and len(rest) == 2:
            values = info.get("values") or {}
            if rest[1] not in values:
                raise ReferenceError_(
                    f"{{{{{expr}}}}}: task {key!r} published no value {rest[1]!r}"
                )
            return values[rest[1]]
        if rest[0] == "output":
            value: Any = info.get("output") or {}
            for field in rest[1:]:
                if not isinstance(value, dict) or field not in value:
                    raise ReferenceError_(f"{{{{{expr}}}}}: task {key!r} has no output {field!r}")
                value = value[field]
            return value
        raise ReferenceError_(f"{{{{{expr}}}}}: unknown reference")
