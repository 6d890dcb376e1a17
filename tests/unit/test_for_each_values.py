"""A for_each task's results as later tasks, `validate` and the run document see them."""

from __future__ import annotations

from nbflow.execution.runner import iteration_values
from nbflow.review.rundoc import run_document


def test_values_are_one_list_per_name_in_input_order_with_none_where_missing():
    per_iteration = [{"n": 1, "label": "a"}, {"n": 2}, {}, {"extra": True, "n": 4}]
    assert iteration_values(per_iteration) == {
        "n": [1, 2, None, 4],
        "label": ["a", None, None, None],
        "extra": [None, None, None, True],
    }
    assert iteration_values([]) == {}


def row(key: str, **fields) -> dict:
    base = {"key": key, "kind": "notebook", "state": "success", "depends_on": [], "attempts": []}
    return {**base, "task_values": {}, "output": None, "input": None, **fields}


def run_with(*tasks: dict) -> dict:
    return {
        "id": 1,
        "workflow": "wf",
        "workflow_path": "workflows/wf.yaml",
        "state": "success",
        "trigger_type": "manual",
        "trigger_time": 0.0,
        "tasks": list(tasks),
    }


def test_an_empty_for_each_has_an_empty_list_of_iterations():
    doc = run_document(run_with(row("empty", input=[]), row("plain")))
    empty, plain = doc["tasks"]
    assert empty["iterations"] == []
    assert "iterations" not in plain


def test_iterations_are_listed_under_their_task():
    doc = run_document(
        run_with(
            row("each", input=["x"], task_values={"n": [1]}),
            row("each[0]", parent_key="each", iteration=0, input="x", task_values={"n": 1}),
        )
    )
    (each,) = doc["tasks"]
    assert each["values"] == {"n": [1]}
    assert [(i["index"], i["input"], i["values"]) for i in each["iterations"]] == [
        (0, "x", {"n": 1})
    ]


FAN = """
tasks:
  - key: q
    sql: {query: "select 1 as n"}
    for_each: {inputs: [1, 2]}
  - key: after
    notebook: notebooks/x.ipynb
    depends_on: [q]
    parameters: {n: "{{tasks.q.values.n}}", rows: "{{tasks.q.output.rows}}"}
"""


def test_validate_refuses_the_output_of_a_for_each_task_and_accepts_its_values(mini):
    problems = mini.problems(FAN)
    assert problems == [
        "8: tasks[after].parameters.rows: {{tasks.q.output.rows}}: a for_each task keeps no "
        "output of its own; its iterations' values are lists in tasks.q.values.NAME"
    ]
    mini.load(FAN.replace(', rows: "{{tasks.q.output.rows}}"', ""))
