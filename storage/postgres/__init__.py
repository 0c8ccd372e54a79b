"""The PostgreSQL backend: any number of instances share one database (see store.py)."""

from storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
