"""The Jupyter server extension: nbflow's REST API under /nbflow/api/, behind Jupyter's auth.

Enabled on install (jupyter-config/ ships `jupyter_server_config.d/nbflow.json`). With
`c.NbflowServer.run_scheduler = True` the server also runs the project's scheduler,
sharing the run history with any `nbflow schedule` daemon without double runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import Configurable


class NbflowServer(Configurable):
    """Settings of nbflow inside a Jupyter server."""

    run_scheduler = Bool(
        False,
        config=True,
        help="Run the scheduler of the server's root project inside the server.",
    )
    scheduler_tick = Float(0.5, config=True, help="Seconds between the scheduler's looks.")
    events_tick = Float(
        0.5,
        config=True,
        help="Seconds between the looks at the run history while an event stream is open "
        "(GET /nbflow/api/events).",
    )
    warm_kernels = Int(
        None,
        allow_none=True,
        config=True,
        help="Idle kernels kept ready per kernelspec for runs the server starts (0: none); "
        "default: $NBFLOW_WARM_KERNELS, else 2.",
    )
    preload = List(
        Unicode(),
        default_value=None,
        allow_none=True,
        config=True,
        help="Modules the kernels' fork server imports once; default: $NBFLOW_PRELOAD, "
        "else scrapbook.",
    )
    dask_address = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Run the attempts of the runs this server starts (and of its scheduler) on the "
        "workers of this Dask scheduler (tcp://HOST:8786); default: $NBFLOW_DASK_ADDRESS, "
        "else on this machine. See docs/cluster.md.",
    )
    kernel_idle = Float(
        None,
        allow_none=True,
        config=True,
        help="Seconds an idle kernel is kept; default: $NBFLOW_KERNEL_IDLE, else 600.",
    )

    def dask(self) -> str | None:
        import os

        return self.dask_address or os.environ.get("NBFLOW_DASK_ADDRESS") or None


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbflow.server"}]


def start_scheduler(web_app: Any, project: Any) -> asyncio.Event | None:
    """Run the project's scheduler in this server's event loop, unless it already runs here.

    Returns an event set once its first look is done, or None if it was already running.
    """
    from .. import api

    stop = web_app.settings.get("nbflow_scheduler_stop")
    if stop is not None and not stop.is_set():
        return None
    stop = asyncio.Event()
    ready = asyncio.Event()
    web_app.settings["nbflow_scheduler_stop"] = stop
    tick = web_app.settings["nbflow_settings"].scheduler_tick
    task = asyncio.get_event_loop().create_task(
        api.serve_scheduler(
            project, stop, tick=tick, ready=ready, dask=web_app.settings["nbflow_settings"].dask()
        )
    )
    web_app.settings["nbflow_scheduler_task"] = task  # a reference, so it is not collected
    return ready


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from ..workflows.project import Project
    from .history import SharedHistory
    from .routes import handlers

    settings = NbflowServer(config=serverapp.config)
    root = Project(Path(serverapp.root_dir).resolve())
    web_app = serverapp.web_app
    web_app.settings["nbflow_settings"] = settings
    web_app.settings["nbflow_launcher"] = _launcher(settings, root)
    web_app.settings["nbflow_history"] = SharedHistory(root)
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", handlers(base, root))
    if settings.run_scheduler:
        start_scheduler(web_app, root)
        serverapp.log.info("nbflow: scheduler running for %s", root.root)
    serverapp.log.info("nbflow: REST API at %snbflow/api/", base)


def _launcher(settings: NbflowServer, project: Any) -> Any:
    """Where runs started over REST execute: a thread of this server, kernels kept warm; or
    a Dask cluster's workers (`dask_address`)."""
    from .. import api

    return api.server_launcher(
        project,
        dask=settings.dask(),
        warm_kernels=settings.warm_kernels,
        preload=settings.preload,
        kernel_idle=settings.kernel_idle,
    )


async def _stop_extension(serverapp: Any) -> None:
    feed = serverapp.web_app.settings.get("nbflow_feed")
    if feed is not None:
        feed.close()
    stop = serverapp.web_app.settings.get("nbflow_scheduler_stop")
    if stop is not None:
        stop.set()
    history = serverapp.web_app.settings.get("nbflow_history")
    if history is not None:
        history.close()
    launcher = serverapp.web_app.settings.get("nbflow_launcher")
    if launcher is not None:  # runs still going are canceled and recorded so
        await asyncio.get_running_loop().run_in_executor(None, launcher.stop)


_unload_jupyter_server_extension = _stop_extension
load_jupyter_server_extension = _load_jupyter_server_extension
