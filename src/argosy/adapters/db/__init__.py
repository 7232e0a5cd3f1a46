"""SQL store (SQLAlchemy 2 async + Alembic): operation/deployment history and the notification outbox.

Layer 3 (``argosy.adapters``): may import ``argosy.model``, ``argosy.ports`` and I/O libraries;
never ``argosy.core`` or another adapter. Implements ``argosy.ports.history.HistoryStore`` and
``argosy.ports.notify.NotificationOutbox``. ``open_store(url)`` migrates the schema at startup.
"""

from __future__ import annotations

from argosy.adapters.db.store import MIGRATIONS_DIR, SqlStore, default_sqlite_url, open_store, upgrade

__all__ = ["MIGRATIONS_DIR", "SqlStore", "default_sqlite_url", "open_store", "upgrade"]
