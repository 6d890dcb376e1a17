"""REST handlers for workflows: list, create, add a task, validate files."""

from __future__ import annotations

from typing import Any

import tornado
from pydantic import Field

from .. import api
from .base import Body, NbflowHandler


class ScheduleBody(Body):
    cron: str = Field(min_length=1)
    timezone: str | None = None


class NewWorkflowRequest(Body):
    name: str = Field(min_length=1)
    notebook: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] = {}
    schedule: ScheduleBody | None = None


class NewTaskRequest(Body):
    notebook: str = Field(min_length=1)
    key: str | None = None
    parameters: dict[str, Any] = {}
    depends_on: list[str] = []


class ValidateRequest(Body):
    files: list[str] = []


class WorkflowsHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda: self.read(lambda store: api.workflows(self.project, store)))

    @tornado.web.authenticated
    async def post(self) -> None:
        def work() -> Any:
            request = self.body(NewWorkflowRequest)
            return api.create_workflow(
                self.project,
                request.name,
                self.inside_root(request.notebook, "notebook"),
                parameters=request.parameters,
                schedule=request.schedule.model_dump() if request.schedule else None,
                description=request.description,
            )

        await self.answer(work, 201)


class WorkflowTasksHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, workflow: str) -> None:
        def work() -> Any:
            request = self.body(NewTaskRequest)
            return api.add_task(
                self.project,
                workflow,
                self.inside_root(request.notebook, "notebook"),
                key=request.key,
                parameters=request.parameters,
                depends_on=request.depends_on,
            )

        await self.answer(work, 201)


class ValidateHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        def work() -> Any:
            request = self.body(ValidateRequest)
            files = [str(self.project.root / self.inside_root(f, "files")) for f in request.files]
            paths, problems = api.validate(self.project, files or None)
            return {
                "ok": not problems,
                "files": [str(p) for p in paths],
                "problems": [
                    {"file": p.file, "line": p.line, "message": p.message} for p in problems
                ],
            }

        await self.answer(work)
