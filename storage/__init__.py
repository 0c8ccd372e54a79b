"""Where the service keeps its truth: the `Store` interface (storage/base.py) and its two
backends, picked by configuration.

    store = await open_store(config)    # [storage] url: "" -> SQLite file, "postgresql://" -> PG
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Config
    from storage.base import Store


async def open_store(config: Config) -> Store:
    """Open (and migrate) the configured store."""
    if config.database_url:
        from storage.postgres import PostgresStore

        return await PostgresStore.open(config.database_url)
    from storage.sqlite import SqliteStore

    return await SqliteStore.open(config.database_path, config.storage.durability)
