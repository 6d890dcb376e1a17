"""The task graph: dependency checks, cycles, order and downstream sets; no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def find_cycle(upstream: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as [a, b, ..., a] when the graph has one, else None."""
    white, grey, black = 0, 1, 2
    colour = {node: white for node in upstream}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for dep in upstream.get(node, ()):
            if dep not in colour:
                continue
            if colour[dep] == grey:
                return stack[stack.index(dep) :] + [dep]
            if colour[dep] == white:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in upstream:
        if colour[node] == white:
            found = visit(node)
            if found:
                # Written in the direction work flows: upstream first.
                return list(reversed(found))
    return None


def downstream_of(upstream: Mapping[str, Sequence[str]], roots: Iterable[str]) -> set[str]:
    """Every task that depends, directly or not, on one of `roots` (roots excluded)."""
    children: dict[str, list[str]] = {node: [] for node in upstream}
    for node, deps in upstream.items():
        for dep in deps:
            children.setdefault(dep, []).append(node)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def leaves(upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """Tasks nothing depends on, in the given order."""
    used = {dep for deps in upstream.values() for dep in deps}
    return [node for node in upstream if node not in used]


def topological(upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """Tasks ordered so each comes after its upstream tasks; ties keep file order."""
    order: list[str] = []
    done: set[str] = set()
    remaining = list(upstream)
    while remaining:
        progressed = False
        for node in list(remaining):
            if all(dep in done for dep in upstream[node]):
                order.append(node)
                done.add(node)
                remaining.remove(node)
                progressed = True
        if not progressed:
            raise ValueError("the graph has a cycle")
    return order
