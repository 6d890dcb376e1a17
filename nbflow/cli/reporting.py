"""Progress of a run as it happens: a live table on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..core.states import TERMINAL_TASK_STATES, RunState, TaskState

COLOURS = {
    "pending": "dim",
    "queued": "cyan",
    "running": "yellow",
    "waiting_for_retry": "magenta",
    "success": "green",
    "excluded": "dim green",
    "disabled": "dim",
    "skipped_by_selection": "dim",
    "failed": "bold red",
    "timed_out": "red",
    "canceled": "red",
    "upstream_failed": "red",
    "upstream_canceled": "red",
    "success_with_failures": "yellow",
    "skipped": "dim",
}


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


class PlainReporter:
    """One line per change: `HH:MM:SS  task  state  (attempt, seconds, message)`."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.started: dict[str, float] = {}

    def run_changed(self, run_id: int, state: RunState, at: float) -> None:
        self.stream.write(f"{_clock(at)}  run {run_id}  {state.value}\n")
        self.stream.flush()

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None:
        if state == TaskState.RUNNING:
            self.started.setdefault(key, at)
        extra = []
        if attempt and attempt > 1:
            extra.append(f"attempt {attempt}")
        if state in TERMINAL_TASK_STATES and key in self.started:
            extra.append(f"{at - self.started[key]:.1f}s")
        if message and state != TaskState.SUCCESS:
            extra.append(message.splitlines()[0][:200])
        tail = f"  ({', '.join(extra)})" if extra else ""
        self.stream.write(f"{_clock(at)}  {key}  {state.value}{tail}\n")
        self.stream.flush()


class LiveReporter:
    """A table redrawn in place: one row per task with its state and time."""

    def __init__(self, keys: list[str] | None = None, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.rows: dict[str, dict[str, Any]] = {k: {"state": "pending"} for k in keys or []}
        self.run_line = ""
        self.live = Live(
            self._table(), console=self.console, refresh_per_second=8, get_renderable=self._table
        )

    def start(self, keys: list[str]) -> None:
        """Show every task of the run, pending, and start redrawing."""
        for key in keys:
            self.rows.setdefault(key, {"state": "pending"})
        self.live.__enter__()

    def __enter__(self) -> LiveReporter:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def _table(self) -> Table:
        table = Table(title=self.run_line or None, title_justify="left", box=None)
        table.add_column("task")
        table.add_column("state")
        table.add_column("time", justify="right")
        table.add_column("")
        now = time.time()
        for key, row in self.rows.items():
            state = row["state"]
            start, end = row.get("start"), row.get("end")
            elapsed = f"{(end or now) - start:.1f}s" if start else ""
            note = row.get("message") or ""
            attempt = row.get("attempt")
            if attempt and attempt > 1:
                note = f"attempt {attempt}  {note}"
            table.add_row(key, f"[{COLOURS.get(state, '')}]{state}[/]", elapsed, note[:80])
        return table

    def run_changed(self, run_id: int, state: RunState, at: float) -> None:
        colour = COLOURS.get(state.value, "")
        self.run_line = f"run {run_id}  [{colour}]{state.value}[/]"
        self.live.refresh()

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None:
        row = self.rows.setdefault(key, {})
        row["state"] = state.value
        if state == TaskState.RUNNING:
            row.setdefault("start", at)
            row["attempt"] = attempt
        if state in TERMINAL_TASK_STATES:
            row.setdefault("start", at)
            row["end"] = at
        row["message"] = (
            (message or "").splitlines()[0] if message and state != TaskState.SUCCESS else ""
        )
        self.live.refresh()
