"""Alembic migrations of the SQL store (applied by ``argosy.adapters.db.open_store``).

Layer 3 (``argosy.adapters``), part of ``argosy.adapters.db``: may import ``alembic``,
``sqlalchemy`` and ``argosy.adapters.db.tables``; nothing else of Argosy.
"""
