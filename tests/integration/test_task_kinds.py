"""Script, command, SQL and child-workflow tasks, and `nbflow logs`."""

from __future__ import annotations

import shutil
import sys

import nbformat
import pytest

from nbflow import api
from nbflow.workflows.project import Project
from tests.conftest import REPO


@pytest.fixture
def kinds(project):
    shutil.copytree(REPO / "tests" / "scripts", project.root / "scripts")
    (project.root / "queries").mkdir()
    return project


def task(doc, key):
    return next(t for t in doc["tasks"] if t["key"] == key)


def test_script_task_args_env_values_and_logs(kinds):
    kinds.workflow(
        "scripts",
        f"""
        parameters: {{who: Ada}}
        tasks:
          - key: greet
            script: scripts/report_args.py
            args: ["--name", "{{{{params.who}}}}", "x y", "$HOME;ls"]
            env: {{NBFLOW_TEST_VAR: set}}
            python: {sys.executable}
          - key: after
            notebook: notebooks/receive.ipynb
            depends_on: [greet]
            parameters: {{received: "{{{{tasks.greet.values.rest}}}}"}}
          - key: broken
            script: scripts/report_args.py
            args: ["--exit", 3]
        """,
    )
    code, doc = kinds.cli_json("run", "scripts")
    assert code == 1
    greet = task(doc, "greet")
    assert greet["state"] == "success"
    assert greet["values"]["name"] == "Ada"
    assert greet["values"]["rest"] == ["x y", "$HOME;ls"]  # data, never a shell
    assert greet["values"]["env"] == "set"
    assert greet["values"]["python"] == sys.executable
    assert task(doc, "after")["values"]["received"] == ["x y", "$HOME;ls"]
    log = kinds.cli("logs", "1", "greet")
    assert log.returncode == 0
    assert "hello Ada" in log.stdout and "to stderr" in log.stdout
    assert f"cwd={kinds.root / 'scripts'}" in log.stdout
    broken = task(doc, "broken")
    assert broken["state"] == "failed"
    assert broken["message"].startswith("ProcessError: exited with code 3: hello world")
    assert (
        kinds.cli("logs", "1", "broken", "--path").stdout.strip()
        == ".nbflow/runs/scripts/1/broken/attempt-1.log"
    )


def test_command_task_as_list_and_as_a_string_never_through_a_shell(kinds):
    kinds.workflow(
        "commands",
        f"""
        tasks:
          - key: as_list
            command: ["{sys.executable}", "-c", "import sys; print(sys.argv[1:])", "a b", "$HOME"]
          - key: as_string
            command: "{sys.executable} -c 'import sys; print(sys.argv[1:])' 'c d' ';' '|' false"
          - key: fails
            command: ["{sys.executable}", "-c", "import sys; sys.exit('bad input')"]
        """,
    )
    doc = api.run(Project(kinds.root), "commands")
    assert task(doc, "as_list")["state"] == "success"
    assert api.logs(Project(kinds.root), 1, "as_list")[1] == "['a b', '$HOME']\n"
    assert api.logs(Project(kinds.root), 1, "as_string")[1] == "['c d', ';', '|', 'false']\n"
    assert task(doc, "fails")["message"] == "ProcessError: exited with code 1: bad input"


def test_command_arguments_from_references_of_any_type_are_passed_as_text(kinds):
    kinds.workflow(
        "typed",
        f"""
        parameters: {{n: 3, flag: false, xs: [1, two], nothing: null}}
        tasks:
          - key: as_list
            command:
              - "{sys.executable}"
              - "-c"
              - "import sys; print(sys.argv[1:])"
              - "{{{{run.id}}}}"
              - "{{{{params.n}}}}"
              - "{{{{params.flag}}}}"
              - "{{{{params.xs}}}}"
              - "{{{{params.nothing}}}}"
          - key: as_string
            command: "{{{{params.n}}}}"
        """,
    )
    doc = api.run(Project(kinds.root), "typed")
    assert task(doc, "as_list")["state"] == "success", task(doc, "as_list")["message"]
    log = api.logs(Project(kinds.root), 1, "as_list")[1]
    assert log == "['1', '3', 'false', '[1, \"two\"]', '']\n"
    # A command that is one reference to a number runs that program, which does not exist.
    as_string = task(doc, "as_string")
    assert as_string["message"].startswith("FileNotFoundError: cannot start 3:")


