"""An attempt's result: the state it ended in, its error, the values it published, its
output, and where it ran; what every kind of attempt returns and the runner records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AttemptResult:
    state: str  # a TaskState value: success, failed or timed_out
    error: dict[str, Any] | None = None  # ename, evalue, cell_index, traceback
    values: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] | None = None  # a sql task's rows; a workflow task's child run
    executor: dict[str, Any] | None = None  # where it ran, when only known once it has

    @property
    def message(self) -> str | None:
        if not self.error:
            return None
        return f"{self.error.get('ename')}: {self.error.get('evalue')}"


def failed(ename: str, evalue: str) -> AttemptResult:
    return AttemptResult("failed", {"ename": ename, "evalue": evalue})
