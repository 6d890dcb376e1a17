"""cronexpr: 5-field cron, and Quartz 6/7-field expressions converted for croniter."""

from __future__ import annotations

from datetime import datetime

import pytest
from croniter import croniter

from nbflow.core.cronexpr import check_cron, to_croniter, to_quartz


@pytest.mark.parametrize(
    "expr",
    ["0 2 * * *", "*/5 * * * *", "0 0 1 1 MON", "30 8 * * 1-5", "0 0 1,15 * *", "0 12 * * sun"],
)
def test_valid_five_field(expr):
    check_cron(expr)
    assert to_croniter(expr) == (expr, False)


@pytest.mark.parametrize(
    "expr", ["61 * * * *", "0 25 * * *", "0 0 32 * *", "a b c d e", "0 0 * 13 *"]
)
def test_invalid_five_field(expr):
    with pytest.raises(ValueError, match="invalid cron expression"):
        check_cron(expr)


@pytest.mark.parametrize(
    "expr, count", [("0 2 * *", 4), ("* * * * * * * *", 8), ("@daily", 1), ("", 0)]
)
def test_wrong_number_of_fields(expr, count):
    with pytest.raises(ValueError, match=f"has {count}"):
        check_cron(expr)


def test_quartz_weekdays_become_monday_to_friday():
    converted, has_seconds = to_croniter("0 0 12 ? * 2-6")
    assert has_seconds is True
    minute, hour, dom, month, dow, second = converted.split()
    assert (minute, hour, dom, month, second) == ("0", "12", "*", "*", "0")
    assert dow == "1-5"
    check_cron("0 0 12 ? * 2-6")


def test_quartz_weekdays_fire_on_monday_to_friday_at_noon():
    converted, _ = to_croniter("0 0 12 ? * 2-6")
    it = croniter(converted, datetime(2024, 1, 6, 0, 0), second_at_beginning=False)  # a Saturday
    fires = [it.get_next(datetime) for _ in range(5)]
    assert [f.strftime("%a %H:%M:%S") for f in fires] == [
        "Mon 12:00:00",
        "Tue 12:00:00",
        "Wed 12:00:00",
        "Thu 12:00:00",
        "Fri 12:00:00",
    ]


@pytest.mark.parametrize(
    "quartz_dow, cron_dow",
    [
        ("1", "0"),
        ("7", "6"),
        ("1,7", "0,6"),
        ("2/2", "1/2"),
        ("6#3", "5#3"),
        ("MON-FRI", "MON-FRI"),
    ],
)
def test_quartz_day_of_week_numbering(quartz_dow, cron_dow):
    converted, _ = to_croniter(f"0 30 8 ? * {quartz_dow}")
    assert converted.split()[4] == cron_dow


def test_quartz_question_mark_in_day_of_week():
    converted, has_seconds = to_croniter("15 0 12 1 * ?")
    assert converted == "0 12 1 * * 15"
    assert has_seconds is True


def test_quartz_seven_fields_with_any_year():
    assert to_croniter("0 0 12 ? * 2-6 *")[0] == to_croniter("0 0 12 ? * 2-6")[0]
    check_cron("0 0 12 ? * 2-6 ?")


def test_quartz_year_is_not_supported():
    with pytest.raises(ValueError, match="year field is not supported"):
        check_cron("0 0 12 ? * 2-6 2025")


def test_question_mark_in_both_day_fields_is_rejected():
    with pytest.raises(ValueError, match=r"only one of day-of-month and day-of-week may be \?"):
        check_cron("0 0 12 ? * ?")


@pytest.mark.parametrize("dow", ["0", "8"])
def test_quartz_day_of_week_out_of_range(dow):
    with pytest.raises(ValueError, match="outside 1-7"):
        check_cron(f"0 0 12 ? * {dow}")


def test_invalid_quartz_expression():
    with pytest.raises(ValueError, match="invalid Quartz cron expression"):
        check_cron("0 0 25 ? * 2")


@pytest.mark.parametrize(
    "expr, field",
    [
        ("61 * * * *", "the minute field '61' is not valid (it takes 0-59)"),
        ("0 25 * * *", "the hour field '25' is not valid (it takes 0-23)"),
        ("0 0 32 * *", "the day-of-month field '32' is not valid (it takes 1-31)"),
        ("0 0 * 13 *", "the month field '13' is not valid (it takes 1-12 or JAN-DEC)"),
        ("0 0 * * MOM", "the day-of-week field 'MOM' is not valid (it takes 0-7 or SUN-SAT)"),
        ("*/0 2 * * *", "the minute field '*/0' is not valid (it takes 0-59)"),
        ("0 2 * * 1-9", "the day-of-week field '1-9' is not valid (it takes 0-7 or SUN-SAT)"),
    ],
)
def test_an_invalid_field_is_named(expr, field):
    with pytest.raises(ValueError) as info:
        check_cron(expr)
    assert str(info.value) == f"invalid cron expression {expr!r}: {field}"


@pytest.mark.parametrize(
    "expr, field",
    [
        ("0 0 25 ? * 2", "the hour field '25' is not valid (it takes 0-23)"),
        ("70 0 12 * * ?", "the seconds field '70' is not valid (it takes 0-59)"),
        ("0 0 12 ? JANX *", "the month field 'JANX' is not valid (it takes 1-12 or JAN-DEC)"),
    ],
)
def test_an_invalid_quartz_field_is_named_as_written(expr, field):
    with pytest.raises(ValueError) as info:
        check_cron(expr)
    assert str(info.value) == f"invalid Quartz cron expression {expr!r}: {field}"


@pytest.mark.parametrize(
    ("cron", "quartz"),
    [
        ("0 2 * * *", "0 0 2 * * ?"),
        ("*/15 9-17 * * 1-5", "0 */15 9-17 ? * 2-6"),
        ("30 6 * * 0", "0 30 6 ? * 1"),
        ("30 6 * * 7", "0 30 6 ? * 1"),
        ("0 0 1 * *", "0 0 0 1 * ?"),
        ("0 0 8 * * ?", "0 0 8 * * ?"),  # Quartz already
    ],
)
def test_to_quartz_fires_at_the_same_times(cron, quartz):
    assert to_quartz(cron) == quartz
    start = datetime(2026, 3, 1)
    ours = croniter(to_croniter(cron)[0], start)
    theirs = croniter(to_croniter(quartz)[0], start)
    assert [ours.get_next(datetime) for _ in range(20)] == [
        theirs.get_next(datetime) for _ in range(20)
    ]


def test_to_quartz_refuses_both_day_fields():
    with pytest.raises(ValueError, match="Quartz cannot express"):
        to_quartz("0 0 1 * 1")
