"""Long-term records of operations and deployments (for history, the audit trail, DORA figures and
promotions). Stdlib only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class OperationKind(StrEnum):
    SYNC = "sync"
    AUTO_SYNC = "auto-sync"
    SELF_HEAL = "self-heal"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """One finished (or terminated) operation on an application."""

    app_namespace: str
    app_name: str
    project: str
    environment: str
    kind: OperationKind
    revisions: tuple[str, ...]
    initiated_by: str
    automated: bool
    phase: str
    """Argo CD's operation phase: Succeeded, Failed, Error or Terminating."""
    message: str
    started_at: datetime
    finished_at: datetime
    resources: int = 0
    operation_id: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """A revision that reached (or failed to reach) the cluster: the unit of the DORA figures."""

    app_namespace: str
    app_name: str
    environment: str
    revision: str
    deployed_at: datetime
    succeeded: bool
    commit_time: datetime | None = None
    """When the revision was committed: lead time is healthy_at - commit_time."""
    healthy_at: datetime | None = None
    """When the application was first Synced and Healthy at this revision."""
    rollback: bool = False
    extra: dict[str, str] = field(default_factory=dict)
