"""Dependency ordering that keeps the original order wherever the dependencies allow (A1111's ``util.topological_sort``)."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence


def topological_sort(dependencies: Mapping[str, Sequence[str]],
                     on_cycle: Callable[[list[str]], None] | None = None) -> list[str]:
    """Every key of ``dependencies``, each after the keys it depends on, otherwise in the mapping's order.

    Dependencies that are not keys are ignored (a missing script or extension is
    reported elsewhere).  A cycle is broken where it closes, and ``on_cycle`` gets
    its members, so a mistake in one ``metadata.ini`` never stops start-up.
    """
    done: set[str] = set()
    visiting: list[str] = []
    result: list[str] = []

    def visit(name: str) -> None:
        # iterative deepening is not needed: chains are a few extensions long
        visiting.append(name)
        for dep in dependencies.get(name, ()):
            if dep not in dependencies or dep in done:
                continue
            if dep in visiting:
                if on_cycle is not None:
                    on_cycle(visiting[visiting.index(dep):] + [dep])
                continue
            visit(dep)
        visiting.pop()
        done.add(name)
        result.append(name)

    for name in dependencies:
        if name not in done:
            visit(name)
    return result
