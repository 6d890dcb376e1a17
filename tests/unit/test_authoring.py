"""Workflow files written for the JupyterLab extension: generated text, appended tasks, checks."""

from __future__ import annotations

import json
import math

import nbformat
import pytest

from nbflow.core.errors import Conflict, UsageError, WorkflowFileError
from nbflow.workflows import authoring, yamlload, yamltext
from nbflow.workflows.loader import check_file
from nbflow.workflows.project import Project

TRICKY = {
    "text": 'he said "hi" and it\'s fine',
    "code": "007",
    "count": 3,
    "ratio": 1.5,
    "big": 1e20,
    "flag": True,
    "flag_text": "true",
    "number_text": "1e3",
    "int_text": "12",
    "empty": "",
    "nothing": None,
    "null_text": "null",
    "on": "on",
    "date": "2024-01-01",
    "items": [1, "2", None, False, [3.0]],
    "mapping": {"007": {"true": "yes"}, "k": [], "12": {}},
    "colon": "a: b",
    "hash": "# not a comment",
    "dash": "- not a list",
    "braces": "{not: a mapping}",
    "multi": "line one\nline two\n",
    "unicode": "Zürich – 東京",
    "spaces": "  padded  ",
}


def _data(text: str):
    return yamlload.load(text).data


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and yamltext._same(a, b)


@pytest.mark.parametrize(
    ("notebook", "key", "name"),
    [
        ("notebooks/x.ipynb", "x", "notebook-x"),
        ("a/Sales report (v2).ipynb", "Sales_report_v2", "notebook-Sales_report_v2"),
        ("a/b.c.ipynb", "b_c", "notebook-b.c"),
        ("über.ipynb", "ber", "notebook-ber"),
        ("%%%.ipynb", "notebook", "notebook-notebook"),
    ],
)
def test_keys_and_names_come_from_the_notebook_stem(notebook, key, name):
    assert authoring.key_for(notebook) == key
    assert authoring.run_workflow_name(notebook) == name


def test_parameter_values_read_back_with_their_json_types():
    task = yamltext.notebook_task("x", "notebooks/x.ipynb", TRICKY, [])
    text = yamltext.new_workflow_text({"name": "w", "tasks": [task]})
    read = _data(text)["tasks"][0]["parameters"]
    assert _same(read, TRICKY)
    assert type(read["big"]) is float and type(read["count"]) is int


def test_a_new_file_has_a_header_a_schedule_and_passes_the_loader(mini):
    task = yamltext.notebook_task("x", "notebooks/x.ipynb", {"n": 1}, [])
    text = yamltext.new_workflow_text(
        {
            "name": "daily_report",
            "description": "Every morning.\nAt six.",
            "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Berlin"},
            "tasks": [task],
        }
    )
    assert text.startswith("# Written by the nbflow JupyterLab extension")
    assert 'cron: "0 6 * * *"' in text
    workflow = mini.load(text)
    assert workflow.name == "daily_report"
    assert workflow.settings.schedule.timezone == "Europe/Berlin"
    assert workflow.tasks[0].parameters == {"n": 1}


def test_non_finite_numbers_are_refused():
    for bad in (math.nan, math.inf, [1, -math.inf], {"a": {"b": math.nan}}):
        with pytest.raises(UsageError, match="not a JSON number"):
            authoring.check_values({"p": bad})


def test_text_that_would_not_read_back_is_refused():
    with pytest.raises(UsageError, match="read back unchanged"):
        yamltext._reads_back("a: 1\n", {"a": 1.0})
    with pytest.raises(UsageError, match="read back unchanged"):
        yamltext._reads_back("a: [1]\n", {"a": [True]})


COMMENTED = """\
# The nightly job.   (header comment)
name: nightly   # its name
parameters:
  day: "{{run.trigger.time.iso_date}}"
  code: '007'
tasks:
  - key: ingest    # first
    notebook: notebooks/x.ipynb
    parameters: {on: yes, n: 1_000}
  # the cleaning step
  - key: clean
    notebook: notebooks/x.ipynb
    depends_on: [ingest]
# settings below the tasks
schedule:
  cron: "0 2 * * *"   # at two
"""


