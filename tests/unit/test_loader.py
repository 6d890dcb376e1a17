"""loader.check_file: every problem of a workflow file, as `FILE:LINE: message`, all at once."""

from __future__ import annotations

import time

import nbformat
import pytest

from nbflow.core.errors import Problem, WorkflowFileError
from nbflow.workflows import schema
from nbflow.workflows.loader import check_file, load_workflow
from nbflow.workflows.model import Edge

ONE_TASK = "tasks:\n  - key: a\n    notebook: notebooks/x.ipynb\n"

# Every key of the spec's example, plus the other task kinds (command, workflow).
FULL_EXAMPLE = """
name: daily_sales
description: Load, check and publish yesterday's sales.
parameters:
  region: eu
  day: "{{run.trigger.time.iso_date}}"
schedule:
  cron: "0 2 * * *"
  timezone: Europe/Berlin
file_arrival:
  path: data/incoming
  pattern: "*.csv"
  min_interval: 60s
  wait_after_last_change: 5s
paused: false
max_concurrent_runs: 1
queue: true
timeout: 2h
notifications:
  on_failure: [{email: data-team@example.com}, {webhook: "http://127.0.0.1:9000/hook"}]
  on_success: []
  on_start: []
  on_duration_warning: [{email: data-team@example.com}]
duration_warning: 30m
defaults:
  kernel: python3
  timeout: 15m
  retries: 1
  retry_delay: 10s
tasks:
  - key: ingest
    notebook: notebooks/ingest.ipynb
    parameters: {source: "data/incoming", day: "{{params.day}}"}
    retries: 3
    retry_on_timeout: true
  - key: check
    notebook: notebooks/check.ipynb
    depends_on: [ingest]
  - key: good_enough
    condition: {left: "{{tasks.check.values.error_rate}}", op: "<", right: 0.05}
    depends_on: [check]
  - key: publish
    notebook: notebooks/publish.ipynb
    depends_on: [{task: good_enough, outcome: true}]
  - key: quarantine
    notebook: notebooks/quarantine.ipynb
    depends_on: [{task: good_enough, outcome: false}]
  - key: per_region
    for_each: {inputs: [eu, us, apac], concurrency: 2}
    notebook: notebooks/region.ipynb
    parameters: {region: "{{input}}"}
    depends_on: [publish]
  - key: totals
    sql: {file: queries/totals.sql, connection: "sqlite:///warehouse.db"}
    depends_on: [per_region]
  - key: cleanup
    script: scripts/cleanup.py
    args: ["--day", "{{params.day}}"]
    depends_on: [publish, quarantine]
    run_if: all_done
  - key: shell_free
    command: "echo 'hello world'"
    depends_on: [cleanup]
  - key: child
    workflow: other_flow
    parameters: {x: 1}
    depends_on: [cleanup]
"""


@pytest.fixture
def example(mini):
    for name in ("ingest", "check", "publish", "quarantine", "region"):
        mini.notebook(name)
    (mini.root / "scripts" / "cleanup.py").write_text("")
    (mini.root / "queries").mkdir()
    (mini.root / "queries" / "totals.sql").write_text("select 1\n")
    return mini


# -- a valid file ------------------------------------------------------------------------


def test_full_example_loads_without_problems(example):
    wf = example.load(FULL_EXAMPLE, name="sales")
    assert wf.name == "daily_sales"
    assert wf.description == "Load, check and publish yesterday's sales."
    assert wf.parameters == {"region": "eu", "day": "{{run.trigger.time.iso_date}}"}
    assert [t.key for t in wf.tasks] == [
        "ingest",
        "check",
        "good_enough",
        "publish",
        "quarantine",
        "per_region",
        "totals",
        "cleanup",
        "shell_free",
        "child",
    ]
    kinds = {t.key: t.kind for t in wf.tasks}
    assert kinds == {
        "ingest": "notebook",
        "check": "notebook",
        "good_enough": "condition",
        "publish": "notebook",
        "quarantine": "notebook",
        "per_region": "notebook",
        "totals": "sql",
        "cleanup": "script",
        "shell_free": "command",
        "child": "workflow",
    }
    assert wf.root == example.root.resolve()
    assert wf.path == (example.root / "workflows" / "sales.yaml").resolve()


def test_full_example_settings(example):
    wf = example.load(FULL_EXAMPLE)
    s = wf.settings
    assert s.schedule.cron == "0 2 * * *"
    assert s.schedule.timezone == "Europe/Berlin"
    assert s.file_arrival.path == "data/incoming"
    assert s.file_arrival.pattern == "*.csv"
    assert s.file_arrival.min_interval == 60.0
    assert s.file_arrival.wait_after_last_change == 5.0
    assert s.paused is False
    assert s.max_concurrent_runs == 1
    assert s.queue is True
    assert wf.timeout == 7200.0
    assert s.duration_warning == 1800.0
    assert [d.email for d in s.notifications.on_failure[:1]] == ["data-team@example.com"]
    assert s.notifications.on_failure[1].webhook == "http://127.0.0.1:9000/hook"
    assert s.notifications.on_success == []
    assert s.notifications.on_duration_warning[0].email == "data-team@example.com"


