"""The SQL store: operation and deployment history (``HistoryStore``) and the notification outbox.

SQLite by default (``sqlite+aiosqlite:///path``), PostgreSQL by URL (``postgresql+psycopg://...``).
``open_store(url)`` applies the Alembic migrations shipped in ``migrations/`` before returning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Select, and_, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from argosy.adapters.db.tables import deployments, notification_outbox, notification_state, operations
from argosy.model.history import DeploymentRecord, OperationKind, OperationRecord
from argosy.ports.notify import OutboxItem, OutboxMessage

__all__ = ["MIGRATIONS_DIR", "SqlStore", "default_sqlite_url", "open_store", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def default_sqlite_url(path: str | Path) -> str:
    return f"sqlite+aiosqlite:///{Path(path)}"


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` on a synchronous connection (``run_sync``)."""
    command.upgrade(_alembic_config(connection), revision)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def open_store(url: str, *, echo: bool = False) -> SqlStore:
    """Connect to ``url``, apply the migrations and return the store (call ``close()`` when done)."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        # One writer at a time; wait for locks instead of failing at once.
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_async_engine(url, **kwargs)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine)


def _operation(row: RowMapping) -> OperationRecord:
    return OperationRecord(
        app_namespace=row["app_namespace"],
        app_name=row["app_name"],
        project=row["project"],
        environment=row["environment"],
        kind=OperationKind(row["kind"]),
        revisions=tuple(row["revisions"]),
        initiated_by=row["initiated_by"],
        automated=bool(row["automated"]),
        phase=row["phase"],
        message=row["message"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        resources=row["resources"],
        operation_id=row["operation_id"],
    )


def _deployment(row: RowMapping) -> DeploymentRecord:
    return DeploymentRecord(
        app_namespace=row["app_namespace"],
        app_name=row["app_name"],
        environment=row["environment"],
        revision=row["revision"],
        deployed_at=row["deployed_at"],
        succeeded=bool(row["succeeded"]),
        commit_time=row["commit_time"],
        healthy_at=row["healthy_at"],
        rollback=bool(row["rollback"]),
        extra=dict(row["extra"] or {}),
    )


def _message(row: RowMapping) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        app_namespace=row["app_namespace"],
        app_name=row["app_name"],
        dedupe_key=row["dedupe_key"],
        trigger=row["trigger"],
        service=row["service"],
        service_type=row["service_type"],
        recipient=row["recipient"],
        payload=row["payload"],
        status=row["status"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
    )


class SqlStore:
    """Implements ``argosy.ports.history.HistoryStore`` and ``argosy.ports.notify.NotificationOutbox``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> SqlStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------ history

    async def record_operation(self, record: OperationRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(operations).values(
                    app_namespace=record.app_namespace,
                    app_name=record.app_name,
                    project=record.project,
                    environment=record.environment,
                    kind=str(record.kind),
                    revisions=list(record.revisions),
                    initiated_by=record.initiated_by,
                    automated=record.automated,
                    phase=record.phase,
                    message=record.message,
                    started_at=record.started_at,
                    finished_at=record.finished_at,
                    resources=record.resources,
                    operation_id=record.operation_id,
                )
            )

    async def record_deployment(self, record: DeploymentRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(deployments).values(
                    app_namespace=record.app_namespace,
                    app_name=record.app_name,
                    environment=record.environment,
                    revision=record.revision,
                    deployed_at=record.deployed_at,
                    succeeded=record.succeeded,
                    commit_time=record.commit_time,
                    healthy_at=record.healthy_at,
                    rollback=record.rollback,
                    extra=dict(record.extra),
                )
            )

    async def mark_healthy(self, app_namespace: str, app_name: str, revision: str, at: datetime) -> None:
        """Set ``healthy_at`` on the latest deployment of ``revision`` if it has none yet (idempotent)."""
        async with self.engine.begin() as conn:
            latest = (
                await conn.execute(
                    select(deployments.c.id, deployments.c.healthy_at)
                    .where(
                        deployments.c.app_namespace == app_namespace,
                        deployments.c.app_name == app_name,
                        deployments.c.revision == revision,
                    )
                    .order_by(deployments.c.deployed_at.desc(), deployments.c.id.desc())
                    .limit(1)
                )
            ).first()
            if latest is None or latest.healthy_at is not None:
                return
            await conn.execute(
                update(deployments)
                .where(deployments.c.id == latest.id, deployments.c.healthy_at.is_(None))
                .values(healthy_at=at)
            )

    async def operations(
        self,
        *,
        app_namespace: str | None = None,
        app_name: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[OperationRecord]:
        query = select(operations)
        if app_namespace is not None:
            query = query.where(operations.c.app_namespace == app_namespace)
        if app_name is not None:
            query = query.where(operations.c.app_name == app_name)
        if since is not None:
            query = query.where(operations.c.finished_at >= since)
        query = query.order_by(operations.c.finished_at.desc(), operations.c.id.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_operation(r) for r in rows]

    async def deployments(
        self,
        *,
        app_namespace: str | None = None,
        app_name: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
    ) -> list[DeploymentRecord]:
        """Oldest first."""
        query = select(deployments)
        if app_namespace is not None:
            query = query.where(deployments.c.app_namespace == app_namespace)
        if app_name is not None:
            query = query.where(deployments.c.app_name == app_name)
        if environment is not None:
            query = query.where(deployments.c.environment == environment)
        if since is not None:
            query = query.where(deployments.c.deployed_at >= since)
        query = query.order_by(deployments.c.deployed_at, deployments.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_deployment(r) for r in rows]

    # ----------------------------------------------------------------------- notifications

    async def load_state(self, app_namespace: str, app_name: str) -> dict[str, int]:
        query = select(notification_state.c.dedupe_key, notification_state.c.marked_at).where(
            notification_state.c.app_namespace == app_namespace, notification_state.c.app_name == app_name
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {r.dedupe_key: int(r.marked_at) for r in rows}

    async def pending_keys(self, app_namespace: str, app_name: str) -> set[str]:
        query = select(notification_outbox.c.dedupe_key).where(
            notification_outbox.c.app_namespace == app_namespace,
            notification_outbox.c.app_name == app_name,
            notification_outbox.c.status == "pending",
        )
        async with self.engine.connect() as conn:
            return set((await conn.execute(query)).scalars().all())

    async def enqueue(
        self,
        app_namespace: str,
        app_name: str,
        state: Mapping[str, int],
        items: Sequence[OutboxItem],
        *,
        now: datetime,
    ) -> list[int]:
        ids: list[int] = []
        app = and_(
            notification_state.c.app_namespace == app_namespace, notification_state.c.app_name == app_name
        )
        async with self.engine.begin() as conn:
            current = {
                r.dedupe_key: int(r.marked_at)
                for r in (
                    await conn.execute(
                        select(notification_state.c.dedupe_key, notification_state.c.marked_at).where(app)
                    )
                ).all()
            }
            removed = [k for k in current if k not in state]
            if removed:
                await conn.execute(
                    delete(notification_state).where(app, notification_state.c.dedupe_key.in_(removed))
                )
            for key, marked in state.items():
                if key not in current:
                    await conn.execute(
                        insert(notification_state).values(
                            app_namespace=app_namespace, app_name=app_name, dedupe_key=key, marked_at=marked
                        )
                    )
                elif current[key] != marked:
                    await conn.execute(
                        update(notification_state)
                        .where(app, notification_state.c.dedupe_key == key)
                        .values(marked_at=marked)
                    )
            for item in items:
                result = await conn.execute(
                    insert(notification_outbox)
                    .values(
                        dedupe_key=item.dedupe_key,
                        app_namespace=app_namespace,
                        app_name=app_name,
                        trigger=item.trigger,
                        service=item.service,
                        service_type=item.service_type,
                        recipient=item.recipient,
                        payload=dict(item.payload),
                        status="pending",
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                    )
                    .returning(notification_outbox.c.id)
                )
                ids.append(int(result.scalar_one()))
        return ids

    async def due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        query = (
            select(notification_outbox)
            .where(notification_outbox.c.status == "pending", notification_outbox.c.next_attempt_at <= now)
            .order_by(notification_outbox.c.next_attempt_at, notification_outbox.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_message(r) for r in rows]

    async def next_due_at(self) -> datetime | None:
        query = select(func.min(notification_outbox.c.next_attempt_at)).where(
            notification_outbox.c.status == "pending"
        )
        async with self.engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        if value is None:
            return None
        # func.min bypasses the column type on SQLite (a string or naive datetime comes back).
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return _utc(value)

    async def mark_sent(self, message_id: int, *, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(notification_outbox)
                .where(notification_outbox.c.id == message_id)
                .values(
                    status="sent",
                    sent_at=at,
                    attempts=notification_outbox.c.attempts + 1,
                    last_error=None,
                )
            )

    async def mark_retry(
        self, message_id: int, *, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(notification_outbox)
                .where(notification_outbox.c.id == message_id)
                .values(attempts=attempts, next_attempt_at=next_attempt_at, last_error=error[:4000])
            )

    async def mark_failed(self, message_id: int, *, attempts: int, error: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(notification_outbox)
                .where(notification_outbox.c.id == message_id)
                .values(status="failed", attempts=attempts, last_error=error[:4000])
            )

    async def messages(
        self, *, app_namespace: str | None = None, app_name: str | None = None, status: str | None = None
    ) -> list[OutboxMessage]:
        query: Select[Any] = select(notification_outbox)
        if app_namespace is not None:
            query = query.where(notification_outbox.c.app_namespace == app_namespace)
        if app_name is not None:
            query = query.where(notification_outbox.c.app_name == app_name)
        if status is not None:
            query = query.where(notification_outbox.c.status == status)
        query = query.order_by(notification_outbox.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_message(r) for r in rows]
