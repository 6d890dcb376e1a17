"""Reports: an executed notebook attempt, or a whole run, as HTML read without a kernel.

An attempt's report is its executed notebook through nbconvert's `lab` template, with the
cell papermill injected shown as a table of the parameters the attempt received (not as
code) and, with `no_input`, no code at all in the page (nbconvert leaves the sources out of
the HTML, not merely hidden). A failed or interrupted attempt keeps its banner on top: the
executed notebook already carries it (papermill's, or nbflow's from `annotate`).

A run's report is one page: the run's state, trigger and parameters, the task graph coloured
by state, the attempts on a timeline, glued values, and each notebook task's last attempt
inline (each in its own frame, so that notebooks' styles do not mix).
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core import graph

INJECTED_TAG = "injected-parameters"  # papermill's tag on the cell it adds

# Colours of task states, as the JupyterLab run view shows them.
STATE_COLOURS = {
    "success": "#2e7d32",
    "success_with_failures": "#9e9d24",
    "failed": "#c62828",
    "timed_out": "#c62828",
    "upstream_failed": "#ef9a9a",
    "canceled": "#757575",
    "upstream_canceled": "#bdbdbd",
    "excluded": "#e0e0e0",
    "disabled": "#e0e0e0",
    "skipped_by_selection": "#e0e0e0",
    "running": "#1565c0",
    "queued": "#90caf9",
    "pending": "#eeeeee",
}

_PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 70em; color: #212121; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table.nbflow { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
table.nbflow td, table.nbflow th { border: 1px solid #ddd; padding: .25em .6em; text-align: left;
  vertical-align: top; }
table.nbflow code { white-space: pre-wrap; }
.state { display: inline-block; padding: 0 .5em; border-radius: .6em; color: #fff; }
iframe.notebook { width: 100%; height: 40em; border: 1px solid #ddd; resize: vertical; }
details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
"""


def _table(rows: list[tuple[str, Any]]) -> str:
    """Name/value rows; values as JSON (text as written), every character escaped."""
    body = "".join(
        f"<tr><th>{html.escape(name)}</th><td><code>"
        f"{html.escape(value if isinstance(value, str) else json.dumps(value))}</code></td></tr>"
        for name, value in rows
    )
    return f'<table class="nbflow">{body}</table>'


# The lab template without what it loads from the network (require.js, MathJax, Mermaid and
# the widgets' scripts, all from CDNs): a report is read where there may be none, and must
# look the same in ten years. Formulas then show as their LaTeX source.
_OFFLINE_TEMPLATE = "nbflow-offline.html.j2"
_OFFLINE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _parameters_cell(parameters: dict[str, Any]) -> Any:
    from nbformat.v4 import new_markdown_cell

    text = (
        "**Parameters** of this attempt\n\n" + _table(list(parameters.items()))
        if parameters
        else "**Parameters**: none injected"
    )
    cell = new_markdown_cell(text)
    cell.metadata["tags"] = [INJECTED_TAG]
    return cell


def attempt_html(
    path: Path, *, parameters: dict[str, Any], title: str, no_input: bool = False
) -> str:
    """The executed notebook at `path` as one HTML page."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(path), as_version=4)
    for index, cell in enumerate(nb.cells):
        if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            nb.cells[index] = _parameters_cell(parameters)
        elif cell.get("outputs"):
            # Glued values are data for nbflow, not for the reader (the run page lists them).
            cell.outputs = [o for o in cell.outputs if not is_scrap(o)]
    exporter = HTMLExporter(
        template_name="lab",
        template_file=_OFFLINE_TEMPLATE,
        extra_loaders=[DictLoader({_OFFLINE_TEMPLATE: _OFFLINE})],
    )
    exporter.exclude_input = no_input
    exporter.exclude_input_prompt = no_input
    exporter.exclude_output_prompt = no_input
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return str(body)


def note_html(message: str) -> str:
    """A page saying why an attempt's notebook cannot be shown (one that was cut off, say)."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f'<p class="nbflow-note">{html.escape(message)}</p></body></html>'
    )


def is_scrap(output: Any) -> bool:
    data = output.get("data") or {}
    return bool(data) and all(
        m.startswith(("application/scrapbook.scrap.", "application/papermill.record")) for m in data
    )


# -- the run page ------------------------------------------------------------------------


