"""The scheduler: every decision for one moment (`tick(now)`) over the project's
workflows with triggers, and the claim that turns a decision into a run.

`Scheduler.tick(now)` is a function of the time passed in (and of the run history), so
tests drive it with any clock and never sleep; what each trigger kind decides lives in
`fires` (cron, file arrival, continuous, after), `sqltrigger` and `backfilling`; `serve`
is the daemon loop around it (`daemon`), which logs a failed tick and goes on. Several
schedulers may share one project: every fire is claimed in the run history in the same
transaction that creates its run and decides whether it may start now
(`Store.claim_fire`), so a fire time starts exactly one run, and `max_concurrent_runs` and
the queue order hold across schedulers (`Store.start_queued` hands the oldest waiting run
to whichever scheduler finds a slot free). Each scheduler finishes the runs of a dead one
(`recovery`) so the survivor takes over. A backfill is a list of fire times recorded in the
history; every scheduler serves every running backfill the same way, one claim per day.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..core import triggers
from ..core.clock import Clock
from ..execution import processes, recovery
from ..history import Store
from ..workflows import loader
from ..workflows.model import Workflow
from ..workflows.project import Project
from . import backfilling, daemon, fires
from .daemon import HEARTBEAT_EVERY, HEARTBEAT_STALE, RECOVERY_EVERY, alive_schedulers
from .decision import Decision
from .fires import trigger_kinds
from .sqltrigger import SqlTrigger

__all__ = [
    "HEARTBEAT_EVERY",
    "HEARTBEAT_STALE",
    "RECOVERY_EVERY",
    "Decision",
    "Launcher",
    "Scheduler",
    "alive_schedulers",
    "trigger_kinds",
]

log = logging.getLogger("nbflow.schedule")

Launcher = Callable[[Workflow, int], Coroutine[Any, Any, Any]]


class Scheduler:
    def __init__(
        self,
        project: Project,
        store: Store,
        *,
        clock: Clock | None = None,
        launcher: Launcher | None = None,
        only_backfill: int | None = None,
    ):
        self.project = project
        self.store = store
        self.clock = clock or Clock()
        self.launcher = launcher
        self.files: dict[str, fires.Files] = {}
        self.running: dict[int, asyncio.Task[Any]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None  # `serve`'s, where runs start
        self._cache: dict[Path, tuple[float, Workflow | None]] = {}
        self._last_recovery = float("-inf")
        self._last_beat = float("-inf")
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.started = processes.started_at(self.pid)
        self.key = f"{self.host}:{self.pid}"
        # Set: serve this backfill alone (`nbflow backfill` in the foreground), no triggers.
        self.only_backfill = only_backfill
        self.sql = SqlTrigger(project)

    # -- the project's workflows ---------------------------------------------------------

    def workflows(self) -> list[Workflow]:
        """Workflows with triggers, re-read when their file changes (a broken one is skipped)."""
        found = []
        for path in self.project.workflow_files():
            workflow = self._load(path)
            if workflow is not None and trigger_kinds(workflow):
                found.append(workflow)
        return found

    def _load(self, path: Path) -> Workflow | None:
        """A workflow file, read again when it changed (None, said once, when broken)."""
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is None or cached[0] != mtime:
            workflow, problems = loader.check_file(path, self.project.root)
            if problems:
                log.warning("skipping %s: %s", path.name, problems[0])
            self._cache[path] = (mtime, workflow)
        return self._cache[path][1]

    # -- one moment ----------------------------------------------------------------------

    def tick(self, now: float) -> list[Decision]:
        """Every decision due at `now`: runs created (and handed to the launcher)."""
        if self.only_backfill is not None:
            return self._backfills(now, set())
        if now - self._last_beat >= HEARTBEAT_EVERY:
            self._last_beat = now
            self.store.beat_scheduler(
                self.key,
                {"host": self.host, "pid": self.pid, "started": self.started, "seen": now},
            )
        if now - self._last_recovery >= RECOVERY_EVERY:
            self._last_recovery = now
            for run_id in recovery.recover(self.store, self.project, now):
                log.warning("run %s: its runner died; marked failed", run_id)
        decisions: list[Decision] = []
        served: set[str] = set()
        store, fire = self.store, self._fire
        for workflow in self.workflows():
            state = store.ensure_trigger_state(workflow.name, now)
            paused = fires.paused(workflow, state)
            for kind in trigger_kinds(workflow):
                if paused:
                    continue
                if kind == "schedule":
                    decisions += fires.schedule(workflow, state, now, store=store, fire=fire)
                elif kind == "file_arrival":
                    tracked = self.files.setdefault(workflow.name, fires.Files())
                    decisions += fires.file_arrival(
                        workflow, now, project=self.project, store=store, tracked=tracked, fire=fire
                    )
                elif kind == "after":
                    decisions += fires.after(workflow, state, now, store=store, fire=fire)
                elif kind == "sql":
                    decisions += self.sql.check(workflow, now, store=store, fire=fire)
                else:
                    decisions += fires.continuous(workflow, now, store=store, fire=fire)
            decisions += self._start_queued(workflow, now)
            served.add(workflow.name)
        decisions += self._backfills(now, served)
        return decisions

    def _backfills(self, now: float, served: set[str]) -> list[Decision]:
        return backfilling.advance(
            now,
            served,
            store=self.store,
            root=self.project.root,
            load=self._load,
            fire=self._fire,
            start_queued=self._start_queued,
            only=self.only_backfill,
        )

    def _fire(
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
    ) -> list[Decision]:
        settings = workflow.settings
        assert settings is not None
        claimed = self.store.claim_fire(
            {
                "workflow": workflow.name,
                "trigger": trigger,
                "fire_key": fire_key,
                "fire_time": trigger_time if fire_time is None else fire_time,
                "files": files,
            },
            max_concurrent_runs=settings.max_concurrent_runs,
            queue=settings.queue if queue is None else queue,
            runner=(self.pid, self.host, self.started),
            now=now,
            workflow_path=self.project.relative(workflow.path),
            trigger_type=trigger,
            trigger_time=trigger_time,
            parameters={**workflow.parameters, **(parameters or {})},
            tasks=[
                (t.key, t.kind, [{"task": e.task, "outcome": e.outcome} for e in t.depends_on])
                for t in workflow.tasks
            ],
            trigger_files=files,
            trigger_location=location,
            trigger_info=trigger_info,
            group_limit=group_limit,
        )
        if claimed is None:
            return []  # another scheduler claimed this fire (or its backfill is at its limit)
        run_id, action = claimed
        if action == "skipped":
            log.info(
                "%s: skipped %s fire (run %s): over max_concurrent_runs",
                workflow.name,
                trigger,
                run_id,
            )
        elif action == "queued":
            log.info(
                "%s: queued run %s (%s): waiting for a free run slot", workflow.name, run_id, detail
            )
        else:
            log.info("%s: fired run %s (%s)", workflow.name, run_id, detail)
            self._launch(workflow, run_id)
        return [Decision(action, workflow.name, trigger, run_id, detail)]

    def _start_queued(self, workflow: Workflow, now: float) -> list[Decision]:
        """Start the workflow's waiting runs, oldest first, as run slots free up.

        Any scheduler's queued runs: the history decides which scheduler takes one.
        """
        settings = workflow.settings
        assert settings is not None
        out = []
        for run in self.store.start_queued(
            workflow.name,
            max_concurrent_runs=settings.max_concurrent_runs,
            runner=(self.pid, self.host, self.started),
            now=now,
        ):
            log.info("%s: started queued run %s", workflow.name, run["id"])
            self._launch(workflow, run["id"])
            out.append(Decision("started", workflow.name, run["trigger_type"], run["id"]))
        return out

    def _launch(self, workflow: Workflow, run_id: int) -> None:
        if self.launcher is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a tick in `serve`'s thread, or outside the daemon's loop
            if self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self._start, workflow, run_id)
            return
        self._start(workflow, run_id)

    def _start(self, workflow: Workflow, run_id: int) -> None:
        """Start a created run on the daemon's loop (the only thread that touches `running`)."""
        assert self.launcher is not None
        task = asyncio.get_running_loop().create_task(self.launcher(workflow, run_id))
        self.running[run_id] = task
        task.add_done_callback(lambda job: self._ended(run_id, job))

    def _ended(self, run_id: int, job: asyncio.Task[Any]) -> None:
        self.running.pop(run_id, None)
        if not job.cancelled() and job.exception() is not None:
            log.error(
                "run %s: its runner failed: %s", run_id, job.exception(), exc_info=job.exception()
            )

    # -- the daemon ----------------------------------------------------------------------

    def next_wake(self, now: float, tick: float) -> float:
        """When to look again: the next cron fire time or the end of a file debounce, if
        sooner than `tick`."""
        wake = now + tick
        if self.only_backfill is not None:
            return wake
        for workflow in self.workflows():
            settings = workflow.settings
            schedule = settings.schedule if settings else None
            if schedule is not None:
                wake = min(wake, triggers.next_fire(schedule.cron, schedule.timezone, now))
            arrival = settings.file_arrival if settings else None
            tracked = self.files.get(workflow.name)
            if arrival is not None and tracked and tracked.seen:
                settle = max(f.changed_at for f in tracked.seen.values())
                ready_at = settle + arrival.wait_after_last_change
                if ready_at > now:
                    wake = min(wake, ready_at)
        return max(wake, now)

    def watched_folders(self) -> set[Path]:
        if self.only_backfill is not None:
            return set()
        return {
            (self.project.root / w.settings.file_arrival.path).resolve()
            for w in self.workflows()
            if w.settings is not None and w.settings.file_arrival is not None
        }

    async def serve(
        self, stop: asyncio.Event, tick: float = 0.5, *, ready: asyncio.Event | None = None
    ) -> None:
        """Fire until `stop` is set; then wait for the runs this scheduler started
        (`daemon.serve`)."""
        await daemon.serve(self, stop, tick, ready=ready)
