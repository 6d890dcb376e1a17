"""The reaper: a dead Dask worker's attempt processes end with it. Each worker starts one
(`python -m nbflow.execution.reaper`) and tells it of every attempt's kernel or process as
it starts and ends; when its input closes because the worker died, it kills what is still
listed, with their descendants."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import Any

_REAPER: subprocess.Popen[bytes] | None = None
_REAPER_LOCK = threading.Lock()


def tell_reaper(line: str) -> None:
    """Tell this worker's reaper that an attempt's process started (+PID) or ended (-PID).

    An attempt's kernel or process runs in a session of its own, so it would outlive a
    worker that is killed; the reaper (`python -m nbflow.execution.reaper`) reads these lines
    and, when its input closes because the worker died, kills every process still listed
    and their descendants.
    """
    global _REAPER
    with _REAPER_LOCK:
        try:
            if _REAPER is None or _REAPER.poll() is not None:
                _REAPER = subprocess.Popen(
                    [sys.executable, "-m", "nbflow.execution.reaper"],
                    stdin=subprocess.PIPE,
                    start_new_session=True,  # a signal to the worker's group spares it
                )
            assert _REAPER.stdin is not None
            _REAPER.stdin.write(f"{line}\n".encode())
            _REAPER.stdin.flush()
        except OSError:  # no reaper: the attempt runs unguarded, as a local one does
            pass


def reap(lines: Any) -> int:
    """The reaper's loop: track +PID/-PID lines; at end of input kill what is still listed."""
    from . import processes

    listed: dict[int, float | None] = {}
    for raw in lines:
        text = raw.strip()
        if text[:1] == "+" and text[1:].isdigit():
            pid = int(text[1:])
            listed[pid] = processes.started_at(pid)
        elif text[:1] == "-" and text[1:].isdigit():
            listed.pop(int(text[1:]), None)
    return sum(processes.kill_tree(pid, started) for pid, started in listed.items())


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the end of its input stops it
    reap(sys.stdin)
