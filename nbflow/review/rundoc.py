"""The run document: one JSON-ready dict per run, as `show --json` and the API give it."""

from __future__ import annotations

from typing import Any

from ..core.clock import iso


def _attempt(row: dict[str, Any]) -> dict[str, Any]:
    error = None
    if row.get("error_ename") or row.get("error_evalue"):
        error = {
            "ename": row.get("error_ename"),
            "evalue": row.get("error_evalue"),
            "cell_index": row.get("error_cell_index"),
        }
    return {
        "number": row["number"],
        "state": row["state"],
        "start_time": iso(row.get("start_time")),
        "end_time": iso(row.get("end_time")),
        "artifact": row.get("artifact"),
        "parameters": row.get("parameters") or {},
        "values": row.get("task_values") or {},
        "output": row.get("output"),
        "error": error,
        "executor": row.get("executor"),
    }


def _unit(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": row["state"],
        "values": row.get("task_values") or {},
        "start_time": iso(row.get("start_time")),
        "end_time": iso(row.get("end_time")),
        "message": row.get("message"),
        "attempts": [_attempt(a) for a in row.get("attempts", [])],
    }


def run_document(run: dict[str, Any]) -> dict[str, Any]:
    """Shape a run from `Store.get_run` as the documented JSON document."""
    tasks: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}
    for row in run.get("tasks", []):
        if row.get("parent_key"):
            parent = by_key[row["parent_key"]]
            parent.setdefault("iterations", []).append(
                {"index": row["iteration"], "input": row.get("input"), **_unit(row)}
            )
            continue
        task = {
            "key": row["key"],
            "kind": row["kind"],
            "depends_on": row.get("depends_on") or [],
            "outcome": row.get("outcome") if row["kind"] == "condition" else None,
            "output": row.get("output"),
            **_unit(row),
        }
        if row.get("input") is not None:  # a for_each task whose inputs were resolved
            task["iterations"] = []
        by_key[row["key"]] = task
        tasks.append(task)
    return {
        "id": run["id"],
        "workflow": run["workflow"],
        "workflow_path": run["workflow_path"],
        "parent_run_id": run.get("parent_run_id"),
        "state": run["state"],
        "trigger": {
            "type": run["trigger_type"],
            "time": iso(run["trigger_time"]),
            **_trigger_facts(run.get("trigger_info")),
        },
        "parameters": run.get("parameters") or {},
        "start_time": iso(run.get("start_time")),
        "end_time": iso(run.get("end_time")),
        "repair_count": run.get("repair_count") or 0,
        "repairs": [
            {
                "number": r["number"],
                "time": iso(r["time"]),
                "tasks": r["tasks"],
                "result": r.get("result"),
                "end_time": iso(r.get("end_time")),
            }
            for r in run.get("repairs", [])
        ],
        "message": run.get("message"),
        "notifications": [
            {k: n[k] for k in ("event", "kind", "target", "ok", "error", "time")}
            for n in run.get("notifications", [])
        ],
        "duration_warnings": [
            {
                "task": w["task_key"],
                "attempt": w["attempt"],
                "threshold": w["threshold"],
                "time": iso(w["time"]),
            }
            for w in run.get("duration_warnings", [])
        ],
        "tasks": tasks,
    }


def _trigger_facts(info: dict[str, Any] | None) -> dict[str, Any]:
    """What started the run beyond its type: the backfill, upstream run, or query value."""
    if not info:
        return {}
    out: dict[str, Any] = {
        k: info[k] for k in ("backfill_id", "run_id", "workflow", "state") if k in info
    }
    if "value" in info:
        out["value"] = info["value"]
    return out
