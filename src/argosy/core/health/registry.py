"""The registry of health checks, dispatching on (API group, kind).

Entries are exact (group, kind) pairs or shell-style patterns such as ``("*.crossplane.io", "*")``.
An exact entry always wins over a pattern; among patterns the first registered wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from typing import Any

from argosy.model.health import HealthResult

from ._util import Obj

HealthCheck = Callable[[Obj], HealthResult | None]
"""A health check: the object in, a result out (None means "this object has no health")."""

_GLOB_CHARS = frozenset("*?[")


def _is_pattern(text: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in text)


class HealthRegistry:
    """A mutable table of checks; build one, then treat it as read-only."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], HealthCheck] = {}
        self._patterns: list[tuple[str, str, HealthCheck]] = []

    def register(self, group: str, kind: str, check: HealthCheck) -> None:
        """Add or replace the check for (group, kind); either may be a glob pattern."""
        if _is_pattern(group) or _is_pattern(kind):
            self._patterns = [p for p in self._patterns if (p[0], p[1]) != (group, kind)]
            self._patterns.append((group, kind, check))
        else:
            self._exact[(group, kind)] = check

    def lookup(self, group: str, kind: str) -> HealthCheck | None:
        check = self._exact.get((group, kind))
        if check is not None:
            return check
        for pat_group, pat_kind, pat_check in self._patterns:
            if fnmatchcase(group, pat_group) and fnmatchcase(kind, pat_kind):
                return pat_check
        return None

    def keys(self) -> Iterator[tuple[str, str]]:
        yield from self._exact
        for group, kind, _check in self._patterns:
            yield group, kind

    def copy(self) -> HealthRegistry:
        clone = HealthRegistry()
        clone._exact = dict(self._exact)
        clone._patterns = list(self._patterns)
        return clone

    def __contains__(self, item: Any) -> bool:
        return isinstance(item, tuple) and len(item) == 2 and self.lookup(item[0], item[1]) is not None
