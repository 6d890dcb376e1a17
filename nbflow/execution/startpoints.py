"""Start points: where a repair or a partial run starts, from what a stored run's tasks left
(their states, condition outcomes, values and outputs); the runner begins from one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.states import TaskState


@dataclass(frozen=True)
class Repair:
    """Where a repair starts from: what the kept tasks left, and the repair's number."""

    number: int
    start_time: float
    kept_states: dict[str, TaskState]
    outcomes: dict[str, bool]
    values: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any] | None]
    last_attempts: dict[str, int]

    def states(self) -> dict[str, TaskState]:
        """The states the run's tasks start in (the others start `pending`)."""
        return dict(self.kept_states)


@dataclass(frozen=True)
class Selection:
    """A partial run: the tasks left out, and what they left in the run they are taken from."""

    left_out: tuple[str, ...]
    source_run: int | None
    outcomes: dict[str, bool]
    values: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any] | None]

    def states(self) -> dict[str, TaskState]:
        """The states the run's tasks start in (the others start `pending`)."""
        return dict.fromkeys(self.left_out, TaskState.SKIPPED_BY_SELECTION)

    def left_by(self, key: str) -> dict[str, Any]:
        """What left-out task `key` is recorded with: the values, output and outcome it left."""
        fields: dict[str, Any] = {}
        if key in self.values:
            fields["values"] = self.values[key]
        if self.outputs.get(key) is not None:
            fields["output"] = self.outputs[key]
        if key in self.outcomes:
            fields["outcome"] = self.outcomes[key]
        return fields


def task_rows(run: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A run document's tasks by key (its for_each iterations left out)."""
    return {t["key"]: t for t in (run or {}).get("tasks", []) if not t.get("parent_key")}


def _left(
    rows: Mapping[str, Mapping[str, Any]], keys: Iterable[str]
) -> tuple[dict[str, bool], dict[str, dict[str, Any]], dict[str, dict[str, Any] | None]]:
    """What tasks `keys` left in a run: condition outcomes, values, outputs."""
    keys = [k for k in keys if k in rows]
    outcomes = {
        k: bool(rows[k]["outcome"])
        for k in keys
        if rows[k]["kind"] == "condition" and rows[k]["outcome"] is not None
    }
    values = {k: rows[k]["task_values"] or {} for k in keys}
    outputs = {k: rows[k].get("output") for k in keys}
    return outcomes, values, outputs


def repair_from(
    run: Mapping[str, Any],
    kept: dict[str, TaskState],
    *,
    now: float,
    last_attempts: dict[str, int],
) -> Repair:
    """The next repair of stored run `run`, the tasks of `kept` keeping their states."""
    outcomes, values, outputs = _left(task_rows(run), kept)
    return Repair(
        number=run["repair_count"] + 1,
        start_time=run["start_time"] or now,
        kept_states=kept,
        outcomes=outcomes,
        values=values,
        outputs=outputs,
        last_attempts=last_attempts,
    )


def selection_from(source: Mapping[str, Any] | None, left_out: tuple[str, ...]) -> Selection:
    """A partial run leaving out `left_out`, whose values come from stored run `source`."""
    outcomes, values, outputs = _left(task_rows(source), left_out)
    return Selection(
        left_out=left_out,
        source_run=source["id"] if source else None,
        outcomes=outcomes,
        values=values,
        outputs=outputs,
    )
