"""The library facade: what the CLI and the Jupyter server call; no logic elsewhere.

One module per noun: `workflows` (files), `reading` (the run history), `engines` (where
runs execute), `runs`, `notebooks` (one notebook run now), `detached` (runs in a process of
their own), `cancelling`, `repairs`, `schedules`, `backfills`, `review`, `authoring`,
`databricks`.
"""

from __future__ import annotations

from ..core.errors import NbflowError, UsageError, WorkflowFileError
from .authoring import add_task, create_workflow
from .backfills import MAX_BACKFILL_RUNS, backfill, backfills, cancel_backfill, serve_backfill
from .cancelling import cancel, request_cancel
from .databricks import export_databricks, import_databricks
from .detached import repair_detached, start_detached
from .engines import CLUSTER_PARALLEL, cluster_executor, server_launcher
from .notebooks import run_notebook
from .reading import artifact, list_runs, logs, open_store, recover, show
from .repairs import REPAIRABLE, repair
from .review import diff, report, values
from .runs import SUCCEEDED, execute, execute_here, run
from .schedules import (
    schedule,
    schedule_list,
    scheduler_status,
    serve_scheduler,
    set_paused,
    workflows,
)
from .workflows import (
    load,
    notebook_params,
    run_file,
    run_parameters,
    validate,
    workflow_named,
    workflow_path,
)

__all__ = [
    "CLUSTER_PARALLEL",
    "MAX_BACKFILL_RUNS",
    "NbflowError",
    "REPAIRABLE",
    "SUCCEEDED",
    "UsageError",
    "WorkflowFileError",
    "add_task",
    "artifact",
    "backfill",
    "backfills",
    "cancel",
    "cancel_backfill",
    "cluster_executor",
    "create_workflow",
    "diff",
    "execute",
    "execute_here",
    "export_databricks",
    "import_databricks",
    "list_runs",
    "load",
    "logs",
    "notebook_params",
    "open_store",
    "recover",
    "repair",
    "repair_detached",
    "report",
    "request_cancel",
    "run",
    "run_file",
    "run_notebook",
    "run_parameters",
    "schedule",
    "schedule_list",
    "scheduler_status",
    "serve_backfill",
    "serve_scheduler",
    "server_launcher",
    "set_paused",
    "show",
    "start_detached",
    "validate",
    "values",
    "workflow_named",
    "workflow_path",
    "workflows",
]
