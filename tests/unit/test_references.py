"""references: `{{...}}` resolved against a run's context; whole values keep their type."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nbflow.core.references import Context, ReferenceError_, canonical, find, substitute, time_arg

# Friday 2024-01-05 14:30:15 UTC
START = datetime(2024, 1, 5, 14, 30, 15, tzinfo=timezone.utc).timestamp()
# Sunday 2024-01-07 02:00:00 UTC: the scheduled fire time
TRIGGER = datetime(2024, 1, 7, 2, 0, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def ctx() -> Context:
    return Context(
        params={
            "n": 5,
            "ratio": 0.5,
            "regions": ["eu", "us"],
            "region": "eu",
            "flag": True,
            "nothing": None,
            "cfg": {"a": 1},
            "code": "007",
            "my param": "spaced",
        },
        run={
            "id": 42,
            "workflow": "daily",
            "repair_count": 1,
            "start_time": START,
            "trigger_time": TRIGGER,
            "trigger_type": "schedule",
            "trigger_files": ["data/a.csv", "data/b.csv"],
            "trigger_location": "data",
        },
        tasks={
            "check": {
                "state": "success",
                "values": {"error_rate": 0.01, "rows": [1, 2]},
                "output": {"rows": [{"c": 1}, {"c": 2}], "first_row": {"c": 1}},
            }
        },
        task={"key": "publish", "attempt": 2},
        input_value={"name": "eu", "size": 3},
        has_input=True,
    )


def sub(value, ctx):
    return substitute(value, ctx.lookup)


# -- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{params.n}}", 5),
        ("{{params.ratio}}", 0.5),
        ("{{params.regions}}", ["eu", "us"]),
        ("{{params.flag}}", True),
        ("{{params.nothing}}", None),
        ("{{params.cfg}}", {"a": 1}),
        ("{{params.code}}", "007"),
        ("{{ params.n }}", 5),
        ("{{tasks.check.values.error_rate}}", 0.01),
    ],
)
def test_whole_value_reference_keeps_its_type(ctx, text, expected):
    got = sub(text, ctx)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("n={{params.n}}", "n=5"),
        ("{{params.n}}{{params.n}}", "55"),
        (" {{params.n}}", " 5"),
        ("{{params.region}}-{{params.code}}", "eu-007"),
        ("flag={{params.flag}}", "flag=true"),
        ("none={{params.nothing}}", "none="),
        ("r={{params.regions}}", 'r=["eu", "us"]'),
        ("c={{params.cfg}}", 'c={"a": 1}'),
        ("run {{ run.id }} of {{run.workflow}}", "run 42 of daily"),
    ],
)
def test_embedded_reference_renders_as_text(ctx, text, expected):
    assert sub(text, ctx) == expected


def test_substitute_recurses_into_lists_and_mappings(ctx):
    value = {"a": ["{{params.n}}", "x{{params.n}}"], "b": {"c": "{{params.regions}}"}, "d": 3}
    assert sub(value, ctx) == {"a": [5, "x5"], "b": {"c": ["eu", "us"]}, "d": 3}


def test_values_without_references_are_untouched(ctx):
    for value in ["plain", "", 7, None, True, ["a"], {"k": "v"}, "{ {params.n} }"]:
        assert sub(value, ctx) == value


# -- aliases -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{job.parameters.n}}", 5),
        ("{{ job.parameters.[n] }}", 5),
        ("{{job.parameters.[my param]}}", "spaced"),
        ("{{job.parameters.[ region ]}}", "eu"),
        ("{{job.run_id}}", 42),
        ("{{job.id}}", "daily"),
        ("{{job.name}}", "daily"),
        ("{{job.repair_count}}", 1),
        ("{{job.start_time.iso_date}}", "2024-01-05"),
        ("{{job.start_time.[iso_date]}}", "2024-01-05"),
        ("{{job.trigger.type}}", "schedule"),
        ("{{job.trigger.time.iso_date}}", "2024-01-07"),
        ("{{task.name}}", "publish"),
        ("{{task.execution_count}}", 2),
    ],
)
def test_databricks_aliases(ctx, text, expected):
    assert sub(text, ctx) == expected


def test_canonical_spelling():
    assert canonical("job.parameters.x") == "params.x"
    assert canonical(" job.parameters.[x y] ") == "params.x y"
    assert canonical("tasks.[check].values.[v]") == "tasks.check.values.v"
    assert canonical("params.x") == "params.x"


def test_find_lists_references_in_canonical_spelling():
    value = ["{{ job.parameters.x }}", {"a": "{{tasks.t.values.v}} and {{input}}"}, 3]
    assert find(value) == ["params.x", "tasks.t.values.v", "input"]


# -- run, task, tasks, input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{run.id}}", 42),
        ("{{run.workflow}}", "daily"),
        ("{{run.repair_count}}", 1),
        ("{{run.start_time.iso_date}}", "2024-01-05"),
        ("{{run.start_time.iso_datetime}}", "2024-01-05T14:30:15+00:00"),
        ("{{run.start_time.year}}", 2024),
        ("{{run.start_time.month}}", 1),
        ("{{run.start_time.day}}", 5),
        ("{{run.start_time.hour}}", 14),
        ("{{run.start_time.minute}}", 30),
        ("{{run.start_time.second}}", 15),
        ("{{run.start_time.timestamp_ms}}", 1704465015000),
        ("{{run.start_time.iso_weekday}}", 5),
        ("{{run.start_time.is_weekday}}", True),
        ("{{run.trigger.time.iso_date}}", "2024-01-07"),
        ("{{run.trigger.time.iso_weekday}}", 7),
        ("{{run.trigger.time.is_weekday}}", False),
        ("{{run.trigger.type}}", "schedule"),
        ("{{run.trigger.files}}", ["data/a.csv", "data/b.csv"]),
        ("{{run.trigger.location}}", "data"),
        ("{{task.key}}", "publish"),
        ("{{task.attempt}}", 2),
        ("{{tasks.check.values.rows}}", [1, 2]),
        ("{{tasks.check.result_state}}", "success"),
        ("{{tasks.check.output.rows}}", [{"c": 1}, {"c": 2}]),
        ("{{tasks.check.output.first_row.c}}", 1),
        ("{{input}}", {"name": "eu", "size": 3}),
        ("{{input.name}}", "eu"),
        ("{{input.size}}", 3),
    ],
)
def test_reference_values(ctx, text, expected):
    got = sub(text, ctx)
    assert got == expected
    assert type(got) is type(expected)


def test_time_arg_directly():
    assert time_arg(START, "iso_date") == "2024-01-05"
    assert time_arg(START, "timestamp_ms") == 1704465015000
    assert time_arg(START, "is_weekday") is True


def test_time_arg_unknown_field():
    with pytest.raises(ReferenceError_, match="week"):
        time_arg(START, "week")


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, needles",
    [
        ("{{params.missing}}", ["params.missing", "'missing'"]),
        ("x={{job.parameters.missing}}", ["'missing'"]),
        ("{{tasks.zz.values.v}}", ["'zz'"]),
        ("{{tasks.check.values.nope}}", ["'check'", "'nope'"]),
        ("{{tasks.check.output.first_row.zz}}", ["'zz'"]),
        ("{{foo.bar}}", ["foo.bar", "unknown reference"]),
        ("{{run.nope}}", ["run.nope"]),
        ("{{input.zz}}", ["'zz'"]),
        ("{{run.start_time.week}}", ["'week'"]),
    ],
)
def test_unresolvable_reference_names_it(ctx, text, needles):
    with pytest.raises(ReferenceError_) as info:
        sub(text, ctx)
    for needle in needles:
        assert needle in str(info.value)


def test_input_outside_for_each(ctx):
    plain = Context(params={}, run={}, tasks={})
    with pytest.raises(ReferenceError_, match="for_each"):
        substitute("{{input}}", plain.lookup)


def test_reference_error_is_a_lookup_error():
    assert issubclass(ReferenceError_, LookupError)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\\{{run.id}}", "{{run.id}}"),
        ("\\{{ not a ref", "{{ not a ref"),
        ("run \\{{run.id}} is {{run.id}}", "run {{run.id}} is 42"),
        ("\\{{{{run.id}}", "{{42"),  # an escaped pair, then a reference
        ("{{params.region}}\\{{", "eu{{"),
        ("a \\ b {{ c", "a \\ b {{ c"),  # a backslash elsewhere is itself
    ],
)
def test_backslash_before_braces_is_a_literal(ctx, text, expected):
    assert substitute(text, ctx.lookup) == expected


def test_an_escaped_reference_is_not_found():
    assert find(["\\{{params.a}}", "x \\{{tasks.t.values.v}} {{params.b}}"]) == ["params.b"]


def test_a_resolved_value_is_not_unescaped(ctx):
    ctx.params["region"] = "\\{{run.id}}"  # text that came from elsewhere stays as it is
    assert substitute("in {{params.region}}", ctx.lookup) == "in \\{{run.id}}"
    assert substitute("{{params.region}}", ctx.lookup) == "\\{{run.id}}"
