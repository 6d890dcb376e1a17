"""`nbflow report`: executed notebooks and whole runs as HTML, read without a kernel."""

from __future__ import annotations

import html
import re

import pytest

pytestmark = pytest.mark.kernel

WORKFLOW = """\
parameters: {marker: "<b>not-markup</b>"}
tasks:
  - key: values
    notebook: notebooks/glue_values.ipynb
    parameters: {rate: 0.25}
  - key: broken
    notebook: notebooks/fail.ipynb
    depends_on: [values]
    parameters: {message: "{{params.marker}}"}
  - key: after
    command: ["true"]
    depends_on: [broken]
    run_if: all_done
"""


def text_of(page: str) -> str:
    """What a reader sees: the page without tags (code is split into highlighting spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    from tests.conftest import ProjectDir

    project = ProjectDir(tmp_path_factory.mktemp("report"))
    project.workflow("rep", WORKFLOW)
    proc = project.cli("run", "rep")
    assert "success_with_failures" in proc.stdout, proc.stderr  # `broken` fails, by design
    return project


def test_attempt_report_shows_parameters_as_a_table_and_keeps_the_code(ran):
    proc = ran.cli("report", "1", "values", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout
    assert page.startswith("<!DOCTYPE html>")
    assert "Parameters</strong> of this attempt" in page
    assert re.search(r"<th>rate</th><td><code>0\.25</code>", page)
    assert "rate = 0.25" not in text_of(page)  # the injected code is replaced by the table
    assert "sb.glue('count', 42)" in text_of(page)  # the notebook's own code is there
    assert "application/scrapbook" not in page  # glued data is not shown as an output


def test_no_input_leaves_the_code_out_of_the_page(ran):
    page = ran.cli("report", "1", "values", "--no-input", "-o", "-").stdout
    assert "sb.glue(" not in text_of(page) and "import scrapbook" not in text_of(page)
    assert "Parameters</strong> of this attempt" in page


def test_failed_attempt_has_its_banner_on_top_and_parameter_values_are_escaped(ran):
    path = ran.root / ".nbflow/runs/rep/1/broken/attempt-1.html"
    proc = ran.cli("report", "1", "broken")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ".nbflow/runs/rep/1/broken/attempt-1.html"
    page = path.read_text()
    banner = page.find("An Exception was encountered")
    assert 0 < banner < page.find("ValueError")
    assert "&lt;b&gt;not-markup&lt;/b&gt;" in page and "<b>not-markup</b>" not in page


def test_run_report_has_graph_timeline_values_and_each_notebook(ran):
    proc = ran.cli("report", "1")
    assert proc.returncode == 0, proc.stderr
    page = (ran.root / ".nbflow/runs/rep/1/report.html").read_text()
    states = dict(re.findall(r'<g class="task" data-key="(\w+)" data-state="(\w+)"', page))
    assert states == {"values": "success", "broken": "failed", "after": "success"}
    bars = re.findall(r'<g class="bar" data-label="([^"]+)"', page)
    assert bars == ["values #1", "broken #1", "after #1"]
    assert re.search(r"<th>values\.count</th><td><code>42</code>", page)
    frames = re.findall(r'<iframe class="notebook" title="([^"]+)"', page)
    assert frames == ["values · attempt 1 · success", "broken · attempt 1 · failed"]


def test_report_refusals_are_one_sentence(ran):
    cases = {
        ("report", "1", "after"): "is not a notebook: `nbflow logs` shows its log",
        ("report", "1", "nope"): "run 1 has no task 'nope'",
        ("report", "1", "--attempt", "2"): "--attempt needs a TASK",
        ("report", "9"): "no run 9",
    }
    for args, message in cases.items():
        proc = ran.cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_truncated_notebook_is_named_not_a_traceback(ran):
    path = ran.root / ".nbflow/runs/rep/1/values/attempt-1.ipynb"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    try:
        proc = ran.cli("report", "1", "values", "-o", "-")
    finally:
        path.write_text(text)
    assert proc.returncode == 2
    assert "attempt-1.ipynb: not a readable notebook" in proc.stderr
    assert "Traceback" not in proc.stderr


QUIET = """\
tasks:
  - key: shown
    notebook: notebooks/ok.ipynb
  - key: quiet
    notebook: notebooks/glue_values.ipynb
    report: {no_input: true}
"""


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    from tests.conftest import ProjectDir

    project = ProjectDir(tmp_path_factory.mktemp("quiet"))
    project.workflow("quiet", QUIET)
    proc = project.cli("run", "quiet")
    assert proc.returncode == 0, proc.stderr
    return project


def test_a_task_with_report_no_input_leaves_its_code_out_unless_asked(quiet):
    page = text_of(quiet.cli("report", "1", "quiet", "-o", "-").stdout)
    assert "sb.glue(" not in page and "'visible'" in page  # the outputs, without the code
    assert "sb.glue(" in text_of(quiet.cli("report", "1", "quiet", "--input", "-o", "-").stdout)
    assert "sb.glue('doubled'" in text_of(quiet.cli("report", "1", "shown", "-o", "-").stdout)
    run_page = quiet.cli("report", "1", "-o", "-").stdout
    frames = dict(
        re.findall(r'<iframe class="notebook" title="([^"]+)" srcdoc="([^"]*)"', run_page)
    )
    assert "sb.glue('doubled'" in text_of(html.unescape(frames["shown · attempt 1 · success"]))
    assert "sb.glue(" not in text_of(html.unescape(frames["quiet · attempt 1 · success"]))
