"""The scheduler: fires runs from cron schedules, file arrivals, continuous workflows,
other workflows' ends (`trigger.after`), SQL values (`trigger.sql`) and backfills.

`Scheduler.tick(now)` makes every decision for one moment and is a function of the time
passed in (and of the run history), so tests drive it with any clock and never sleep;
`serve` is the daemon loop around it, which logs a failed tick and goes on. Several
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
import fnmatch
import hashlib
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import triggers
from ..core.clock import Clock
from ..core.errors import NbflowError
from ..execution import processes, recovery
from ..history import Store
from ..workflows import loader
from ..workflows.model import Workflow
from ..workflows.project import Project
from .watch import FolderWatch

log = logging.getLogger("nbflow.schedule")

RECOVERY_EVERY = 2.0  # seconds between looks for runs whose runner died
HEARTBEAT_EVERY = 5.0  # seconds between a scheduler's "still alive" records in the history
# A scheduler not heard from for this long is taken for gone (it may have been killed).
HEARTBEAT_STALE = 3 * HEARTBEAT_EVERY
SQL_EVERY = 300.0  # seconds between looks of a `trigger.sql` without `every`
# How far before the newest upstream end already handled an `after` trigger looks again:
# runs are recorded finished in the order their runners commit, not their end times.
AFTER_SLACK = 3600.0
# A run that never ran does not end: an `after` trigger with `state: any` ignores it.
AFTER_STATES = ("success", "success_with_failures", "failed", "timed_out", "canceled")


def alive_schedulers(beats: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The schedulers among recorded heartbeats that were heard from recently."""
    return sorted(
        (b for b in beats if now - float(b.get("seen", 0)) <= HEARTBEAT_STALE),
        key=lambda b: float(b.get("started") or 0),
    )


@dataclass(frozen=True)
class Decision:
    action: str  # fired, queued, skipped, missed, started
    workflow: str
    trigger: str
    run_id: int | None = None
    detail: str = ""


Launcher = Callable[[Workflow, int], Coroutine[Any, Any, Any]]


@dataclass
class _Files:
    """What a file-arrival trigger has seen of its folder since this scheduler started."""

    seen: dict[str, triggers.FileSeen] = field(default_factory=dict)


def _paused(workflow: Workflow, state: dict[str, Any]) -> bool:
    settings = workflow.settings
    if settings is None:
        return False
    schedule_paused = settings.schedule.paused if settings.schedule else False
    return bool(settings.paused or schedule_paused or state.get("paused"))


