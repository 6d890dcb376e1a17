"""Backfills advancing: the next days of every running backfill started, at most its
concurrency at once, and a backfill with no day left marked finished. Every scheduler
serves every running backfill the same way, one claim in the history per day."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ..core import triggers
from ..history import Store
from ..workflows.model import Workflow
from .decision import Decision, Fire

log = logging.getLogger("nbflow.schedule")


def advance(
    now: float,
    served: set[str],
    *,
    store: Store,
    root: Path,
    load: Callable[[Path], Workflow | None],
    fire: Fire,
    start_queued: Callable[[Workflow, float], list[Decision]],
    only: int | None = None,
) -> list[Decision]:
    """Start the next days of every running backfill (of backfill `only`, if given).

    `served`: the workflows whose queued runs were already started at this moment.
    """
    out: list[Decision] = []
    if only is not None:
        running = store.list_backfills(backfill_id=only)
        running = [b for b in running if b["state"] == "running"]
    else:
        running = store.list_backfills(state="running")
    for backfill in running:
        workflow = load(root / backfill["workflow_path"])
        if workflow is None:
            continue  # said when it was read; a fixed file goes on where it stopped
        started = store.backfill_runs(backfill)
        skipped = set(backfill["skipped"])
        todo = [t for t in backfill["fire_times"] if t not in skipped and t not in started]
        active = [r for r in started.values() if r["state"] in ("queued", "running")]
        if not todo and not active:
            if store.end_backfill(backfill["id"], "finished", now):
                log.info("%s: backfill %s finished", workflow.name, backfill["id"])
                out.append(Decision("finished", workflow.name, "backfill", None))
            continue
        tz = backfill["span"].get("timezone") or "UTC"
        for t in todo[: max(0, backfill["concurrency"] - len(active))]:
            fired = fire(
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
            out += start_queued(workflow, now)
            served.add(workflow.name)
    return out