def test_full_example_tasks(example):
    wf = example.load(FULL_EXAMPLE)
    cond = wf.task("good_enough").target
    assert (cond.left, cond.op, cond.right) == ("{{tasks.check.values.error_rate}}", "<", 0.05)
    assert wf.task("publish").depends_on == (Edge("good_enough", True),)
    assert wf.task("quarantine").depends_on == (Edge("good_enough", False),)
    per_region = wf.task("per_region")
    assert per_region.for_each.inputs == ["eu", "us", "apac"]
    assert per_region.for_each.concurrency == 2
    assert per_region.parameters == {"region": "{{input}}"}
    sql = wf.task("totals").target
    assert (sql.file, sql.connection, sql.query) == (
        "queries/totals.sql",
        "sqlite:///warehouse.db",
        None,
    )
    cleanup = wf.task("cleanup")
    assert cleanup.target == "scripts/cleanup.py"
    assert cleanup.args == ("--day", "{{params.day}}")
    assert cleanup.run_if == "all_done"
    assert cleanup.upstream == ("publish", "quarantine")
    assert wf.task("shell_free").target == "echo 'hello world'"
    assert wf.task("child").target == "other_flow"
    assert wf.task("child").parameters == {"x": 1}
    assert wf.task("check").run_if == "all_success"


def test_defaults_apply_to_tasks_and_a_task_overrides_them(example):
    wf = example.load(FULL_EXAMPLE)
    ingest, check = wf.task("ingest"), wf.task("check")
    assert ingest.retries == 3  # the task's own
    assert check.retries == 1  # from defaults
    assert ingest.retry_on_timeout is True
    assert check.retry_on_timeout is False  # the spec's default
    for task in (ingest, check):
        assert task.kernel == "python3"
        assert task.timeout == 900.0
        assert task.retry_delay == 10.0
        assert task.retry_backoff == 1.0


def test_spec_defaults_for_a_bare_task(mini):
    task = mini.load(ONE_TASK).task("a")
    assert task.retries == 0
    assert task.retry_delay == 0.0
    assert task.retry_backoff == 1.0
    assert task.retry_on_timeout is False
    assert task.timeout is None
    assert task.run_if == "all_success"
    assert task.disabled is False
    assert task.depends_on == ()
    assert task.parameters == {}


def test_top_level_defaults(mini):
    s = mini.load(ONE_TASK).settings
    assert s.max_concurrent_runs == 1
    assert s.queue is True
    assert s.paused is False
    assert s.schedule is None
    assert s.continuous is None


def test_name_defaults_to_the_file_stem(mini):
    assert mini.load(ONE_TASK, name="nightly-load").name == "nightly-load"


def test_task_line_is_recorded(mini):
    wf = mini.load(ONE_TASK + "  - key: b\n    notebook: notebooks/x.ipynb\n")
    assert wf.task("a").line == 2
    assert wf.task("b").line == 4


def test_env_from_defaults_is_merged_with_the_task_env(mini):
    wf = mini.load(
        """
        defaults:
          env: {A: "1", B: "2"}
        tasks:
          - key: a
            notebook: notebooks/x.ipynb
            env: {B: "3", C: 4, D: true}
        """
    )
    assert wf.task("a").env == {"A": "1", "B": "3", "C": "4", "D": "true"}


def test_continuous_false_with_a_schedule_is_fine(mini):
    wf = mini.load("continuous: false\nschedule: {cron: '0 2 * * *'}\n" + ONE_TASK)
    assert wf.settings.schedule.timezone == "UTC"


def test_quartz_cron_is_accepted(mini):
    wf = mini.load("schedule: {cron: '0 0 12 ? * 2-6'}\n" + ONE_TASK)
    assert wf.settings.schedule.cron == "0 0 12 ? * 2-6"


def test_path_with_a_reference_is_not_checked_on_disk(mini):
    wf = mini.load(
        """
        parameters: {n: x}
        tasks:
          - key: a
            notebook: "notebooks/{{params.n}}.ipynb"
        """
    )
    assert wf.task("a").target == "notebooks/{{params.n}}.ipynb"


def test_task_level_notifications(mini):
    wf = mini.load(
        ONE_TASK + "    notifications: {on_failure: [{webhook: 'https://example.com/h'}]}\n"
    )
    assert wf.task("a").notifications.on_failure[0].webhook == "https://example.com/h"


def test_load_workflow_returns_the_workflow(mini):
    path = mini.write(ONE_TASK)
    assert load_workflow(path, mini.root).task("a").kind == "notebook"


# -- Problem -------------------------------------------------------------------------------


def test_problem_str_is_file_line_message():
    assert str(Problem("workflows/a.yaml", 7, "boom")) == "workflows/a.yaml:7: boom"
    assert str(Problem("workflows/a.yaml", None, "boom")) == "workflows/a.yaml: boom"


def test_problems_carry_the_file_as_given(mini):
    path = mini.write(ONE_TASK + "    retrys: 2\n")
    _, problems = check_file(path, mini.root)
    assert len(problems) == 1
    assert problems[0].file == str(path)
    assert problems[0].line == 4
    assert (
        str(problems[0]) == f"{path}:4: unknown key 'retrys' in tasks[a] (did you mean 'retries'?)"
    )


def test_load_workflow_raises_with_all_problems(mini):
    path = mini.write("paramters: {}\n" + ONE_TASK + "    retrys: 2\n")
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(path, mini.root)
    assert [p.line for p in info.value.problems] == [1, 5]
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]


def test_missing_workflow_file(tmp_path):
    workflow, problems = check_file(tmp_path / "workflows" / "nope.yaml", tmp_path)
    assert workflow is None
    assert [p.message for p in problems] == ["no such workflow file"]


# -- problems, one by one ------------------------------------------------------------------


def test_yaml_syntax_error_gives_its_line(mini):
    text = ONE_TASK + "    parameters: {a: 1\n  - key: b\n    notebook: notebooks/x.ipynb\n"
    problems = mini.problems(text)
    assert len(problems) == 1
    assert problems[0].startswith("5: invalid YAML")


