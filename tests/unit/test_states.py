"""states: the run_if table, outcome edges and a run's result, as in semantics.md."""

from __future__ import annotations

import pytest

from nbflow.core.states import (
    RUN,
    TERMINAL_RUN_STATES,
    TERMINAL_TASK_STATES,
    UNMET_OUTCOME,
    RunState,
    TaskState,
    decide,
    edge_state,
    run_result,
)

S = TaskState.SUCCESS
F = TaskState.FAILED
T = TaskState.TIMED_OUT
C = TaskState.CANCELED
EX = TaskState.EXCLUDED
D = TaskState.DISABLED
UF = TaskState.UPSTREAM_FAILED
UC = TaskState.UPSTREAM_CANCELED


def test_stored_state_names_never_change():
    assert [s.value for s in TaskState] == [
        "pending",
        "queued",
        "running",
        "waiting_for_retry",
        "success",
        "failed",
        "timed_out",
        "canceled",
        "excluded",
        "upstream_failed",
        "upstream_canceled",
        "disabled",
        "skipped_by_selection",  # added by partial runs (issue 17): names only ever grow
    ]
    assert {s.value for s in RunState} == {
        "queued",
        "running",
        "success",
        "success_with_failures",
        "failed",
        "timed_out",
        "canceled",
        "skipped",
    }
    assert str(TaskState.UPSTREAM_FAILED) == "upstream_failed"
    assert str(RunState.SUCCESS_WITH_FAILURES) == "success_with_failures"


def test_terminal_states_match_the_spec():
    assert {s.value for s in TERMINAL_TASK_STATES} == {
        "success",
        "failed",
        "timed_out",
        "canceled",
        "excluded",
        "upstream_failed",
        "upstream_canceled",
        "disabled",
        "skipped_by_selection",
    }
    assert {s.value for s in TERMINAL_RUN_STATES} == {
        "success",
        "success_with_failures",
        "failed",
        "timed_out",
        "canceled",
        "skipped",
    }


DECIDE_TABLE = [
    # all_success: every upstream succeeded (or was excluded), otherwise upstream_failed
    ("all_success", [S, S], RUN),
    ("all_success", [S, EX], RUN),
    ("all_success", [S, D], RUN),
    ("all_success", [S, F], UF),
    ("all_success", [F, F], UF),
    ("all_success", [S, T], UF),
    ("all_success", [S, UF], UF),
    ("all_success", [S, C], UC),
    ("all_success", [S, UC], UC),
    ("all_success", [EX, EX], EX),
    # at_least_one_success
    ("at_least_one_success", [S, S], RUN),
    ("at_least_one_success", [S, F], RUN),
    ("at_least_one_success", [F, S, UF], RUN),
    ("at_least_one_success", [F, F], UF),
    ("at_least_one_success", [F, UF], UF),
    ("at_least_one_success", [C, C], UC),
    ("at_least_one_success", [EX, EX], EX),
    # none_failed: no upstream failed, and at least one ran
    ("none_failed", [S, S], RUN),
    ("none_failed", [S, EX], RUN),
    ("none_failed", [EX, S, EX], RUN),
    ("none_failed", [S, F], UF),
    ("none_failed", [S, T], UF),
    ("none_failed", [S, UF], UF),
    ("none_failed", [S, C], UC),
    ("none_failed", [EX, EX], EX),
    # all_done: always, once all upstream are terminal
    ("all_done", [S, S], RUN),
    ("all_done", [S, F], RUN),
    ("all_done", [F, F], RUN),
    ("all_done", [T], RUN),
    ("all_done", [C], RUN),
    ("all_done", [UF, UC], RUN),
    ("all_done", [F, EX], RUN),
    ("all_done", [EX, EX], EX),
    # at_least_one_failed: otherwise excluded
    ("at_least_one_failed", [S, F], RUN),
    ("at_least_one_failed", [F, F], RUN),
    ("at_least_one_failed", [S, T], RUN),
    ("at_least_one_failed", [S, UF], RUN),
    ("at_least_one_failed", [S, C], RUN),  # failure handlers still run on cancellation
    ("at_least_one_failed", [S, S], EX),
    ("at_least_one_failed", [S, EX], EX),
    ("at_least_one_failed", [D], EX),
    ("at_least_one_failed", [EX, EX], EX),
    # all_failed: otherwise excluded
    ("all_failed", [F, F], RUN),
    ("all_failed", [F, T], RUN),
    ("all_failed", [F, UF], RUN),
    ("all_failed", [F], RUN),
    ("all_failed", [F, S], EX),
    ("all_failed", [F, EX], EX),
    ("all_failed", [S, S], EX),
    ("all_failed", [EX, EX], EX),
]


