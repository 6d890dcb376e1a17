"""Values between tasks: glue, references, conditions on glued values and for_each."""

from __future__ import annotations

import pytest
import scrapbook as sb

from nbflow import api
from nbflow.workflows.project import Project

pytestmark = pytest.mark.kernel


def run(project, name, **kw):
    return api.run(Project(project.root), name, **kw)


def task(doc, key):
    return next(t for t in doc["tasks"] if t["key"] == key)


def test_glued_values_of_every_kind_are_stored_with_the_attempt(project):
    project.workflow("glue", "tasks:\n  - {key: g, notebook: notebooks/glue_values.ipynb}\n")
    doc = run(project, "glue")
    assert doc["state"] == "success", doc
    expected = {
        "count": 42,
        "rate": 0.02,
        "label": 'north "quoted"',
        "regions": ["eu", "us", "apac"],
        "config": {"a": 1, "b": [True, None]},
        "records": [{"region": "eu", "total": 1.5}, {"region": "us", "total": 2.0}],
        "shown": 7,  # display=True also keeps the data
        "own_int": 5,
        "own_list": [{"name": "a"}, {"name": "b"}],
        "own_shown": "visible",
    }
    g = task(doc, "g")
    assert g["values"] == expected
    assert g["attempts"][0]["values"] == expected
    # scrapbook reads what nbflow's helper wrote, and the same values, except where its own
    # reader lets the display half of glue(display=True) overwrite the data (known-pitfalls).
    scraps = sb.read_notebook(str(project.root / g["attempts"][0]["artifact"])).scraps
    read = {name: scrap.data for name, scrap in scraps.items()}
    assert read == {**expected, "shown": None, "own_shown": None}


def test_none_a_dataframe_and_a_papermill_record_are_values_scrapbook_still_reads(project):
    project.workflow(
        "kinds", "tasks:\n  - {key: g, notebook: notebooks/glue_none_table_record.ipynb}\n"
    )
    doc = run(project, "kinds")
    g = task(doc, "g")
    assert g["state"] == "success", g["message"]
    assert g["values"] == {
        "nothing": None,
        "digits": "123",
        "frame": [{"region": "eu", "total": 1.5}, {"region": "us", "total": 2.0}],
        "legacy": 7,
    }
    # The whole notebook stays readable to scrapbook, None and text as nbflow read them.
    scraps = sb.read_notebook(str(project.root / g["attempts"][0]["artifact"])).scraps
    assert scraps["nothing"].data is None
    assert scraps["digits"].data == "123"
    assert scraps["frame"].data.to_dict("records") == g["values"]["frame"]


@pytest.mark.parametrize("notebook", ["glue_big", "glue_big_own"])
def test_a_value_over_48_kib_is_refused_naming_the_value(project, notebook):
    project.workflow("big", f"tasks:\n  - {{key: g, notebook: notebooks/{notebook}.ipynb}}\n")
    doc = run(project, "big")
    g = task(doc, "g")
    assert g["state"] == "failed"
    assert "value 'huge' is 58 KiB; values are limited to 48 KiB" in g["message"]
    assert g["values"] == {}


def test_references_resolve_with_types_and_aliases(project):
    project.workflow(
        "refs",
        """
        parameters: {region: eu, limit: 3, day: "{{run.trigger.time.iso_date}}"}
        tasks:
          - {key: g, notebook: notebooks/glue_values.ipynb}
          - key: r
            notebook: notebooks/receive.ipynb
            depends_on: [g]
            parameters:
              received:
                count: "{{tasks.g.values.count}}"
                regions: "{{ tasks.g.values.regions }}"
                config: "{{tasks.g.values.config}}"
                text: "{{tasks.g.values.count}} rows in {{params.region}}: {{tasks.g.values.regions}}"
                state: "{{tasks.g.result_state}}"
                limit: "{{params.limit}}"
                alias: "{{job.parameters.limit}}"
                bracket: "{{ job.parameters.[region] }}"
                run_id: "{{run.id}}"
                job_run_id: "{{job.run_id}}"
                workflow: "{{run.workflow}}"
                job_name: "{{job.name}}"
                trigger: "{{run.trigger.type}}"
                day: "{{params.day}}"
                start_year: "{{run.start_time.year}}"
                weekday: "{{job.start_time.is_weekday}}"
                key: "{{task.key}}"
                name: "{{task.name}}"
                attempt: "{{task.attempt}}"
                repairs: "{{run.repair_count}}"
        """,
    )
    doc = run(project, "refs")
    assert doc["state"] == "success", doc
    got = task(doc, "r")["values"]["received"]
    start = doc["start_time"]
    assert got == {
        "count": 42,
        "regions": ["eu", "us", "apac"],
        "config": {"a": 1, "b": [True, None]},
        "text": '42 rows in eu: ["eu", "us", "apac"]',
        "state": "success",
        "limit": 3,
        "alias": 3,
        "bracket": "eu",
        "run_id": doc["id"],
        "job_run_id": doc["id"],
        "workflow": "refs",
        "job_name": "refs",
        "trigger": "manual",
        "day": doc["trigger"]["time"][:10]
        if doc["trigger"]["time"].endswith("+00:00")
        else got["day"],
        "start_year": int(start[:4]),
        "weekday": got["weekday"],
        "key": "r",
        "name": "r",
        "attempt": 1,
        "repairs": 0,
    }
    assert isinstance(got["weekday"], bool)
    assert len(got["day"]) == 10 and got["day"][4] == "-"


