"""History (operations, deployments) and the notification outbox and de-duplication state.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from argosy.adapters.db.tables import UtcDateTime

revision = "0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "argosy_operations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_namespace", sa.String(253), nullable=False),
        sa.Column("app_name", sa.String(253), nullable=False),
        sa.Column("project", sa.String(253), nullable=False),
        sa.Column("environment", sa.String(253), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("revisions", sa.JSON, nullable=False),
        sa.Column("initiated_by", sa.String(512), nullable=False),
        sa.Column("automated", sa.Boolean, nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=False),
        sa.Column("resources", sa.Integer, nullable=False),
        sa.Column("operation_id", sa.String(128), nullable=False),
    )
    op.create_index(
        "ix_argosy_operations_app", "argosy_operations", ["app_namespace", "app_name", "finished_at"]
    )
    op.create_index("ix_argosy_operations_finished", "argosy_operations", ["finished_at"])

    op.create_table(
        "argosy_deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_namespace", sa.String(253), nullable=False),
        sa.Column("app_name", sa.String(253), nullable=False),
        sa.Column("environment", sa.String(253), nullable=False),
        sa.Column("revision", sa.String(255), nullable=False),
        sa.Column("deployed_at", UtcDateTime, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("commit_time", UtcDateTime, nullable=True),
        sa.Column("healthy_at", UtcDateTime, nullable=True),
        sa.Column("rollback", sa.Boolean, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_argosy_deployments_app", "argosy_deployments", ["app_namespace", "app_name", "deployed_at"]
    )
    op.create_index("ix_argosy_deployments_env", "argosy_deployments", ["environment", "deployed_at"])

    op.create_table(
        "argosy_notification_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(1024), nullable=False),
        sa.Column("app_namespace", sa.String(253), nullable=False),
        sa.Column("app_name", sa.String(253), nullable=False),
        sa.Column("trigger", sa.String(253), nullable=False),
        sa.Column("service", sa.String(253), nullable=False),
        sa.Column("service_type", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(1024), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_argosy_outbox_due", "argosy_notification_outbox", ["status", "next_attempt_at"])
    op.create_index(
        "ix_argosy_outbox_key", "argosy_notification_outbox", ["app_namespace", "app_name", "dedupe_key"]
    )

    op.create_table(
        "argosy_notification_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app_namespace", sa.String(253), nullable=False),
        sa.Column("app_name", sa.String(253), nullable=False),
        sa.Column("dedupe_key", sa.String(1024), nullable=False),
        sa.Column("marked_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "app_namespace", "app_name", "dedupe_key", name="uq_argosy_notification_state_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("argosy_notification_state")
    op.drop_table("argosy_notification_outbox")
    op.drop_table("argosy_deployments")
    op.drop_table("argosy_operations")
