"""Crash recovery: finish runs whose runner process died, and end what it left running.

Any nbflow command that opens the run history calls `recover` first, so a runner killed
with `kill -9` (or a machine that rebooted) leaves no run stuck in `running`: its running
tasks fail with "runner died", its leftover worker processes and kernels are killed, and
the run ends `failed`, ready to be repaired. Only runs started on this host are judged:
another machine's processes cannot be seen from here. A scheduled run still waiting for a
slot has no runner yet: it stays queued for whichever scheduler runs next.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

from ..workflows.project import Project
from . import annotate, processes

if TYPE_CHECKING:
    from ..history import Store


def recover(store: Store, project: Project, now: float) -> list[int]:
    """Close every orphaned run of this host; return their ids."""
    host = socket.gethostname()
    closed = []
    for run in store.unfinished_runs():
        if run["runner_pid"] is None:  # queued, waiting for a slot: a scheduler will start it
            continue
        if run["runner_host"] != host:
            continue
        if processes.alive(run["runner_pid"], run["runner_started"]):
            continue
        message = f"runner died (process {run['runner_pid']} on {host} is gone)"
        leftovers = store.close_orphan(run["id"], now=now, message=message)
        for attempt in leftovers:
            if attempt.get("pid"):
                processes.kill_tree(attempt["pid"], attempt.get("pid_started"))
            artifact = attempt.get("artifact")
            if artifact and artifact.endswith(".ipynb"):
                path = Path(artifact) if Path(artifact).is_absolute() else project.root / artifact
                annotate.mark_interrupted(
                    path, headline="the runner died", ename="RunnerDied", evalue=message
                )
        if leftovers or run["state"] in ("running", "queued"):
            closed.append(run["id"])
    return closed