def test_yaml_syntax_error_mapping_in_value(mini):
    problems = mini.problems("tasks:\n  - key: a\n    notebook: x: y\n")
    assert problems == ["3: invalid YAML: mapping values are not allowed here"]


def test_unknown_top_level_key_with_did_you_mean(mini):
    assert mini.problems("paramters: {a: 1}\n" + ONE_TASK) == [
        "1: unknown key 'paramters' in the file (did you mean 'parameters'?)"
    ]


def test_unknown_top_level_key_without_a_close_match(mini):
    assert mini.problems("zzzzzz: 1\n" + ONE_TASK) == ["1: unknown key 'zzzzzz' in the file"]


def test_unknown_task_key_with_did_you_mean(mini):
    assert mini.problems(ONE_TASK + "    retrys: 2\n") == [
        "4: unknown key 'retrys' in tasks[a] (did you mean 'retries'?)"
    ]


def test_unknown_key_in_defaults_and_sections(mini):
    assert mini.problems("defaults: {retrys: 1}\n" + ONE_TASK) == [
        "1: unknown key 'retrys' in defaults (did you mean 'retries'?)"
    ]
    assert mini.problems("notifications:\n  on_falure: []\n" + ONE_TASK) == [
        "2: unknown key 'on_falure' in notifications (did you mean 'on_failure'?)"
    ]


def test_retries_must_be_an_integer(mini):
    assert mini.problems(ONE_TASK + "    retries: three\n") == [
        "4: tasks[a].retries: expected an integer, got 'three'"
    ]


@pytest.mark.parametrize("bad", ["1.5", "true"])
def test_retries_rejects_floats_and_booleans(mini, bad):
    problems = mini.problems(ONE_TASK + f"    retries: {bad}\n")
    assert len(problems) == 1
    assert problems[0].startswith("4: tasks[a].retries: expected an integer")


def test_negative_retries(mini):
    assert mini.problems(ONE_TASK + "    retries: -1\n") == [
        "4: tasks[a].retries: must be at least 0, got -1"
    ]


def test_retry_on_timeout_yes_is_a_string_not_a_boolean(mini):
    assert mini.problems(ONE_TASK + "    retry_on_timeout: yes\n") == [
        "4: tasks[a].retry_on_timeout: expected true or false, got 'yes'"
    ]


def test_paused_no_is_rejected(mini):
    assert mini.problems("paused: no\n" + ONE_TASK) == [
        "1: paused: expected true or false, got 'no'"
    ]


def test_duplicate_task_key_names_the_first_line(mini):
    text = ONE_TASK + "  - key: a\n    notebook: notebooks/x.ipynb\n"
    assert mini.problems(text) == ["4: duplicate task key 'a' (first used at line 2)"]


def test_duplicate_yaml_key(mini):
    problems = mini.problems(ONE_TASK + "    notebook: notebooks/x.ipynb\n")
    assert problems == ["4: duplicate key 'tasks[0].notebook'"]


def test_unknown_dependency(mini):
    assert mini.problems(ONE_TASK + "    depends_on: [b]\n") == [
        "2: task 'a' depends on unknown task 'b'"
    ]


def test_unknown_dependency_with_did_you_mean(mini):
    text = ONE_TASK + "  - key: ingest\n    notebook: notebooks/x.ipynb\n    depends_on: [ingets]\n"
    assert mini.problems(text) == [
        "4: task 'ingest' depends on unknown task 'ingets' (did you mean 'ingest'?)"
    ]


def test_self_dependency(mini):
    assert mini.problems(ONE_TASK + "    depends_on: [a]\n") == ["2: task 'a' depends on itself"]


def test_two_task_cycle(mini):
    text = """
    tasks:
      - key: a
        notebook: notebooks/x.ipynb
        depends_on: [b]
      - key: b
        notebook: notebooks/x.ipynb
        depends_on: [a]
    """
    assert mini.problems(text) == ["2: dependency cycle: a -> b -> a"]


def test_cycle_names_every_member_in_flow_order_and_nothing_else(mini):
    text = """
    tasks:
      - key: start
        notebook: notebooks/x.ipynb
      - key: a
        notebook: notebooks/x.ipynb
        depends_on: [start, c]
      - key: b
        notebook: notebooks/x.ipynb
        depends_on: [a]
      - key: c
        notebook: notebooks/x.ipynb
        depends_on: [b]
      - key: tail
        notebook: notebooks/x.ipynb
        depends_on: [c]
    """
    problems = mini.problems(text)
    assert len(problems) == 1
    line, message = problems[0].split(": ", 1)
    assert message.startswith("dependency cycle: ")
    members = message.removeprefix("dependency cycle: ").split(" -> ")
    assert members[0] == members[-1]
    assert sorted(members[:-1]) == ["a", "b", "c"]
    # each step goes from a task to one that depends on it
    upstream = {"a": {"start", "c"}, "b": {"a"}, "c": {"b"}}
    for before, after in zip(members, members[1:], strict=False):
        assert before in upstream[after]
    assert int(line) in (4, 7, 10)  # the line of a task on the cycle


def test_outcome_on_an_edge_from_a_non_condition_task(mini):
    text = (
        ONE_TASK
        + "  - key: b\n    notebook: notebooks/x.ipynb\n"
        + "    depends_on: [{task: a, outcome: true}]\n"
    )
    assert mini.problems(text) == [
        "4: task 'b': `outcome` is only for an edge from a condition task, "
        "and 'a' is a notebook task"
    ]


