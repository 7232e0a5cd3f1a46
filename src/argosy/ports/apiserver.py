"""The ports the API server needs: a Kubernetes API with list and watch, an audit sink, a clock.

``argosy.adapters.kube.KubeClient`` satisfies :class:`ApiKube` structurally. The audit sink takes an
:class:`AuditEntry` whose fields have the same names as ``argosy.adapters.audit.AuditEvent``, so the
composition root adapts one to the other with
``lambda e: writer.write(AuditEvent(**dataclasses.asdict(e)))`` (the API may not import adapters).

May import: ``argosy.model``, ``argosy.ports`` and the standard library.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from argosy.ports.kube import KubePatchType, KubePropagation

__all__ = ["ApiKube", "AuditEntry", "AuditSink", "Clock", "ListPage", "WatchItem"]


class ListPage(Protocol):
    """One list answer (``argosy.adapters.kube.ListResult``)."""

    @property
    def items(self) -> list[dict[str, Any]]: ...

    @property
    def resource_version(self) -> str: ...


class WatchItem(Protocol):
    """One watch event (``argosy.adapters.kube.WatchEvent``)."""

    @property
    def type(self) -> str: ...

    @property
    def object(self) -> dict[str, Any]: ...


class ApiKube(Protocol):
    """What the API server reads and writes: CRs, ConfigMaps, Secrets, Events and workloads."""

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]: ...

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
    ) -> ListPage: ...

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[WatchItem]: ...

    async def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]: ...

    async def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]: ...

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Mapping[str, Any] | builtins.list[Any],
        namespace: str | None = None,
        *,
        patch_type: KubePatchType = "merge",
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]: ...

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: KubePropagation | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class AuditEntry:
    """One audited API call; field names match ``AuditEvent`` of the audit adapter."""

    actor: str
    action: str
    outcome: str  # success | denied | failure
    groups: Sequence[str] = ()
    source: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    project: str = ""
    application: str = ""
    request_id: str = ""
    summary: Any = None
    message: str = ""
    time: datetime | None = field(default=None)

    def __repr__(self) -> str:  # the summary may hold object content
        return f"AuditEntry(actor={self.actor!r}, action={self.action!r}, outcome={self.outcome!r})"


AuditSink = Callable[[AuditEntry], object]
Clock = Callable[[], datetime]