def test_a_sql_tasks_own_parameters_are_bound_with_its_sql_parameters(kinds):
    kinds.workflow(
        "bound",
        """
        parameters: {region: North}
        tasks:
          - key: q
            parameters: {region: "{{params.region}}", n: 2, both: task}
            sql:
              query: "select :region as region, :n * 10 as n, :both as both"
              parameters: {both: sql}
        """,
    )
    doc = api.run(Project(kinds.root), "bound")
    q = task(doc, "q")
    assert q["state"] == "success", q["message"]
    assert q["output"]["rows"] == [{"region": "North", "n": 20, "both": "sql"}]
    assert {k: v for k, v in q["attempts"][0]["parameters"].items() if k != "connection"} == {
        "region": "North",
        "n": 2,
        "both": "sql",
    }


def test_a_for_each_tasks_values_are_lists_in_input_order_downstream(kinds):
    kinds.workflow(
        "fan",
        f"""
        parameters: {{none: []}}
        tasks:
          - key: each
            script: scripts/report_args.py
            python: {sys.executable}
            for_each: {{inputs: [c, a, b], concurrency: 3}}
            args: ["--name", "{{{{input}}}}"]
          - key: again
            script: scripts/report_args.py
            python: {sys.executable}
            depends_on: [each]
            for_each: {{inputs: "{{{{tasks.each.values.name}}}}"}}
            args: ["--name", "{{{{input}}}}-again"]
          - key: empty
            script: scripts/report_args.py
            python: {sys.executable}
            for_each: {{inputs: "{{{{params.none}}}}"}}
        """,
    )
    code, doc = kinds.cli_json("run", "fan")
    assert code == 0, doc
    each = task(doc, "each")
    assert each["values"]["name"] == ["c", "a", "b"]
    assert each["values"]["rest"] == [[], [], []]
    assert [i["input"] for i in task(doc, "again")["iterations"]] == ["c", "a", "b"]
    assert task(doc, "again")["values"]["name"] == ["c-again", "a-again", "b-again"]
    empty = task(doc, "empty")
    assert empty["state"] == "success"
    assert empty["iterations"] == [] and empty["values"] == {}


SQL = """
create table if not exists sales (region text, revenue real);
delete from sales;
insert into sales values ('North', 10.5), ('South', 20.0), ('North', 4.5);
-- the last statement's rows are the task's output
select region, sum(revenue) as total from sales
where region != :excluded
group by region order by total desc;
"""


@pytest.mark.kernel
def test_sql_task_on_the_embedded_database_feeds_later_tasks(kinds):
    (kinds.root / "queries" / "totals.sql").write_text(SQL)
    kinds.workflow(
        "sql",
        """
        parameters: {skip: "x'); drop table sales; --"}
        tasks:
          - key: totals
            sql: {file: queries/totals.sql, parameters: {excluded: "{{params.skip}}"}}
          - key: count
            sql: {query: "select count(*) as n from sales"}
            depends_on: [totals]
          - key: use
            notebook: notebooks/receive.ipynb
            depends_on: [totals, count]
            parameters:
              received:
                rows: "{{tasks.totals.output.rows}}"
                best: "{{tasks.totals.output.first_row.region}}"
                n: "{{tasks.count.output.first_row.n}}"
        """,
    )
    code, doc = kinds.cli_json("run", "sql")
    assert code == 0, doc
    totals = task(doc, "totals")
    assert totals["output"]["rows"] == [
        {"region": "South", "total": 20.0},
        {"region": "North", "total": 15.0},
    ]
    assert totals["output"]["columns"] == ["region", "total"]
    assert task(doc, "use")["values"]["received"] == {
        "rows": totals["output"]["rows"],
        "best": "South",
        "n": 3,
    }
    assert (kinds.root / ".nbflow" / "warehouse.db").is_file()
    log = kinds.cli("logs", "1", "totals").stdout
    assert "-- statement 4: 2 rows" in log and "-- statement 1: done" in log


