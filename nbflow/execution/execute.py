"""Executing one attempt: the functions the executors call, whatever the task kind, a
notebook (`notebookattempt`) or a process (`processattempt`: a script, a command, SQL);
each returns an `AttemptResult`.

Nothing here touches run state; the runner records what these functions return.
"""

from __future__ import annotations

from .attemptresult import AttemptResult, failed
from .notebookattempt import run_notebook
from .processattempt import run_process, run_sql

__all__ = ["AttemptResult", "failed", "run_notebook", "run_process", "run_sql"]
