"""REST handlers' base: request parsing and checks, JSON answers, errors mapped to statuses.

Errors answer with `{"message": ...}` (and `problems` for workflow files): 400 for a bad
request or file, 403 for a path the request may not read, 404 for an unknown run, workflow
or file, 409 when the run's state forbids it or what it would create already exists.
Paths in requests must stay inside the server's root folder and out of its state folder
(only `files` reads the runs folder). The work of a request runs in a thread, so parsing a
file or reading the history never stalls the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ConfigDict, ValidationError

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

if TYPE_CHECKING:
    from ..history import Store


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Run ids are SQL integers: 64-bit signed.
MAX_RUN_ID = 2**63 - 1
# Request bodies nest no deeper than this (parameters included): deeper is no configuration,
# and a parser, an encoder or a notebook's parameter cell recurses on it.
MAX_BODY_DEPTH = 64
MAX_RUNS_LISTED = 10_000


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


def finite(value: Any) -> Any:
    """`value` with NaN and infinities as the words JavaScript uses: strict JSON for a browser.

    A workflow file may hold `.nan`, which the history keeps; JSON has no such number.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def shown(path: str) -> str:
    return repr(path if len(path) <= 60 else path[:57] + "...")


def looks_like_a_path(workflow: str) -> bool:
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
            text = json.dumps(finite(doc), default=str)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    def fail(self, status: int, message: str, **extra: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, **finite(extra)}))

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
            raise BadRequest(f"{field}: {shown(path)} contains a NUL character")
        given = Path(path)
        try:
            return (given if given.is_absolute() else self.project.root / given).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise BadRequest(f"{field}: {shown(path)}: {exc}") from None

    def inside_root(self, path: str, field: str = "path", *, state: bool = False) -> str:
        """A path from a request, checked to stay inside the root and (unless `state`) out of
        nbflow's state (`.nbflow/`: the run history and runs); returned relative to the root."""
        root = self.project.root.resolve()
        target = self.request_path(path, field)
        if target != root and root not in target.parents:
            raise BadRequest(f"{path!r} is outside the server's root folder", 403)
        if not state and self.project.holds_state(target):
            raise BadRequest(
                f"{shown(path)} is in nbflow's state folder (the run history and the runs' "
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
            raise BadRequest(f"{field}: {shown(path)}: {exc.strerror}") from None

    def workflow_file(self, workflow: str) -> str:
        """A workflow a request names: a file inside the root, or a name in `workflows/`.

        Never a file of the server's working folder, which may be outside the root.
        """
        if looks_like_a_path(workflow) or "\x00" in workflow:
            inside = self.inside_root(workflow, "workflow")
        else:
            inside = self.inside_root(str(api.workflow_named(self.project, workflow)), "workflow")
        return str(self.project.root / inside)

    def read(self, work: Callable[[Store | None], Any]) -> Any:
        """`work(store)` on the server's one open run history (`history.py`); `work(None)`,
        the api opening its own, in an application without the extension's settings."""
        shared = self.settings.get("nbflow_history")
        return work(None) if shared is None else shared.read(work)

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
                f"{name}: expected an integer from {low} to {high}, got {shown(value)}"
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
