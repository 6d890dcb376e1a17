"""The scheduler's daemon: the loop around `Scheduler.tick` (a tick in a thread, then a
sleep until the next fire time, a folder change or the stop), and the heartbeats by which
schedulers sharing a project know who is alive."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..core.errors import NbflowError
from .watch import FolderWatch

if TYPE_CHECKING:
    from .scheduler import Scheduler

log = logging.getLogger("nbflow.schedule")

RECOVERY_EVERY = 2.0  # seconds between looks for runs whose runner died
HEARTBEAT_EVERY = 5.0  # seconds between a scheduler's "still alive" records in the history
# A scheduler not heard from for this long is taken for gone (it may have been killed).
HEARTBEAT_STALE = 3 * HEARTBEAT_EVERY


def alive_schedulers(beats: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The schedulers among recorded heartbeats that were heard from recently."""
    return sorted(
        (b for b in beats if now - float(b.get("seen", 0)) <= HEARTBEAT_STALE),
        key=lambda b: float(b.get("started") or 0),
    )


async def serve(
    scheduler: Scheduler,
    stop: asyncio.Event,
    tick: float = 0.5,
    *,
    ready: asyncio.Event | None = None,
) -> None:
    """Fire until `stop` is set; then wait for the runs this scheduler started.

    `ready`, if given, is set after the first tick (its heartbeat is then recorded,
    unless that tick failed). A tick that fails is logged and tried again at the next
    one: the history may come back (a broken connection is replaced at the next call).
    """
    log.info("scheduler started for %s (pid %s)", scheduler.project.root, scheduler.pid)
    scheduler.loop = asyncio.get_running_loop()
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
                await asyncio.to_thread(scheduler.tick, scheduler.clock.now())
                watch.update(scheduler.watched_folders())
                delay = scheduler.next_wake(scheduler.clock.now(), tick) - scheduler.clock.now()
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
    if scheduler.running:
        log.info(
            "stopping: waiting for %d run(s) to finish (again to cancel them)",
            len(scheduler.running),
        )
        await asyncio.gather(*scheduler.running.values(), return_exceptions=True)
    try:
        scheduler.store.drop_scheduler(scheduler.key)
    except Exception as exc:  # its heartbeat then goes stale: it counts as gone soon
        log.warning("could not remove this scheduler's heartbeat: %s", exc)
    log.info("scheduler stopped")
