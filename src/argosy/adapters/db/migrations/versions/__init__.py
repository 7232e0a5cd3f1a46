"""Alembic revisions, one file each, oldest first."""
