"""The database connections: one writer that group-commits turns, one reader for look-ups.

    db = await Database.open(Path("airtng.db"), durability="normal")
    await db.commit([writes.log_inbound(...), ...])   # returns once the turn is on disk

A turn's writes are a list of `Write`s (SQL and parameters, built by `storage.writes`). Turns
that arrive while a commit is running wait for the next one and are committed together, in one
transaction, so one fsync serves them all; each caller still resumes only after its own writes
are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import aiosqlite

from storage.schema import migrate

log = logging.getLogger(__name__)

T = TypeVar("T")


class Write(NamedTuple):
    sql: str
    params: Sequence[Any] = ()
    # An UPDATE guarded by a version or a status: changing no row means the database is not
    # what this process believed, and the whole transaction is refused.
    must_change: bool = False


class StaleWrite(RuntimeError):
    """A guarded write changed nothing: the database moved under this process."""


class Database:
    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._queue: list[tuple[Sequence[Write], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._committer: asyncio.Task[None] | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._closed = False
        self.commits = 0  # transactions and turns committed, for the benchmark's report
        self.turns_committed = 0

    @classmethod
    async def open(cls, path: Path, durability: str = "normal") -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        synchronous = "FULL" if durability == "full" else "NORMAL"
        # isolation_level=None: transactions are explicit (BEGIN/COMMIT), never implicit.
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            # wal_autocheckpoint=0: the writer never stops a group commit to copy the WAL
            # into the database; the checkpointer connection does that beside it.
            await writer.executescript(
                f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};"
                " PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=0;"
            )
            await _call(writer, migrate)
        except BaseException:
            # aiosqlite's thread would keep the process alive after the error is reported.
            await writer.close()
            raise
        reader = await aiosqlite.connect(path, isolation_level=None)
        await reader.executescript("PRAGMA busy_timeout=5000; PRAGMA query_only=ON;")
        checkpointer = await aiosqlite.connect(path, isolation_level=None)
        await checkpointer.executescript(
            f"PRAGMA busy_timeout=5000; PRAGMA synchronous={synchronous};"
        )
        db = cls(writer, reader)
        db._checkpointer = checkpointer
        db._committer = asyncio.create_task(db._commit_loop(), name="group-commit")
        db._checkpoints = asyncio.create_task(db._checkpoint_loop(), name="wal-checkpoint")
        return db

    async def close(self) -> None:
        if self._closed:
            return
        await self.flush()
        self._closed = True
        for task in (self._committer, self._checkpoints):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._checkpointer:
            await self._checkpointer.close()
        await self._reader.close()
        await self._writer.close()

    async def commit(self, writes: Sequence[Write]) -> None:
        """Commit one turn's writes; returns when they are durable (or raises)."""
        if self._closed:
            raise RuntimeError("database closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((writes, future))
        self._idle.clear()
        self._wake.set()
        await future

    async def flush(self) -> None:
        """Wait until everything handed to commit() so far is committed."""
        while self._queue or not self._idle.is_set():
            await self._idle.wait()
            if self._queue:
                await asyncio.sleep(0)

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """Run `query(connection, *args)` on the reader: one round trip, however many statements."""
        return await _call(self._reader, query, *args)

    async def write(self, writes: Sequence[Write]) -> None:
        """Commit writes that are not a turn (operator commands, outbox bookkeeping)."""
        await self.commit(writes)

    async def transact(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(connection, *args)` on the writer inside its own transaction."""
        await self.flush()
        return await _call(self._writer, _in_transaction, work, *args)

    async def _checkpoint_loop(self, interval: float = 1.0) -> None:
        """Copy committed pages from the WAL into the database file, off the commit path.

        PASSIVE never blocks the writer or the reader; the WAL restarts from its beginning once
        a checkpoint has caught up, so it stays small.
        """
        while True:
            await asyncio.sleep(interval)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("WAL checkpoint failed; trying again")

    async def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the WAL, frames copied to the database)."""
        assert self._checkpointer is not None
        cursor = await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    async def _commit_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if not batch:
                self._idle.set()
                continue
            try:
                failures = await _call(self._writer, _apply, [writes for writes, _ in batch])
            except Exception as error:
                log.exception("group commit of %d turns failed", len(batch))
                failures = {index: error for index in range(len(batch))}
            else:
                self.commits += 1
                self.turns_committed += len(batch) - len(failures)
            for index, (_, future) in enumerate(batch):
                if future.done():
                    continue
                if index in failures:
                    future.set_exception(failures[index])
                else:
                    future.set_result(None)
            if not self._queue:
                self._idle.set()


def _apply(conn: sqlite3.Connection, turns: list[Sequence[Write]]) -> dict[int, Exception]:
    """Commit many turns in one transaction. Returns the turns that failed, by index.

    The fast path runs each distinct statement once with all its rows (executemany), in the
    order statements first appear; foreign keys are checked at COMMIT, so a row may come before
    the row it points to. If anything fails, or a guarded write changes fewer rows than it
    should (perhaps only because grouping reordered it after its INSERT), the transaction is
    rolled back and replayed turn by turn in arrival order, each turn in a savepoint, so a
    failing turn is refused alone.
    """
    groups: dict[str, tuple[list[Sequence[Any]], bool, int]] = {}
    for writes in turns:
        last = -1
        for write in writes:
            group = groups.get(write.sql)
            if group is None:
                group = groups[write.sql] = ([], write.must_change, len(groups))
            if group[2] < last:
                # Grouping would run this turn's writes out of their order.
                return _apply_in_order(conn, turns)
            last = group[2]
            group[0].append(write.params)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        for sql, (rows, must_change, _) in groups.items():
            cursor = conn.executemany(sql, rows)
            if must_change and cursor.rowcount != len(rows):
                raise StaleWrite("a guarded write changed nothing")
        conn.execute("COMMIT")
        return {}
    except Exception:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    return _apply_in_order(conn, turns)


def _apply_in_order(conn: sqlite3.Connection, turns: list[Sequence[Write]]) -> dict[int, Exception]:
    failures: dict[int, Exception] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for index, writes in enumerate(turns):
            conn.execute("SAVEPOINT turn")
            try:
                for write in writes:
                    cursor = conn.execute(write.sql, write.params)
                    if write.must_change and cursor.rowcount == 0:
                        raise StaleWrite(f"no row changed by {write.sql.split('WHERE')[0]!r}")
            except Exception as error:  # bad parameters too (OverflowError, TypeError)
                conn.execute("ROLLBACK TO turn")
                failures[index] = error
            conn.execute("RELEASE turn")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return failures


def _in_transaction(conn: sqlite3.Connection, work: Callable[..., T], *args: Any) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn, *args)
        conn.execute("COMMIT")
        return result
    except BaseException:
        conn.execute("ROLLBACK")
        raise


async def _call(connection: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    # aiosqlite runs every call on the connection's own thread; handing it a whole function
    # makes several statements one thread hop (0.2-0.4 ms here) instead of one hop each.
    # `_execute` and `_conn` are aiosqlite's own hand-off; tests/storage pins that it works.
    def run() -> T:
        return fn(connection._conn, *args)

    return await connection._execute(run)
