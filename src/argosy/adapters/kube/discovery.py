"""API discovery results: every resource type the apiserver serves, per group/version.

:class:`Discovery` is plain data built from ``/api``, ``/apis`` and each group-version's
``APIResourceList``; :meth:`Discovery.preferred` answers "which version do we list and watch for
this kind" the way client-go's ``ServerPreferredResources`` does (the group's preferred version,
else the first version in the server's priority order that serves the kind).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from argosy.model.resources import GroupKind

__all__ = ["APIResource", "Discovery", "parse_resource_list"]


@dataclass(frozen=True, slots=True)
class APIResource:
    """One resource type: ``apps/v1`` ``Deployment`` served as ``deployments``."""

    group: str
    version: str
    kind: str
    name: str
    namespaced: bool
    verbs: frozenset[str] = frozenset()
    short_names: tuple[str, ...] = ()
    singular_name: str = ""
    preferred: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    @property
    def listable(self) -> bool:
        return "list" in self.verbs

    @property
    def watchable(self) -> bool:
        return "watch" in self.verbs

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection (``name`` None) or of one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.name}"
        return f"{base}/{name}" if name is not None else base

    def __str__(self) -> str:
        return f"{self.kind}.{self.api_version} ({self.name})"


def parse_resource_list(group: str, version: str, body: Mapping[str, Any]) -> list[APIResource]:
    """The top-level resources (not subresources) of one group-version's ``APIResourceList``."""
    found: list[APIResource] = []
    for raw in body.get("resources") or []:
        name = str(raw.get("name") or "")
        if not name or "/" in name:
            continue
        found.append(
            APIResource(
                group=group,
                version=version,
                kind=str(raw.get("kind") or ""),
                name=name,
                namespaced=bool(raw.get("namespaced")),
                verbs=frozenset(str(v) for v in raw.get("verbs") or []),
                short_names=tuple(str(s) for s in raw.get("shortNames") or []),
                singular_name=str(raw.get("singularName") or ""),
            )
        )
    return found


@dataclass(frozen=True)
class Discovery:
    """Every served resource type, with lookup tables.

    ``group_versions`` lists each group's versions in the server's priority order (preferred
    first). ``failed`` maps group-versions whose discovery failed (often an unavailable aggregated
    API) to the error text; their resources are missing, the rest is usable.
    """

    resources: tuple[APIResource, ...]
    group_versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)
    _by_gvk: dict[tuple[str, str], APIResource] = field(init=False, repr=False, compare=False)
    _by_plural: dict[tuple[str, str, str], APIResource] = field(init=False, repr=False, compare=False)
    _preferred: dict[GroupKind, APIResource] = field(init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        group_versions: Mapping[str, Sequence[str]],
        resources: Iterable[APIResource],
        failed: Mapping[str, str] | None = None,
    ) -> Discovery:
        """Mark the preferred version of every group-kind and build the tables."""
        by_gv: dict[tuple[str, str], list[APIResource]] = {}
        for res in resources:
            by_gv.setdefault((res.group, res.version), []).append(res)
        chosen: set[tuple[str, str, str]] = set()
        for group, versions in group_versions.items():
            seen: set[str] = set()
            for version in versions:
                for res in by_gv.get((group, version), []):
                    if res.kind not in seen:
                        seen.add(res.kind)
                        chosen.add((group, version, res.name))
        marked = tuple(
            APIResource(
                group=r.group,
                version=r.version,
                kind=r.kind,
                name=r.name,
                namespaced=r.namespaced,
                verbs=r.verbs,
                short_names=r.short_names,
                singular_name=r.singular_name,
                preferred=(r.group, r.version, r.name) in chosen,
            )
            for rs in by_gv.values()
            for r in rs
        )
        return cls(
            resources=marked,
            group_versions={g: tuple(v) for g, v in group_versions.items()},
            failed=dict(failed or {}),
        )

    def __post_init__(self) -> None:
        by_gvk: dict[tuple[str, str], APIResource] = {}
        by_plural: dict[tuple[str, str, str], APIResource] = {}
        preferred: dict[GroupKind, APIResource] = {}
        for res in self.resources:
            by_gvk.setdefault((res.api_version, res.kind), res)
            by_plural.setdefault((res.group, res.version, res.name), res)
            if res.preferred:
                preferred.setdefault(res.group_kind, res)
        object.__setattr__(self, "_by_gvk", by_gvk)
        object.__setattr__(self, "_by_plural", by_plural)
        object.__setattr__(self, "_preferred", preferred)

    def find(self, api_version: str, kind: str) -> APIResource | None:
        """The resource serving ``kind`` in exactly ``api_version``."""
        return self._by_gvk.get((api_version, kind))

    def by_plural(self, group: str, version: str, plural: str) -> APIResource | None:
        return self._by_plural.get((group, version, plural))

    def preferred(self, group_kind: GroupKind) -> APIResource | None:
        """The preferred-version resource for a group and kind."""
        return self._preferred.get(group_kind)

    def preferred_resources(self) -> tuple[APIResource, ...]:
        """One resource per group-kind, in its preferred version."""
        return tuple(r for r in self.resources if r.preferred)
