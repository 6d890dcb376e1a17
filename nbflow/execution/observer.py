"""Observers: who hears of a run's changes as they happen (the progress display; a child
run's changes, told under its parent task's name)."""

from __future__ import annotations

from typing import Protocol

from ..core.states import RunState, TaskState


class Observer(Protocol):
    def run_changed(self, run_id: int, state: RunState, at: float) -> None: ...

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None: ...


class NullObserver:
    def run_changed(self, run_id: int, state: RunState, at: float) -> None:
        pass

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None:
        pass


class Prefixed:
    """Reports a child run's task changes under the parent task's name."""

    def __init__(self, observer: Observer, prefix: str):
        self.observer = observer
        self.prefix = prefix

    def run_changed(self, run_id: int, state: RunState, at: float) -> None:
        pass

    def task_changed(
        self, key: str, state: TaskState, at: float, attempt: int | None, message: str | None
    ) -> None:
        self.observer.task_changed(self.prefix + key, state, at, attempt, message)