@pytest.mark.parametrize(
    "run_if, upstream, expected",
    DECIDE_TABLE,
    ids=[f"{r}-{'+'.join(s.value for s in u)}" for r, u, _ in DECIDE_TABLE],
)
def test_decide(run_if, upstream, expected):
    assert decide(run_if, upstream) == expected


@pytest.mark.parametrize(
    "run_if",
    [
        "all_success",
        "at_least_one_success",
        "none_failed",
        "all_done",
        "at_least_one_failed",
        "all_failed",
    ],
)
def test_a_task_without_upstream_runs(run_if):
    assert decide(run_if, []) == RUN


@pytest.mark.parametrize(
    "run_if",
    [
        "all_success",
        "at_least_one_success",
        "none_failed",
        "all_done",
        "at_least_one_failed",
        "all_failed",
    ],
)
def test_all_upstream_excluded_means_excluded_whatever_the_run_if(run_if):
    assert decide(run_if, [EX]) == EX
    assert decide(run_if, [EX, EX, EX]) == EX


def test_unknown_run_if_is_an_error():
    with pytest.raises(ValueError, match="sometimes"):
        decide("sometimes", [S])


# -- outcome edges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state, wanted, outcome, expected",
    [
        (S, True, True, S),  # met
        (S, False, False, S),  # met
        (S, True, False, UNMET_OUTCOME),  # unmet: branch not taken
        (S, False, True, UNMET_OUTCOME),  # unmet
        (S, None, True, S),  # a plain edge ignores the outcome
        (S, None, None, S),
        (F, True, None, F),  # a failed condition passes its failure on
        (EX, True, None, EX),  # an excluded condition passes exclusion on
        (UF, False, None, UF),
        (C, True, None, C),
    ],
)
def test_edge_state(state, wanted, outcome, expected):
    assert edge_state(state, wanted, outcome) == expected


def test_branch_not_taken_stays_quiet_all_the_way_down():
    # good_enough is false: publish (outcome: true) is excluded, and so is what follows it.
    publish = decide("all_success", [edge_state(S, True, False)])
    assert publish == EX
    per_region = decide("all_success", [publish])
    assert per_region == EX
    totals = decide("all_success", [per_region])
    assert totals == EX
    # quarantine (outcome: false) runs, and cleanup (all_done on both) runs.
    assert decide("all_success", [edge_state(S, False, False)]) == RUN
    assert decide("all_done", [EX, S]) == RUN


def test_unmet_outcome_edge_excludes_the_task_even_with_other_upstream():
    edges = [edge_state(S, True, False), edge_state(S, None, None)]
    assert decide("all_success", edges) == EX


# -- run result --------------------------------------------------------------------------------


def test_run_result_all_success():
    upstream = {"a": [], "b": ["a"], "c": ["b"]}
    assert run_result({"a": S, "b": S, "c": S}, upstream) == RunState.SUCCESS


def test_run_result_excluded_and_disabled_count_as_success():
    upstream = {"a": [], "b": ["a"], "c": ["a"], "d": ["a"]}
    states = {"a": S, "b": EX, "c": D, "d": S}
    assert run_result(states, upstream) == RunState.SUCCESS


def test_run_result_handled_failure_is_success_with_failures():
    # b failed; the handler h (at_least_one_failed on b) is the only leaf and succeeded.
    upstream = {"a": [], "b": ["a"], "h": ["b"]}
    assert run_result({"a": S, "b": F, "h": S}, upstream) == RunState.SUCCESS_WITH_FAILURES


def test_run_result_handled_failure_with_an_excluded_leaf():
    upstream = {"a": [], "b": ["a"], "h": ["b"], "publish": ["a"]}
    states = {"a": S, "b": F, "h": S, "publish": EX}
    assert run_result(states, upstream) == RunState.SUCCESS_WITH_FAILURES


@pytest.mark.parametrize("leaf_state", [F, T, UF, C, UC])
def test_run_result_failed_when_a_leaf_did_not_succeed(leaf_state):
    upstream = {"a": [], "b": ["a"], "h": ["a"]}
    assert run_result({"a": S, "b": leaf_state, "h": S}, upstream) == RunState.FAILED


def test_run_result_failed_when_a_leaf_was_skipped_because_of_a_failure():
    # a failed; handler h succeeded, but c (all_success on a) is upstream_failed and a leaf.
    upstream = {"a": [], "h": ["a"], "c": ["a"]}
    assert run_result({"a": F, "h": S, "c": UF}, upstream) == RunState.FAILED


def test_run_result_single_failed_task():
    assert run_result({"a": F}, {"a": []}) == RunState.FAILED
