"""REST handlers: parse the request, call `api`, answer JSON; every route authenticated.

Errors answer with `{"message": ...}` (and `problems` for workflow files): 400 for a bad
request or file, 403 for a path the request may not read, 404 for an unknown run, workflow
or file, 409 when the run's state forbids it or what it would create already exists.
Paths in requests must stay inside the server's root folder and out of its state folder
(only `files` reads the runs folder). The work of a request runs in a thread, so parsing a
file or reading the history never stalls the server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tornado.iostream import StreamClosedError

from .. import api
from ..core.errors import (
    Conflict,
    Forbidden,
    NbflowError,
    PathNotFound,
    RunBusy,
    RunNotFound,
    WorkflowFileError,
    WorkflowNotFound,
)
from ..workflows.project import Project
from . import events


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


class BackfillRequest(_Body):
    start: str = Field(alias="from", min_length=1)
    end: str = Field(alias="to", min_length=1)
    every: str | None = None
    concurrency: int = Field(default=1, ge=1, le=1000)
    rerun: bool = False
    parameters: dict[str, Any] = {}


# Run ids are SQL integers: 64-bit signed.
MAX_RUN_ID = 2**63 - 1
# Request bodies nest no deeper than this (parameters included): deeper is no configuration,
# and a parser, an encoder or a notebook's parameter cell recurses on it.
MAX_BODY_DEPTH = 64
MAX_RUNS_LISTED = 10_000
FIRST_READ_WAIT = 30.0  # seconds an event stream waits for the feed's first read
# Each run's document is read for its values: a chart over more runs than this is no chart.
MAX_VALUES_RUNS = 1_000


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _not_a_number(name: str) -> Any:
    raise BadRequest(f"the request body is not JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"the request body is not JSON: {text} is too large a number")
    return value


def _depth(value: Any) -> int:
    """How deep lists and objects nest in a JSON value (without recursing)."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as the words JavaScript uses: strict JSON for a browser.

    A workflow file may hold `.nan`, which the history keeps; JSON has no such number.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _shown(path: str) -> str:
    return repr(path if len(path) <= 60 else path[:57] + "...")


def _looks_like_a_path(workflow: str) -> bool:
    """A workflow named by its file rather than by its name (names have no `/` or suffix)."""
    return "/" in workflow or "\\" in workflow or workflow.endswith((".yaml", ".yml"))


