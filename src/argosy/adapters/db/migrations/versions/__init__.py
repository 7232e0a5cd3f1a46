"""Alembic revisions, one file each, oldest first.

Layer 3 (``argosy.adapters.db``): a revision may import ``alembic``, ``sqlalchemy`` and
``argosy.adapters.db.tables`` (for column types), never the current table definitions' shape:
each revision spells out its own DDL so that later changes to ``tables.py`` do not rewrite history.
"""
