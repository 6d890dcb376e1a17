"""Parameters arrive in the kernel with their types, by the precedence of semantics.md."""

from __future__ import annotations

import pytest

from nbflow import api
from nbflow.workflows.project import Project

pytestmark = pytest.mark.kernel

TRICKY = 'say "hi" \\ it\'s\nline two {{ not a ref'


def values(doc, key):
    return next(t for t in doc["tasks"] if t["key"] == key)["values"]


def test_values_keep_their_types_and_strings_arrive_intact(project):
    project.workflow(
        "types",
        """
        parameters:
          from_workflow: workflow value
          unused_by_notebook: 1
        tasks:
          - key: echo
            notebook: notebooks/echo.ipynb
            parameters:
              text: 'say "hi" \\ it''s'
              code: "007"
              count: 42
              ratio: 0.25
              flag: true
              nothing: null
              items: [1, "two", 3.5, false]
              mapping: {a: [1, 2], b: {c: null}}
              day: 2026-11-25
        """,
    )
    doc = api.run(Project(project.root), "types")
    assert doc["state"] == "success", doc
    received = values(doc, "echo")["received"]
    assert received == {
        "text": 'say "hi" \\ it\'s',
        "code": "007",
        "count": 42,
        "ratio": 0.25,
        "flag": True,
        "nothing": None,
        "items": [1, "two", 3.5, False],
        "mapping": {"a": [1, 2], "b": {"c": None}},
        "day": "2026-11-25",
        "from_workflow": "workflow value",
        "kept": "notebook default",
    }
    assert values(doc, "echo")["types"]["code"] == "str"
    assert values(doc, "echo")["types"]["day"] == "str"
    # Only parameters the notebook declares are pushed down from the workflow.
    injected = doc["tasks"][0]["attempts"][0]["parameters"]
    assert "unused_by_notebook" not in injected
    assert injected["from_workflow"] == "workflow value"


def test_cli_overrides_are_json_or_text_and_task_parameters_win(project):
    project.workflow(
        "over",
        """
        parameters: {text: from workflow, code: "1", from_workflow: w}
        tasks:
          - key: echo
            notebook: notebooks/echo.ipynb
            parameters: {from_workflow: task wins}
        """,
    )
    code, doc = project.cli_json(
        "run", "over", "-p", f"text={TRICKY}", "-p", "code=007", "-p", "from_workflow=ignored"
    )
    assert code == 0, doc
    received = values(doc, "echo")["received"]
    assert received["text"] == TRICKY  # quotes, backslash, newline and braces intact, never code
    assert received["code"] == "007"  # not JSON (leading zero), so text
    assert received["from_workflow"] == "task wins"
    assert doc["parameters"] == {"text": TRICKY, "code": "007", "from_workflow": "ignored"}
    code, doc = project.cli_json("run", "over", "-p", "code=[1, 2]", "-p", "text=3.5")
    received = values(doc, "echo")["received"]
    assert received["code"] == [1, 2]
    assert received["text"] == 3.5


def test_cwd_and_env(project):
    (project.root / "work").mkdir()
    project.workflow(
        "where",
        """
        defaults:
          env: {NBFLOW_TEST_VAR: from defaults}
        tasks:
          - {key: default_cwd, notebook: notebooks/where.ipynb}
          - key: own_cwd
            notebook: notebooks/where.ipynb
            cwd: work
            env: {NBFLOW_TEST_VAR: 42}
        """,
    )
    doc = api.run(Project(project.root), "where")
    assert doc["state"] == "success"
    assert values(doc, "default_cwd") == {
        "cwd": str(project.root / "notebooks"),
        "env": "from defaults",
    }
    assert values(doc, "own_cwd") == {"cwd": str(project.root / "work"), "env": "42"}


def test_a_parameters_cell_with_ipython_syntax_receives_the_workflow_values(project):
    project.workflow(
        "ipy",
        """
        parameters: {region: North}
        tasks:
          - key: ip
            notebook: notebooks/ipython_params.ipynb
            parameters: {count: 3}
        """,
    )
    doc = api.run(Project(project.root), "ipy")
    assert doc["state"] == "success", doc
    # region comes from the workflow: pushed down because the cell (`!`, `%env`) is read.
    assert values(doc, "ip")["received"] == {
        "region": "North",
        "count": 3,
        "listing": ["one two"],
        "env": "set",
    }
    assert doc["tasks"][0]["attempts"][0]["parameters"] == {"region": "North", "count": 3}


def test_cli_true_false_none_and_the_escape_for_a_literal_reference(project):
    project.workflow(
        "flags",
        """
        parameters: {received: x}
        tasks:
          - {key: r, notebook: notebooks/receive.ipynb}
        """,
    )
    for given, received, kind in [
        ("False", False, "bool"),  # as papermill's -p reads it: falsy in the notebook
        ("None", None, "NoneType"),
        ("\\{{run.id}} {{ not a ref", "{{run.id}} {{ not a ref", "str"),
    ]:
        code, doc = project.cli_json("run", "flags", "-p", f"received={given}")
        assert code == 0, doc
        assert values(doc, "r") == {"received": received, "kind": kind}
