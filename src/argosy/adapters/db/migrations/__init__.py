"""Alembic migrations of the SQL store (applied by ``argosy.adapters.db.open_store``)."""
