"""The command line as a user meets it: exit codes, JSON documents, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nbflow import api
from nbflow.core.errors import UsageError
from nbflow.history import Store
from nbflow.workflows.project import Project

GOOD = "tasks:\n  - {key: a, notebook: notebooks/ok.ipynb, parameters: {x: 3}}\n"


def test_validate_lists_every_problem_with_file_and_line_and_exit_code_2(project):
    project.workflow("good", GOOD)
    project.workflow(
        "bad",
        """
        name: bad
        tasks:
          - key: a
            notebook: notebooks/ok.ipynb
            retrys: 1
          - key: b
            notebook: notebooks/missing.ipynb
            depends_on: [a, nowhere]
        """,
    )
    proc = project.cli("validate")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "workflows/bad.yaml:6: unknown key 'retrys' in tasks[a] (did you mean 'retries'?)",
        "workflows/bad.yaml:7: task 'b' depends on unknown task 'nowhere'",
        "workflows/bad.yaml:7: task 'b': notebook file 'notebooks/missing.ipynb' not found",
    ]
    assert "Traceback" not in proc.stderr
    proc = project.cli("validate", "workflows/good.yaml")
    assert proc.returncode == 0
    assert "good.yaml: ok" in proc.stdout


def test_validate_reports_yaml_errors_at_their_line(project):
    project.workflow("broken", "tasks:\n  - key: a\n    notebook: [unclosed\n")
    proc = project.cli("validate")
    assert proc.returncode == 2
    assert proc.stderr.startswith("workflows/broken.yaml:4: invalid YAML")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nowhere"], "no workflow 'nowhere' in workflows/ (found: good)"),
        (["run", "good", "-p", "x"], "-p 'x': expected NAME=VALUE"),
        (
            ["run", "good", "-p", "y=1"],
            "workflow 'good' has no parameter 'y' (its parameters: none)",
        ),
        (["show", "999"], "no run 999 in .nbflow"),
        (["params", "notebooks/nope.ipynb"], "no such notebook"),
    ],
)
def test_usage_errors_are_one_line_and_exit_code_2(project, args, message):
    project.workflow("good", GOOD)
    proc = project.cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_bad_workflow_file_on_run_is_refused_and_history_is_kept(project):
    project.workflow("good", GOOD)
    assert project.cli("run", "good").returncode == 0
    db = project.root / ".nbflow" / "history.db"
    project.workflow("good", GOOD.replace("notebook:", "notebok:"))
    proc = project.cli("run", "good")
    assert proc.returncode == 2
    assert "workflows/good.yaml:2: unknown key 'notebok'" in proc.stderr
    store = Store(f"sqlite:///{db}")
    assert [r["id"] for r in store.list_runs()] == [1]


@pytest.mark.kernel
def test_json_documents_of_run_runs_and_show(project):
    project.workflow("good", GOOD)
    code, doc = project.cli_json("run", "good")
    assert code == 0
    assert set(doc) >= {
        "id",
        "workflow",
        "state",
        "trigger",
        "parameters",
        "start_time",
        "end_time",
        "repair_count",
        "tasks",
    }
    assert doc["trigger"]["type"] == "manual"
    assert doc["trigger"]["time"][-6] in "+-"  # ISO 8601 with offset
    (task,) = doc["tasks"]
    assert task["key"] == "a" and task["state"] == "success"
    assert task["values"] == {"doubled": 6}
    (attempt,) = task["attempts"]
    assert set(attempt) >= {"number", "state", "start_time", "end_time", "artifact", "error"}
    assert attempt["error"] is None
    assert (project.root / attempt["artifact"]).is_file()
    code, shown = project.cli_json("show", str(doc["id"]))
    assert shown == doc
    project.cli("run", "good")
    code, listed = project.cli_json("runs")
    assert [r["id"] for r in listed] == [2, 1]
    text = project.cli("show", "1").stdout
    assert "value doubled = 6" in text


@pytest.mark.kernel
def test_progress_lines_when_not_on_a_terminal(project):
    project.workflow("good", GOOD)
    proc = project.cli("run", "good")
    assert proc.returncode == 0
    lines = proc.stderr.splitlines()
    assert any(line.endswith("  a  running") for line in lines)
    assert any("  a  success  (" in line for line in lines)
    assert "run 1 of good: success" in proc.stdout


@pytest.mark.kernel
def test_history_is_readable_while_a_run_writes_it(project):
    project.workflow("good", GOOD)
    seen = []

    class Peek:
        def run_changed(self, run_id, state, at):
            pass

        def task_changed(self, key, state, at, attempt, message):
            if state.value == "running":
                reader = Store(f"sqlite:///{project.root / '.nbflow' / 'history.db'}")
                run = reader.get_run(1)
                seen.append((run["state"], run["tasks"][0]["state"]))
                reader.close()

    doc = api.run(Project(project.root), "good", observer=Peek())
    assert doc["state"] == "success"
    assert seen == [("running", "running")]
    with Store(f"sqlite:///{project.root / '.nbflow' / 'history.db'}").engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_params_lists_a_notebooks_parameters(project):
    proc = project.cli("params", "notebooks/echo.ipynb", "--json")
    assert proc.returncode == 0
    found = {p["name"]: p for p in json.loads(proc.stdout)}
    assert found["code"]["default"] == "000" and found["code"]["type"] == "str"
    assert found["count"]["help"] == "an int"


@pytest.mark.kernel
def test_a_workflow_file_of_another_project_runs_in_that_project(project, tmp_path_factory):
    project.workflow("good", GOOD)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    proc = project.cli("run", str(project.root / "workflows" / "good.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "nbflow.cli", "run", str(project.root / "workflows" / "good.yaml")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (elsewhere / ".nbflow").exists()
    assert [r["id"] for r in api.list_runs(Project(project.root))] == [2, 1]


TYPED = """
parameters: {count: 1, label: x}
tasks:
  - {key: t, notebook: notebooks/typed.ipynb}
