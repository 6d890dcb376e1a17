"""The Databricks job and task fields nbflow knows: which it maps, and why the others are left out.

Names follow the Jobs API 2.2 and the bundle schema (`databricks/cli`'s `jsonschema.json`).
A field in neither list is not a Databricks field at all and is reported as such.
"""

from __future__ import annotations

CLUSTERS = "clusters have no local meaning: tasks run on this machine"
ENVIRONMENTS = "environments have no local meaning: tasks run in the project's Python environment"

# Job settings nbflow maps (see importer.py and jobtriggers.py).
JOB_MAPPED = (
    "name",
    "description",
    "parameters",
    "schedule",
    "trigger",
    "continuous",
    "max_concurrent_runs",
    "queue",
    "timeout_seconds",
    "health",
    "email_notifications",
    "webhook_notifications",
    "tasks",
)

JOB_IGNORED = {
    "job_clusters": CLUSTERS,
    "environments": ENVIRONMENTS,
    "tags": "tags are not kept",
    "git_source": "the project is the Git checkout: GIT paths are read from the project root",
    "permissions": "permissions have no local meaning",
    "access_control_list": "permissions have no local meaning",
    "run_as": "run_as has no local meaning: tasks run as the user running nbflow",
    "notification_settings": "nbflow never notifies for canceled or skipped runs",
    "format": "the job format has no local meaning",
    "edit_mode": "the edit mode has no local meaning",
    "deployment": "deployment metadata has no local meaning",
    "budget_policy_id": "budget policies have no local meaning",
    "usage_policy_id": "usage policies have no local meaning",
    "performance_target": "serverless settings have no local meaning",
    "parent_path": "workspace folders have no local meaning",
    "lifecycle": "bundle lifecycle settings have no local meaning",
    "triggers": "only `trigger` is read",
}

TASK_MAPPED = (
    "task_key",
    "description",
    "depends_on",
    "run_if",
    "max_retries",
    "min_retry_interval_millis",
    "retry_on_timeout",
    "timeout_seconds",
    "email_notifications",
    "webhook_notifications",
    "health",
    "disabled",
)

TASK_IGNORED = {
    "existing_cluster_id": CLUSTERS,
    "new_cluster": CLUSTERS,
    "job_cluster_key": CLUSTERS,
    "compute": CLUSTERS,
    "libraries": "libraries are not installed: install them in the project's environment",
    "environment_key": ENVIRONMENTS,
    "disable_auto_optimization": "serverless settings have no local meaning",
    "notification_settings": "nbflow never notifies for canceled or skipped runs",
}

# Task kinds nbflow runs, and those it keeps as disabled placeholders (why, in a word or two).
RUNNABLE_KINDS = (
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "sql_task",
    "condition_task",
    "for_each_task",
    "run_job_task",
)
PLACEHOLDER_KINDS = {
    "pipeline_task": "a Lakeflow Declarative Pipeline",
    "dbt_task": "dbt on a SQL warehouse",
    "dbt_cloud_task": "a dbt Cloud job",
    "dbt_platform_task": "a dbt platform job",
    "spark_jar_task": "a JAR on a Spark cluster",
    "spark_submit_task": "spark-submit on a cluster",
    "dashboard_task": "a dashboard refresh",
    "power_bi_task": "a Power BI model refresh",
    "alert_task": "a Databricks SQL alert",
    "clean_rooms_notebook_task": "a clean room notebook",
    "gen_ai_compute_task": "a GPU compute workload",
    "ai_runtime_task": "a GPU compute workload",
    "python_operator_task": "a Databricks Python operator",
}

# Fields inside each runnable kind: mapped, or left out with a reason.
KIND_FIELDS: dict[str, dict[str, str | None]] = {
    "notebook_task": {
        "notebook_path": None,
        "base_parameters": None,
        "source": None,
        "warehouse_id": "SQL warehouses have no local meaning: the notebook runs on a Python "
        "kernel",
    },
    "spark_python_task": {"python_file": None, "parameters": None, "source": None},
    "python_wheel_task": {
        "package_name": None,
        "entry_point": None,
        "parameters": None,
        "named_parameters": None,
    },
    "sql_task": {
        "file": None,
        "query": None,
        "alert": None,
        "dashboard": None,
        "parameters": None,
        "warehouse_id": "SQL warehouses have no local meaning: the SQL runs on the project's "
        "SQL database (.nbflow/warehouse.db)",
    },
    "condition_task": {"op": None, "left": None, "right": None},
    "for_each_task": {"inputs": None, "concurrency": None, "task": None},
    "run_job_task": {
        "job_id": None,
        "job_parameters": None,
        "notebook_params": "legacy per-kind parameters are not passed: use job_parameters",
        "python_params": "legacy per-kind parameters are not passed: use job_parameters",
        "python_named_params": "legacy per-kind parameters are not passed: use job_parameters",
        "jar_params": "legacy per-kind parameters are not passed: use job_parameters",
        "spark_submit_params": "legacy per-kind parameters are not passed: use job_parameters",
        "sql_params": "legacy per-kind parameters are not passed: use job_parameters",
        "dbt_commands": "legacy per-kind parameters are not passed: use job_parameters",
        "pipeline_params": "legacy per-kind parameters are not passed: use job_parameters",
    },
}

RUN_IF = (
    "ALL_SUCCESS",
    "AT_LEAST_ONE_SUCCESS",
    "NONE_FAILED",
    "ALL_DONE",
    "AT_LEAST_ONE_FAILED",
    "ALL_FAILED",
)
OPERATORS = {
    "EQUAL_TO": "==",
    "NOT_EQUAL": "!=",
    "GREATER_THAN": ">",
    "GREATER_THAN_OR_EQUAL": ">=",
    "LESS_THAN": "<",
    "LESS_THAN_OR_EQUAL": "<=",
}
# Databricks notification events and nbflow's names for them.
EVENTS = {
    "on_start": "on_start",
    "on_success": "on_success",
    "on_failure": "on_failure",
    "on_duration_warning_threshold_exceeded": "on_duration_warning",
}
EVENTS_IGNORED = {
    "on_streaming_backlog_exceeded": "streaming backlogs have no local meaning",
    "no_alert_for_skipped_runs": "nbflow never notifies for skipped runs",
}
