"""The runner against its ports' fakes: a run's decisions and records, with no database,
kernel, process or sleep (each run takes milliseconds)."""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import pytest

from nbflow.core.states import TaskState
from nbflow.execution.recorded import Recorded, runner_for
from nbflow.execution.runner import Repair, Runner, create_run
from nbflow.workflows import loader
from nbflow.workflows.project import Project
from tests.unit.fakes import FakeClock, FakeExecutor, FakeRunLog


class World:
    def __init__(self, root: Path):
        self.root = root
        (root / "workflows").mkdir()
        self.project = Project(root)
        self.clock = FakeClock()
        self.log = FakeRunLog()

    def run(
        self,
        text: str,
        script: dict[str, list] | None = None,
        *,
        repair: Repair | None = None,
        run_id: int | None = None,
        cancel_when: str | None = None,
        takes: dict[str, float] | None = None,
    ) -> tuple[int, FakeExecutor, str]:
        path = self.root / "workflows" / "w.yaml"
        path.write_text(textwrap.dedent(text))
        workflow = loader.load_workflow(path, self.root)
        if run_id is None:
            run_id = create_run(
                self.log,
                workflow,
                self.project,
                parameters=dict(workflow.parameters),
                trigger_type="manual",
                trigger_time=self.clock.now(),
                now=self.clock.now(),
            )
        executor = FakeExecutor(self.clock, script, takes)
        runner = Runner(
            workflow,
            self.project,
            self.log,
            run_id,
            parameters=dict(workflow.parameters),
            trigger_time=self.clock.now(),
            clock=self.clock,
            executor=executor,
            handle_signals=False,
            poll_interval=0.005,
            repair=repair,
        )

        async def drive() -> str:
            job = asyncio.ensure_future(runner.run())
            if cancel_when is not None:  # ask to cancel once that task is running
                while (cancel_when, "running") not in self.log.history:
                    await asyncio.sleep(0)
                self.log.cancel.add(run_id)
            return str((await job).value)

        return run_id, executor, asyncio.run(drive())


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def outcomes(a: str, b: str) -> dict[str, list[str]]:
    return {"a": [a], "b": [b]}


