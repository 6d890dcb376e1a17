"""Shape of a workflow file (format 1), checked with pydantic at the edge.

Every key of `shared/spec/workflow-file.md` is declared here, also those whose behaviour
comes in later releases, so a file is judged complete and correct before anything runs.
Graph rules (dependencies, cycles) live in `graph.py`; this module only knows shapes.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    model_validator,
)

from ..core.durations import parse_duration

KEY_PATTERN = r"^[A-Za-z0-9_-]+$"
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
PARAM_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
RESOURCE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
TASK_KINDS = ("notebook", "script", "command", "sql", "condition", "workflow")
RUN_IF = (
    "all_success",
    "at_least_one_success",
    "none_failed",
    "all_done",
    "at_least_one_failed",
    "all_failed",
)
OPERATORS = ("==", "!=", ">", ">=", "<", "<=")


def _duration(value: Any) -> float:
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration)]
Number = StrictInt | StrictFloat


def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None
    return name


def _cron(expr: str) -> str:
    from ..core.cronexpr import check_cron

    check_cron(expr)
    return expr


def _parameter(value: Any) -> Any:
    from .secrets import declared_env

    declared_env(value)  # a `{secret: true, env: VAR}` declaration must be whole
    return value


ParameterValue = Annotated[Any, AfterValidator(_parameter)]


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of variable names to values")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
            raise ValueError(f"{k!r} is not a valid environment variable name")
        if isinstance(v, (dict, list)) or v is None:
            raise ValueError(f"environment variable {k} must be a string, number or boolean")
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailDestination(Strict):
    email: StrictStr = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class WebhookDestination(Strict):
    webhook: StrictStr = Field(pattern=r"^https?://\S+$")


def _destination_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind in ("email", "webhook"):
            if kind in value:
                return f"{kind} destination"  # tags differ from keys, for error locations
    return None


Destination = Annotated[
    Annotated[EmailDestination, Tag("email destination")]
    | Annotated[WebhookDestination, Tag("webhook destination")],
    Discriminator(_destination_kind),
]


class Notifications(Strict):
    on_start: list[Destination] = []
    on_success: list[Destination] = []
    on_failure: list[Destination] = []
    on_duration_warning: list[Destination] = []


class Schedule(Strict):
    cron: Annotated[StrictStr, AfterValidator(_cron)]
    timezone: Annotated[StrictStr, AfterValidator(_timezone)] = "UTC"
    paused: StrictBool = False


class FileArrival(Strict):
    path: StrictStr
    pattern: StrictStr = "*"
    min_interval: Duration = 0.0
    wait_after_last_change: Duration = 0.0


class Continuous(Strict):
    pass


class AfterWorkflow(Strict):
    workflow: Annotated[StrictStr, Field(pattern=NAME_PATTERN)]
    state: Literal["success", "failed", "any"] = "success"


class SqlTrigger(Strict):
    query: StrictStr = Field(min_length=1)
    connection: StrictStr | None = None


class Trigger(Strict):
    """`trigger:`: a run after other workflows' runs end, or when a query's value changes."""

    after: list[AfterWorkflow] | None = Field(default=None, min_length=1)
    sql: SqlTrigger | None = None
    every: Duration | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        if (self.after is None) == (self.sql is None):
            raise ValueError("give exactly one of `after` or `sql`")
        if self.every is not None and self.sql is None:
            raise ValueError("`every` is only for a `sql` trigger")
        return self


class Health(Strict):
    duration_warning: Duration


def _inputs(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\s*\{\{[^{}]*\}\}\s*", value):
        raise ValueError(f"expected a list, or a {{{{reference}}}} to a list, got {value!r}")
    return value


class ForEach(Strict):
    inputs: Annotated[list[Any] | StrictStr, AfterValidator(_inputs)]
    concurrency: StrictInt = Field(default=1, ge=1)


class Condition(Strict):
    left: Any
    op: Literal["==", "!=", ">", ">=", "<", "<="]
    right: Any


class Sql(Strict):
    query: StrictStr | None = None
    file: StrictStr | None = None
    connection: StrictStr | None = None
    parameters: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_source(self) -> Sql:
        if (self.query is None) == (self.file is None):
            raise ValueError("give exactly one of `query` or `file`")
        return self


class OutcomeEdge(Strict):
    task: StrictStr
    outcome: StrictBool


Edge = StrictStr | OutcomeEdge


class TaskSettings(Strict):
    """Settings a task may take from `defaults`."""

    kernel: StrictStr | None = None
    timeout: Duration | None = None
    retries: StrictInt | None = Field(default=None, ge=0)
    retry_delay: Duration | None = None
    retry_backoff: Number | None = Field(default=None, ge=1)
    retry_on_timeout: StrictBool | None = None
    cwd: StrictStr | None = None
    env: Annotated[dict[str, str], BeforeValidator(_env)] | None = None
    notifications: Notifications | None = None
    python: StrictStr | None = None
    # What an attempt takes of a Dask worker (`{kernel: 1}` when not given); see docs/cluster.md.
    resources: (
        dict[
            Annotated[str, Field(pattern=RESOURCE_PATTERN)],
            Annotated[Number, Field(gt=0)],
        ]
        | None
    ) = None


class Report(Strict):
    """How `nbflow report` shows a notebook task's executed notebooks."""

    no_input: StrictBool = False


class Task(TaskSettings):
    key: StrictStr = Field(pattern=KEY_PATTERN)
    description: StrictStr | None = None
    notebook: StrictStr | None = None
    script: StrictStr | None = None
    command: list[StrictStr] | StrictStr | None = None
    sql: Sql | None = None
    condition: Condition | None = None
    workflow: StrictStr | None = None
    args: list[StrictStr | StrictInt | StrictFloat | StrictBool] | None = None
    depends_on: list[Edge] = []
    run_if: Literal[
        "all_success",
        "at_least_one_success",
        "none_failed",
        "all_done",
        "at_least_one_failed",
        "all_failed",
    ] = "all_success"
    parameters: dict[Annotated[str, Field(pattern=PARAM_PATTERN)], Any] = {}
    for_each: ForEach | None = None
    disabled: StrictBool = False
    report: Report | None = None
    health: Health | None = None

    def kinds(self) -> list[str]:
        return [k for k in TASK_KINDS if getattr(self, k) is not None]


class Workflow(Strict):
    name: Annotated[StrictStr, Field(pattern=NAME_PATTERN)] | None = None
    description: StrictStr | None = None
    parameters: dict[Annotated[str, Field(pattern=PARAM_PATTERN)], ParameterValue] = {}
    schedule: Schedule | None = None
    file_arrival: FileArrival | None = None
    continuous: StrictBool | Continuous | None = None
    trigger: Trigger | None = None
    paused: StrictBool = False
    max_concurrent_runs: StrictInt = Field(default=1, ge=1)
    queue: StrictBool = True
    timeout: Duration | None = None
    duration_warning: Duration | None = None
    health: Health | None = None
    notifications: Notifications = Notifications()
    defaults: TaskSettings = TaskSettings()
    tasks: list[dict[str, Any]] = Field(min_length=1)

    @property
    def warning_after(self) -> float | None:
        """The run's duration warning threshold, however it was written."""
        return self.health.duration_warning if self.health else self.duration_warning
