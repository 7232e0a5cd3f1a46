"""Port for the long-term history store (SQL: SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from argosy.model.history import DeploymentRecord, OperationRecord


class HistoryReader(Protocol):
    """The read side (the API's DORA route reads through it; it never writes)."""

    async def operations(
        self,
        *,
        app_namespace: str | None = None,
        app_name: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[OperationRecord]:
        """Newest first."""
        ...

    async def deployments(
        self,
        *,
        app_namespace: str | None = None,
        app_name: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
    ) -> list[DeploymentRecord]: ...


class HistoryStore(HistoryReader, Protocol):
    async def record_operation(self, record: OperationRecord) -> None: ...

    async def record_deployment(self, record: DeploymentRecord) -> None: ...

    async def mark_healthy(self, app_namespace: str, app_name: str, revision: str, at: datetime) -> None:
        """The first time an application is Synced and Healthy at ``revision`` (idempotent)."""
        ...