def test_a_bad_query_fails_with_the_databases_message_and_rolls_back(kinds):
    kinds.workflow(
        "badsql",
        """
        tasks:
          - key: setup
            sql: {query: "create table t (x integer)", connection: "sqlite:///build/w.db"}
          - key: half
            depends_on: [setup]
            sql:
              connection: "sqlite:///build/w.db"
              query: "insert into t values (1); select nope from t"
          - key: check
            depends_on: [half]
            run_if: all_done
            sql: {query: "select count(*) as n from t", connection: "sqlite:///build/w.db"}
        """,
    )
    (kinds.root / "build").mkdir()
    doc = api.run(Project(kinds.root), "badsql")
    half = task(doc, "half")
    assert half["state"] == "failed"
    assert half["message"] == "OperationalError: no such column: nope"
    assert task(doc, "check")["output"]["first_row"] == {"n": 0}  # the insert was rolled back


def test_sql_on_a_real_postgresql_server(kinds, postgres_url):
    kinds.workflow(
        "pg",
        f"""
        tasks:
          - key: q
            sql:
              connection: "{postgres_url}"
              query: >
                create temporary table t (d date, n numeric);
                insert into t values ('2026-11-25', 1.5), ('2026-11-26', 2);
                select d, n, :label as label from t order by d
              parameters: {{label: "it's"}}
          - key: bad
            sql: {{connection: "{postgres_url}", query: "select * from missing_table"}}
        """,
    )
    doc = api.run(Project(kinds.root), "pg")
    q = task(doc, "q")
    assert q["state"] == "success", f"{q['state']}: {q['message']}"  # says why when it is not
    assert task(doc, "q")["output"]["rows"] == [
        {"d": "2026-11-25", "n": 1.5, "label": "it's"},
        {"d": "2026-11-26", "n": 2, "label": "it's"},
    ]
    bad = task(doc, "bad")
    assert bad["state"] == "failed"
    assert bad["message"].startswith('UndefinedTable: relation "missing_table" does not exist')


CHILD = """
parameters: {message: from child default}
tasks:
  - key: inner
    notebook: notebooks/fail.ipynb
    parameters: {message: "{{params.message}}"}
    run_if: all_done
"""


@pytest.mark.kernel
def test_workflow_task_runs_a_child_run_linked_to_its_parent(kinds):
    kinds.workflow(
        "child", CHILD.replace("fail.ipynb", "receive.ipynb").replace('message: "', 'received: "')
    )
    kinds.workflow("failing_child", CHILD)
    kinds.workflow(
        "parent",
        """
        tasks:
          - key: call
            workflow: child
            parameters: {message: hello}
          - key: call_failing
            workflow: failing_child
        """,
    )
    code, doc = kinds.cli_json("run", "parent")
    assert code == 1
    call = task(doc, "call")
    assert call["state"] == "success"
    child_id = call["output"]["run_id"]
    child = api.show(Project(kinds.root), child_id)
    assert child["parent_run_id"] == doc["id"] and child["trigger"]["type"] == "workflow"
    assert child["workflow"] == "child"
    assert task(child, "inner")["values"]["received"] == "hello"
    failing = task(doc, "call_failing")
    assert failing["state"] == "failed"
    assert "ended failed" in failing["message"]