def test_task_with_no_kind(mini):
    assert mini.problems("tasks:\n  - key: a\n    retries: 1\n") == [
        "2: tasks[a] has no kind: give one of notebook, script, command, sql, condition, workflow"
    ]


def test_task_with_two_kinds(mini):
    text = ONE_TASK + "    script: scripts/s.py\n"
    assert mini.problems(text) == [
        "2: tasks[a] has more than one kind (notebook, script); give exactly one"
    ]


def test_task_without_key(mini):
    assert mini.problems("tasks:\n  - notebook: notebooks/x.ipynb\n") == [
        "2: tasks[0] is missing the required key 'key'"
    ]


def test_bad_task_key(mini):
    assert mini.problems("tasks:\n  - key: 'bad key'\n    notebook: notebooks/x.ipynb\n") == [
        "2: tasks[bad key].key: 'bad key' may only contain letters, digits, '_' and '-'"
    ]


def test_bad_workflow_name(mini):
    assert mini.problems("name: 'bad name'\n" + ONE_TASK) == [
        "1: name: 'bad name' may only contain letters, digits, '_', '.' and '-'"
    ]


def test_no_tasks(mini):
    assert mini.problems("tasks: []\n") == ["1: tasks: must not be empty"]


@pytest.mark.parametrize("text", ["- 1\n", "just text\n", ""])
def test_file_that_is_not_a_mapping(mini, text):
    problems = mini.problems(text)
    assert len(problems) == 1
    assert "a workflow file must be a mapping with a `tasks` list" in problems[0]


def test_missing_notebook_file(mini):
    text = "tasks:\n  - key: a\n    notebook: notebooks/missing.ipynb\n"
    assert mini.problems(text) == ["2: task 'a': notebook file 'notebooks/missing.ipynb' not found"]


def test_missing_script_file(mini):
    text = "tasks:\n  - key: a\n    script: scripts/missing.py\n"
    assert mini.problems(text) == ["2: task 'a': script file 'scripts/missing.py' not found"]


def test_notebook_that_is_not_ipynb(mini):
    text = "tasks:\n  - key: a\n    notebook: scripts/s.py\n"
    assert mini.problems(text) == ["2: task 'a': 'scripts/s.py' is not an .ipynb notebook"]


def test_notebook_paths_are_relative_to_the_project_root(mini, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)  # not the project: the file's project must still be found
    path = mini.write(ONE_TASK)
    workflow, problems = check_file(path)
    assert problems == []
    assert workflow.root == mini.root.resolve()


def test_bad_cron_names_the_wrong_field(mini):
    assert mini.problems("schedule: {cron: '61 * * * *'}\n" + ONE_TASK) == [
        "1: schedule.cron: invalid cron expression '61 * * * *': "
        "the minute field '61' is not valid (it takes 0-59)"
    ]


def test_cron_with_wrong_field_count(mini):
    problems = mini.problems("schedule:\n  cron: '0 2 * *'\n" + ONE_TASK)
    assert problems == [
        "2: schedule.cron: a cron expression has 5 fields (or 6-7 in Quartz form), '0 2 * *' has 4"
    ]


def test_quartz_cron_with_two_question_marks(mini):
    problems = mini.problems("schedule: {cron: '0 0 12 ? * ?'}\n" + ONE_TASK)
    assert len(problems) == 1
    assert "only one of day-of-month and day-of-week may be ?" in problems[0]


def test_bad_timezone(mini):
    assert mini.problems("schedule: {cron: '0 2 * * *', timezone: Mars/Olympus}\n" + ONE_TASK) == [
        "1: schedule.timezone: unknown time zone 'Mars/Olympus' "
        "(use an IANA name such as Europe/Berlin)"
    ]


def test_schedule_without_cron(mini):
    problems = mini.problems("schedule: {timezone: UTC}\n" + ONE_TASK)
    assert problems == ["1: schedule is missing the required key 'cron'"]


def test_bad_duration(mini):
    assert mini.problems("timeout: 5 minutes\n" + ONE_TASK) == [
        "1: timeout: expected a duration such as 500ms, 30s, 5m, 2h or 1d, got '5 minutes'"
    ]


def test_bad_duration_in_a_task_and_a_section(mini):
    text = (
        "file_arrival:\n  path: data\n  min_interval: soon\n"
        + ONE_TASK
        + "    retry_delay: 1 hour\n"
    )
    problems = mini.problems(text)
    assert len(problems) == 2
    assert problems[0].startswith("3: file_arrival.min_interval: expected a duration")
    assert problems[1].startswith("7: tasks[a].retry_delay: expected a duration")


def test_negative_duration(mini):
    assert mini.problems(ONE_TASK + "    timeout: -5\n") == [
        "4: tasks[a].timeout: a duration cannot be negative, got -5"
    ]


@pytest.mark.parametrize("continuous", ["true", "{}"])
@pytest.mark.parametrize("trigger", ["schedule: {cron: '0 2 * * *'}", "file_arrival: {path: data}"])
def test_continuous_with_schedule_or_file_arrival(mini, continuous, trigger):
    problems = mini.problems(f"continuous: {continuous}\n{trigger}\n" + ONE_TASK)
    assert problems == ["1: `continuous` cannot be combined with `schedule` or `file_arrival`"]


def test_destinations_email_and_webhook_are_accepted(mini):
    wf = mini.load(
        "notifications:\n  on_start: [{email: a@example.com}, {webhook: 'https://example.com/x'}]\n"
        + ONE_TASK
    )
    on_start = wf.settings.notifications.on_start
    assert on_start[0].email == "a@example.com"
    assert on_start[1].webhook == "https://example.com/x"


