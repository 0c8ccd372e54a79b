"""The operator's word search (an FTS5 index over message bodies), kept up to date beside the
turns instead of inside them.

    index = MessageIndex(db)
    await index.catch_up()      # before a word search: every committed message is findable
    await index.run()           # the background task: catches up every half second

A turn only appends its messages; indexing them one small transaction at a time cost the
commit about half its time, while a few thousand rows in one transaction cost little each.
"""

from __future__ import annotations

import asyncio
import logging

from storage import writes
from storage.db import Database
from storage.queries import message_index_progress

log = logging.getLogger(__name__)


class MessageIndex:
    def __init__(self, db: Database, *, batch: int = 500, interval: float = 0.5) -> None:
        self._db = db
        self.batch = batch  # rows a transaction: one catch-up step holds the writer briefly
        self.interval = interval
        self._lock = asyncio.Lock()

    async def catch_up(self) -> int:
        """Index every message committed so far; returns how many were indexed."""
        async with self._lock:
            indexed = 0
            while True:
                done, newest = await self._db.read(message_index_progress)
                if newest <= done:
                    return indexed
                upto = min(newest, done + self.batch)
                await self._db.write(writes.index_messages(done, upto))
                indexed += upto - done

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.catch_up()
            except Exception:
                log.exception("indexing messages for the console's search failed; trying again")
