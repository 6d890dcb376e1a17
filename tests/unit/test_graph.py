"""graph: cycles, downstream sets, leaves and order."""

from __future__ import annotations

import pytest

from nbflow.core import graph

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


def chain(n: int) -> dict[str, list[str]]:
    """t0 <- t1 <- ... listed downstream-first, as the fuzzed file that broke find_cycle."""
    return {f"t{i}": [f"t{i + 1}"] if i < n - 1 else [] for i in range(n)}


def test_find_cycle_on_a_long_chain_does_not_recurse():
    assert graph.find_cycle(chain(5000)) is None
    looped = chain(5000)
    looped["t4999"] = ["t0"]
    cycle = graph.find_cycle(looped)
    assert cycle is not None and len(cycle) == 5001 and cycle[0] == cycle[-1]


def test_ancestry():
    ancestry = graph.Ancestry(DIAMOND)
    assert "a" in ancestry.of("d") and "b" in ancestry.of("d") and "c" in ancestry.of("d")
    assert "d" not in ancestry.of("a") and "e" not in ancestry.of("d")
    assert "ghost" not in ancestry.of("d") and "a" not in ancestry.of("ghost")
    assert not ancestry.depends_on("b", "c")


def test_ancestry_of_a_long_chain():
    ancestry = graph.Ancestry(chain(5000))
    assert ancestry.depends_on("t0", "t4999")
    assert not ancestry.depends_on("t4999", "t0")


def test_ancestry_survives_a_cycle():
    ancestry = graph.Ancestry({"a": ["b"], "b": ["a"], "c": ["a"]})
    assert "a" in ancestry.of("c") and "b" in ancestry.of("c")