def test_an_added_task_goes_last_and_everything_else_stays():
    task = yamltext.notebook_task("report", "notebooks/y.ipynb", {"p": "1"}, ["clean"])
    new = yamltext.add_task_text(COMMENTED, task)
    head, _, tail = COMMENTED.partition("# settings below the tasks\n")
    assert new.startswith(head), new  # every line before the new task is unchanged
    assert new.endswith("# settings below the tasks\n" + tail)
    added = new[len(head) : -len("# settings below the tasks\n" + tail)]
    assert added == (
        "  - key: report\n"
        "    notebook: notebooks/y.ipynb\n"
        "    depends_on: [clean]\n"
        "    parameters:\n"
        '      p: "1"\n'
    )
    before, after = _data(COMMENTED), _data(new)
    assert after == {**before, "tasks": [*before["tasks"], task]}


def test_an_added_task_follows_the_files_style():
    flow = "tasks:\n- {key: a, notebook: n.ipynb}\n"
    task = yamltext.notebook_task("b", "n.ipynb", {}, ["a"])
    assert (
        yamltext.add_task_text(flow, task)
        == flow + "- {key: b, notebook: n.ipynb, depends_on: [a]}\n"
    )
    zero = "tasks:\n- key: a\n  notebook: n.ipynb\n"
    assert (
        yamltext.add_task_text(zero, task)
        == zero + "- key: b\n  notebook: n.ipynb\n  depends_on: [a]\n"
    )
    wide = "tasks:\n    -   key: a\n        notebook: n.ipynb\n"
    assert _data(yamltext.add_task_text(wide, task))["tasks"][1] == task


def test_adding_to_a_file_without_tasks_is_refused():
    with pytest.raises(UsageError, match="no `tasks` list"):
        yamltext.add_task_text("name: x\n", {"key": "a", "notebook": "n.ipynb"})


def _project(mini) -> Project:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(
        nbformat.v4.new_code_cell("n = 1  # a number\ns = 'x'", metadata={"tags": ["parameters"]})
    )
    nbformat.write(nb, str(mini.root / "notebooks" / "p.ipynb"))
    return Project(mini.root)


def test_a_text_with_problems_never_reaches_the_target(mini):
    project = _project(mini)
    target = mini.write("tasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n", "w")
    before = target.read_bytes()
    bad = "tasks:\n  - {key: a, notebook: notebooks/missing.ipynb}\n"
    with pytest.raises(WorkflowFileError) as caught:
        authoring.write_checked(target, bad, project, mode="replace", expect=before)
    assert caught.value.problems[0].file == "workflows/w.yaml"
    assert "not found" in caught.value.problems[0].message
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["w.yaml"]  # no temporary file left
    good = "tasks:\n  - {key: b, notebook: notebooks/x.ipynb}\n"
    with pytest.raises(Conflict, match="changed while"):
        authoring.write_checked(target, good, project, mode="replace", expect=b"other")
    with pytest.raises(Conflict, match="already exists"):
        authoring.write_checked(target, good, project, mode="new")
    assert target.read_bytes() == before
    authoring.write_checked(target, good, project, mode="replace", expect=before)
    assert target.read_text() == good