def test_unknown_destination_kind(mini):
    text = "notifications:\n  on_failure: [{email: a@b.c}, {slack: '#team'}]\n" + ONE_TASK
    assert mini.problems(text) == [
        "2: notifications.on_failure[1]: expected {email: ADDRESS} or {webhook: URL}, "
        "got {'slack': '#team'}"
    ]


def test_bad_email_and_webhook(mini):
    text = (
        "notifications:\n"
        "  on_failure: [{email: nope}]\n"
        "  on_success: [{webhook: 'ftp://example.com'}]\n" + ONE_TASK
    )
    assert mini.problems(text) == [
        "2: notifications.on_failure[0].email: 'nope' is not an email address",
        "3: notifications.on_success[0].webhook: 'ftp://example.com' "
        "is not an http:// or https:// URL",
    ]


def test_extra_key_in_a_destination_names_the_destination(mini):
    text = "notifications:\n  on_failure: [{email: a@b.c, extra: 1}]\n" + ONE_TASK
    assert mini.problems(text) == ["2: unknown key 'extra' in notifications.on_failure[0]"]


def test_run_if_typo_with_did_you_mean(mini):
    assert mini.problems(ONE_TASK + "    run_if: all_sucess\n") == [
        "4: tasks[a].run_if: 'all_sucess' is not one of all_success, at_least_one_success, "
        "none_failed, all_done, at_least_one_failed, all_failed (did you mean 'all_success'?)"
    ]


@pytest.mark.parametrize("run_if", schema.RUN_IF)
def test_every_run_if_value_is_accepted(mini, run_if):
    assert mini.load(ONE_TASK + f"    run_if: {run_if}\n").task("a").run_if == run_if


def test_condition_operator(mini):
    problems = mini.problems("tasks:\n  - key: c\n    condition: {left: 1, op: '=', right: 2}\n")
    assert len(problems) == 1
    assert problems[0].startswith(
        "3: tasks[c].condition.op: '=' is not one of ==, !=, >, >=, <, <="
    )


def test_sql_needs_exactly_one_source(mini):
    text = "tasks:\n  - key: q\n    sql: {query: 'select 1', file: q.sql}\n"
    assert mini.problems(text) == ["3: tasks[q].sql: give exactly one of `query` or `file`"]


def test_for_each_concurrency_at_least_one(mini):
    assert mini.problems(ONE_TASK + "    for_each: {inputs: [1], concurrency: 0}\n") == [
        "4: tasks[a].for_each.concurrency: must be at least 1, got 0"
    ]


def test_args_only_for_script_and_command(mini):
    assert mini.problems(ONE_TASK + "    args: [x]\n") == [
        "4: tasks[a]: `args` is only for script and command tasks"
    ]


def test_depends_on_must_be_a_list(mini):
    text = ONE_TASK + "    depends_on: b\n  - key: b\n    notebook: notebooks/x.ipynb\n"
    assert mini.problems(text) == ["4: tasks[a].depends_on: expected a list, got 'b'"]


def test_max_concurrent_runs_at_least_one(mini):
    assert mini.problems("max_concurrent_runs: 0\n" + ONE_TASK) == [
        "1: max_concurrent_runs: must be at least 1, got 0"
    ]


# -- all problems at once ------------------------------------------------------------------


def test_four_independent_problems_give_four_lines_in_file_order(mini):
    text = """
    paramters: {}
    tasks:
      - key: a
        notebook: notebooks/x.ipynb
        retrys: 1
      - key: b
        notebook: notebooks/missing.ipynb
      - key: c
        notebook: notebooks/x.ipynb
        depends_on: [zz]
    """
    assert mini.problems(text) == [
        "1: unknown key 'paramters' in the file (did you mean 'parameters'?)",
        "5: unknown key 'retrys' in tasks[a] (did you mean 'retries'?)",
        "6: task 'b': notebook file 'notebooks/missing.ipynb' not found",
        "8: task 'c' depends on unknown task 'zz'",
    ]


def test_problems_from_every_layer_are_reported_together(mini):
    text = """
    schedule: {cron: 'nope', timezone: Nowhere/Land}
    tasks:
      - key: a
        notebook: notebooks/x.ipynb
        depends_on: [b]
        retries: three
      - key: b
        notebook: notebooks/x.ipynb
        depends_on: [a]
      - key: a
        notebook: notebooks/gone.ipynb
    """
    problems = mini.problems(text)
    messages = "\n".join(problems)
    assert "schedule.cron" in messages
    assert "schedule.timezone: unknown time zone 'Nowhere/Land'" in messages
    assert "tasks[a].retries: expected an integer, got 'three'" in messages
    assert "dependency cycle: a -> b -> a" in messages
    assert "duplicate task key 'a' (first used at line 3)" in messages
    assert "notebook file 'notebooks/gone.ipynb' not found" in messages
    assert len(problems) == 6
    lines = [int(p.split(":", 1)[0]) for p in problems]
    assert lines == sorted(lines)


def test_an_invalid_task_still_takes_part_in_graph_checks(mini):
    text = """
    tasks:
      - key: a
        notebook: notebooks/x.ipynb
        retries: nope
        depends_on: [ghost]
    """
    problems = mini.problems(text)
    assert "4: tasks[a].retries: expected an integer, got 'nope'" in problems
    assert "2: task 'a' depends on unknown task 'ghost'" in problems
    assert len(problems) == 2


# -- references ------------------------------------------------------------


