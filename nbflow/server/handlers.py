"""REST handlers: parse the request, call `api`, answer JSON; every route authenticated.

Errors answer with `{"message": ...}` (and `problems` for workflow files): 400 for a bad
request or file, 403 for a path the request may not read, 404 for an unknown run, workflow
or file, 409 when the run's state forbids it or what it would create already exists.
Paths in requests must stay inside the server's root folder.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import api
from ..errors import (
    Conflict,
    Forbidden,
    NbflowError,
    PathNotFound,
    RunBusy,
    RunNotFound,
    WorkflowFileError,
    WorkflowNotFound,
)
from ..project import Project


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Body):
    workflow: str = Field(min_length=1)
    parameters: dict[str, Any] = {}
    parallel: int | None = Field(default=None, ge=1)


class RepairRequest(_Body):
    tasks: list[str] = []
    dependents: bool = True
    parameters: dict[str, Any] = {}


class ValidateRequest(_Body):
    files: list[str] = []


class NotebookRunRequest(_Body):
    path: str = Field(min_length=1)
    parameters: dict[str, Any] = {}


class ScheduleBody(_Body):
    cron: str = Field(min_length=1)
    timezone: str | None = None


class NewWorkflowRequest(_Body):
    name: str = Field(min_length=1)
    notebook: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] = {}
    schedule: ScheduleBody | None = None


class NewTaskRequest(_Body):
    notebook: str = Field(min_length=1)
    key: str | None = None
    parameters: dict[str, Any] = {}
    depends_on: list[str] = []


# Run ids are SQL integers: 64-bit signed.
MAX_RUN_ID = 2**63 - 1


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class NbflowHandler(APIHandler):
    project: Project

    def initialize(self, project: Project) -> None:
        self.project = project

    def reply(self, doc: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc, default=str))

    def fail(self, status: int, message: str, **extra: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, **extra}))

    def body(self, model: type[BaseModel]) -> Any:
        raw = self.request.body or b"{}"
        try:
            data = json.loads(raw)
        except ValueError:
            raise BadRequest("the request body is not JSON") from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "body"
            raise BadRequest(f"{where}: {err['msg']}") from None

    def inside_root(self, path: str) -> str:
        """A path from a request, checked to stay inside the root; returned relative."""
        root = self.project.root.resolve()
        target = (root / path).resolve() if not Path(path).is_absolute() else Path(path).resolve()
        if target != root and root not in target.parents:
            raise BadRequest(f"{path!r} is outside the server's root folder", 403)
        return str(target.relative_to(root))

    def run_number(self, text: str) -> int:
        """A run id from the URL; one past what the history can hold is simply not there."""
        number = int(text)
        if number > MAX_RUN_ID:
            raise RunNotFound(f"no run {text}")
        return number

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise BadRequest(f"{name}: expected an integer, got {value!r}") from None

    async def answer(self, produce: Any) -> None:
        """Reply with what `produce()` returns, errors mapped as `handle` does."""

        async def action() -> None:
            self.reply(produce())

        await self.handle(action)

    async def handle(self, action: Any) -> None:
        try:
            await action()
        except BadRequest as exc:
            self.fail(exc.status, str(exc))
        except WorkflowFileError as exc:
            self.fail(
                400,
                str(exc.problems[0]) if exc.problems else "bad workflow file",
                problems=[
                    {"file": p.file, "line": p.line, "message": p.message} for p in exc.problems
                ],
            )
        except (RunNotFound, WorkflowNotFound, PathNotFound) as exc:
            self.fail(404, str(exc))
        except (RunBusy, Conflict) as exc:
            self.fail(409, str(exc))
        except Forbidden as exc:
            self.fail(403, str(exc))
        except NbflowError as exc:
            self.fail(400, str(exc))


class WorkflowsHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda: api.workflows(self.project))

    @tornado.web.authenticated
    async def post(self) -> None:
        async def action() -> None:
            request = self.body(NewWorkflowRequest)
            entry = api.create_workflow(
                self.project,
                request.name,
                self.inside_root(request.notebook),
                parameters=request.parameters,
                schedule=request.schedule.model_dump() if request.schedule else None,
                description=request.description,
            )
            self.reply(entry, 201)

        await self.handle(action)


class WorkflowTasksHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, workflow: str) -> None:
        async def action() -> None:
            request = self.body(NewTaskRequest)
            entry = api.add_task(
                self.project,
                workflow,
                self.inside_root(request.notebook),
                key=request.key,
                parameters=request.parameters,
                depends_on=request.depends_on,
            )
            self.reply(entry, 201)

        await self.handle(action)


class ValidateHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        async def action() -> None:
            request = self.body(ValidateRequest)
            files = [str(self.project.root / self.inside_root(f)) for f in request.files]
            paths, problems = api.validate(self.project, files or None)
            self.reply(
                {
                    "ok": not problems,
                    "files": [str(p) for p in paths],
                    "problems": [
                        {"file": p.file, "line": p.line, "message": p.message} for p in problems
                    ],
                }
            )

        await self.handle(action)


class NotebookParametersHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        async def action() -> None:
            path = self.get_query_argument("path", None)
            if not path:
                raise BadRequest("path: give the notebook's path, relative to the root")
            inside = self.inside_root(path)
            found = api.notebook_params(self.project, str(self.project.root / inside))
            self.reply({"path": inside, "parameters": [p.as_dict() for p in found]})

        await self.handle(action)


class NotebookRunHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        async def action() -> None:
            request = self.body(NotebookRunRequest)
            started = api.run_notebook(
                self.project, self.inside_root(request.path), request.parameters
            )
            self.reply(started, 202)

        await self.handle(action)


class RunFilesHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        async def action() -> None:
            path = self.get_query_argument("path", None)
            if not path:
                raise BadRequest("path: give the file's path, relative to the root")
            inside = self.inside_root(path)
            content = self.int_arg("content", 1) != 0
            self.reply(api.run_file(self.project, inside, content=content))

        await self.handle(action)


class RunsHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        async def action() -> None:
            limit = self.int_arg("limit", 50) or 50
            workflow = self.get_query_argument("workflow", None)
            state = self.get_query_argument("state", None)
            docs = api.list_runs(self.project, workflow, limit=limit)
            if state:
                docs = [d for d in docs if d["state"] == state]
            self.reply(docs)

        await self.handle(action)

    @tornado.web.authenticated
    async def post(self) -> None:
        async def action() -> None:
            request = self.body(RunRequest)
            run_id = api.start_detached(
                self.project,
                request.workflow,
                overrides=request.parameters,
                parallel=request.parallel,
            )
            self.reply({"id": run_id, "state": "queued"}, 202)

        await self.handle(action)


class RunHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.answer(lambda: api.show(self.project, self.run_number(run_id)))


class CancelHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, run_id: str) -> None:
        async def action() -> None:
            self.reply(api.request_cancel(self.project, self.run_number(run_id)), 202)

        await self.handle(action)


class RepairHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, run_id: str) -> None:
        async def action() -> None:
            request = self.body(RepairRequest)
            api.repair_detached(
                self.project,
                self.run_number(run_id),
                tasks=request.tasks or None,
                dependents=request.dependents,
                overrides=request.parameters,
            )
            self.reply({"id": self.run_number(run_id), "state": "repairing"}, 202)

        await self.handle(action)


class ArtifactHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        async def action() -> None:
            task = self.get_query_argument("task", None)
            if not task:
                raise BadRequest("task: give the task's key (KEY[i] for an iteration)")
            path, text = api.logs(
                self.project, self.run_number(run_id), task, self.int_arg("attempt")
            )
            if path.endswith(".ipynb"):
                content: Any = json.loads((self.project.root / path).read_text())
                self.reply({"path": path, "kind": "notebook", "content": content})
            else:
                self.reply({"path": path, "kind": "log", "content": text})

        await self.handle(action)


class SchedulesHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda: api.schedule_list(self.project))


class SchedulerHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(lambda: api.scheduler_status(self.project))


class SchedulerStartHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        """Start the project's scheduler inside this server (as `run_scheduler` does)."""
        from . import start_scheduler

        async def action() -> None:
            ready = start_scheduler(self.application, self.project)
            if ready is not None:
                await asyncio.wait_for(ready.wait(), timeout=30)
            self.reply(api.scheduler_status(self.project))

        await self.handle(action)


class PauseHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, workflow: str, verb: str) -> None:
        async def action() -> None:
            self.reply(api.set_paused(self.project, workflow, verb == "pause"))

        await self.handle(action)


class OpenAPIHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        spec = (Path(__file__).parent / "openapi.yaml").read_text()
        self.set_header("Content-Type", "application/yaml")
        self.finish(spec)


ROUTES: list[tuple[str, type[NbflowHandler]]] = [
    ("workflows", WorkflowsHandler),
    ("workflows/validate", ValidateHandler),
    (r"workflows/([A-Za-z0-9_.-]+)/tasks", WorkflowTasksHandler),
    ("notebooks/parameters", NotebookParametersHandler),
    ("notebooks/run", NotebookRunHandler),
    ("runs", RunsHandler),
    (r"runs/(\d+)", RunHandler),
    (r"runs/(\d+)/cancel", CancelHandler),
    (r"runs/(\d+)/repair", RepairHandler),
    (r"runs/(\d+)/artifact", ArtifactHandler),
    ("schedules", SchedulesHandler),
    ("scheduler", SchedulerHandler),
    ("scheduler/start", SchedulerStartHandler),
    (r"schedules/([A-Za-z0-9_.-]+)/(pause|resume)", PauseHandler),
    ("files", RunFilesHandler),
    ("openapi.yaml", OpenAPIHandler),
]


class NoRouteHandler(NbflowHandler):
    """Anything else under /nbflow/api/: a JSON 404 rather than Jupyter's HTML page."""

    async def _none(self, path: str) -> None:
        self.fail(
            404,
            f"no route {self.request.method} /nbflow/api/{path} "
            "(the routes are listed in /nbflow/api/openapi.yaml)",
        )

    get = post = put = patch = delete = tornado.web.authenticated(_none)


def handlers(base_url: str, project: Project) -> list[tuple[str, Any, dict[str, Any]]]:
    routes = [
        (url_path_join(base_url, "nbflow/api", pattern) + "$", handler, {"project": project})
        for pattern, handler in ROUTES
    ]
    # Last: tornado takes the first pattern that matches.
    routes.append(
        (url_path_join(base_url, "nbflow/api", "(.*)") + "$", NoRouteHandler, {"project": project})
    )
    return routes