def test_a_new_workflow_file_checks_name_notebook_and_parameters(mini):
    project = _project(mini)

    def create(name="daily", notebook="notebooks/p.ipynb", **kw):
        kw.setdefault("parameters", {})
        return authoring.create_workflow_file(project, name, notebook, **kw)

    for name in ("a b", ".hidden", "../x", "x/y"):
        with pytest.raises(UsageError, match="name: "):
            create(name)
    with pytest.raises(
        UsageError, match=r"declares no parameter 'nn', 'm' \(its parameters: n, s\)"
    ):
        create(parameters={"nn": 1, "n": 2, "m": 3})
    with pytest.raises(UsageError, match="no such notebook"):
        create(notebook="notebooks/missing.ipynb")
    with pytest.raises(UsageError, match="not an .ipynb"):
        create(notebook="scripts/s.py")
    with pytest.raises(WorkflowFileError, match="schedule.cron"):
        create(schedule={"cron": "61 * * * *"})
    with pytest.raises(WorkflowFileError, match="schedule.timezone"):
        create(schedule={"cron": "0 6 * * *", "timezone": "Mars/Olympus"})
    assert list((mini.root / "workflows").iterdir()) == []
    path = create(parameters={"n": 5}, schedule={"cron": "0 6 * * *", "timezone": None})
    workflow, problems = check_file(path, mini.root)
    assert problems == [] and workflow.tasks[0].key == "p"
    assert workflow.tasks[0].parameters == {"n": 5}
    with pytest.raises(Conflict, match="already exists"):
        create()
    mini.write("name: taken\ntasks:\n  - {key: a, notebook: notebooks/x.ipynb}\n", "other")
    with pytest.raises(Conflict, match="already defines a workflow named 'taken'"):
        create("taken")


def test_a_task_is_added_with_checks_and_the_file_only_changes_when_all_is_well(mini):
    project = _project(mini)
    path = mini.write(COMMENTED.replace("notebooks/y", "notebooks/x"), "nightly")
    before = path.read_bytes()
    cases = [
        (dict(key="clean"), Conflict, "already has a task 'clean'"),
        (dict(depends_on=["ingest", "nope"]), UsageError, "has no task 'nope'"),
        (dict(key="a b"), UsageError, "key: 'a b'"),
        (dict(parameters={"zz": 1}), UsageError, "declares no parameter 'zz'"),
        (
            dict(parameters={"s": "{{tasks.nope.values.x}}"}),
            WorkflowFileError,
            "unknown task|not upstream|no task",
        ),
    ]
    for kw, error, message in cases:
        kw.setdefault("parameters", {})
        kw.setdefault("depends_on", [])
        with pytest.raises(error, match=message):
            authoring.add_notebook_task(project, "nightly", "notebooks/p.ipynb", **kw)
        assert path.read_bytes() == before
    authoring.add_notebook_task(
        project, "nightly", "notebooks/p.ipynb", parameters={"n": 2}, depends_on=["clean"]
    )
    workflow, problems = check_file(path, mini.root)
    assert problems == []
    assert [t.key for t in workflow.tasks] == ["ingest", "clean", "p"]
    assert [e.task for e in workflow.tasks[-1].depends_on] == ["clean"]
    assert "# the cleaning step" in path.read_text()


def test_a_notebook_run_file_is_kept_per_distinct_text(mini, monkeypatch):
    monkeypatch.delenv("NBFLOW_HOME", raising=False)
    project = _project(mini)
    one, name = authoring.notebook_run_file(project, "notebooks/p.ipynb", {"n": 1})
    again, _ = authoring.notebook_run_file(project, "notebooks/p.ipynb", {"n": 1})
    other, _ = authoring.notebook_run_file(project, "notebooks/p.ipynb", {"n": "1"})
    assert name == "notebook-p" and one == again != other
    assert one.parent == mini.root / ".nbflow" / "notebooks"
    assert check_file(one, mini.root)[0].tasks[0].parameters == {"n": 1}
    assert check_file(other, mini.root)[0].tasks[0].parameters == {"n": "1"}


def test_values_from_the_lab_are_checked_against_declared_types(mini):
    project = _project(mini)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "count: int = 0\nlabel = 'x'  # no declared type", metadata={"tags": ["parameters"]}
        )
    ]
    nbformat.write(nb, str(mini.root / "notebooks" / "typed.ipynb"))
    with pytest.raises(UsageError) as info:
        authoring.checked_notebook(project, "notebooks/typed.ipynb", {"count": "abc"})
    assert str(info.value) == "parameters.count: expected int, got 'abc' (str)"
    assert authoring.checked_notebook(
        project, "notebooks/typed.ipynb", {"count": 3, "label": 4}
    ) == ("notebooks/typed.ipynb")
