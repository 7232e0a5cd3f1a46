"""The ports the API server needs: a Kubernetes API with list and watch, an audit sink, a clock.

``argosy.adapters.kube.KubeClient`` satisfies :class:`ApiKube` structurally. The audit sink takes an
:class:`AuditEntry` whose fields have the same names as ``argosy.adapters.audit.AuditEvent``, so the
composition root adapts one to the other with
``lambda e: writer.write(AuditEvent(**dataclasses.asdict(e)))`` (the API may not import adapters).

May import: ``argosy.model``, ``argosy.ports`` and the standard library.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from argosy.ports.kube import KubeListWatch, KubeObjects

__all__ = ["ApiKube", "AuditEntry", "AuditSink", "Clock"]


class ApiKube(KubeObjects, KubeListWatch, Protocol):
    """What the API server reads and writes (CRs, ConfigMaps, Secrets, Events and workloads): single
    objects plus list and watch, the same operations the controller's :class:`KubeWatch` has, without
    server-side apply and type discovery."""


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
