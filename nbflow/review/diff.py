"""Run comparison: what differs between two runs, for `nbflow diff` and the REST API.

Parameters, task states and durations, glued values and task outputs are compared as the
run documents hold them. For a notebook task, the last attempts' executed notebooks are
compared cell by cell: nbdime aligns the code cells (a cell inserted or removed between the
runs does not shift every later one), and each aligned pair's outputs are compared by
what a reader sees: text, HTML tables, errors (name and message: tracebacks name the
kernel's temporary files), and images as changed or not. Execution counts, timings,
metadata, cell ids, papermill's injected cell (its parameters are compared as such), glued
data and how a stream happened to be split into outputs are left out before comparing, so
two runs of the same notebook on the same data show no difference at all.

Durations are given for both runs but never count as a change: they always differ.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from ..execution import annotate
from .report import INJECTED_TAG, is_scrap

TEXT_LIMIT = 20_000  # characters of one output kept in the answer (an HTML table can be huge)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """`{name, a, b}` for each name whose value differs; a side without the name has no key."""
    out = []
    for name in list(dict.fromkeys([*a, *b])):
        if name in a and name in b and _same(a[name], b[name]):
            continue
        entry: dict[str, Any] = {"name": name}
        if name in a:
            entry["a"] = a[name]
        if name in b:
            entry["b"] = b[name]
        out.append(entry)
    return out


def _same(x: Any, y: Any) -> bool:
    # 1 == 1.0 == True in Python; a parameter that went from 1 to true did change.
    return bool(type(x) is type(y) and x == y or (x != x and y != y))  # NaN equals NaN here


def run_summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["id"],
        "workflow": doc["workflow"],
        "state": doc["state"],
        "start_time": doc["start_time"],
        "end_time": doc["end_time"],
        "duration": _seconds(doc["start_time"], doc["end_time"]),
    }


def _unit_summary(unit: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": unit["state"],
        "duration": _seconds(unit["start_time"], unit["end_time"]),
        "attempts": len(unit["attempts"]),
        "message": unit.get("message"),
        "outcome": unit.get("outcome"),  # a condition's
    }


def units(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's tasks and for_each iterations (`KEY[i]`), in the run's order."""
    out: dict[str, dict[str, Any]] = {}
    for task in doc["tasks"]:
        out[task["key"]] = task
        for it in task.get("iterations", []):
            out[f"{task['key']}[{it['index']}]"] = it
    return out


def last_notebook(unit: dict[str, Any] | None) -> str | None:
    """The artifact of a unit's last attempt when it is an executed notebook."""
    if not unit or not unit["attempts"]:
        return None
    artifact = unit["attempts"][-1]["artifact"]
    return artifact if artifact and artifact.endswith(".ipynb") else None


def compare(
    doc_a: dict[str, Any],
    doc_b: dict[str, Any],
    notebooks: dict[str, tuple[Path | None, Path | None]],
    only: str | None = None,
) -> dict[str, Any]:
    """The difference between two run documents.

    `notebooks` maps a unit to the paths of its executed notebooks in A and in B (None where
    there is none); `only` keeps one unit.
    """
    units_a, units_b = units(doc_a), units(doc_b)
    keys = [k for k in dict.fromkeys([*units_a, *units_b]) if only is None or k == only]
    tasks = [
        _task(key, units_a.get(key), units_b.get(key), *notebooks.get(key, (None, None)))
        for key in keys
    ]
    return {
        "a": run_summary(doc_a),
        "b": run_summary(doc_b),
        "parameters": changes(doc_a["parameters"], doc_b["parameters"]),
        "tasks": tasks,
    }


def _task(
    key: str,
    a: dict[str, Any] | None,
    b: dict[str, Any] | None,
    nb_a: Path | None,
    nb_b: Path | None,
) -> dict[str, Any]:
    last_a = a["attempts"][-1] if a and a["attempts"] else {}
    last_b = b["attempts"][-1] if b and b["attempts"] else {}
    entry: dict[str, Any] = {
        "key": key,
        "a": _unit_summary(a) if a else None,
        "b": _unit_summary(b) if b else None,
        "parameters": changes(last_a.get("parameters") or {}, last_b.get("parameters") or {}),
        "values": changes((a or {}).get("values") or {}, (b or {}).get("values") or {}),
        "output": None,
        "cells": None,
        "note": None,
    }
    out_a, out_b = (a or {}).get("output"), (b or {}).get("output")
    if not _same(out_a, out_b):
        entry["output"] = {"a": out_a, "b": out_b}
    if nb_a is not None and nb_b is not None:
        try:
            # Named as recorded (inside the project), never by the server's absolute path.
            entry["cells"] = cells(
                annotate.read_notebook(nb_a, last_notebook(a)),
                annotate.read_notebook(nb_b, last_notebook(b)),
            )
        except annotate.UnreadableNotebook as exc:
            entry["note"] = str(exc)
    elif last_notebook(a) or last_notebook(b):
        side = "A" if nb_a is None else "B"
        entry["note"] = f"no executed notebook in run {side} to compare"
    entry["changed"] = bool(
        a is None
        or b is None
        or a["state"] != b["state"]
        or a.get("outcome") != b.get("outcome")
        or entry["parameters"]
        or entry["values"]
        or entry["output"]
        or entry["cells"]
        or entry["note"]
    )
    return entry


