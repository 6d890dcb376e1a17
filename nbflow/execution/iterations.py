"""for_each iterations: a task run as one unit per input (`KEY[i]`, at most `concurrency` at
once), and the task's values gathered from what each iteration published.

`Iterations` is mixed into `runner.Runner`: the units' attempts are the runner's, and every
state changes through its `_set` and `_record`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..core import references
from ..core.clock import Clock
from ..core.states import TaskState
from ..workflows.model import Task
from .runcontext import RunContext
from .runlog import RunLog


def iteration_values(per_iteration: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """A for_each task's values: each name's values as a list in input order (None where an
    iteration published no value of that name)."""
    names = list(dict.fromkeys(name for values in per_iteration for name in values))
    return {name: [values.get(name) for values in per_iteration] for name in names}


class Iterations(RunContext):
    """The runner's part that runs a for_each task (see the module's docstring)."""

    store: RunLog
    clock: Clock

    def _set(self, key: str, state: TaskState, **fields: Any) -> None:
        raise NotImplementedError  # the runner's: a task's state changes there

    def _record(
        self,
        unit: str,
        state: TaskState,
        *,
        attempt: int | None = None,
        message: str | None = None,
        **fields: Any,
    ) -> None:
        raise NotImplementedError  # the runner's: a unit's state changes there

    async def _unit(
        self, task: Task, unit: str, folder: Path, given: tuple[Any, ...] = ()
    ) -> tuple[TaskState, str | None, dict[str, Any], dict[str, Any] | None]:
        raise NotImplementedError  # the runner's: a unit's attempts, with retries

    async def _iterations(self, task: Task, folder: Path) -> None:
        """Run for_each task `task` to its end: its inputs resolved, one unit per input."""
        assert task.for_each is not None
        try:
            inputs = references.substitute(task.for_each.inputs, self._context(task).lookup)
        except references.ReferenceError_ as exc:
            self._set(task.key, TaskState.FAILED, start_time=self.clock.now(), message=str(exc))
            return
        if not isinstance(inputs, list):
            shown = references.render(inputs)[:100]
            message = f"for_each inputs must be a list, got {shown!r}"
            self._set(task.key, TaskState.FAILED, start_time=self.clock.now(), message=message)
            return
        # The inputs on the task's own row say it is a for_each task, even with none.
        self._set(task.key, TaskState.RUNNING, start_time=self.clock.now(), input=inputs)
        self.store.add_iterations(self.run_id, task.key, inputs)
        limit = asyncio.Semaphore(task.for_each.concurrency)

        async def iteration(index: int, value: Any) -> tuple[TaskState, dict[str, Any]]:
            unit = f"{task.key}[{index}]"
            self._record(unit, TaskState.QUEUED)
            try:
                async with limit:
                    state, message, values, _ = await self._unit(
                        task, unit, folder / str(index), (value,)
                    )
            except asyncio.CancelledError:
                self._record(unit, TaskState.CANCELED, message="canceled")
                raise
            self._record(unit, state, message=message)
            return state, values

        results = await asyncio.gather(*(iteration(i, v) for i, v in enumerate(inputs)))
        bad = [s for s, _ in results if s != TaskState.SUCCESS]
        if not bad:
            values = iteration_values([v for _, v in results])
            self.values[task.key] = values
            message = f"{len(results)} iterations"
            self._set(task.key, TaskState.SUCCESS, message=message, values=values)
            return
        state = TaskState.FAILED if TaskState.FAILED in bad else bad[0]
        message = f"{len(bad)} of {len(results)} iterations did not succeed"
        self._set(task.key, state, message=message)
