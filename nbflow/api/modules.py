"""The modules the facade imports on first use: commands reading the history (`runs`,
`show`, `cancel`) never load the YAML loader, the runner, papermill or the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..startup import lazy_module

if TYPE_CHECKING:
    from ..core import triggers
    from ..databricks import exporter as databricks_exporter
    from ..databricks import importer as databricks_importer
    from ..databricks import jobfile as databricks_jobfile
    from ..execution import executor as executor_module
    from ..execution import recorded as recorded_module
    from ..execution import runner as runner_module
    from ..execution import startpoints
    from ..review import diff as diff_module
    from ..review import logs as logs_module
    from ..review import report as report_module
    from ..review import runfiles
    from ..scheduling import scheduler as scheduler_module
    from ..workflows import authoring, catalog, loader, paramcell
    from ..workflows import params as params_module
    from ..workflows import secrets as secrets_module
else:
    authoring = lazy_module("nbflow.workflows.authoring")
    catalog = lazy_module("nbflow.workflows.catalog")
    diff_module = lazy_module("nbflow.review.diff")
    secrets_module = lazy_module("nbflow.workflows.secrets")
    loader = lazy_module("nbflow.workflows.loader")
    runfiles = lazy_module("nbflow.review.runfiles")
    triggers = lazy_module("nbflow.core.triggers")
    logs_module = lazy_module("nbflow.review.logs")
    params_module = lazy_module("nbflow.workflows.params")
    paramcell = lazy_module("nbflow.workflows.paramcell")
    report_module = lazy_module("nbflow.review.report")
    executor_module = lazy_module("nbflow.execution.executor")
    runner_module = lazy_module("nbflow.execution.runner")
    recorded_module = lazy_module("nbflow.execution.recorded")
    startpoints = lazy_module("nbflow.execution.startpoints")
    scheduler_module = lazy_module("nbflow.scheduling.scheduler")
    databricks_exporter = lazy_module("nbflow.databricks.exporter")
    databricks_importer = lazy_module("nbflow.databricks.importer")
    databricks_jobfile = lazy_module("nbflow.databricks.jobfile")

__all__ = [
    "authoring",
    "catalog",
    "databricks_exporter",
    "databricks_importer",
    "databricks_jobfile",
    "diff_module",
    "executor_module",
    "loader",
    "logs_module",
    "paramcell",
    "params_module",
    "report_module",
    "recorded_module",
    "runfiles",
    "runner_module",
    "scheduler_module",
    "secrets_module",
    "startpoints",
    "triggers",
]
