"""Persistence: SQLAlchemy 2 tables, engines/sessions (SQLite WAL or PostgreSQL), Alembic migrations."""

from prewire.store.engine import Store, default_url

__all__ = ["Store", "default_url"]