# -- cells -------------------------------------------------------------------------------


def _views(outputs: list[Any]) -> list[tuple[str, str]]:
    """(type, content) of what a reader sees in a cell's outputs.

    Consecutive stream outputs of one name are joined (the kernel splits them as its
    buffers flush); an image is its digest, so that it counts as changed or not.
    """
    views: list[tuple[str, str]] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            name = out.get("name", "stdout")
            text = "".join(out.get("text", ""))
            if views and views[-1][0] == name:
                views[-1] = (name, views[-1][1] + text)
            else:
                views.append((name, text))
        elif kind == "error":
            views.append(("error", f"{out.get('ename')}: {out.get('evalue')}"))
        elif kind in ("execute_result", "display_data"):
            if is_scrap(out):
                continue  # a glued value: compared as a value
            for mime, data in (out.get("data") or {}).items():
                text = data if isinstance(data, str) else "".join(data)
                if mime.startswith("image/"):
                    text = hashlib.sha256(text.encode()).hexdigest()
                views.append((mime, text))
    return views


def _clean(nb: Any) -> tuple[Any, list[int]]:
    """The code cells that matter for comparing, and each one's index in the notebook."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    kept, where = [], []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code" or INJECTED_TAG in tags:
            continue
        outputs = [
            new_output("stream", name=kind, text=text)
            if kind in ("stdout", "stderr")
            else new_output("display_data", data={kind: text})
            for kind, text in _views(cell.get("outputs", []))
        ]
        source = cell.get("source", "")
        clean = new_code_cell(source, outputs=outputs)
        # Ids from the source, so that nbdime pairs the same cell of both runs by id (the
        # notebooks' own ids may differ, a notebook without them gets new ones each run).
        digest = hashlib.sha256(source.encode()).hexdigest()[:12]
        seen[digest] = seen.get(digest, 0) + 1
        clean["id"] = f"{digest}-{seen[digest]}"
        kept.append(clean)
        where.append(index)
    return new_notebook(cells=kept), where


def _pairs(diff: list[dict[str, Any]]) -> list[tuple[int | None, int | None]]:
    """(index in A, index in B) of every cell nbdime found added, removed or patched."""
    ops: list[dict[str, Any]] = next((e["diff"] for e in diff if e["key"] == "cells"), [])
    pairs: list[tuple[int | None, int | None]] = []
    ia = ib = 0
    for op in ops:
        ib += op["key"] - ia  # the unchanged cells before this one
        ia = op["key"]
        if op["op"] == "addrange":
            for _ in op["valuelist"]:
                pairs.append((None, ib))
                ib += 1
        elif op["op"] == "removerange":
            for _ in range(op["length"]):
                pairs.append((ia, None))
                ia += 1
        else:  # patch
            pairs.append((ia, ib))
            ia += 1
            ib += 1
    return pairs


def _short(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "\n[...]"


def _output_changes(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Outputs compared by type and order within the cell (the 2nd stdout with the 2nd)."""

    def keyed(views: list[tuple[str, str]]) -> dict[tuple[str, int], str]:
        seen: dict[str, int] = {}
        out = {}
        for kind, text in views:
            seen[kind] = seen.get(kind, 0) + 1
            out[(kind, seen[kind])] = text
        return out

    ka, kb = keyed(a), keyed(b)
    found = []
    for key in dict.fromkeys([*ka, *kb]):
        kind = key[0]
        if ka.get(key) == kb.get(key):
            continue
        change = "added" if key not in ka else "removed" if key not in kb else "changed"
        entry: dict[str, Any] = {"type": kind, "change": change}
        if not kind.startswith("image/"):
            if key in ka:
                entry["a"] = _short(ka[key])
            if key in kb:
                entry["b"] = _short(kb[key])
        found.append(entry)
    return found


def cells(nb_a: Any, nb_b: Any) -> list[dict[str, Any]]:
    """Code cells whose source or outputs differ, or that only one notebook has.

    Each is `{a, b, change, source_changed, outputs}`: `a` and `b` are the cell's index in
    each executed notebook (None on the side without it), `outputs` the outputs that differ.
    """
    from nbdime.diffing.notebooks import diff_notebooks

    clean_a, where_a = _clean(nb_a)
    clean_b, where_b = _clean(nb_b)
    found = []
    for ia, ib in _pairs(diff_notebooks(clean_a, clean_b)):
        cell_a = clean_a.cells[ia] if ia is not None else None
        cell_b = clean_b.cells[ib] if ib is not None else None
        views_a = _views(cell_a.outputs) if cell_a is not None else []
        views_b = _views(cell_b.outputs) if cell_b is not None else []
        outputs = _output_changes(views_a, views_b)
        source_changed = (
            cell_a is not None and cell_b is not None and cell_a.source != cell_b.source
        )
        if cell_a is not None and cell_b is not None and not outputs and not source_changed:
            continue  # nbdime saw a difference this comparison leaves out
        found.append(
            {
                "a": where_a[ia] if ia is not None else None,
                "b": where_b[ib] if ib is not None else None,
                "change": "added" if ia is None else "removed" if ib is None else "changed",
                "source_changed": source_changed,
                "outputs": outputs,
            }
        )
    return found
