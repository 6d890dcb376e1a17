"""Waking the scheduler as soon as a watched folder changes (inotify, through watchdog).

Without watchdog (or where the platform offers no file events) nothing changes but the
latency: the scheduler still looks at every folder each tick.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("nbflow.schedule")


class FolderWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event):
        self.loop = loop
        self.wake = wake
        self.watched: dict[Path, Any] = {}
        self.observer: Any = None
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:  # polling only
            return

        watch = self

        class Handler(FileSystemEventHandler):  # type: ignore[misc]
            def on_any_event(self, event: Any) -> None:
                watch.loop.call_soon_threadsafe(watch.wake.set)

        self.handler = Handler()
        self.observer = Observer()
        self.observer.daemon = True
        self.observer.start()

    def update(self, folders: set[Path]) -> None:
        """Watch exactly these folders (those that exist)."""
        if self.observer is None:
            return
        for folder in list(self.watched):
            if folder not in folders or not folder.is_dir():
                self.observer.unschedule(self.watched.pop(folder))
        for folder in folders:
            if folder not in self.watched and folder.is_dir():
                try:
                    self.watched[folder] = self.observer.schedule(self.handler, str(folder))
                except OSError as exc:  # e.g. out of inotify watches: polling still works
                    log.warning("cannot watch %s (%s); polling it", folder, exc)

    def close(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
