"""A recorded run: creating one in the history (`queued`, its tasks `pending`), and the one
function that builds the runner of a recorded run from what was recorded."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.clock import Clock
from ..core.states import RunState
from ..notify import deliveries as notify
from ..workflows.model import Workflow
from ..workflows.project import Project
from . import processes
from .runlog import RunLog

if TYPE_CHECKING:
    from .executor import Executor
    from .observer import Observer
    from .runner import Runner
    from .startpoints import Repair, Selection


def create_run(
    store: RunLog,
    workflow: Workflow,
    project: Project,
    *,
    parameters: dict[str, Any],
    trigger_type: str,
    trigger_time: float,
    now: float,
    parent_run_id: int | None = None,
) -> int:
    """Record a new run (state `queued`) with its tasks `pending`."""
    run_id = store.create_run(
        workflow=workflow.name,
        workflow_path=project.relative(workflow.path),
        trigger_type=trigger_type,
        trigger_time=trigger_time,
        parameters=parameters,
        tasks=[
            (
                t.key,
                t.kind,
                [{"task": e.task, "outcome": e.outcome} for e in t.depends_on],
            )
            for t in workflow.tasks
        ],
        state=RunState.QUEUED.value,
        now=now,
        runner_pid=os.getpid(),
        runner_host=socket.gethostname(),
        runner_started=processes.started_at(os.getpid()),
        parent_run_id=parent_run_id,
    )
    assert run_id is not None  # only a claimed fire can lose
    return run_id


@dataclass(frozen=True)
class Recorded:
    """What a runner reads of its recorded run: the id, the parameters and the trigger."""

    id: int
    parameters: dict[str, Any]
    trigger_type: str
    trigger_time: float
    trigger_files: list[str] | None = None
    trigger_location: str | None = None
    trigger_info: dict[str, Any] | None = None

    @classmethod
    def of(cls, run: Mapping[str, Any]) -> Recorded:
        """From a run document of the history (`get_run`)."""
        return cls(
            id=run["id"],
            parameters=run["parameters"],
            trigger_type=run["trigger_type"],
            trigger_time=run["trigger_time"],
            trigger_files=run.get("trigger_files"),
            trigger_location=run.get("trigger_location"),
            trigger_info=run.get("trigger_info"),
        )


def runner_for(
    run: Recorded,
    workflow: Workflow,
    project: Project,
    store: RunLog,
    *,
    executor: Executor,
    parallel: int | None = None,
    clock: Clock | None = None,
    observer: Observer | None = None,
    handle_signals: bool = True,
    repair: Repair | None = None,
    selection: Selection | None = None,
    parameters: dict[str, Any] | None = None,
    python: str = sys.executable,
    notifier: notify.Notifier | None = None,
) -> Runner:
    """The runner of recorded run `run`, on `executor`. `parameters`: a repair's own (the
    run's, then the file's defaults, then the overrides), else the run's as recorded."""
    from .runner import Runner

    return Runner(
        workflow,
        project,
        store,
        run.id,
        parameters=run.parameters if parameters is None else parameters,
        trigger_type=run.trigger_type,
        trigger_time=run.trigger_time,
        trigger_files=run.trigger_files,
        trigger_location=run.trigger_location,
        trigger_info=run.trigger_info,
        parallel=parallel,
        clock=clock,
        observer=observer,
        handle_signals=handle_signals,
        repair=repair,
        selection=selection,
        python=python,
        notifier=notifier,
        executor=executor,
    )
