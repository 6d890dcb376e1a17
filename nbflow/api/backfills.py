"""Backfills: one run per past fire time, started, listed, canceled, served."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..core.clock import Clock, iso
from ..core.errors import (
    RunBusy,
    RunNotFound,
    UsageError,
)
from ..core.states import ACTIVE_RUN_STATES
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..history import Store

from .engines import _launcher
from .modules import (
    executor_module,
    scheduler_module,
    triggers,
)
from .reading import open_store
from .runs import SUCCEEDED
from .schedules import _stop_on_signals
from .workflows import load, run_parameters

MAX_BACKFILL_RUNS = 10_000  # fire times one backfill may hold


def _moment(text: str, tz: str, option: str, *, end: bool) -> float:
    """A date (the whole day: from its start, or to its end) or a date and time, read in
    the schedule's time zone unless it names an offset."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            start = datetime(day.year, day.month, day.day, tzinfo=zone)
            if end:  # through the last moment of that day
                start = datetime.combine(day + timedelta(days=1), start.time(), zone)
                return start.timestamp() - 0.001
            return start.timestamp()
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a date (2026-01-31) or a date and time "
            "(2026-01-31T06:00, optionally with an offset)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()


def backfill(
    project: Project,
    name: str,
    *,
    start: str,
    end: str,
    every: str | None = None,
    concurrency: int | None = None,
    rerun: bool = False,
    overrides: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Record a backfill: one run per fire time of the workflow's schedule (or every
    `every`) from `start` to `end`; a scheduler, or `serve_backfill`, starts them.

    Fire times that already have a successful (or active) run of the schedule or of an
    earlier backfill are skipped unless `rerun`.
    """
    from ..core.durations import parse_duration

    workflow = load(project, name)
    run_parameters(workflow, overrides or {})  # names must be the workflow's
    if concurrency is not None and concurrency < 1:
        raise UsageError(f"--concurrency {concurrency}: must be at least 1")
    schedule = workflow.schedule
    tz = schedule.timezone if schedule else "UTC"
    low = _moment(start, tz, "--from", end=False)
    high = _moment(end, tz, "--to", end=True)
    if high < low:
        raise UsageError(f"--to {end!r} is before --from {start!r}")
    if every is not None:
        try:
            step = parse_duration(every)
        except ValueError as exc:
            raise UsageError(f"--every {every!r}: {exc}") from None
        if step <= 0:
            raise UsageError(f"--every {every!r}: must be more than 0")
        times = triggers.every_between(low, high, step, MAX_BACKFILL_RUNS)
    elif schedule is not None:
        times = triggers.fire_times_between(schedule.cron, tz, low, high, MAX_BACKFILL_RUNS)
    else:
        raise UsageError(
            f"workflow {workflow.name!r} has no schedule: say how often with --every (1d, say)"
        )
    if len(times) > MAX_BACKFILL_RUNS:
        raise UsageError(
            f"{start} to {end} holds more than {MAX_BACKFILL_RUNS} fire times: "
            "backfill a shorter range"
        )
    if not times:
        raise UsageError(f"no fire time of {workflow.name} from {start} to {end}")
    clock = clock or Clock()
    store = open_store(project, clock, create=True)
    try:
        done = set()
        if not rerun:
            done = {
                r["trigger_time"]
                for r in store.runs_at(workflow.name, ("schedule", "backfill"), times)
                if r["state"] in SUCCEEDED or r["state"] in ACTIVE_RUN_STATES
            }
        backfill_id = store.create_backfill(
            workflow=workflow.name,
            workflow_path=project.relative(workflow.path),
            fire_times=times,
            skipped=[t for t in times if t in done],
            parameters=dict(overrides or {}),
            concurrency=concurrency or 1,
            span={"from": start, "to": end, "every": every, "timezone": tz, "rerun": rerun},
            now=clock.now(),
        )
        return _backfill_doc(store, store.list_backfills(backfill_id=backfill_id)[0])
    finally:
        store.close()


def _backfill_doc(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    """A backfill as `backfill list --json` and the REST API give it: each day's run."""
    started = store.backfill_runs(row)
    skipped = set(row["skipped"])
    tz = row["span"].get("timezone") or "UTC"
    days = []
    for t in row["fire_times"]:
        run = started.get(t)
        days.append(
            {
                "time": triggers.iso_in(t, tz),
                "state": run["state"]
                if run
                else "skipped"
                if t in skipped
                else ("pending" if row["state"] == "running" else "not_started"),
                "run_id": run["id"] if run else None,
            }
        )
    counts: dict[str, int] = {}
    for day in days:
        counts[str(day["state"])] = counts.get(str(day["state"]), 0) + 1
    return {
        "id": row["id"],
        "workflow": row["workflow"],
        "state": row["state"],
        "from": row["span"].get("from"),
        "to": row["span"].get("to"),
        "every": row["span"].get("every"),
        "timezone": tz,
        "rerun": bool(row["span"].get("rerun")),
        "concurrency": row["concurrency"],
        "parameters": row["parameters"],
        "created": iso(row["created"]),
        "end_time": iso(row["end_time"]),
        "counts": counts,
        "days": days,
    }


