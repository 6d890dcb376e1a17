"""Error tree: every error nbflow raises on purpose derives from NbflowError."""

from __future__ import annotations

from dataclasses import dataclass


class NbflowError(Exception):
    """Base of every error nbflow raises on purpose; its message is meant for a person."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a workflow file: where it is and what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class UsageError(NbflowError):
    """A wrong argument, name or path given by the user (exit code 2)."""


class WorkflowFileError(UsageError):
    """One or more problems in workflow files; each is a `FILE:LINE: message` line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RunNotFound(UsageError):
    """No run with that id in the run history."""


class RunBusy(UsageError):
    """The run's state does not allow that now (still running, already finished)."""


class WorkflowNotFound(UsageError):
    """No workflow of that name or file in the project."""


class Conflict(UsageError):
    """What a request would create already exists (a workflow file, a task key)."""


class Forbidden(UsageError):
    """A path a request may not read (outside the folder it is served from)."""


class PathNotFound(UsageError):
    """No file at a path a request names as the thing to read."""


class HistoryError(NbflowError):
    """The run history cannot be used (full, locked, unreachable, made by another version)."""


class UnreadableNotebook(UsageError):
    """An artifact that is not a whole notebook (cut off while being saved, say)."""


class SecretMissing(NbflowError):
    """A secret parameter's environment variable is not set (or empty) when a run starts."""


class YamlError(NbflowError):
    """The text is not YAML; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.line = line


class ReferenceError_(NbflowError, LookupError):
    """A `{{...}}` reference that cannot be resolved; the message names it."""


class ConditionError(NbflowError, ValueError):
    """A condition task's operands cannot be compared with its operator."""


# Raised by `dbutils` (nbflow.databricks) in a task's kernel, under Databricks' own names.


class InputWidgetNotDefined(NbflowError):
    """`dbutils.widgets.get` of a name neither declared nor given (Databricks' own name)."""


class NotebookRunError(NbflowError):
    """`dbutils.notebook.run` could not run the notebook, or its run did not succeed."""
