"""REST handlers for notebooks: the parameters a notebook declares, and running one now."""

from __future__ import annotations

from typing import Any

import tornado
from pydantic import Field

from .. import api
from .base import BadRequest, Body, NbflowHandler


class NotebookRunRequest(Body):
    path: str = Field(min_length=1)
    parameters: dict[str, Any] = {}


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