def _seconds(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


def _layers(tasks: list[dict[str, Any]]) -> dict[str, int]:
    """Each task's column: one more than its furthest upstream task."""
    upstream = {t["key"]: [d["task"] for d in t["depends_on"]] for t in tasks}
    depth: dict[str, int] = {}
    for key in graph.topological(upstream):
        depth[key] = 1 + max((depth[u] for u in upstream[key] if u in depth), default=-1)
    return depth


def dag_svg(tasks: list[dict[str, Any]]) -> str:
    """The task graph, left to right, each box filled with its state's colour."""
    if not tasks:
        return ""
    width, height, gap_x, gap_y = 150, 34, 60, 16
    columns = _layers(tasks)
    rows: dict[int, int] = {}
    where: dict[str, tuple[int, int]] = {}
    for task in tasks:
        col = columns[task["key"]]
        row = rows.get(col, 0)
        rows[col] = row + 1
        where[task["key"]] = (10 + col * (width + gap_x), 10 + row * (height + gap_y))
    total_w = 20 + (max(columns.values()) + 1) * (width + gap_x) - gap_x
    total_h = 20 + max(rows.values()) * (height + gap_y) - gap_y
    parts = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{total_w}" style="max-width:100%;height:auto" '
        f'height="{total_h}" viewBox="0 0 {total_w} {total_h}">',
        '<defs><marker id="report-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" '
        'fill="#777"/></marker></defs>',
    ]
    for task in tasks:
        x2, y2 = where[task["key"]]
        for dep in task["depends_on"]:
            if dep["task"] not in where:
                continue
            x1, y1 = where[dep["task"]]
            label = "" if dep.get("outcome") is None else str(dep["outcome"]).lower()
            parts.append(
                f'<path d="M{x1 + width},{y1 + height / 2} C{x1 + width + gap_x / 2},'
                f"{y1 + height / 2} {x2 - gap_x / 2},{y2 + height / 2} {x2},{y2 + height / 2}"
                f'" fill="none" stroke="#777" marker-end="url(#report-arrow)"/>'
            )
            if label:
                parts.append(
                    f'<text x="{x2 - gap_x / 2}" y="{(y1 + y2) / 2 + height / 2 - 3}" '
                    f'font-size="10" text-anchor="middle">{label}</text>'
                )
    for task in tasks:
        x, y = where[task["key"]]
        colour = STATE_COLOURS.get(task["state"], "#eeeeee")
        dark = task["state"] in ("success", "failed", "timed_out", "running", "canceled")
        parts.append(
            f'<g class="task" data-key="{html.escape(task["key"])}" '
            f'data-state="{task["state"]}"><title>{html.escape(task["key"])}: '
            f'{task["state"]}</title><rect x="{x}" y="{y}" width="{width}" height="{height}" '
            f'rx="5" fill="{colour}" stroke="#555"/><text x="{x + width / 2}" '
            f'y="{y + height / 2 + 4}" font-size="12" text-anchor="middle" '
            f'fill="{"#fff" if dark else "#212121"}">{html.escape(task["key"][:22])}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _attempt_rows(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, attempt) of every attempt in the run, iterations included."""
    rows = []
    for task in doc["tasks"]:
        for attempt in task["attempts"]:
            rows.append((f"{task['key']} #{attempt['number']}", attempt))
        for it in task.get("iterations", []):
            for attempt in it["attempts"]:
                rows.append((f"{task['key']}[{it['index']}] #{attempt['number']}", attempt))
    return rows


def timeline_svg(doc: dict[str, Any]) -> str:
    """Every attempt as a bar on the run's time axis (a Gantt chart)."""
    rows = [
        (label, _seconds(a["start_time"]), _seconds(a["end_time"]), a["state"])
        for label, a in _attempt_rows(doc)
        if a["start_time"]
    ]
    if not rows:
        return ""
    start = min(r[1] for r in rows if r[1] is not None)
    end = max((r[2] or r[1] or start) for r in rows)
    span = max(end - start, 1e-3)
    label_w, bar_w, row_h = 190, 560, 20
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}"'
        f' height="{row_h * len(rows) + 10}">'
    ]
    for i, (label, t0, t1, state) in enumerate(rows):
        assert t0 is not None
        x = label_w + (t0 - start) / span * bar_w
        w = max(((t1 or end) - t0) / span * bar_w, 2)
        y = 5 + i * row_h
        took = f"{(t1 or end) - t0:.2f} s"
        parts.append(
            f'<g class="bar" data-label="{html.escape(label)}"><text x="0" y="{y + 13}" '
            f'font-size="11">{html.escape(label[:30])}</text><rect x="{x:.1f}" y="{y}" '
            f'width="{w:.1f}" height="{row_h - 5}" fill="{STATE_COLOURS.get(state, "#999")}">'
            f"<title>{html.escape(label)}: {state}, {took}</title></rect>"
            f'<text x="{x + w + 4:.1f}" y="{y + 13}" font-size="10">{took}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def run_html(doc: dict[str, Any], notebooks: dict[str, str]) -> str:
    """The whole run as one page; `notebooks` maps a task label to its attempt's HTML."""
    state = doc["state"]
    head = (
        f"<h1>Run {doc['id']} of {html.escape(doc['workflow'])} "
        f'<span class="state" style="background:{STATE_COLOURS.get(state, "#999")}">'
        f"{state}</span></h1>"
    )
    facts = _table(
        [
            ("workflow file", doc["workflow_path"]),
            ("trigger", f"{doc['trigger']['type']} at {doc['trigger']['time']}"),
            ("started", doc["start_time"] or "-"),
            ("ended", doc["end_time"] or "-"),
            ("repairs", str(doc["repair_count"])),
        ]
        + ([("message", doc["message"])] if doc.get("message") else [])
    )
    sections = [head, facts]
    if doc["parameters"]:
        sections += ["<h2>Parameters</h2>", _table(list(doc["parameters"].items()))]
    sections += ["<h2>Tasks</h2>", dag_svg(doc["tasks"])]
    sections += ["<h2>Timeline</h2>", timeline_svg(doc) or "<p>No attempt ran.</p>"]
    values = [
        (f"{t['key']}.{name}", value) for t in doc["tasks"] for name, value in t["values"].items()
    ]
    if values:
        sections += ["<h2>Values</h2>", _table(values)]
    if notebooks:
        sections.append("<h2>Notebooks</h2>")
        for label, page in notebooks.items():
            sections.append(
                f"<details open><summary>{html.escape(label)}</summary>"
                f'<iframe class="notebook" title="{html.escape(label)}" '
                f'srcdoc="{html.escape(page, quote=True)}"></iframe></details>'
            )
    fit = (
        "<script>for (const f of document.querySelectorAll('iframe.notebook')) {"
        "f.addEventListener('load', () => { const d = f.contentDocument;"
        "if (d) f.style.height = (d.documentElement.scrollHeight + 20) + 'px'; }); }</script>"
    )
    title = f"nbflow run {doc['id']} of {doc['workflow']}"
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_PAGE_STYLE}</style></head><body>{''.join(sections)}{fit}</body></html>"
    )