def test_one_mistake_in_an_outcome_edge_gives_one_problem(mini):
    text = """
    tasks:
      - key: c
        condition: {left: 1, op: "==", right: 1}
      - key: a
        notebook: notebooks/x.ipynb
        depends_on: [{task: c, outcome: yes}]
    """
    problems = mini.problems(text)
    assert len(problems) == 1, problems
    assert "outcome" in problems[0]


def test_for_each_inputs_plain_string_is_rejected(mini):
    problems = mini.problems(ONE_TASK + "    for_each: {inputs: eu}\n")
    assert len(problems) == 1
    assert "tasks[a].for_each.inputs" in problems[0]


@pytest.mark.parametrize(
    "reference, needle",
    [
        ("{{params.nope}}", "nope"),
        ("{{tasks.zz.values.v}}", "zz"),
        ("{{tasks.b.values.v}}", "b"),  # b exists but is not upstream of a
        ("{{bogus.thing}}", "bogus"),
    ],
)
def test_unresolvable_references_are_problems(mini, reference, needle):
    text = (
        ONE_TASK
        + f"    parameters: {{x: '{reference}'}}\n  - key: b\n    notebook: notebooks/x.ipynb\n"
    )
    problems = mini.problems(text)
    assert len(problems) == 1
    assert needle in problems[0]


REFS = """
parameters:
  region: eu
  day: "{{run.trigger.time.iso_date}}"
tasks:
  - key: sq
    sql: {query: "select 1 as n"}
  - key: a
    notebook: notebooks/x.ipynb
    parameters: {p: "{{params.region}}", day: "{{ job.parameters.[day] }}"}
  - key: b
    notebook: notebooks/x.ipynb
    depends_on: [a, sq]
    for_each: {inputs: "{{tasks.a.values.items}}", concurrency: 2}
    parameters:
      item: "{{input}}"
      field: "{{input.name}}"
      both: "{{tasks.a.values.n}}-{{tasks.a.result_state}}"
      rows: "{{tasks.sq.output.rows}}"
      first: "{{tasks.sq.output.first_row.n}}"
      when: "{{run.start_time.iso_weekday}} {{run.id}} {{task.key}} {{task.attempt}}"
  - key: c
    condition: {left: "{{tasks.b.result_state}}", op: "==", right: success}
    depends_on: [b]
"""


def test_every_kind_of_good_reference_passes(mini):
    workflow = mini.load(REFS)
    assert workflow.task("b").for_each.inputs == "{{tasks.a.values.items}}"


@pytest.mark.parametrize(
    "old, new, line, message",
    [
        (
            "{{params.region}}",
            "{{params.regoin}}",
            9,
            "tasks[a].parameters.p: {{params.regoin}}: unknown parameter 'regoin' (did you mean 'region'?)",
        ),
        (
            "{{tasks.a.values.n}}",
            "{{tasks.c.values.n}}",
            17,
            "tasks[b].parameters.both: {{tasks.c.values.n}}: task 'c' is not upstream of 'b'",
        ),
        (
            "{{input.name}}",
            "{{inptu.name}}",
            16,
            "tasks[b].parameters.field: {{inptu.name}}: unknown namespace 'inptu' (did you mean 'input'?)",
        ),
        (
            "{{tasks.sq.output.rows}}",
            "{{tasks.a.output.rows}}",
            18,
            "tasks[b].parameters.rows: {{tasks.a.output.rows}}: a notebook task's output is "
            "output.result",
        ),
        (
            "{{run.start_time.iso_weekday}}",
            "{{run.start_time.weekday}}",
            20,
            "tasks[b].parameters.when: {{run.start_time.weekday}}: give one of iso_date",
        ),
        (
            '"{{tasks.a.values.items}}"',
            '"{{input}}"',
            13,
            "tasks[b].for_each.inputs: {{input}}: `input` is only set inside a for_each task",
        ),
        (
            '"{{run.trigger.time.iso_date}}"',
            '"{{params.region}}"',
            3,
            "parameters.day: {{params.region}}: workflow parameters may refer to run.* only",
        ),
        (
            "right: success",
            'right: "{{tasks.zz.result_state}}"',
            22,
            "tasks[c].condition.right: {{tasks.zz.result_state}}: unknown task 'zz'",
        ),
    ],
)
def test_bad_references_are_reported_at_their_line(mini, old, new, line, message):
    assert old in REFS
    problems = mini.problems(REFS.replace(old, new))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{line}: {message}"), problems[0]


# -- one pass --------------------------------------------------------------------------------


def test_reference_problems_come_with_structural_ones(mini):
    text = """
    tasks:
      - key: a
        notebook: notebooks/x.ipynb
        retrys: 1
        parameters: {p: "{{params.nope}}"}
      - key: b
        notebok: notebooks/x.ipynb
        depends_on: [a]
        parameters: {q: "{{tasks.a.output.rows}}", r: "{{tasks.zz.result_state}}"}
    """
    assert mini.problems(text) == [
        "4: unknown key 'retrys' in tasks[a] (did you mean 'retries'?)",
        "5: tasks[a].parameters.p: {{params.nope}}: unknown parameter 'nope' "
        "(workflow parameters: none)",
        "7: unknown key 'notebok' in tasks[b] (did you mean 'notebook'?)",
        "9: tasks[b].parameters.q: {{tasks.a.output.rows}}: a notebook task's output is "
        "output.result (the value it passes to dbutils.notebook.exit); output.rows is a sql "
        "task's",
        "9: tasks[b].parameters.r: {{tasks.zz.result_state}}: unknown task 'zz'",
    ]


