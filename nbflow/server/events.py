"""The live feed: run and task state changes pushed to every open event stream of a server.

Runs are changed by other processes (`nbflow run`, the scheduler, detached runners), which
tell nobody: they write the run history. So one reader per server looks at the history
while at least one stream is open, and pushes what changed to all of them; a browser never
polls. A look costs two `stat` calls when the history is SQLite and nothing was written since
the last one; the history itself is read (in a thread, never on the event loop) when its files
changed, and at least every `RESYNC` seconds (a runner that died writes nothing, and reading
the history is what finishes its run).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import TYPE_CHECKING, Any

from .. import api
from ..core.states import TERMINAL_RUN_STATES
from ..workflows.project import Project

if TYPE_CHECKING:
    from ..history import Store

# Runs in the window the feed follows: the newest ones (a repair makes an old run active
# again; beyond this window a run view learns of it when it is reloaded).
WINDOW = 200
# Seconds between full reads of the history when its files did not change.
RESYNC = 5.0
FINISHED = {str(s) for s in TERMINAL_RUN_STATES}

Event = tuple[str, Any]


def _summary(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (doc["state"], doc["start_time"], doc["end_time"], doc["repair_count"], doc["message"])


class Feed:
    """The changes of one project's runs, read once for all the streams of a server."""

    def __init__(self, project: Project, tick: float):
        self.project = project
        self.tick = tick
        self.queues: set[asyncio.Queue[Event | None]] = set()
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        # What the streams were last told: each run's summary, and each active run's document.
        self.summaries: dict[int, tuple[Any, ...]] = {}
        self.documents: dict[int, str] = {}
        self.workflows: Any = None
        self.schedulers: Any = None
        self.backfills: dict[int, str] = {}
        self.files: Any = None
        self.last_read = 0.0
        self.primed = False
        # Set once the feed has read what is there: a change after that is pushed.
        self.ready = asyncio.Event()
        self.store: Store | None = None  # the history, read in the looks' thread

    def subscribe(self) -> asyncio.Queue[Event | None]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.queues.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._follow())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self.queues.discard(queue)

    def close(self) -> None:
        """The server stops: every stream ends (a client reconnects to the next server)."""
        self.closed = True
        self.ready.set()  # a stream waiting for the first read goes on, and ends
        for queue in self.queues:
            queue.put_nowait(None)
        if self.task is not None:
            self.task.cancel()

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed:
            while self.queues and not self.closed:
                try:
                    events = await loop.run_in_executor(None, self.look)
                except Exception:  # the history unreadable for a moment: try again next tick
                    events = []
                for event in events:
                    for queue in self.queues:
                        queue.put_nowait(event)
                if self.primed:  # a stream's snapshot waits for a look that read the history
                    self.ready.set()
                await asyncio.sleep(self.tick)
            # Nobody listens: the next stream starts from a fresh read (a closed feed reads no
            # more: its streams end at once).
            self.primed = False
            if not self.closed:
                self.ready.clear()
            await loop.run_in_executor(None, self.drop_store)
            if not self.queues:
                return
            # A stream subscribed while the store was being closed: it found this follower
            # still running, so this follower reads for it.

    def _files(self) -> Any:
        """What changes when the history is written: its SQLite files' sizes and times."""
        url = self.project.database_url
        if not url.startswith("sqlite:///"):
            return None
        base = url.removeprefix("sqlite:///")
        out: list[tuple[int, int] | None] = []
        for path in (base, base + "-wal"):
            try:
                st = os.stat(path)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return out

    def _workflow_files(self) -> Any:
        out = []
        for path in self.project.workflow_files():
            try:
                out.append((path.name, path.stat().st_mtime_ns))
            except OSError:
                pass
        return out

    def look(self) -> list[Event]:
        """What changed since the last look (runs in a thread: it reads files and the history)."""
        events: list[Event] = []
        workflow_files = self._workflow_files()
        files = self._files()
        now = time.monotonic()
        due = files is None or files != self.files or now - self.last_read >= RESYNC
        changed_workflows = workflow_files != self.workflows
        if due:
            # Recorded only once read: a look that fails is done again, so no change it
            # should have seen is taken as already known.
            events, runs_changed = self._read()
            self.files = files
            self.last_read = now
            changed_workflows = changed_workflows or runs_changed
        self.workflows = workflow_files
        if changed_workflows and self.primed:
            events.append(("workflows", {}))
        self.primed = True
        return events

    def _read(self) -> tuple[list[Event], bool]:
        """Run documents that changed; and whether the workflows list shows something new: a
        run appeared or finished (active runs, next fire), a scheduler started or stopped."""
        events: list[Event] = []
        if self.store is None:  # one for the feed's life: opened once, its schema checked once
            self.store = api.open_store(self.project)
        else:
            api.recover(self.project, self.store)  # a runner that died, as opening would
        store = self.store
        status = api.scheduler_status(self.project, store=store)
        schedulers = sorted((s["host"], s["pid"]) for s in status["schedulers"])
        schedulers_changed = schedulers != self.schedulers
        self.schedulers = schedulers
        listed = api.list_runs(self.project, limit=WINDOW, store=store)
        appeared_or_ended = False
        try:
            for doc in reversed(listed):  # oldest first, so a new run arrives after older ones
                run_id = doc["id"]
                summary = _summary(doc)
                before = self.summaries.get(run_id)
                active = doc["state"] not in FINISHED
                if before == summary and not active:
                    continue
                self.summaries[run_id] = summary
                if not self.primed and not active:
                    continue  # the first read only learns what is there; nobody needs it sent
                if before is None or (before[0] in FINISHED) != (summary[0] in FINISHED):
                    appeared_or_ended = True
                full = api.show(self.project, run_id, store)
                text = json.dumps(full, default=str, sort_keys=True)
                if self.documents.get(run_id) != text:
                    self.documents[run_id] = text
                    if self.primed:
                        events.append(("run", full))
                if not active:
                    self.documents.pop(run_id, None)
            # A backfill's days are runs (pushed above); its own state changes (recorded,
            # finished, canceled) are pushed as well, so a view of it needs no polling.
            backfills = {b["id"]: b["state"] for b in store.list_backfills()}
            if self.primed:
                events += [
                    ("backfill", {"id": backfill_id, "state": state})
                    for backfill_id, state in backfills.items()
                    if self.backfills.get(backfill_id) != state
                ]
            self.backfills = backfills
        except Exception:  # a broken connection: the next look opens the history again
            self.drop_store()
            raise
        return events, appeared_or_ended or schedulers_changed

    def drop_store(self) -> None:
        """Close the feed's history (it is opened again by the next look)."""
        if self.store is not None:
            store, self.store = self.store, None
            store.close()


def feed_of(settings: dict[str, Any], project: Project) -> Feed:
    """The server's feed (made by its first stream)."""
    feed = settings.get("nbflow_feed")
    if feed is None:
        feed = settings["nbflow_feed"] = Feed(project, settings["nbflow_settings"].events_tick)
    return feed
