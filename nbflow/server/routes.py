"""REST routes: which handler answers each path under /nbflow/api/, and a JSON 404 for the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado
from jupyter_server.utils import url_path_join

from ..workflows.project import Project
from .backfills import BackfillCancelHandler, BackfillHandler, BackfillOneHandler, BackfillsHandler
from .base import NbflowHandler
from .notebooks import NotebookParametersHandler, NotebookRunHandler
from .review import ArtifactHandler, DiffHandler, ReportHandler, RunFilesHandler, ValuesHandler
from .runs import CancelHandler, RepairHandler, RunHandler, RunsHandler
from .schedules import PauseHandler, SchedulerHandler, SchedulerStartHandler, SchedulesHandler
from .stream import EventsHandler
from .workflows import ValidateHandler, WorkflowsHandler, WorkflowTasksHandler


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
