"""The executor: where attempts run, as the runner sees it (a port with local engines behind).

The runner decides what runs and when, and records every state; an executor only runs one
attempt of a notebook, a process (script or command) or SQL, and answers with an
`execute.AttemptResult`. `LocalExecutor` runs them on this machine: notebooks on warm
kernels from a `KernelPool` when it has one, otherwise through a worker process per
attempt. Another engine (a cluster) implements the same methods.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import execute

if TYPE_CHECKING:
    from ..workflows.model import Workflow
    from ..workflows.project import Project
    from .kernels.kernelpool import KernelPool, PoolSettings


class Executor(Protocol):
    """What the runner needs of an engine that runs attempts."""

    def describe(self) -> dict[str, Any]:
        """Where attempts run, as recorded with each one: {"kind": "local"}, ..."""
        ...

    def expect(self, workflow: Workflow, project: Project) -> None:
        """A run of `workflow` starts: get ready for its attempts (warm kernels)."""
        ...

    def locate(self, artifact: Path) -> str | None:
        """Where an attempt's artifact will be kept, as the history records it; None: there."""
        ...

    async def run_notebook(
        self,
        *,
        python: str,
        source: Path,
        artifact: Path,
        parameters: dict[str, Any],
        kernel: str | None,
        cwd: Path,
        env: dict[str, str],
        timeout: float | None,
        on_start: Callable[[int], None] | None = None,
        resources: dict[str, float] | None = None,
    ) -> execute.AttemptResult: ...

    async def run_process(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        log: Path,
        timeout: float | None,
        on_start: Callable[[int], None] | None = None,
        resources: dict[str, float] | None = None,
    ) -> execute.AttemptResult: ...

    async def run_sql(
        self,
        *,
        python: str,
        url: str,
        script: str,
        parameters: dict[str, Any],
        log: Path,
        cwd: Path,
        env: dict[str, str],
        timeout: float | None,
        on_start: Callable[[int], None] | None = None,
        resources: dict[str, float] | None = None,
    ) -> execute.AttemptResult: ...

    async def close(self) -> None: ...


class LocalExecutor:
    """Attempts on this machine; notebooks on the pool's warm kernels when there is one."""

    def __init__(self, pool: KernelPool | None = None):
        self.pool = pool

    @classmethod
    def from_settings(
        cls, settings: PoolSettings | None = None, *, one_run: bool = False
    ) -> LocalExecutor:
        """A warm executor unless the pool size is 0 (`NBFLOW_WARM_KERNELS=0`); `one_run`:
        for a process that runs one workflow and ends (`nbflow run`)."""
        from .kernels.kernelpool import KernelPool, PoolSettings

        settings = settings or PoolSettings.from_env()
        return cls(KernelPool(settings, one_run=one_run) if settings.size > 0 else None)

    def describe(self) -> dict[str, Any]:
        return {"kind": "local"}

    def launch(self) -> LocalExecutor:
        """Start the warm pool's fork server now (no loop needed), so that it imports while
        the caller loads what it will run; `abandon` ends it if nothing runs after all."""
        if self.pool is not None:
            self.pool.launch()
        return self

    def abandon(self) -> None:
        """End what `launch` started, without a loop; nothing once `close` ran."""
        if self.pool is not None:
            self.pool.abandon()

    def status(self) -> dict[str, Any]:
        """Idle and leased warm kernels per kernelspec, with the idle ones' memory."""
        return self.pool.status() if self.pool is not None else {}

    def expect(self, workflow: Workflow, project: Project) -> None:
        if self.pool is None:
            return
        names = []
        for task in workflow.tasks:
            if task.kind != "notebook" or task.disabled:
                continue
            name = task.kernel or _notebook_kernel(project.root, task.target)
            if name:  # a for_each: more attempts than the pool holds, as far as it knows
                names += [name] * (self.pool.settings.size + 1 if task.for_each else 1)
        self.pool.warm(names)

    def locate(self, artifact: Path) -> str | None:
        return None

    # `resources` are a cluster scheduler's business: one machine runs whatever it is given.
    async def run_notebook(self, **kwargs: Any) -> execute.AttemptResult:
        kwargs.pop("resources", None)
        return await execute.run_notebook(pool=self.pool, **kwargs)

    async def run_process(self, argv: list[str], **kwargs: Any) -> execute.AttemptResult:
        kwargs.pop("resources", None)
        return await execute.run_process(argv, **kwargs)

    async def run_sql(self, **kwargs: Any) -> execute.AttemptResult:
        kwargs.pop("resources", None)
        return await execute.run_sql(**kwargs)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


def _notebook_kernel(root: Path, target: Any) -> str | None:
    """The kernelspec a task's notebook names, when its path is known before the run."""
    if not isinstance(target, str) or "{{" in target or not target.endswith(".ipynb"):
        return None
    try:
        with open(root / target, encoding="utf-8") as f:
            return str(json.load(f)["metadata"]["kernelspec"]["name"]) or None
    except (OSError, ValueError, KeyError, TypeError):
        return None