def _backfill_row(store: Store, backfill_id: int) -> dict[str, Any]:
    found = store.list_backfills(backfill_id=backfill_id)
    if not found:
        raise RunNotFound(f"no backfill {backfill_id} in the run history")
    return found[0]


def backfills(
    project: Project, backfill_id: int | None = None, store: Store | None = None
) -> list[dict[str, Any]]:
    """Every backfill of the project (or one), oldest first, with each day's run.

    `store`: an open history to read (the server's shared one); else one is opened and closed.
    """
    own = store is None
    store = store or open_store(project)
    try:
        if backfill_id is not None:
            return [_backfill_doc(store, _backfill_row(store, backfill_id))]
        return [_backfill_doc(store, row) for row in store.list_backfills()]
    finally:
        if own:
            store.close()


def cancel_backfill(project: Project, backfill_id: int) -> dict[str, Any]:
    """Start no more of a backfill's days and cancel its runs still going."""
    store = open_store(project)
    try:
        row = _backfill_row(store, backfill_id)
        now = time.time()
        if not store.end_backfill(backfill_id, "canceled", now):
            raise RunBusy(
                f"backfill {backfill_id} has already ended ({row['state']}); nothing to cancel"
            )
        for run in store.backfill_runs(row).values():
            if run["state"] in ACTIVE_RUN_STATES:
                store.request_cancel(run["id"], now)
        return _backfill_doc(store, _backfill_row(store, backfill_id))
    finally:
        store.close()


def serve_backfill(
    project: Project,
    backfill_id: int,
    *,
    parallel: int | None = None,
    tick: float = 0.5,
) -> dict[str, Any]:
    """Start a backfill's days in the foreground until it has finished or was canceled.

    The first SIGINT/SIGTERM starts no more days and waits for the runs going (the backfill
    stays running: `serve_backfill` again, or any scheduler, goes on with it); a second
    cancels them. Any scheduler of the project may start days of it at the same time.
    """
    store = open_store(project)
    try:
        if _backfill_row(store, backfill_id)["state"] != "running":
            raise RunBusy(f"backfill {backfill_id} is not running; nothing to resume")
        executor = executor_module.LocalExecutor.from_settings()  # warm across its days
        sched = scheduler_module.Scheduler(
            project,
            store,
            launcher=_launcher(project, store, parallel, executor),
            only_backfill=backfill_id,
        )

        async def main() -> None:
            stop = _stop_on_signals(sched)

            async def until_ended() -> None:
                while not stop.is_set():
                    if _backfill_row(store, backfill_id)["state"] != "running":
                        stop.set()
                        return
                    # The history says when it ends: any scheduler may finish or cancel it.
                    await asyncio.sleep(tick)

            watcher = asyncio.ensure_future(until_ended())
            try:
                await sched.serve(stop, tick=tick)
            finally:
                watcher.cancel()
                await executor.close()

        asyncio.run(main())
        return _backfill_doc(store, _backfill_row(store, backfill_id))
    finally:
        store.close()
