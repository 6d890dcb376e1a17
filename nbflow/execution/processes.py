"""Processes nbflow starts: who they are, and ending them with everything they started.

A notebook attempt's worker starts a kernel in a session of its own (jupyter_client does
that so Ctrl-C reaches the kernel alone), so killing the worker's process group is not
enough: the whole tree is collected and killed, children first.
"""

from __future__ import annotations

import psutil


def started_at(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None if it is gone."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def alive(pid: int | None, started: float | None) -> bool:
    """Whether `pid` is still the process that started at `started` (not a reused pid)."""
    if not pid:
        return False
    now_started = started_at(pid)
    if now_started is None:
        return False
    if started is None:
        return True
    return abs(now_started - started) < 1.0


def kill_tree(pid: int, started: float | None = None, *, wait: bool = True) -> int:
    """SIGKILL `pid` and all its descendants; return how many processes were killed.

    With `wait=False` it returns once the signals are sent (an event loop must not wait
    for another process's parent to reap them).
    """
    if not alive(pid, started):
        return 0
    try:
        root = psutil.Process(pid)
        family = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return 0
    for proc in family:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    if not wait:
        return len(family)
    _, still = psutil.wait_procs(family, timeout=5)
    return len(family) - len(still)