def test_references_of_a_file_with_a_top_level_problem_are_still_checked(mini):
    problems = mini.problems("paramters: {}\nparameters: {day: '{{params.x}}'}\n" + ONE_TASK)
    assert problems == [
        "1: unknown key 'paramters' in the file (did you mean 'parameters'?)",
        "2: parameters.day: {{params.x}}: workflow parameters may refer to run.* only",
    ]


def test_a_reversed_operator_suggests_the_right_one(mini):
    problems = mini.problems("tasks:\n  - key: c\n    condition: {left: 1, op: '=<', right: 2}\n")
    assert problems == [
        "3: tasks[c].condition.op: '=<' is not one of ==, !=, >, >=, <, <= (did you mean '<='?)"
    ]


# -- what notebooks declare ------------------------------------------------------------------


def parameters_notebook(mini, name: str, source: str, language: str = "python"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "k", "display_name": "k", "language": language}
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
    nbformat.write(nb, str(mini.root / "notebooks" / f"{name}.ipynb"))


def test_a_task_parameter_the_notebook_does_not_declare_is_reported_at_its_line(mini):
    parameters_notebook(mini, "r", "region = 'South'\nlimit = 3\n")
    text = """
    tasks:
      - key: a
        notebook: notebooks/r.ipynb
        parameters:
          limit: 5
          regoin: North
          colour: red
    """
    assert mini.problems(text) == [
        "6: tasks[a].parameters.regoin: notebooks/r.ipynb declares no parameter 'regoin' "
        "(did you mean 'region'?)",
        "7: tasks[a].parameters.colour: notebooks/r.ipynb declares no parameter 'colour' "
        "(its parameters: region, limit)",
    ]


def test_a_cell_with_ipython_syntax_declares_its_parameters(mini):
    parameters_notebook(mini, "ip", "files = !ls\n%matplotlib inline\nregion = 'South'\n")
    ok = "parameters: {region: North}\ntasks:\n  - {key: a, notebook: notebooks/ip.ipynb, parameters: {files: []}}\n"
    assert mini.load(ok).parameters == {"region": "North"}
    problems = mini.problems(ok.replace("files: []", "regoin: North"))
    assert problems == [
        "3: tasks[a].parameters.regoin: notebooks/ip.ipynb declares no parameter 'regoin' "
        "(did you mean 'region'?)"
    ]


def test_parameters_for_a_cell_nbflow_cannot_read_are_a_problem(mini):
    parameters_notebook(mini, "broken", "region = 'South'\nlimit = (\n")
    message = (
        "task 'a': the parameters cell of notebooks/broken.ipynb cannot be read as Python "
        "(line 2: '(' was never closed), so nbflow cannot tell which parameters to inject"
    )
    pushed = (
        "parameters: {region: North}\ntasks:\n  - key: a\n    notebook: notebooks/broken.ipynb\n"
    )
    assert mini.problems(pushed) == [f"4: {message}"]  # at `notebook:`
    own = "tasks:\n  - key: a\n    notebook: notebooks/broken.ipynb\n    parameters: {x: 1}\n"
    assert mini.problems(own) == [f"3: {message}"]
    # Nothing to inject: nothing is lost (the notebook's own error shows when it runs).
    mini.load("tasks:\n  - key: a\n    notebook: notebooks/broken.ipynb\n")


def test_a_notebook_in_another_language_is_not_checked(mini):
    parameters_notebook(mini, "r", "region <- 'South'\n", language="R")
    mini.load(
        "parameters: {n: 1}\ntasks:\n  - {key: a, notebook: notebooks/r.ipynb, parameters: {region: x}}\n"
    )


def test_values_are_checked_against_declared_types_at_their_line(mini):
    parameters_notebook(mini, "t", "top_n: int = 5\nratio = 0.5  # type: float\nlabel = 'x'\n")
    text = """
    parameters:
      top_n: abc
      label: 7
    tasks:
      - key: a
        notebook: notebooks/t.ipynb
      - key: b
        notebook: notebooks/t.ipynb
        parameters: {ratio: high, top_n: "{{tasks.a.values.n}}", label: 8}
        depends_on: [a]
    """
    assert mini.problems(text) == [
        "2: parameters.top_n: notebooks/t.ipynb (task 'a') declares top_n: int, got 'abc' (str)",
        "9: tasks[b].parameters.ratio: notebooks/t.ipynb declares ratio: float, got 'high' (str)",
    ]


def test_a_task_with_problems_of_its_own_still_has_its_parameters_checked(mini):
    parameters_notebook(mini, "r", "region = 'South'\n")
    problems = mini.problems(
        "tasks:\n  - key: a\n    notebook: notebooks/r.ipynb\n    retries: x\n"
        "    parameters: {regoin: North}\n"
    )
    assert problems == [
        "4: tasks[a].retries: expected an integer, got 'x'",
        "5: tasks[a].parameters.regoin: notebooks/r.ipynb declares no parameter 'regoin' "
        "(did you mean 'region'?)",
    ]


def test_a_lone_surrogate_is_reported_at_its_line(mini):
    # libyaml refuses the escape itself, at its line; nothing reaches a kernel.
    problems = mini.problems('parameters:\n  ok: fine\n  name: "caf\\udcff"\n' + ONE_TASK)
    assert problems == [
        "3: invalid YAML: while parsing a quoted scalar found invalid Unicode character escape code"
    ]


