"""A scheduler's decision (a run fired, queued, skipped or started, a catch-up, a backfill
finished) and the shape of the fire step every trigger kind calls to make one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..workflows.model import Workflow


@dataclass(frozen=True)
class Decision:
    action: str  # fired, queued, skipped, missed, started, finished
    workflow: str
    trigger: str
    run_id: int | None = None
    detail: str = ""


class Fire(Protocol):
    """Claims one fire in the run history, creating its run (`Scheduler._fire`).

    Returns the decision, or nothing when another scheduler claimed the same fire (or a
    backfill is at its limit)."""

    def __call__(
        self,
        workflow: Workflow,
        trigger: str,
        *,
        fire_key: str,
        trigger_time: float,
        now: float,
        files: list[str] | None = None,
        location: str | None = None,
        detail: str = "",
        fire_time: float | None = None,
        parameters: dict[str, Any] | None = None,
        queue: bool | None = None,
        trigger_info: dict[str, Any] | None = None,
        group_limit: int | None = None,
    ) -> list[Decision]: ...
