"""The modules the facade imports on first use: commands reading the history (`runs`,
`show`, `cancel`) never load the YAML loader, the runner, papermill or the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..startup import lazy_module

if TYPE_CHECKING:
    from .. import authoring, catalog, loader, runfiles, triggers
    from .. import diff as diff_module
    from .. import executor as executor_module
    from .. import logs as logs_module
    from .. import params as params_module
    from .. import report as report_module
    from .. import runner as runner_module
    from .. import scheduler as scheduler_module
    from .. import secrets as secrets_module
    from ..databricks import exporter as databricks_exporter
    from ..databricks import importer as databricks_importer
    from ..databricks import jobfile as databricks_jobfile
else:
    authoring = lazy_module("nbflow.authoring")
    catalog = lazy_module("nbflow.catalog")
    diff_module = lazy_module("nbflow.diff")
    secrets_module = lazy_module("nbflow.secrets")
    loader = lazy_module("nbflow.loader")
    runfiles = lazy_module("nbflow.runfiles")
    triggers = lazy_module("nbflow.triggers")
    logs_module = lazy_module("nbflow.logs")
    params_module = lazy_module("nbflow.params")
    report_module = lazy_module("nbflow.report")
    executor_module = lazy_module("nbflow.executor")
    runner_module = lazy_module("nbflow.runner")
    scheduler_module = lazy_module("nbflow.scheduler")
    databricks_exporter = lazy_module("nbflow.databricks.exporter")
    databricks_importer = lazy_module("nbflow.databricks.importer")
    databricks_jobfile = lazy_module("nbflow.databricks.jobfile")