def test_conditions_branch_on_glued_values_both_ways(project):
    project.workflow(
        "quality",
        """
        parameters: {threshold: 0.05}
        tasks:
          - {key: g, notebook: notebooks/glue_values.ipynb}
          - key: good
            condition: {left: "{{tasks.g.values.rate}}", op: "<", right: "{{params.threshold}}"}
            depends_on: [g]
          - {key: publish, notebook: notebooks/ok.ipynb, depends_on: [{task: good, outcome: true}]}
          - {key: quarantine, notebook: notebooks/ok.ipynb, depends_on: [{task: good, outcome: false}]}
          - key: cleanup
            notebook: notebooks/ok.ipynb
            depends_on: [publish, quarantine]
            run_if: all_done
        """,
    )
    doc = run(project, "quality")
    states = {t["key"]: t["state"] for t in doc["tasks"]}
    assert states == {
        "g": "success",
        "good": "success",
        "publish": "success",
        "quarantine": "excluded",
        "cleanup": "success",
    }
    assert task(doc, "good")["outcome"] is True
    doc = run(project, "quality", overrides={"threshold": 0.01})
    states = {t["key"]: t["state"] for t in doc["tasks"]}
    assert states["publish"] == "excluded" and states["quarantine"] == "success"
    assert task(doc, "good")["outcome"] is False
    text = project.cli("show", str(doc["id"])).stdout
    assert "outcome=false" in text


def test_an_ordering_condition_on_text_fails_naming_both_values(project):
    project.workflow(
        "badcond",
        """
        tasks:
          - {key: g, notebook: notebooks/glue_values.ipynb}
          - key: c
            condition: {left: "{{tasks.g.values.label}}", op: ">", right: "b"}
            depends_on: [g]
        """,
    )
    doc = run(project, "badcond")
    c = task(doc, "c")
    assert c["state"] == "failed"
    assert "cannot compare 'north \"quoted\"' > 'b'" in c["message"]


def test_for_each_over_a_literal_list_with_concurrency(project):
    project.workflow(
        "fan",
        """
        tasks:
          - key: each
            notebook: notebooks/receive.ipynb
            for_each: {inputs: [{name: a}, {name: b}, {name: c}], concurrency: 2}
            parameters: {received: "{{input.name}}-{{task.key}}"}
        """,
    )
    doc = run(project, "fan", parallel=4)
    each = task(doc, "each")
    assert each["state"] == "success"
    iterations = each["iterations"]
    assert [(i["index"], i["input"], i["state"]) for i in iterations] == [
        (0, {"name": "a"}, "success"),
        (1, {"name": "b"}, "success"),
        (2, {"name": "c"}, "success"),
    ]
    assert [i["values"]["received"] for i in iterations] == ["a-each", "b-each", "c-each"]
    for i in iterations:
        assert (
            i["attempts"][0]["artifact"] == f".nbflow/runs/fan/1/each/{i['index']}/attempt-1.ipynb"
        )
        assert (project.root / i["attempts"][0]["artifact"]).is_file()
    # Never more than two at once: each iteration starts after one of the earlier two ended.
    spans = sorted(
        (i["attempts"][0]["start_time"], i["attempts"][0]["end_time"]) for i in iterations
    )
    assert spans[2][0] >= min(spans[0][1], spans[1][1])
    assert spans[1][0] < spans[0][1]  # but two did run side by side


def test_for_each_over_a_glued_list_and_an_empty_one(project):
    project.workflow(
        "glued",
        """
        parameters: {nothing: []}
        tasks:
          - {key: g, notebook: notebooks/glue_values.ipynb}
          - key: per_region
            notebook: notebooks/receive.ipynb
            depends_on: [g]
            for_each: {inputs: "{{tasks.g.values.regions}}", concurrency: 3}
            parameters: {received: "{{input}}"}
          - key: none
            notebook: notebooks/receive.ipynb
            for_each: {inputs: "{{params.nothing}}"}
            parameters: {received: "{{input}}"}
          - {key: after, notebook: notebooks/ok.ipynb, depends_on: [per_region, none]}
        """,
    )
    code, doc = project.cli_json("run", "glued")
    assert code == 0, doc
    per_region = task(doc, "per_region")
    assert [i["values"]["received"] for i in per_region["iterations"]] == ["eu", "us", "apac"]
    none = task(doc, "none")
    assert none["state"] == "success" and none.get("iterations", []) == []
    assert task(doc, "after")["state"] == "success"


def test_a_failing_iteration_fails_the_task_and_keeps_the_others(project):
    project.workflow(
        "mixed",
        """
        tasks:
          - key: each
            notebook: notebooks/fail.ipynb
            for_each: {inputs: [fine, boom], concurrency: 2}
            parameters: {message: "{{input}}"}
          - {key: after, notebook: notebooks/ok.ipynb, depends_on: [each]}
        """,
    )
    doc = run(project, "mixed")
    each = task(doc, "each")
    assert each["state"] == "failed"
    assert [i["state"] for i in each["iterations"]] == ["failed", "failed"]
    assert [i["attempts"][0]["error"]["evalue"] for i in each["iterations"]] == ["fine", "boom"]
    assert task(doc, "after")["state"] == "upstream_failed"


def test_validate_catches_a_wrong_reference_before_anything_runs(project):
    project.workflow(
        "wrong",
        """
        tasks:
          - {key: g, notebook: notebooks/glue_values.ipynb}
          - key: r
            notebook: notebooks/receive.ipynb
            parameters: {received: "{{tasks.g.values.count}}"}
        """,
    )
    proc = project.cli("run", "wrong")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "workflows/wrong.yaml:6: tasks[r].parameters.received: {{tasks.g.values.count}}: "
        "task 'g' is not upstream of 'r' (add it to depends_on)"
    )
    assert not (project.root / ".nbflow" / "runs").exists()
