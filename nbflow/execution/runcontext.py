"""A run's reference context: what a task's `{{references}}` read while the run goes on
(the run's facts, the finished tasks' states, values and outputs); reads only.

`RunContext` is mixed into `runner.Runner` (through `attempts.Attempts`).
"""

from __future__ import annotations

from typing import Any

from ..core import references
from ..core.states import TERMINAL_TASK_STATES, TaskState
from ..workflows.model import Task, Workflow
from .startpoints import Repair


class RunContext:
    """The runner's part that answers references (see the module's docstring)."""

    run_id: int
    workflow: Workflow
    repair: Repair | None
    start_time: float
    trigger_time: float
    trigger_type: str
    trigger_files: list[str] | None
    trigger_location: str | None
    trigger_info: dict[str, Any] | None
    states: dict[str, TaskState]
    values: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any] | None]
    params: dict[str, Any]

    def _run_info(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "workflow": self.workflow.name,
            "repair_count": self.repair.number if self.repair else 0,
            "start_time": self.start_time,
            "trigger_time": self.trigger_time,
            "trigger_type": self.trigger_type,
            "trigger_files": self.trigger_files,
            "trigger_location": self.trigger_location,
            "trigger_info": self.trigger_info,
            "timezone": schedule.timezone if (schedule := self.workflow.schedule) else None,
        }

    def _context(
        self, task: Task | None, attempt: int = 1, given: tuple[Any, ...] = ()
    ) -> references.Context:
        done = {
            key: {
                "state": state.value,
                "values": self.values.get(key, {}),
                "output": self.outputs.get(key),
            }
            for key, state in self.states.items()
            if state in TERMINAL_TASK_STATES
        }
        return references.Context(
            params=self.params,
            run=self._run_info(),
            tasks=done,
            task={"key": task.key, "attempt": attempt} if task else None,
            input_value=given[0] if given else None,
            has_input=bool(given),
        )
