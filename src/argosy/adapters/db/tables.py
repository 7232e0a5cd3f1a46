"""SQLAlchemy table definitions of the history store and the notification outbox.

The Alembic revisions in ``migrations/versions`` create exactly these tables; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UtcDateTime",
    "deployments",
    "metadata",
    "notification_outbox",
    "notification_state",
    "operations",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so values are stored as naive UTC and read
    back with ``tzinfo=UTC``. Naive datetimes passed in are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

operations = Table(
    "argosy_operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app_namespace", String(253), nullable=False),
    Column("app_name", String(253), nullable=False),
    Column("project", String(253), nullable=False),
    Column("environment", String(253), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("revisions", JSON, nullable=False),
    Column("initiated_by", String(512), nullable=False),
    Column("automated", Boolean, nullable=False),
    Column("phase", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("resources", Integer, nullable=False),
    Column("operation_id", String(128), nullable=False),
    Index("ix_argosy_operations_app", "app_namespace", "app_name", "finished_at"),
    Index("ix_argosy_operations_finished", "finished_at"),
)

deployments = Table(
    "argosy_deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app_namespace", String(253), nullable=False),
    Column("app_name", String(253), nullable=False),
    Column("environment", String(253), nullable=False),
    Column("revision", String(255), nullable=False),
    Column("deployed_at", UtcDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("commit_time", UtcDateTime, nullable=True),
    Column("healthy_at", UtcDateTime, nullable=True),
    Column("rollback", Boolean, nullable=False),
    Column("extra", JSON, nullable=False),
    Index("ix_argosy_deployments_app", "app_namespace", "app_name", "deployed_at"),
    Index("ix_argosy_deployments_env", "environment", "deployed_at"),
)

notification_outbox = Table(
    "argosy_notification_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(1024), nullable=False),
    Column("app_namespace", String(253), nullable=False),
    Column("app_name", String(253), nullable=False),
    Column("trigger", String(253), nullable=False),
    Column("service", String(253), nullable=False),
    Column("service_type", String(64), nullable=False),
    Column("recipient", String(1024), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_argosy_outbox_due", "status", "next_attempt_at"),
    Index("ix_argosy_outbox_key", "app_namespace", "app_name", "dedupe_key"),
)

notification_state = Table(
    "argosy_notification_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app_namespace", String(253), nullable=False),
    Column("app_name", String(253), nullable=False),
    Column("dedupe_key", String(1024), nullable=False),
    Column("marked_at", BigInteger, nullable=False),
    UniqueConstraint("app_namespace", "app_name", "dedupe_key", name="uq_argosy_notification_state_key"),
)
