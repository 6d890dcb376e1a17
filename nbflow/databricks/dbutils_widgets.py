"""`dbutils.widgets`: the task's parameters as text, else the widgets' declared defaults."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..core.errors import InputWidgetNotDefined

if TYPE_CHECKING:
    from .dbutils import DBUtils


def as_text(value: Any) -> str:
    """A value as dbutils hands it on: text, and "" for None."""
    return "" if value is None else str(value)


class Widgets:
    """Databricks widgets: the task's parameters (as text), else the declared defaults."""

    def __init__(self, owner: DBUtils):
        self._owner = owner
        self._declared: dict[str, str] = {}

    def _given(self) -> dict[str, str]:
        ctx = self._owner._context()
        if not ctx:
            return {}
        given = dict(ctx.get("parameters") or {})
        # A secret parameter is masked in the context file; its value is in the environment.
        for name, variable in (ctx.get("secret_env") or {}).items():
            if name in given and variable in os.environ:
                given[name] = os.environ[variable]
        return given

    def _declare(self, name: str, default: Any, choices: list[Any] | None, kind: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"dbutils.widgets.{kind}: the name must be a non-empty string")
        if (
            choices is not None
            and kind == "dropdown"
            and as_text(default) not in map(as_text, choices)
        ):
            raise ValueError(
                f"dbutils.widgets.dropdown({name!r}): the default {as_text(default)!r} is not "
                f"one of its choices {[as_text(c) for c in choices]}"
            )
        self._declared[name] = as_text(default)

    def text(self, name: str, defaultValue: Any = "", label: str | None = None) -> None:
        self._declare(name, defaultValue, None, "text")

    def dropdown(
        self,
        name: str,
        defaultValue: Any,  # Databricks' own argument names: callers pass them as keywords
        choices: list[Any],
        label: str | None = None,
    ) -> None:
        self._declare(name, defaultValue, list(choices), "dropdown")

    def combobox(
        self,
        name: str,
        defaultValue: Any,
        choices: list[Any] | None = None,
        label: str | None = None,
    ) -> None:
        self._declare(name, defaultValue, None, "combobox")

    def multiselect(
        self,
        name: str,
        defaultValue: Any,
        choices: list[Any] | None = None,
        label: str | None = None,
    ) -> None:
        self._declare(name, defaultValue, None, "multiselect")

    def get(self, name: str) -> str:
        given = self._given()
        if name in given:
            return given[name]
        if name in self._declared:
            return self._declared[name]
        raise InputWidgetNotDefined(
            f"No input widget named {name!r} is defined: declare it "
            f"(dbutils.widgets.text({name!r}, DEFAULT)) or give the task a parameter {name!r}"
        )

    def getArgument(self, name: str, optional: Any = None) -> Any:
        """The widget's value, or `optional` (Databricks' deprecated form of `get`)."""
        try:
            return self.get(name)
        except InputWidgetNotDefined:
            return optional

    def getAll(self) -> dict[str, str]:
        return {**self._declared, **self._given()}

    def remove(self, name: str) -> None:
        self._declared.pop(name, None)

    def removeAll(self) -> None:
        self._declared.clear()
