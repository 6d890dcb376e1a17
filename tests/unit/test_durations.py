"""durations: `500ms`, `30s`, `5m`, `2h`, `1d`, or a number of seconds."""

from __future__ import annotations

import pytest

from nbflow.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        ("0s", 0.0),
        (" 5m ", 300.0),
        (10, 10.0),
        (2.5, 2.5),
        (0, 0.0),
        ("10", 10.0),
        ("0.25", 0.25),
    ],
)
def test_valid(value, seconds):
    got = parse_duration(value)
    assert got == seconds
    assert isinstance(got, float)


@pytest.mark.parametrize(
    "value",
    [
        "5 minutes",
        "5x",
        "",
        "1h30m",
        "-5s",
        "-1",
        "soon",
        "m",
        True,
        False,
        None,
        -3,
        [1],
        {"s": 1},
    ],
)
def test_invalid(value):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1.5, "1500ms"),
        (45, "45s"),
        (90, "90s"),
        (600, "10m"),
        (7200, "2h"),
        (86400, "1d"),
    ],
)
def test_format_duration_writes_what_parse_duration_reads_back(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
