"""How an operator command (run.py demo, add-home, retention, logs, reservations, send) reaches
the store: beside the running service that owns the file, or as the file's owner when none runs.

    async with open_store(config, writes=True) as store:
        if store.service:                     # a service owns the file: ask its admin API
            await post(store.service.url + "/admin/api/demo", ...)
        else:                                 # nobody does: this command holds the lock
            await store.store.add_home(...)   # (or the store is shared: PostgreSQL)

A service keeps people, homes and ids in memory and writes through its one writer, so a second
writer on its file would make ids it does not know (the duplicate ids of issue 15) or hold the
write lock from under its turns. So a command that writes takes the file's lock for as long as
it runs, or, if a service holds it, goes through that service; if another operator command
holds it, it is refused with one line naming it. A command that only reads never waits and
never stops a service from starting: with the lock free it opens (and migrates) the file and
lets go of the lock at once; beside a service it opens the file read-only, without migrating.

A shared store (PostgreSQL) has no file to own: every command writes to it directly, beside
any number of running instances, which see what it wrote (storage/postgres/).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import storage
from bot.config import Config
from storage.base import Store
from storage.db import Database
from storage.lock import FileLock, Holder, InUse
from storage.sqlite import SqliteStore


@dataclass(frozen=True)
class Opened:
    store: Store
    service: Holder | None  # the running service that owns the file; None: this command does


@contextlib.asynccontextmanager
async def open_store(config: Config, *, writes: bool) -> AsyncIterator[Opened]:
    """The store for one command; raises InUse when it writes and another command writes."""
    if config.database_url:
        shared = await storage.open_store(config)
        try:
            yield Opened(shared, None)
        finally:
            await shared.close()
        return
    path = config.database_path
    try:
        lock = FileLock.acquire(path, Holder.me())
    except InUse as in_use:
        if writes and (in_use.holder is None or in_use.holder.url is None):
            raise
        db = await Database.open(path, read_only=True)
        try:
            yield Opened(SqliteStore(db), in_use.holder)
        finally:
            await db.close()
        return
    with lock:
        db = await Database.open(path, config.storage.durability)
        if not writes:
            lock.release()  # migrated; reading needs no lock, and a service may start now
        try:
            yield Opened(SqliteStore(db), None)
        finally:
            await db.close()
