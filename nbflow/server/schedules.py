"""REST handlers for schedules: list, pause and resume, the scheduler's status and start."""

from __future__ import annotations

import asyncio

import tornado

from .. import api
from .base import NbflowHandler


class SchedulesHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda: self.read(lambda store: api.schedule_list(self.project, store)))


class SchedulerHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(
            lambda: self.read(lambda store: api.scheduler_status(self.project, store=store))
        )


class SchedulerStartHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        """Start the project's scheduler inside this server (as `run_scheduler` does)."""
        from . import start_scheduler

        async def action() -> None:
            # On the event loop: the scheduler is a task of this loop.
            ready = start_scheduler(self.application, self.project)
            if ready is not None:
                await asyncio.wait_for(ready.wait(), timeout=30)
            await self.answer(
                lambda: self.read(lambda store: api.scheduler_status(self.project, store=store))
            )

        await self.handle(action)


class PauseHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, workflow: str, verb: str) -> None:
        await self.answer(
            lambda: api.set_paused(self.project, self.workflow_file(workflow), verb == "pause")
        )