# run_if of a task downstream of a and b, by (a, b) outcome: what the task becomes.
# "run" means it ran and succeeded.
MATRIX = {
    "all_success": {("ok", "ok"): "run", ("ok", "no"): "upstream_failed",
                    ("no", "ok"): "upstream_failed", ("no", "no"): "upstream_failed"},
    "at_least_one_success": {("ok", "ok"): "run", ("ok", "no"): "run",
                             ("no", "ok"): "run", ("no", "no"): "upstream_failed"},
    "none_failed": {("ok", "ok"): "run", ("ok", "no"): "upstream_failed",
                    ("no", "ok"): "upstream_failed", ("no", "no"): "upstream_failed"},
    "all_done": {("ok", "ok"): "run", ("ok", "no"): "run",
                 ("no", "ok"): "run", ("no", "no"): "run"},
    "at_least_one_failed": {("ok", "ok"): "excluded", ("ok", "no"): "run",
                            ("no", "ok"): "run", ("no", "no"): "run"},
    "all_failed": {("ok", "ok"): "excluded", ("ok", "no"): "excluded",
                   ("no", "ok"): "excluded", ("no", "no"): "run"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("run_if", "a", "b"),
    [(r, a, b) for r in MATRIX for a in ("ok", "no") for b in ("ok", "no")],
)
def test_run_if_matrix(world: World, run_if: str, a: str, b: str):
    started = time.perf_counter()
    run_id, executor, _ = world.run(
        f"""
        tasks:
          - {{key: a, command: [fake, a]}}
          - {{key: b, command: [fake, b]}}
          - {{key: c, command: [fake, c], depends_on: [a, b], run_if: {run_if}}}
        """,
        outcomes("success" if a == "ok" else "failed", "success" if b == "ok" else "failed"),
    )
    expected = MATRIX[run_if][a, b]
    ran = "c" in [name for name, _ in executor.calls]
    assert ran == (expected == "run")
    assert world.log.state(run_id, "c") == ("success" if expected == "run" else expected)
    assert time.perf_counter() - started < 1.0


def test_retries_wait_with_back_off_on_the_clock_and_record_every_attempt(world: World):
    run_id, executor, result = world.run(
        """
        tasks:
          - key: a
            command: [fake, a]
            retries: 3
            retry_delay: 10s
            retry_backoff: 2
          - {key: b, command: [fake, b], depends_on: [a]}
        """,
        {"a": ["failed", "failed", "success"]},
    )
    assert result == "success"
    assert world.clock.sleeps == [10.0, 20.0]  # waited on the clock, not for real
    assert world.log.attempt_states(run_id, "a") == ["failed", "failed", "success"]
    starts = [when for name, when in executor.calls if name == "a"]
    assert [round(t - starts[0]) for t in starts] == [0, 10, 30]
    history = [state for unit, state in world.log.history if unit == "a"]
    assert "waiting_for_retry" in history
    assert world.log.state(run_id, "b") == "success"


def test_a_timed_out_attempt_is_retried_only_when_the_task_says_so(world: World):
    text = """
        tasks:
          - {{key: a, command: [fake, a], retries: 1, retry_on_timeout: {flag}}}
        """
    run_id, _, result = world.run(text.format(flag="false"), {"a": ["timed_out", "success"]})
    assert world.log.state(run_id, "a") == "timed_out"
    assert (result, world.log.attempt_states(run_id, "a")) == ("failed", ["timed_out"])
    run_id, _, result = world.run(text.format(flag="true"), {"a": ["timed_out", "success"]})
    assert result == "success"
    assert world.log.attempt_states(run_id, "a") == ["timed_out", "success"]


def test_the_runs_timeout_stops_what_runs_and_starts_nothing_more(world: World):
    # `a` hangs, its start having taken the clock past the run's deadline: the runner sees
    # it at its next look, stops `a` and starts nothing more.
    run_id, executor, result = world.run(
        """
        timeout: 60s
        tasks:
          - {key: a, command: [fake, a]}
          - {key: b, command: [fake, b], depends_on: [a]}
        """,
        {"a": ["hang"]},
        takes={"a": 100.0},
    )
    assert result == "timed_out"
    assert executor.canceled == ["a"]
    assert world.log.state(run_id, "a") == "canceled"
    assert world.log.state(run_id, "b") != "success"
    assert [name for name, _ in executor.calls] == ["a"]


def test_a_cancel_request_stops_the_running_attempt_and_what_would_follow(world: World):
    run_id, executor, result = world.run(
        """
        tasks:
          - {key: a, command: [fake, a]}
          - {key: b, command: [fake, b], depends_on: [a]}
          - {key: cleanup, command: [fake, cleanup], depends_on: [b], run_if: all_done}
        """,
        {"a": ["hang"]},
        cancel_when="a",
    )
    assert result == "canceled"
    assert executor.canceled == ["a"]
    assert world.log.state(run_id, "a") == "canceled"
    assert world.log.state(run_id, "b") != "success"
    # A failure handler may still run after a cancel.
    assert world.log.state(run_id, "cleanup") == "success"


def test_a_repair_reruns_the_failed_task_with_the_values_the_kept_ones_left(world: World):
    text = """
        tasks:
          - {key: a, command: [fake, a]}
          - key: b
            command: [fake, b]
            depends_on: [a]
            parameters: {got: "{{tasks.a.values.n}}"}
        """
    run_id, executor, result = world.run(
        text, {"a": [{"state": "success", "values": {"n": 7}}], "b": ["failed"]}
    )
    assert result == "failed" and world.log.attempt_states(run_id, "b") == ["failed"]
    repair = Repair(
        number=1,
        start_time=world.log.runs[run_id]["start_time"],
        kept_states={"a": TaskState.SUCCESS},
        outcomes={},
        values={"a": {"n": 7}},
        outputs={},
        last_attempts={"b": 1},
    )
    _, executor, result = world.run(text, {"b": ["success"]}, repair=repair, run_id=run_id)
    assert result == "success"
    assert [name for name, _ in executor.calls] == ["b"]  # a kept, not rerun
    assert world.log.attempt_states(run_id, "b") == ["failed", "success"]
    assert world.log.attempts[run_id, "b", 2]["parameters"] == {"argv": ["fake", "b"]}


def test_a_repair_reads_the_trigger_its_run_was_recorded_with(world: World):
    # Every runner of a recorded run is built by runner_for: a repair of a file-arrival run
    # reads `run.trigger.*` as the run itself did.
    path = world.root / "workflows" / "w.yaml"
    path.write_text(
        textwrap.dedent(
            """
            tasks:
              - key: a
                command: [fake, a, "{{run.trigger.files}}", "{{run.trigger.type}}"]
            """
        )
    )
    workflow = loader.load_workflow(path, world.root)
    now = world.clock.now()
    run_id = create_run(
        world.log,
        workflow,
        world.project,
        parameters={},
        trigger_type="file_arrival",
        trigger_time=now,
        now=now,
    )
    recorded = Recorded(run_id, {}, "file_arrival", now, ["in/a.csv"], "in")
    executor = FakeExecutor(world.clock, {"a": ["failed", "success"]})

    def run(repair: Repair | None = None) -> str:
        runner = runner_for(
            recorded,
            workflow,
            world.project,
            world.log,
            executor=executor,
            clock=world.clock,
            handle_signals=False,
            repair=repair,
        )
        return str(asyncio.run(runner.run()).value)

    assert run() == "failed"
    repair = Repair(1, now, {}, {}, {}, {}, last_attempts={"a": 1})
    assert run(repair) == "success"
    first, again = (world.log.attempts[run_id, "a", n]["parameters"]["argv"] for n in (1, 2))
    assert again == first and "in/a.csv" in first[2] and first[3] == "file_arrival"