def test_validate_catches_unknown_child_workflows_and_cycles(kinds):
    kinds.workflow("a", "tasks:\n  - {key: call_b, workflow: b}\n")
    kinds.workflow("b", "tasks:\n  - {key: call_a, workflow: a}\n")
    kinds.workflow("c", "tasks:\n  - {key: call_x, workflow: nowhere}\n")
    proc = kinds.cli("validate")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert "workflows/c.yaml:2: task 'call_x': no workflow 'nowhere' in workflows/" in lines
    assert any(
        "workflows call each other in a cycle: a -> b -> a" in line
        or "workflows call each other in a cycle: b -> a -> b" in line
        for line in lines
    )


@pytest.mark.kernel
def test_logs_of_a_notebook_task_are_its_cell_outputs(kinds):
    kinds.workflow("nb", "tasks:\n  - {key: boom, notebook: notebooks/fail.ipynb}\n")
    api.run(Project(kinds.root), "nb")
    proc = kinds.cli("logs", "1", "boom")
    assert proc.returncode == 0
    assert proc.stdout.startswith("executed notebook: ")
    assert "ValueError: boom" in proc.stdout and "\x1b[" not in proc.stdout
    bad = kinds.cli("logs", "1", "boom", "--attempt", "7")
    assert bad.returncode == 2 and "has no attempt 7 (attempts: 1)" in bad.stderr


@pytest.mark.kernel
def test_logs_of_a_truncated_notebook_name_the_file_in_one_sentence(kinds):
    kinds.workflow("nb", "tasks:\n  - {key: fine, notebook: notebooks/ok.ipynb}\n")
    doc = api.run(Project(kinds.root), "nb")
    artifact = task(doc, "fine")["attempts"][0]["artifact"]
    path = kinds.root / artifact
    path.write_bytes(path.read_bytes()[:200])  # as a kill while papermill saves leaves it
    proc = kinds.cli("logs", "1", "fine")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"nbflow: {artifact}: the executed notebook is not complete JSON; it was probably cut "
        "off while being saved when its attempt was stopped\n"
    )


@pytest.mark.kernel
def test_an_error_only_printed_by_ipython_points_at_its_cell_in_show_and_logs(kinds):
    # papermill's own test notebook: a line magic that does not exist, then a print. IPython
    # prints the UsageError to stderr; papermill marks the cell failed below its banner.
    kinds.workflow("magic", "tasks:\n  - {key: m, notebook: notebooks/line_magic_error.ipynb}\n")
    doc = api.run(Project(kinds.root), "magic")
    (attempt,) = task(doc, "m")["attempts"]
    error = attempt["error"]
    assert attempt["state"] == "failed"
    assert error["cell_index"] == 2
    executed = nbformat.read(kinds.root / attempt["artifact"], as_version=4)
    assert executed.cells[2].source == "%undefined-line-magic"
    assert "UsageError: Line magic function `%undefined-line-magic` not found." in error["evalue"]
    log = kinds.cli("logs", "1", "m").stdout
    assert "--- cell 2 (In [1])\nUsageError: Line magic function" in log


@pytest.mark.kernel
def test_canceling_a_parent_cancels_its_child_run(kinds):
    import subprocess

    from tests.integration.test_failures import gone, kernel_pid, wait_for

    kinds.workflow("sleeper", "tasks:\n  - {key: nap, notebook: notebooks/sleepy.ipynb}\n")
    kinds.workflow("parent", "tasks:\n  - {key: call, workflow: sleeper}\n")
    runner = subprocess.Popen(
        [sys.executable, "-m", "nbflow.cli", "run", "parent"],
        cwd=kinds.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kernel = wait_for(lambda: kernel_pid(kinds.root / "notebooks" / "sleepy.pid"), "the kernel")
    proc = kinds.cli("cancel", "1")
    assert proc.returncode == 0, proc.stderr
    runner.communicate(timeout=120)
    parent = api.show(Project(kinds.root), 1)
    child = api.show(Project(kinds.root), 2)
    assert parent["state"] == "canceled" and task(parent, "call")["state"] == "canceled"
    assert child["state"] == "canceled" and task(child, "nap")["state"] == "canceled"
    assert child["parent_run_id"] == 1
    assert gone(kernel)
