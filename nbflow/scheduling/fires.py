"""When each trigger kind fires at one moment: a cron schedule, files arriving in a folder,
a continuous workflow, other workflows' ends (`trigger.after`). Each is a function of the
workflow, the run history and the time passed in, and fires through the `Fire` it is given.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from ..core import triggers
from ..history import Store
from ..workflows.model import Workflow
from ..workflows.project import Project
from .decision import Decision, Fire

log = logging.getLogger("nbflow.schedule")

# How far before the newest upstream end already handled an `after` trigger looks again:
# runs are recorded finished in the order their runners commit, not their end times.
AFTER_SLACK = 3600.0
# A run that never ran does not end: an `after` trigger with `state: any` ignores it.
AFTER_STATES = ("success", "success_with_failures", "failed", "timed_out", "canceled")


@dataclass
class Files:
    """What a file-arrival trigger has seen of its folder since this scheduler started."""

    seen: dict[str, triggers.FileSeen] = field(default_factory=dict)


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


def paused(workflow: Workflow, state: dict[str, Any]) -> bool:
    settings = workflow.settings
    if settings is None:
        return False
    schedule_paused = settings.schedule.paused if settings.schedule else False
    return bool(settings.paused or schedule_paused or state.get("paused"))


def schedule(
    workflow: Workflow, state: dict[str, Any], now: float, *, store: Store, fire: Fire
) -> list[Decision]:
    """The latest cron fire time due since the last fire: one run, however many were missed."""
    spec = workflow.settings.schedule  # type: ignore[union-attr]
    assert spec is not None
    last = max(store.last_fire(workflow.name, "schedule") or 0.0, state["since"])
    found = triggers.due(spec.cron, spec.timezone, last, now)
    if found is None:
        return []
    out = []
    if found.missed > 1:
        detail = (
            f"{found.missed} fire times missed since "
            f"{triggers.iso_in(last, spec.timezone)}; one catch-up run for "
            f"{triggers.iso_in(found.fire_time, spec.timezone)}"
        )
        log.info("%s: %s", workflow.name, detail)
        out.append(Decision("missed", workflow.name, "schedule", None, detail))
    out += fire(
        workflow,
        "schedule",
        fire_key=repr(found.fire_time),
        trigger_time=found.fire_time,
        now=now,
        detail=f"schedule {spec.cron} {spec.timezone} at "
        f"{triggers.iso_in(found.fire_time, spec.timezone)}",
    )
    return out


def file_arrival(
    workflow: Workflow,
    now: float,
    *,
    project: Project,
    store: Store,
    tracked: Files,
    fire: Fire,
) -> list[Decision]:
    """One run for the files new in the folder once they have settled (`tracked` is what
    this scheduler saw of the folder before)."""
    spec = workflow.settings.file_arrival  # type: ignore[union-attr]
    assert spec is not None
    folder = (project.root / spec.path).resolve()
    seen_before = store.seen_paths(workflow.name)
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
    rel = project.relative(folder)
    candidates = [f for f in tracked.seen.values() if f"{rel}/{f.path}" not in seen_before]
    last_runs = store.recent_runs(workflow.name, "file_arrival", limit=1)
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
    return fire(
        workflow,
        "file_arrival",
        fire_key=key,
        trigger_time=now,
        now=now,
        files=files,
        location=rel,
        detail=f"{len(files)} new file(s) in {rel}: {', '.join(ready[:5])}",
    )


def continuous(workflow: Workflow, now: float, *, store: Store, fire: Fire) -> list[Decision]:
    """The next run once none is active, later after failures in a row."""
    if store.active_runs(workflow.name):
        return []
    recent = store.recent_runs(workflow.name, "continuous")
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
    return fire(
        workflow,
        "continuous",
        fire_key=f"after:{previous['id'] if previous else 0}",
        trigger_time=now,
        now=now,
        detail=f"continuous (after {failures} failure(s) in a row)" if failures else "continuous",
    )


def after(
    workflow: Workflow, state: dict[str, Any], now: float, *, store: Store, fire: Fire
) -> list[Decision]:
    """A run per upstream run that ended in a wanted state since the workflow was first
    seen by a scheduler; the ledger key is the upstream run's id."""
    spec = workflow.settings.trigger  # type: ignore[union-attr]
    assert spec is not None and spec.after is not None
    wanted: dict[str, list[str]] = {}
    for entry in spec.after:
        wanted.setdefault(entry.workflow, []).append(entry.state)
    last = store.last_fire(workflow.name, "after")
    look_from = state["since"] if last is None else max(state["since"], last - AFTER_SLACK)
    claimed = store.fire_keys(workflow.name, "after", look_from)
    out: list[Decision] = []
    for run in store.finished_runs(list(wanted), AFTER_STATES, look_from):
        key = f"run:{run['id']}"
        if key in claimed or run["workflow"] == workflow.name:
            continue
        if not any(triggers.after_matches(w, run["state"]) for w in wanted[run["workflow"]]):
            continue
        upstream = store.get_run(run["id"]) or {"tasks": []}
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
        out += fire(
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
