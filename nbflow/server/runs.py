"""REST handlers for runs: list, start, show, cancel, repair."""

from __future__ import annotations

from typing import Any

import tornado
from pydantic import Field

from .. import api
from .base import MAX_RUNS_LISTED, Body, NbflowHandler


class RunRequest(Body):
    workflow: str = Field(min_length=1)
    parameters: dict[str, Any] = {}
    parallel: int | None = Field(default=None, ge=1)


class RepairRequest(Body):
    tasks: list[str] = []
    dependents: bool = True
    parameters: dict[str, Any] = {}


class RunsHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def work() -> Any:
            limit = self.int_arg("limit", 50, low=1, high=MAX_RUNS_LISTED)
            workflow = self.get_query_argument("workflow", None)
            state = self.get_query_argument("state", None)
            docs = self.read(
                lambda store: api.list_runs(self.project, workflow, limit or 50, store)
            )
            return [d for d in docs if d["state"] == state] if state else docs

        await self.answer(work)

    @tornado.web.authenticated
    async def post(self) -> None:
        def work() -> Any:
            request = self.body(RunRequest)
            run_id = api.start_detached(
                self.project,
                self.workflow_file(request.workflow),
                overrides=request.parameters,
                parallel=request.parallel,
                launcher=self.settings.get("nbflow_launcher"),
            )
            return {"id": run_id, "state": "queued"}

        await self.answer(work, 202)


class RunHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.answer(
            lambda: self.read(lambda store: api.show(self.project, self.run_number(run_id), store))
        )


class CancelHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, run_id: str) -> None:
        await self.answer(lambda: api.request_cancel(self.project, self.run_number(run_id)), 202)


class RepairHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, run_id: str) -> None:
        def work() -> Any:
            request = self.body(RepairRequest)
            api.repair_detached(
                self.project,
                self.run_number(run_id),
                tasks=request.tasks or None,
                dependents=request.dependents,
                overrides=request.parameters,
            )
            return {"id": self.run_number(run_id), "state": "repairing"}

        await self.answer(work, 202)