"""


@pytest.mark.parametrize(
    "param, message",
    [
        (
            "count=abc",
            "nbflow: parameter 'count': notebooks/typed.ipynb (task 't') declares count: int, "
            "got 'abc' (str)",
        ),
        ("count=2.5", "declares count: int, got 2.5 (float)"),
        ("cuont=3", "nbflow: workflow 'typed' has no parameter 'cuont' (did you mean 'count'?)"),
        (
            "label={{params.count}}",
            "nbflow: parameter 'label': {{params.count}}: workflow parameters may refer to run.* "
            "only (write \\{{ for a literal '{{')",
        ),
        ("label=caf\udcff", "nbflow: -p label: the text holds a lone surrogate (U+DCFF"),
    ],
)
def test_run_refuses_bad_parameter_values_before_anything_is_recorded(project, param, message):
    project.workflow("typed", TYPED)
    proc = project.cli("run", "typed", "-p", param)  # undecodable bytes arrive as surrogates
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    db = project.root / ".nbflow" / "history.db"
    assert not db.exists() or Store(f"sqlite:///{db}").list_runs() == []


def test_run_suggests_the_closest_workflow_name(project):
    project.workflow("demo", GOOD)
    proc = project.cli("run", "demoo")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "nbflow: no workflow 'demoo' in workflows/ (did you mean 'demo'?)"


def test_validate_reports_every_kind_of_problem_in_one_pass(project):
    project.workflow(
        "bad",
        """
        parameters: {count: many}
        schedule: {cron: "0 6 * * 8"}
        tasks:
          - key: t
            notebook: notebooks/typed.ipynb
            retrys: 1
            parameters: {lable: "{{tasks.nowhere.values.v}}"}
          - key: c
            condition: {left: 1, op: "=<", right: 2}
          - key: child
            workflow: typo
        """,
    )
    project.workflow("typed", TYPED)
    proc = project.cli("validate")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "workflows/bad.yaml:2: parameters.count: notebooks/typed.ipynb (task 't') declares "
        "count: int, got 'many' (str)",
        "workflows/bad.yaml:3: schedule.cron: invalid cron expression '0 6 * * 8': "
        "the day-of-week field '8' is not valid (it takes 0-7 or SUN-SAT)",
        "workflows/bad.yaml:7: unknown key 'retrys' in tasks[t] (did you mean 'retries'?)",
        "workflows/bad.yaml:8: tasks[t].parameters.lable: {{tasks.nowhere.values.v}}: "
        "unknown task 'nowhere'",
        "workflows/bad.yaml:8: tasks[t].parameters.lable: notebooks/typed.ipynb declares no "
        "parameter 'lable' (did you mean 'label'?)",
        "workflows/bad.yaml:10: tasks[c].condition.op: '=<' is not one of ==, !=, >, >=, <, <= "
        "(did you mean '<='?)",
        "workflows/bad.yaml:11: task 'child': no workflow 'typo' in workflows/ (did you mean "
        "'typed'?)",
    ]


def test_params_reads_a_cell_with_ipython_syntax(project):
    proc = project.cli("params", "notebooks/ipython_params.ipynb")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "listing: ? = !echo one two",
        "region: str = 'default'  # pushed down from the workflow",
        "count: int = 0  # a whole number",
    ]


def test_a_detached_repair_refuses_bad_parameters_before_it_starts(project):
    project.workflow(
        "cmd",
        """
        parameters: {count: 1}
        tasks:
          - {key: t, command: ["false"]}
        """,
    )
    doc = api.run(Project(project.root), "cmd")
    assert doc["state"] == "failed"
    with pytest.raises(UsageError, match=r"workflow 'cmd' has no parameter 'cuont' \(did you"):
        api.repair_detached(Project(project.root), doc["id"], overrides={"cuont": 2})
    assert not (project.root / ".nbflow" / "detached.log").exists()  # nothing was started
