"""REST handlers for backfills: start one over a date range, list, show, cancel."""

from __future__ import annotations

from typing import Any

import tornado
from pydantic import Field

from .. import api
from .base import Body, NbflowHandler


class BackfillRequest(Body):
    start: str = Field(alias="from", min_length=1)
    end: str = Field(alias="to", min_length=1)
    every: str | None = None
    concurrency: int = Field(default=1, ge=1, le=1000)
    rerun: bool = False
    parameters: dict[str, Any] = {}


class BackfillHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, workflow: str) -> None:
        def work() -> Any:
            request = self.body(BackfillRequest)
            return api.backfill(
                self.project,
                self.workflow_file(workflow),
                start=request.start,
                end=request.end,
                every=request.every,
                concurrency=request.concurrency,
                rerun=request.rerun,
                overrides=request.parameters,
            )

        await self.answer(work, 202)


class BackfillsHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def work() -> Any:
            workflow = self.get_query_argument("workflow", None)
            docs = self.read(lambda store: api.backfills(self.project, store=store))
            return [d for d in docs if d["workflow"] == workflow] if workflow else docs

        await self.answer(work)


class BackfillOneHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, backfill_id: str) -> None:
        def work() -> Any:
            number = self.run_number(backfill_id, "backfill")
            return self.read(lambda store: api.backfills(self.project, number, store))[0]

        await self.answer(work)


class BackfillCancelHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, backfill_id: str) -> None:
        await self.answer(
            lambda: api.cancel_backfill(self.project, self.run_number(backfill_id, "backfill")), 202
        )
