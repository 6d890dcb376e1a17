"""The task graph: dependency checks, cycles, order and downstream sets; no I/O."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence


def find_cycle(upstream: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as [a, b, ..., a] when the graph has one, else None.

    Depth-first with a stack of its own, not recursion: a valid chain of thousands of tasks
    listed downstream-first is as deep as it is long.
    """
    white, grey, black = 0, 1, 2
    colour = {node: white for node in upstream}
    for start in upstream:
        if colour[start] != white:
            continue
        colour[start] = grey
        path = [start]  # the grey nodes, in the order they were entered
        todo = [iter(upstream.get(start, ()))]
        while todo:
            dep = next(todo[-1], None)
            if dep is None:
                todo.pop()
                colour[path.pop()] = black
            elif dep not in colour:
                continue
            elif colour[dep] == grey:
                found = path[path.index(dep) :] + [dep]
                # Written in the direction work flows: upstream first.
                return list(reversed(found))
            elif colour[dep] == white:
                colour[dep] = grey
                path.append(dep)
                todo.append(iter(upstream.get(dep, ())))
    return None


class Ancestry:
    """Whether a task depends, directly or not, on another, in a graph without cycles.

    Each task's ancestors are one bitset (an int) built from its parents' bitsets, so a chain
    of thousands of tasks costs milliseconds and no recursion (sets of names would grow with
    the square of its length).
    """

    def __init__(self, upstream: Mapping[str, Sequence[str]]):
        self._index = {node: i for i, node in enumerate(upstream)}
        self._bits: dict[str, int] = {}
        entered: set[str] = set()  # an edge back to one of these is a cycle: not followed
        for start in upstream:
            # Iterative post-order: a task's bitset is made after its parents'.
            todo = [start]
            while todo:
                node = todo[-1]
                if node in self._bits:
                    todo.pop()
                    continue
                deps = [d for d in upstream.get(node, ()) if d in self._index]
                missing = [d for d in deps if d not in self._bits and d not in entered]
                entered.add(node)
                if missing:
                    todo.extend(missing)
                    continue
                bits = 0
                for dep in deps:
                    bits |= (1 << self._index[dep]) | self._bits.get(dep, 0)
                self._bits[node] = bits
                todo.pop()

    def of(self, node: str) -> Container[str]:
        """The tasks `node` depends on, directly or not (for `in` tests)."""
        return _Ancestors(self, node)

    def depends_on(self, node: str, other: str) -> bool:
        index = self._index.get(other)
        return index is not None and bool(self._bits.get(node, 0) >> index & 1)


class _Ancestors(Container[str]):
    def __init__(self, ancestry: Ancestry, node: str):
        self._ancestry = ancestry
        self._node = node

    def __contains__(self, other: object) -> bool:
        return isinstance(other, str) and self._ancestry.depends_on(self._node, other)


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
