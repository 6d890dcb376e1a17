"""Reports read without a network: no page loads a script, style or font from elsewhere."""

from __future__ import annotations

import html
import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from nbflow.review import report

# What a browser would fetch: a script or link source, a CSS import or url() off this page.
FETCHED = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import\s+(?:url\()?["']?(?:https?:)?//|"""
    r"""url\(\s*["']?(?:https?:)?//""",
    re.I,
)


def test_attempt_and_run_pages_fetch_nothing(tmp_path):
    path = tmp_path / "attempt-1.ipynb"
    nb = new_notebook(
        cells=[
            new_markdown_cell(
                "A formula: $x^2$, and a diagram:\n\n```mermaid\ngraph LR; a-->b\n```"
            ),
            new_code_cell(
                "print('hi')",
                outputs=[new_output("stream", name="stdout", text="hi\n")],
                execution_count=1,
            ),
        ]
    )
    nbformat.write(nb, str(path))
    page = report.attempt_html(path, parameters={"x": 1}, title="t")
    assert "hi" in page and "<script" not in page.lower()
    assert not FETCHED.findall(page), FETCHED.findall(page)[:5]

    doc = {
        "id": 1,
        "workflow": "w",
        "workflow_path": "workflows/w.yaml",
        "state": "success",
        "trigger": {"type": "manual", "time": "2026-01-01T00:00:00+00:00"},
        "start_time": "2026-01-01T00:00:00+00:00",
        "end_time": "2026-01-01T00:00:01+00:00",
        "repair_count": 0,
        "message": None,
        "parameters": {"x": 1},
        "tasks": [],
    }
    whole = report.run_html(doc, {"a · attempt 1 · success": page})
    assert not FETCHED.findall(html.unescape(whole))
