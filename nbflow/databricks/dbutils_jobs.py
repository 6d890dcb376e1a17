"""`dbutils.jobs.taskValues`: values a task publishes, and those earlier tasks of the run did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dbutils import DBUtils


class TaskValues:
    """Values a task publishes for the tasks after it (`{{tasks.KEY.values.NAME}}`)."""

    def __init__(self, owner: DBUtils):
        self._owner = owner

    def set(self, key: str, value: Any) -> None:
        from ..glue import glue

        try:
            glue(key, value)
        except ValueError as exc:
            raise ValueError(
                "dbutils.jobs.taskValues.set: " + str(exc).removeprefix("glue: ")
            ) from None

    def get(
        self,
        taskKey: str,  # Databricks' own argument names: callers pass them as keywords
        key: str,
        default: Any = None,
        debugValue: Any = None,
    ) -> Any:
        ctx = self._owner._context()
        if ctx is None:  # outside a task, as Databricks outside a job
            if debugValue is None:
                raise TypeError(
                    "dbutils.jobs.taskValues.get outside a task run by nbflow needs a debugValue "
                    "(it cannot be None)"
                )
            return debugValue
        values = ctx.get("values") or {}
        if taskKey not in values:
            known = ctx.get("tasks") or []
            why = (
                "has not finished before this task (add it to depends_on)"
                if taskKey in known
                else f"is not a task of workflow {ctx['run'].get('workflow')!r}"
            )
            raise ValueError(f"dbutils.jobs.taskValues.get: task {taskKey!r} {why}")
        published = values[taskKey] or {}
        if key in published:
            return published[key]
        if default is not None:
            return default
        raise ValueError(
            f"dbutils.jobs.taskValues.get: task {taskKey!r} published no value {key!r} "
            f"(its values: {', '.join(published) or 'none'}); pass a default"
        )


class Jobs:
    def __init__(self, owner: DBUtils):
        self.taskValues = TaskValues(owner)
