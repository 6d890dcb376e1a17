"""The core workflow model: frozen values the runner works from, built by `loader.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schema


@dataclass(frozen=True)
class Edge:
    """`task` must be terminal first; `outcome` is set for an edge from a condition task."""

    task: str
    outcome: bool | None = None


@dataclass(frozen=True)
class ForEach:
    inputs: list[Any] | str
    concurrency: int = 1


@dataclass(frozen=True)
class Task:
    key: str
    kind: str  # one of schema.TASK_KINDS
    target: Any  # the value of the kind's key: a path, argv, Sql, Condition or workflow name
    line: int | None = None
    description: str | None = None
    depends_on: tuple[Edge, ...] = ()
    run_if: str = "all_success"
    parameters: dict[str, Any] = field(default_factory=dict)
    for_each: ForEach | None = None
    args: tuple[Any, ...] = ()
    kernel: str | None = None
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 1.0
    retry_on_timeout: bool = False
    disabled: bool = False
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    resources: dict[str, float] = field(default_factory=dict)  # of a Dask worker; {} = kernel: 1
    notifications: schema.Notifications | None = None
    report_no_input: bool = False  # reports leave the code out (`report: {no_input: true}`)
    duration_warning: float | None = None  # `health.duration_warning`, per attempt

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(e.task for e in self.depends_on)


@dataclass(frozen=True)
class Workflow:
    name: str
    path: Path
    root: Path
    tasks: tuple[Task, ...]
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    settings: schema.Workflow | None = None  # triggers, notifications, run limits as written
    # Secret parameters by name: the environment variable each is read from when a run
    # starts (their entry in `parameters` is the mask, `***`).
    secrets: dict[str, str] = field(default_factory=dict)

    def task(self, key: str) -> Task:
        for task in self.tasks:
            if task.key == key:
                return task
        raise KeyError(key)

    @property
    def schedule(self) -> schema.Schedule | None:
        return self.settings.schedule if self.settings else None

    @property
    def timeout(self) -> float | None:
        return self.settings.timeout if self.settings else None
