"""conditions.evaluate: numbers as numbers, booleans as booleans, otherwise text."""

from __future__ import annotations

import pytest

from nbflow.core.conditions import ConditionError, evaluate


@pytest.mark.parametrize(
    "left, op, right, expected",
    [
        # numbers and numeric strings compare as numbers (beyond Databricks: "12.0" == 12)
        ("12.0", "==", 12, True),
        ("12.0", "==", "12", True),
        (12, "==", 12.0, True),
        ("1e3", "==", 1000, True),
        (" 12 ", "==", 12, True),
        ("12.5", "!=", 12, True),
        ("10", ">", "9", True),  # as text "10" < "9"
        ("10", "<", "9", False),
        (10, ">", "9", True),
        ("0.04", "<", 0.05, True),
        ("0.06", "<", 0.05, False),
        (1.0, ">=", 1, True),
        (1, "<=", "1", True),
        (-2, "<", "-1.5", True),
        # booleans: "True", "true", True are the same
        ("True", "==", True, True),
        ("true", "==", "True", True),
        (True, "==", "true", True),
        ("TRUE", "==", True, True),
        ("false", "==", False, True),
        ("false", "!=", False, False),
        ("False", "!=", "true", True),
        # booleans are not numbers
        (True, "==", 1, False),
        ("1", "==", True, False),
        # text
        ("abc", "==", "abc", True),
        ("abc", "==", "ABC", False),
        ("abc", "!=", "abd", True),
        ("eu", "!=", "eu", False),
        ("NaN", "==", "NaN", True),
        ("success", "==", "success", True),
    ],
)
def test_evaluate(left, op, right, expected):
    assert evaluate(left, op, right) is expected


@pytest.mark.parametrize(
    "left, op, right",
    [("abc", "<", "abd"), ("abc", ">", 1), (1, ">=", "abc"), (True, ">", False), ("x", "<=", "y")],
)
def test_ordering_on_non_numbers_names_both_values(left, op, right):
    with pytest.raises(ConditionError) as info:
        evaluate(left, op, right)
    message = str(info.value)
    assert repr(left) in message
    assert repr(right) in message
    assert op in message


def test_condition_error_is_a_value_error():
    assert issubclass(ConditionError, ValueError)