# -- files that used to end in a traceback (fuzzed), each now a problem at its line ---------


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "x: &a [*a]\n" + ONE_TASK,
            "1: invalid YAML: an alias refers to the value that contains it",
        ),
        ("1: x\n" + ONE_TASK, "1: the file: the key 1 is not text (quote it)"),
        ("name: w\n~: x\n" + ONE_TASK, "2: the file: the key None is not text (quote it)"),
        (
            'schedule: {cron: "0 2 * * *", timezone: ' + "Z" * 5000 + "}\n" + ONE_TASK,
            "1: schedule.timezone: unknown time zone",
        ),
        ('tasks:\n  - key: a\n    retries: !!float "abc"\n', "3: invalid YAML: !!float 'abc'"),
        (
            "tasks:\n  - key: a\n    retries: " + "9" * 4400 + "\n",
            "3: tasks[a].retries: expected an integer",
        ),
        (
            "tasks:\n  - key: a\n    notebook: notebooks/" + "n" * 300 + ".ipynb\n",
            "2: task 'a': notebook file: File name too long",
        ),
        ("", "1: a workflow file must be a mapping"),
        ("just text\n", "1: a workflow file must be a mapping"),
        ("tasks:\n  - key: a\x01\n", "2: invalid YAML: the character '\\x01' (U+0001)"),
        ("x: " + "[" * 2000 + "]" * 2000 + "\n", "1: invalid YAML: values nest more than 100"),
    ],
)
def test_hostile_files_get_a_problem_at_a_line(mini, text, expected):
    problems = mini.problems(text)
    assert problems and problems[0].startswith(expected), problems


def test_bytes_that_are_not_utf8_are_reported_at_their_line(mini):
    path = mini.root / "workflows" / "wf.yaml"
    path.write_bytes(b"tasks:\n  - key: a\n    notebook: caf\xe9.ipynb\n")
    workflow, problems = check_file(path, mini.root)
    assert workflow is None
    assert [(p.line, p.message) for p in problems] == [
        (3, "not UTF-8 text: byte 0xe9 (invalid continuation byte)")
    ]


def chain_downstream_first(n: int) -> str:
    """A valid chain t0 <- t1 <- ... <- tN written from its last task to its first."""
    lines = [f"  - {{key: t{i}, command: [echo], depends_on: [t{i + 1}]}}\n" for i in range(n - 1)]
    return "tasks:\n" + "".join(lines) + f"  - {{key: t{n - 1}, command: [echo]}}\n"


def test_a_valid_chain_of_a_thousand_tasks_listed_downstream_first(mini):
    workflow = mini.load(chain_downstream_first(1000))
    assert len(workflow.tasks) == 1000


def test_a_thousand_task_workflow_checks_in_well_under_a_second(mini):
    task = (
        "  - key: t{i}\n    notebook: notebooks/x.ipynb\n"
        '    parameters: {{a: "{{{{params.a}}}}", b: "{{{{tasks.t{j}.values.v}}}}"}}\n'
        "    depends_on: [t{j}]\n"
    )
    text = "parameters: {a: 1}\ntasks:\n  - {key: t0, notebook: notebooks/x.ipynb}\n" + "".join(
        task.format(i=i, j=i - 1) for i in range(1, 1000)
    )
    path = mini.write(text)
    started = time.process_time()  # this process's own work, not the machine's load
    workflow, problems = check_file(path, mini.root)
    spent = time.process_time() - started
    assert problems == [] and workflow is not None and len(workflow.tasks) == 1000
    assert spent < 1.0, f"{spent:.2f} s of CPU to check 1,000 tasks"


def test_a_cycle_of_workflow_calls_is_reported_at_the_calling_task(mini):
    from nbflow import api
    from nbflow.workflows.project import Project

    path = mini.write("tasks:\n  - {key: a, command: [echo]}\n  - {key: me, workflow: wf}\n")
    _, problems = api.validate(Project(mini.root), [str(path)])
    assert [(p.line, p.message) for p in problems] == [
        (3, "workflows call each other in a cycle: wf -> wf")
    ]


def test_a_task_may_ask_for_reports_without_code(mini):
    wf = mini.load(
        ONE_TASK + "    report: {no_input: true}\n  - key: b\n    notebook: notebooks/x.ipynb\n"
    )
    assert (wf.task("a").report_no_input, wf.task("b").report_no_input) == (True, False)
    (problem,) = mini.problems(ONE_TASK + "    report: {no_inputs: true}\n")
    assert problem.startswith("4: unknown key 'no_inputs' in tasks[a].report"), problem
    (problem,) = mini.problems(ONE_TASK + "    report: {no_input: yes}\n")
    assert problem.startswith("4:") and "no_input" in problem, problem


# -- resources (what an attempt takes of a Dask worker) ----------------------------------


def test_resources_from_defaults_and_the_task(mini):
    wf = mini.load(
        "defaults: {resources: {kernel: 1}}\n"
        + ONE_TASK
        + "    resources: {kernel: 1, gpu: 1}\n"
        + "  - key: b\n    notebook: notebooks/x.ipynb\n"
    )
    assert wf.task("a").resources == {"kernel": 1.0, "gpu": 1.0}
    assert wf.task("b").resources == {"kernel": 1.0}


def test_a_task_without_resources_asks_for_nothing_special(mini):
    assert mini.load(ONE_TASK).task("a").resources == {}


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{gpu: 0}", "4: tasks[a].resources.gpu: must be more than 0, got 0"),
        ("[kernel]", "4: tasks[a].resources: expected a mapping, got ['kernel']"),
        ("{'a b': 1}", "4: tasks[a].resources.a b: 'a b' does not have the expected form"),
    ],
)
def test_a_bad_resources_value_is_reported_at_its_line(mini, bad, message):
    assert mini.problems(ONE_TASK + f"    resources: {bad}\n") == [message]
