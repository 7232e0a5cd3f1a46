"""An in-memory :class:`~argosy.ports.history.HistoryStore`: for tests and for a controller run without a
database. Records live as long as the process.

Layer 4 (``argosy.services``). May import: ``argosy.model``, ``argosy.ports``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

from argosy.model.history import DeploymentRecord, OperationRecord

__all__ = ["MemoryHistoryStore"]


class MemoryHistoryStore:
    """Satisfies ``HistoryStore`` structurally; safe for concurrent tasks of one event loop."""

    def __init__(self) -> None:
        self._operations: list[OperationRecord] = []
        self._deployments: list[DeploymentRecord] = []
        self._lock = asyncio.Lock()

    async def record_operation(self, record: OperationRecord) -> None:
        async with self._lock:
            self._operations.append(record)

    async def record_deployment(self, record: DeploymentRecord) -> None:
        async with self._lock:
            self._deployments.append(record)

    async def mark_healthy(self, app_namespace: str, app_name: str, revision: str, at: datetime) -> None:
        async with self._lock:
            for index in range(len(self._deployments) - 1, -1, -1):
                d = self._deployments[index]
                if (d.app_namespace, d.app_name, d.revision) == (app_namespace, app_name, revision):
                    if d.healthy_at is None and d.succeeded:
                        self._deployments[index] = replace(d, healthy_at=at)
                    return

    async def operations(
        self,
        *,
        app_namespace: str | None = None,
        app_name: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[OperationRecord]:
        found = [
            r
            for r in self._operations
            if (app_namespace is None or r.app_namespace == app_namespace)
            and (app_name is None or r.app_name == app_name)
            and (since is None or r.finished_at >= since)
        ]
        found.sort(key=lambda r: r.finished_at, reverse=True)
        return found[:limit]

    async def deployments(
        self,
        *,
        app_namespace: str | None = None,
        app_name: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
    ) -> list[DeploymentRecord]:
        return [
            r
            for r in self._deployments
            if (app_namespace is None or r.app_namespace == app_namespace)
            and (app_name is None or r.app_name == app_name)
            and (environment is None or r.environment == environment)
            and (since is None or r.deployed_at >= since)
        ]