def trigger_kinds(workflow: Workflow) -> list[str]:
    settings = workflow.settings
    if settings is None:
        return []
    kinds = []
    if settings.schedule:
        kinds.append("schedule")
    if settings.file_arrival:
        kinds.append("file_arrival")
    if settings.continuous not in (None, False):
        kinds.append("continuous")
    if settings.trigger is not None:
        kinds.append("after" if settings.trigger.after else "sql")
    return kinds


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
        self.files: dict[str, _Files] = {}
        self.running: dict[int, asyncio.Task[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # `serve`'s, where runs start
        self._cache: dict[Path, tuple[float, Workflow | None]] = {}
        self._last_recovery = float("-inf")
        self._last_beat = float("-inf")
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.started = processes.started_at(self.pid)
        self.key = f"{self.host}:{self.pid}"
        # Set: serve this backfill alone (`nbflow backfill` in the foreground), no triggers.
        self.only_backfill = only_backfill
        self.sql_looks: dict[str, float] = {}  # workflow -> when its query last ran here
        self.sql_failing: dict[str, str] = {}  # workflow -> its query's error, said once
        self._engines: dict[str, Any] = {}

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
        for workflow in self.workflows():
            state = self.store.ensure_trigger_state(workflow.name, now)
            paused = _paused(workflow, state)
            for kind in trigger_kinds(workflow):
                if paused:
                    continue
                if kind == "schedule":
                    decisions += self._schedule(workflow, state, now)
                elif kind == "file_arrival":
                    decisions += self._file_arrival(workflow, now)
                elif kind == "after":
                    decisions += self._after(workflow, state, now)
                elif kind == "sql":
                    decisions += self._sql(workflow, now)
                else:
                    decisions += self._continuous(workflow, now)
            decisions += self._start_queued(workflow, now)
            served.add(workflow.name)
        decisions += self._backfills(now, served)
        return decisions

    def _schedule(self, workflow: Workflow, state: dict[str, Any], now: float) -> list[Decision]:
        schedule = workflow.settings.schedule  # type: ignore[union-attr]
        assert schedule is not None
        last = max(self.store.last_fire(workflow.name, "schedule") or 0.0, state["since"])
        found = triggers.due(schedule.cron, schedule.timezone, last, now)
        if found is None:
            return []
        out = []
        if found.missed > 1:
            detail = (
                f"{found.missed} fire times missed since "
                f"{triggers.iso_in(last, schedule.timezone)}; one catch-up run for "
                f"{triggers.iso_in(found.fire_time, schedule.timezone)}"
            )
            log.info("%s: %s", workflow.name, detail)
            out.append(Decision("missed", workflow.name, "schedule", None, detail))
        out += self._fire(
            workflow,
            "schedule",
            fire_key=repr(found.fire_time),
            trigger_time=found.fire_time,
            now=now,
            detail=f"schedule {schedule.cron} {schedule.timezone} at "
            f"{triggers.iso_in(found.fire_time, schedule.timezone)}",
        )
        return out

    def _file_arrival(self, workflow: Workflow, now: float) -> list[Decision]:
        spec = workflow.settings.file_arrival  # type: ignore[union-attr]
        assert spec is not None
        folder = (self.project.root / spec.path).resolve()
        tracked = self.files.setdefault(workflow.name, _Files())
        seen_before = self.store.seen_paths(workflow.name)
        present: dict[str, tuple[int, float]] = {}
        if folder.is_dir():
            for entry in os.scandir(folder):
                if entry.is_file() and fnmatch.fnmatch(entry.name, spec.pattern):
                    info = entry.stat()
                    present[entry.name] = (info.st_size, info.st_mtime)
        for name, (size, mtime) in present.items():
            old = tracked.seen.get(name)
            if old is None or (old.size, old.mtime) != (size, mtime):
                tracked.seen[name] = triggers.FileSeen(name, size, mtime, now)
        for name in list(tracked.seen):
            if name not in present:
                del tracked.seen[name]
        rel = self.project.relative(folder)
        candidates = [f for f in tracked.seen.values() if f"{rel}/{f.path}" not in seen_before]
        last_runs = self.store.recent_runs(workflow.name, "file_arrival", limit=1)
        ready = triggers.ready_files(
            candidates,
            now=now,
            wait_after_last_change=spec.wait_after_last_change,
            min_interval=spec.min_interval,
            last_run=last_runs[0]["created_time"] if last_runs else None,
        )
        if not ready:
            return []
        files = [f"{rel}/{name}" for name in ready]
        key = hashlib.sha256("\n".join(files).encode()).hexdigest()[:32]
        return self._fire(
            workflow,
            "file_arrival",
            fire_key=key,
            trigger_time=now,
            now=now,
            files=files,
            location=rel,
            detail=f"{len(files)} new file(s) in {rel}: {', '.join(ready[:5])}",
        )

    def _continuous(self, workflow: Workflow, now: float) -> list[Decision]:
        if self.store.active_runs(workflow.name):
            return []
        recent = self.store.recent_runs(workflow.name, "continuous")
        failures = 0
        for run in recent:
            if run["state"] in ("failed", "timed_out"):
                failures += 1
            else:
                break
        previous = recent[0] if recent else None
        if previous is not None:
            wait = triggers.continuous_delay(failures)
            if now < (previous["end_time"] or now) + wait:
                return []
        return self._fire(
            workflow,
            "continuous",
            fire_key=f"after:{previous['id'] if previous else 0}",
            trigger_time=now,
            now=now,
            detail=f"continuous (after {failures} failure(s) in a row)"
            if failures
            else "continuous",
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

    def _after(self, workflow: Workflow, state: dict[str, Any], now: float) -> list[Decision]:
        """A run per upstream run that ended in a wanted state since the workflow was first
        seen by a scheduler; the ledger key is the upstream run's id."""
        spec = workflow.settings.trigger  # type: ignore[union-attr]
        assert spec is not None and spec.after is not None
        wanted: dict[str, list[str]] = {}
        for entry in spec.after:
            wanted.setdefault(entry.workflow, []).append(entry.state)
        last = self.store.last_fire(workflow.name, "after")
        look_from = state["since"] if last is None else max(state["since"], last - AFTER_SLACK)
        claimed = self.store.fire_keys(workflow.name, "after", look_from)
        out: list[Decision] = []
        for run in self.store.finished_runs(list(wanted), AFTER_STATES, look_from):
            key = f"run:{run['id']}"
            if key in claimed or run["workflow"] == workflow.name:
                continue
            if not any(triggers.after_matches(w, run["state"]) for w in wanted[run["workflow"]]):
                continue
            upstream = self.store.get_run(run["id"]) or {"tasks": []}
            info = {
                "run_id": run["id"],
                "workflow": run["workflow"],
                "state": run["state"],
                "params": run["parameters"],
                "tasks": {
                    t["key"]: {
                        "state": t["state"],
                        "values": t["task_values"] or {},
                        "output": t.get("output"),
                    }
                    for t in upstream["tasks"]
                    if not t.get("parent_key")
                },
            }
            out += self._fire(
                workflow,
                "after",
                fire_key=key,
                trigger_time=run["trigger_time"],
                fire_time=run["end_time"],
                now=now,
                trigger_info=info,
                detail=f"after run {run['id']} of {run['workflow']} ended {run['state']}",
            )
        return out

    def _sql(self, workflow: Workflow, now: float) -> list[Decision]:
        """A run when the query's first value differs from the last one recorded.

        The ledger key is (the previous fire, the new value's digest): schedulers seeing
        the same change claim the same key. The first look only records the value.
        """
        spec = workflow.settings.trigger  # type: ignore[union-attr]
        assert spec is not None and spec.sql is not None
        every = spec.every if spec.every is not None else SQL_EVERY
        looked = self.sql_looks.get(workflow.name)
        if looked is not None and now - looked < every:
            return []
        self.sql_looks[workflow.name] = now
        try:
            value = self._query(spec.sql.query, spec.sql.connection)
        except Exception as exc:  # the database may come back: look again next time
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if self.sql_failing.get(workflow.name) != message:
                log.error("%s: the trigger's query failed: %s", workflow.name, message)
            self.sql_failing[workflow.name] = message
            return []
        if self.sql_failing.pop(workflow.name, None) is not None:
            log.warning("%s: the trigger's query works again", workflow.name)
        last = self.store.last_fire_row(workflow.name, "sql")
        digest = triggers.changed(last["fire_key"].rsplit(":", 1)[1] if last else None, value)
        if digest is None:
            return []
        key = f"{last['id'] if last else 0}:{digest}"
        if last is None:
            if self.store.claim_mark(workflow.name, "sql", key, now, now):
                log.info("%s: watching the trigger's query (value now %r)", workflow.name, value)
            return []
        return self._fire(
            workflow,
            "sql",
            fire_key=key,
            trigger_time=now,
            now=now,
            trigger_info={"value": value},
            detail=f"the trigger's query value changed to {value!r}",
        )

    def _query(self, query: str, connection: str | None) -> Any:
        """The first value of the first row of a trigger's query, as JSON data (or None)."""
        import json

        from sqlalchemy import create_engine, make_url, text

        url = make_url(connection or self.project.warehouse_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            if not Path(url.database).is_absolute():  # as a sql task reads it: from the root
                url = url.set(database=str(self.project.root / url.database))
        key = url.render_as_string(hide_password=False)
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = create_engine(url)
        with engine.connect() as conn:
            row = conn.execute(text(query)).first()
        value = row[0] if row is not None and len(row) else None
        return json.loads(json.dumps(value, default=str))  # dates and decimals as text

    def _backfills(self, now: float, served: set[str]) -> list[Decision]:
        """Start the next days of every running backfill, at most its concurrency at once."""
        out: list[Decision] = []
        if self.only_backfill is not None:
            running = self.store.list_backfills(backfill_id=self.only_backfill)
            running = [b for b in running if b["state"] == "running"]
        else:
            running = self.store.list_backfills(state="running")
        for backfill in running:
            workflow = self._load(self.project.root / backfill["workflow_path"])
            if workflow is None:
                continue  # said when it was read; a fixed file goes on where it stopped
            started = self.store.backfill_runs(backfill)
            skipped = set(backfill["skipped"])
            todo = [t for t in backfill["fire_times"] if t not in skipped and t not in started]
            active = [r for r in started.values() if r["state"] in ("queued", "running")]
            if not todo and not active:
                if self.store.end_backfill(backfill["id"], "finished", now):
                    log.info("%s: backfill %s finished", workflow.name, backfill["id"])
                    out.append(Decision("finished", workflow.name, "backfill", None))
                continue
            tz = backfill["span"].get("timezone") or "UTC"
            for t in todo[: max(0, backfill["concurrency"] - len(active))]:
                fired = self._fire(
                    workflow,
                    "backfill",
                    fire_key=f"{backfill['id']}@{t!r}",
                    trigger_time=t,
                    now=now,
                    parameters=backfill["parameters"],
                    queue=True,  # a day over max_concurrent_runs waits: it is never skipped
                    trigger_info={"backfill_id": backfill["id"]},
                    group_limit=backfill["concurrency"],
                    detail=f"backfill {backfill['id']} for {triggers.iso_in(t, tz)}",
                )
                if not fired:
                    break  # another scheduler took it, or the backfill is at its limit
                out += fired
            if workflow.name not in served:
                out += self._start_queued(workflow, now)
                served.add(workflow.name)
        return out

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
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._start, workflow, run_id)
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
        """Fire until `stop` is set; then wait for the runs this scheduler started.

        `ready`, if given, is set after the first tick (its heartbeat is then recorded,
        unless that tick failed). A tick that fails is logged and tried again at the next
        one: the history may come back (a broken connection is replaced at the next call).
        """
        log.info("scheduler started for %s (pid %s)", self.project.root, self.pid)
        self._loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        watch = FolderWatch(asyncio.get_running_loop(), wake)
        failing: str | None = None  # the error of the last tick, while ticks fail
        try:
            while not stop.is_set():
                wake.clear()
                delay = tick
                try:
                    # In a thread: a tick reads the history and may run a trigger's query
                    # (seconds on a busy warehouse) while this loop drives the runs (and,
                    # in the Jupyter server, answers requests).
                    await asyncio.to_thread(self.tick, self.clock.now())
                    watch.update(self.watched_folders())
                    delay = self.next_wake(self.clock.now(), tick) - self.clock.now()
                except Exception as exc:  # a daemon that dies silently fires nothing: go on
                    if str(exc) != failing:  # said once, not at every tick
                        log.error(
                            "looking at the triggers failed (trying again every %gs): %s",
                            tick,
                            exc,
                            exc_info=not isinstance(exc, NbflowError),
                        )
                    failing = str(exc)
                else:
                    if failing is not None:
                        log.warning("the scheduler works again (it failed with: %s)", failing)
                    failing = None
                if ready is not None:
                    ready.set()
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
                await asyncio.wait(
                    waiters, timeout=max(0.0, delay), return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()
        finally:
            watch.close()
        if self.running:
            log.info(
                "stopping: waiting for %d run(s) to finish (again to cancel them)",
                len(self.running),
            )
            await asyncio.gather(*self.running.values(), return_exceptions=True)
        try:
            self.store.drop_scheduler(self.key)
        except Exception as exc:  # its heartbeat then goes stale: it counts as gone soon
            log.warning("could not remove this scheduler's heartbeat: %s", exc)
        log.info("scheduler stopped")
