"""REST handlers for reviewing runs: reports, diffs, glued values, artifacts, run files."""

from __future__ import annotations

import asyncio
from typing import Any

import tornado

from .. import api
from .base import BadRequest, NbflowHandler, looks_like_a_path, shown

# Each run's document is read for its values: a chart over more runs than this is no chart.
MAX_VALUES_RUNS = 1_000


class ValuesHandler(NbflowHandler):
    @tornado.web.authenticated
    async def get(self, workflow: str) -> None:
        """Glued values over a workflow's last runs, as `nbflow values NAME --json`."""

        def work() -> Any:
            if looks_like_a_path(workflow):
                raise BadRequest(
                    f"{shown(workflow)}: name the workflow (as `GET workflows` lists it), "
                    "not its file"
                )
            last = self.int_arg("last", 20, low=1, high=MAX_VALUES_RUNS) or 20
            names = self.get_query_arguments("value") or None
            columns, rows = api.values(self.project, workflow, names, last)
            return {"workflow": workflow, "columns": columns, "runs": rows}

        await self.answer(work)


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
