"""Fakes for the runner's ports: an in-memory run log, a scripted executor, a manual clock.

With them a whole run is decided and recorded in milliseconds, without a database, a
kernel, a process or a sleep (tests/unit/test_runner_fakes.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from nbflow.execution.execute import AttemptResult


class FakeClock:
    """Time that moves only when the code under test waits (or the test says so)."""

    def __init__(self, start: float = 1_000_000.0):
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


class FakeRunLog:
    """The run history as dictionaries: what the runner wrote, and cancel requests."""

    def __init__(self) -> None:
        self.runs: dict[int, dict[str, Any]] = {}
        self.tasks: dict[tuple[int, str], dict[str, Any]] = {}
        self.attempts: dict[tuple[int, str, int], dict[str, Any]] = {}
        self.history: list[tuple[str, str]] = []  # (unit, state) in the order recorded
        self.cancel: set[int] = set()
        self.warnings: list[dict[str, Any]] = []

    def create_run(self, *, tasks: Iterable[tuple[str, str, Any]], **fields: Any) -> int:
        run_id = len(self.runs) + 1
        self.runs[run_id] = {"id": run_id, **fields}
        for key, kind, _depends_on in tasks:
            self.tasks[run_id, key] = {"key": key, "kind": kind, "state": "pending"}
        return run_id

    def update_run(self, run_id: int, **fields: Any) -> None:
        self.runs[run_id].update(fields)

    def update_task(self, run_id: int, key: str, **fields: Any) -> None:
        row = self.tasks.setdefault((run_id, key), {"key": key, "state": "pending"})
        row.update(fields)
        if "state" in fields:
            self.history.append((key, fields["state"]))

    def add_iterations(self, run_id: int, task_key: str, inputs: list[Any]) -> None:
        for i, value in enumerate(inputs):
            self.tasks[run_id, f"{task_key}[{i}]"] = {
                "key": f"{task_key}[{i}]",
                "parent_key": task_key,
                "input": value,
                "state": "pending",
            }

    def add_attempt(
        self, run_id: int, task_key: str, number: int, *, state: str = "running", **fields: Any
    ) -> None:
        self.attempts[run_id, task_key, number] = {"number": number, "state": state, **fields}

    def finish_attempt(
        self, run_id: int, task_key: str, number: int, *, only_running: bool = False, **fields: Any
    ) -> None:
        row = self.attempts.get((run_id, task_key, number))
        if row is None or (only_running and row["state"] != "running"):
            return
        row.update(fields)

    def set_attempt_pid(
        self, run_id: int, task_key: str, number: int, pid: int, started: float | None
    ) -> None:
        self.attempts[run_id, task_key, number]["pid"] = pid

    def cancel_requested(self, run_id: int) -> bool:
        return run_id in self.cancel

    def add_notifications(self, run_id: int, deliveries: list[dict[str, Any]]) -> None:
        pass

    def add_duration_warning(self, run_id: int, **fields: Any) -> None:
        self.warnings.append(fields)

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        if run_id not in self.runs:
            return None
        tasks = []
        for (rid, key), row in self.tasks.items():
            if rid == run_id:
                attempts = [
                    a for (r, k, _), a in sorted(self.attempts.items()) if r == rid and k == key
                ]
                tasks.append({**row, "attempts": attempts})
        return {**self.runs[run_id], "tasks": tasks}

    # -- what tests read -------------------------------------------------------------------

    def state(self, run_id: int, unit: str) -> str:
        return str(self.tasks[run_id, unit]["state"])

    def attempt_states(self, run_id: int, unit: str) -> list[str]:
        return [
            a["state"]
            for (r, k, _), a in sorted(self.attempts.items())
            if r == run_id and k == unit
        ]


class FakeExecutor:
    """Runs `command: [fake, NAME]` tasks by script: NAME's outcomes, one per attempt.

    An outcome is "success", "failed", "timed_out", "hang" (until canceled), or a dict
    `{"state": ..., "values": {...}}`; the last one repeats. Every call is recorded.
    """

    def __init__(
        self,
        clock: FakeClock,
        script: dict[str, list[Any]] | None = None,
        takes: dict[str, float] | None = None,
    ):
        self.clock = clock
        self.script = script or {}
        self.takes = takes or {}  # clock seconds an attempt of NAME lasts before its outcome
        self.calls: list[tuple[str, float]] = []  # (name, when) per attempt started
        self.canceled: list[str] = []

    def describe(self) -> dict[str, Any]:
        return {"kind": "fake"}

    def expect(self, workflow: Any, project: Any) -> None:
        pass

    def locate(self, artifact: Any) -> str | None:
        return None  # kept where the runner put it

    async def run_process(self, argv: list[str], **kwargs: Any) -> AttemptResult:
        name = argv[1]
        done = [n for n, _ in self.calls if n == name]
        self.calls.append((name, self.clock.now()))
        self.clock.t += self.takes.get(name, 0.0)
        outcomes = self.script.get(name, ["success"])
        outcome = outcomes[min(len(done), len(outcomes) - 1)]
        if outcome == "hang":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.canceled.append(name)
                raise
        if isinstance(outcome, dict):
            return AttemptResult(outcome["state"], values=outcome.get("values", {}))
        if outcome == "failed":
            return AttemptResult("failed", {"ename": "Failed", "evalue": f"{name} failed"})
        if outcome == "timed_out":
            return AttemptResult("timed_out", {"ename": "TimeoutError", "evalue": "timed out"})
        return AttemptResult("success", values={"name": name})

    async def run_notebook(self, **kwargs: Any) -> AttemptResult:
        raise AssertionError("the fake runs command tasks only")

    async def run_sql(self, **kwargs: Any) -> AttemptResult:
        raise AssertionError("the fake runs command tasks only")

    async def close(self) -> None:
        pass
