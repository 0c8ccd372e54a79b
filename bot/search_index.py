"""The operator's word search, kept up to date beside the turns instead of inside them: on
SQLite an FTS5 index the store catches up in bulk; PostgreSQL indexes each message as it is
stored (a tsvector with a GIN index), so there is nothing to catch up.

    index = MessageIndex(store)
    await index.catch_up()      # before a word search: every committed message is findable
    await index.run()           # the background task: catches up every half second

A turn only appends its messages; indexing them one small transaction at a time cost the
commit about half its time, while a few thousand rows in one transaction cost little each.
"""

from __future__ import annotations

import asyncio
import logging

from storage.base import Store

log = logging.getLogger(__name__)


class MessageIndex:
    def __init__(self, store: Store, *, batch: int = 500, interval: float = 0.5) -> None:
        self._store = store
        self.batch = batch  # rows a transaction: one catch-up step holds the writer briefly
        self.interval = interval
        self._lock = asyncio.Lock()

    async def catch_up(self) -> int:
        """Index every message committed so far; returns how many were indexed."""
        async with self._lock:
            return await self._store.catch_up_search(self.batch)

    async def run(self) -> None:
        if self._store.shared:
            return  # indexed as stored
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.catch_up()
            except Exception:
                log.exception("indexing messages for the console's search failed; trying again")
