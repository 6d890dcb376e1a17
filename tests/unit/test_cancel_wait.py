"""`nbflow cancel` waits for the runner of another process on a clock passed in."""

from __future__ import annotations

from nbflow import api
from nbflow.workflows.project import Project


def test_cancel_waits_for_a_runner_that_never_stops_on_the_clock_it_is_given(project):
    """`nbflow cancel` polls the history until the run stops or `wait` passes, on a clock
    passed in: here the runner (this process) never stops, and nothing really sleeps."""
    import os

    from nbflow.core.clock import Clock

    class StepClock(Clock):
        def __init__(self) -> None:
            self.t = 1_000_000.0
            self.pauses = 0

        def now(self) -> float:
            return self.t

        def pause(self, seconds: float) -> None:
            self.pauses += 1
            self.t += seconds

    project.workflow("w", "tasks: [{key: a, command: [echo]}]")
    root = Project(project.root)
    store = api.open_store(root, create=True)
    run_id = store.create_run(
        workflow="w",
        workflow_path="workflows/w.yaml",
        trigger_type="manual",
        trigger_time=1.0,
        parameters={},
        tasks=[("a", "command", [])],
        state="running",
        now=1.0,
        runner_pid=os.getpid(),
        runner_started=__import__("nbflow.execution.processes", fromlist=["_"]).started_at(
            os.getpid()
        ),
    )
    store.close()
    clock = StepClock()
    doc = api.cancel(root, run_id, wait=5, clock=clock)
    assert doc["state"] == "running"  # asked, not yet honoured by its runner
    assert clock.t - 1_000_000.0 >= 5 and 50 <= clock.pauses <= 51
