"""graph: cycles, downstream sets, leaves and order."""

from __future__ import annotations

import pytest

from nbflow import graph

DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}


def test_no_cycle():
    assert graph.find_cycle(DIAMOND) is None
    assert graph.find_cycle({}) is None


def test_two_node_cycle():
    cycle = graph.find_cycle({"a": ["b"], "b": ["a"]})
    assert cycle in (["a", "b", "a"], ["b", "a", "b"])


def test_self_cycle():
    assert graph.find_cycle({"a": ["a"]}) == ["a", "a"]


def test_cycle_lists_only_its_members_in_flow_order():
    upstream = {"x": [], "a": ["x", "c"], "b": ["a"], "c": ["b"], "tail": ["c"]}
    cycle = graph.find_cycle(upstream)
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["a", "b", "c"]
    for before, after in zip(cycle, cycle[1:], strict=False):
        assert before in upstream[after]  # upstream first, as work flows


def test_unknown_dependencies_are_ignored_by_find_cycle():
    assert graph.find_cycle({"a": ["ghost"]}) is None


def test_downstream_of():
    assert graph.downstream_of(DIAMOND, ["a"]) == {"b", "c", "d"}
    assert graph.downstream_of(DIAMOND, ["b"]) == {"d"}
    assert graph.downstream_of(DIAMOND, ["d"]) == set()
    assert graph.downstream_of(DIAMOND, ["b", "c"]) == {"d"}
    assert graph.downstream_of(DIAMOND, []) == set()


def test_leaves_in_file_order():
    assert graph.leaves(DIAMOND) == ["d", "e"]
    assert graph.leaves({"a": []}) == ["a"]


def test_topological_keeps_file_order_for_ties():
    assert graph.topological(DIAMOND) == ["a", "b", "c", "d", "e"]
    assert graph.topological({"b": [], "a": [], "c": ["a", "b"]}) == ["b", "a", "c"]


def test_topological_puts_every_task_after_its_upstream():
    upstream = {"z": ["y"], "y": ["x"], "x": [], "w": ["z", "x"]}
    order = graph.topological(upstream)
    assert sorted(order) == sorted(upstream)
    for node, deps in upstream.items():
        for dep in deps:
            assert order.index(dep) < order.index(node)


def test_topological_with_a_cycle_raises():
    with pytest.raises(ValueError, match="cycle"):
        graph.topological({"a": ["b"], "b": ["a"]})