class NbflowHandler(APIHandler):
    project: Project

    def initialize(self, project: Project) -> None:
        self.project = project

    def reply(self, doc: Any, status: int = 200) -> None:
        try:
            text = json.dumps(doc, default=str, allow_nan=False)
        except ValueError:  # NaN or an infinity somewhere: rare, so the walk is paid only then
            text = json.dumps(_finite(doc), default=str)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    def fail(self, status: int, message: str, **extra: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, **_finite(extra)}))

    def body(self, model: type[BaseModel]) -> Any:
        raw = self.request.body or b"{}"
        try:
            data = json.loads(raw, parse_constant=_not_a_number, parse_float=_finite_float)
        except RecursionError:
            raise BadRequest(
                f"the request body is nested more than {MAX_BODY_DEPTH} levels deep"
            ) from None
        except ValueError:
            raise BadRequest("the request body is not JSON") from None
        if _depth(data) > MAX_BODY_DEPTH:
            raise BadRequest(f"the request body is nested more than {MAX_BODY_DEPTH} levels deep")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "body"
            raise BadRequest(f"{where}: {err['msg']}") from None

    def request_path(self, path: str, field: str) -> Path:
        """A path from a request, resolved against the root; 400 if no file can have it."""
        if "\x00" in path:
            raise BadRequest(f"{field}: {_shown(path)} contains a NUL character")
        given = Path(path)
        try:
            return (given if given.is_absolute() else self.project.root / given).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise BadRequest(f"{field}: {_shown(path)}: {exc}") from None

    def inside_root(self, path: str, field: str = "path", *, state: bool = False) -> str:
        """A path from a request, checked to stay inside the root and (unless `state`) out of
        nbflow's state (`.nbflow/`: the run history and runs); returned relative to the root."""
        root = self.project.root.resolve()
        target = self.request_path(path, field)
        if target != root and root not in target.parents:
            raise BadRequest(f"{path!r} is outside the server's root folder", 403)
        if not state and self.project.holds_state(target):
            raise BadRequest(
                f"{_shown(path)} is in nbflow's state folder (the run history and the runs' "
                "files), which this route does not read",
                403,
            )
        self.usable(target, path, field)
        return str(target.relative_to(root))

    def usable(self, target: Path, path: str, field: str) -> None:
        """400 for a path the system refuses outright (a name over 255 bytes, a loop)."""
        try:
            target.stat()
        except (FileNotFoundError, NotADirectoryError):
            pass  # what is missing is for the route to say (404 or 400)
        except OSError as exc:
            raise BadRequest(f"{field}: {_shown(path)}: {exc.strerror}") from None

    def workflow_file(self, workflow: str) -> str:
        """A workflow a request names: a file inside the root, or a name in `workflows/`.

        Never a file of the server's working folder, which may be outside the root.
        """
        if _looks_like_a_path(workflow) or "\x00" in workflow:
            inside = self.inside_root(workflow, "workflow")
        else:
            inside = self.inside_root(str(api.workflow_named(self.project, workflow)), "workflow")
        return str(self.project.root / inside)

    def run_number(self, text: str, what: str = "run") -> int:
        """A run (or backfill) id from the URL; one past what the history can hold is simply
        not there."""
        number = int(text)
        if number > MAX_RUN_ID:
            raise RunNotFound(f"no {what} {text}")
        return number

    def int_arg(
        self, name: str, default: int | None = None, low: int = 0, high: int = MAX_RUN_ID
    ) -> int | None:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        try:
            number: int | None = int(value)
        except ValueError:  # not a number, or more digits than Python converts
            number = None
        if number is None or not low <= number <= high:
            raise BadRequest(
                f"{name}: expected an integer from {low} to {high}, got {_shown(value)}"
            )
        return number

    async def answer(self, work: Callable[[], Any], status: int = 200) -> None:
        """Reply with what `work()` returns; errors as `handle` maps them.

        `work` runs in a thread: parsing a workflow file, reading the history or a notebook
        must not stop the server (its other requests, its kernels) while it lasts.
        """

        async def action() -> None:
            result = await asyncio.get_running_loop().run_in_executor(None, work)
            self.reply(result, status)

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
            docs = api.backfills(self.project)
            return [d for d in docs if d["workflow"] == workflow] if workflow else docs

        await self.answer(work)


class BackfillOneHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, backfill_id: str) -> None:
        await self.answer(
            lambda: api.backfills(self.project, self.run_number(backfill_id, "backfill"))[0]
        )


class BackfillCancelHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, backfill_id: str) -> None:
        await self.answer(
            lambda: api.cancel_backfill(self.project, self.run_number(backfill_id, "backfill")), 202
        )


class ValuesHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, workflow: str) -> None:
        """Glued values over a workflow's last runs, as `nbflow values NAME --json`."""

        def work() -> Any:
            if _looks_like_a_path(workflow):
                raise BadRequest(
                    f"{_shown(workflow)}: name the workflow (as `GET workflows` lists it), "
                    "not its file"
                )
            last = self.int_arg("last", 20, low=1, high=MAX_VALUES_RUNS) or 20
            names = self.get_query_arguments("value") or None
            columns, rows = api.values(self.project, workflow, names, last)
            return {"workflow": workflow, "columns": columns, "runs": rows}

        await self.answer(work)


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


class NotebookParametersHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def work() -> Any:
            path = self.get_query_argument("path", None)
            if not path:
                raise BadRequest("path: give the notebook's path, relative to the root")
            inside = self.inside_root(path)
            found = api.notebook_params(self.project, str(self.project.root / inside))
            return {"path": inside, "parameters": [p.as_dict() for p in found]}

        await self.answer(work)


class NotebookRunHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        def work() -> Any:
            request = self.body(NotebookRunRequest)
            return api.run_notebook(
                self.project,
                self.inside_root(request.path),
                request.parameters,
                launcher=self.settings.get("nbflow_launcher"),
            )

        await self.answer(work, 202)


class RunFilesHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def work() -> Any:
            path = self.get_query_argument("path", None)
            if not path:
                raise BadRequest("path: give the file's path, relative to the root")
            # The runs folder is inside the state folder: `run_file` keeps to it.
            inside = self.inside_root(path, state=True)
            content = self.int_arg("content", 1, high=1) != 0
            return api.run_file(self.project, inside, content=content)

        await self.answer(work)


class RunsHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        def work() -> Any:
            limit = self.int_arg("limit", 50, low=1, high=MAX_RUNS_LISTED)
            workflow = self.get_query_argument("workflow", None)
            state = self.get_query_argument("state", None)
            docs = api.list_runs(self.project, workflow, limit=limit or 50)
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
        await self.answer(lambda: api.show(self.project, self.run_number(run_id)))


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


class ArtifactHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        def work() -> Any:
            task = self.get_query_argument("task", None)
            if not task:
                raise BadRequest("task: give the task's key (KEY[i] for an iteration)")
            attempt = self.int_arg("attempt", None, low=1)
            return api.artifact(self.project, self.run_number(run_id), task, attempt)

        await self.answer(work)


class ReportHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        """An attempt's report (with `task`), or the run's, as one HTML page."""

        def work() -> str:
            task = self.get_query_argument("task", None) or None
            attempt = self.int_arg("attempt", None, low=1)
            flag = self.int_arg("no_input", None, high=1)
            no_input = None if flag is None else flag == 1
            _, page = api.report(
                self.project, self.run_number(run_id), task, attempt=attempt, no_input=no_input
            )
            return page

        async def action() -> None:
            page = await asyncio.get_running_loop().run_in_executor(None, work)
            # Notebook outputs may hold any HTML and script: the page runs as an origin of
            # its own, so a script in it cannot use the reader's Jupyter session.
            self.set_header(
                "Content-Security-Policy",
                "sandbox allow-scripts allow-popups; frame-ancestors 'self'",
            )
            self.finish(page, set_content_type="text/html; charset=utf-8")

        await self.handle(action)


class DiffHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str, other_id: str) -> None:
        def work() -> Any:
            task = self.get_query_argument("task", None) or None
            return api.diff(self.project, self.run_number(run_id), self.run_number(other_id), task)

        await self.answer(work)


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
            # On the event loop: the scheduler is a task of this loop.
            ready = start_scheduler(self.application, self.project)
            if ready is not None:
                await asyncio.wait_for(ready.wait(), timeout=30)
            await self.answer(lambda: api.scheduler_status(self.project))

        await self.handle(action)


class PauseHandler(NbflowHandler):
    @tornado.web.authenticated
    async def post(self, workflow: str, verb: str) -> None:
        await self.answer(
            lambda: api.set_paused(self.project, self.workflow_file(workflow), verb == "pause")
        )


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
            text = json.dumps(_finite(data), default=str)
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
                    None, lambda: api.list_runs(self.project, limit=limit)
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
    (r"workflows/([A-Za-z0-9_.-]+)/backfill", BackfillHandler),
    (r"workflows/([A-Za-z0-9_.-]+)/values", ValuesHandler),
    ("backfills", BackfillsHandler),
    (r"backfills/(\d+)", BackfillOneHandler),
    (r"backfills/(\d+)/cancel", BackfillCancelHandler),
    ("notebooks/parameters", NotebookParametersHandler),
    ("notebooks/run", NotebookRunHandler),
    ("runs", RunsHandler),
    (r"runs/(\d+)", RunHandler),
    (r"runs/(\d+)/cancel", CancelHandler),
    (r"runs/(\d+)/repair", RepairHandler),
    (r"runs/(\d+)/artifact", ArtifactHandler),
    (r"runs/(\d+)/diff/(\d+)", DiffHandler),
    (r"runs/(\d+)/report", ReportHandler),
    ("schedules", SchedulesHandler),
    ("scheduler", SchedulerHandler),
    ("scheduler/start", SchedulerStartHandler),
    (r"schedules/([A-Za-z0-9_.-]+)/(pause|resume)", PauseHandler),
    ("files", RunFilesHandler),
    ("events", EventsHandler),
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
