"""REST event stream: server-sent events of runs, workflows and backfills as they change."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import tornado
from tornado.iostream import StreamClosedError

from .. import api
from ..workflows.project import Project
from . import events
from .base import MAX_RUNS_LISTED, NbflowHandler, finite

FIRST_READ_WAIT = 30.0  # seconds an event stream waits for the feed's first read


class EventsHandler(NbflowHandler):
    """Server-sent events: `snapshot` (the newest runs) at once, then `run` (a run's document)
    each time a run or one of its tasks changes, `workflows` when the workflows list would
    show something new (a file changed, a run appeared or finished), and `backfill` when a
    backfill was recorded or changed state. A comment line every
    KEEPALIVE seconds lets either side notice a connection that died."""

    KEEPALIVE = 15.0

    def initialize(self, project: Project) -> None:
        super().initialize(project)
        self.queue: asyncio.Queue[Any] | None = None

    def on_connection_close(self) -> None:
        if self.queue is not None:
            self.queue.put_nowait(None)  # ends the stream's loop now, not at its next write

    async def send(self, event: str, data: Any) -> None:
        try:
            text = json.dumps(data, default=str, allow_nan=False)
        except ValueError:
            text = json.dumps(finite(data), default=str)
        self.write(f"event: {event}\ndata: {text}\n\n")
        await self.flush()

    @tornado.web.authenticated
    async def get(self) -> None:
        feed = events.feed_of(self.application.settings, self.project)
        loop = asyncio.get_running_loop()

        async def action() -> None:
            limit = self.int_arg("limit", 30, low=1, high=MAX_RUNS_LISTED) or 30
            # Listening before the snapshot is read, and the feed has read what was there
            # before it: a change in between is sent twice, never lost.
            self.queue = queue = feed.subscribe()
            try:
                # The feed's first read, or (a history failing to read) not longer than this.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(feed.ready.wait(), FIRST_READ_WAIT)
                snapshot = await loop.run_in_executor(
                    None,
                    lambda: self.read(
                        lambda store: api.list_runs(self.project, limit=limit, store=store)
                    ),
                )
                self.set_header("Content-Type", "text/event-stream")
                self.set_header("Cache-Control", "no-cache")
                self.set_header("X-Accel-Buffering", "no")  # a proxy must not hold events back
                await self.send("snapshot", {"runs": snapshot})
                while not feed.closed:
                    try:
                        event = await asyncio.wait_for(queue.get(), self.KEEPALIVE)
                    except asyncio.TimeoutError:
                        self.write(": keep-alive\n\n")
                        await self.flush()
                        continue
                    if event is None:
                        break
                    await self.send(*event)
            except StreamClosedError:
                return  # the browser went away
            finally:
                feed.unsubscribe(queue)
            self.finish()  # the server stops: the browser reconnects to the next one

        await self.handle(action)
