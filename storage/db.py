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
import functools
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
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
        self.replays = 0  # batches committed turn by turn (a failure, or no order fitted)
        self._parents_first: dict[str, int] = {}

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
        db._parents_first = await _call(writer, parents_first)
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
                failures, replayed = await _call(
                    self._writer, _apply, [writes for writes, _ in batch], self._parents_first
                )
            except Exception as error:
                log.exception("group commit of %d turns failed", len(batch))
                failures = {index: error for index in range(len(batch))}
            else:
                self.commits += 1
                self.replays += replayed
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


class Applied(NamedTuple):
    failures: dict[int, Exception]  # the turns refused, by index in the batch
    replayed: bool  # whether the batch had to be run turn by turn


def _apply(
    conn: sqlite3.Connection, turns: list[Sequence[Write]], parents_first: Mapping[str, int]
) -> Applied:
    """Commit many turns in one transaction.

    The fast path runs each distinct statement once with all its rows, rows in arrival order,
    statements in an order that keeps every turn's own order wherever it matters (see
    `_statement_order`). If anything fails, or a guarded write changes fewer rows than it
    should (perhaps only because grouping ran it before another turn's INSERT), the transaction
    is rolled back and replayed turn by turn in arrival order, each turn in a savepoint, so a
    failing turn is refused alone.
    """
    groups: dict[str, tuple[list[Sequence[Any]], bool]] = {}
    shapes: set[tuple[str, ...]] = set()
    for writes in turns:
        shapes.add(tuple(write.sql for write in writes))
        for write in writes:
            group = groups.get(write.sql)
            if group is None:
                group = groups[write.sql] = ([], write.must_change)
            group[0].append(write.params)
    order = _statement_order(shapes, list(groups), parents_first)
    if order is None:
        return Applied(_apply_in_order(conn, turns), True)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql in order:
            rows, must_change = groups[sql]
            cursor = _run_group(conn, sql, rows, must_change)
            if must_change and cursor.rowcount != len(rows):
                raise StaleWrite("a guarded write changed nothing")
        conn.execute("COMMIT")
        return Applied({}, False)
    except Exception:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    return Applied(_apply_in_order(conn, turns), True)


def _statement_order(
    shapes: Iterable[tuple[str, ...]], statements: list[str], parents_first: Mapping[str, int]
) -> list[str] | None:
    """The statements in an order that keeps every turn's own order wherever it matters, or
    None when no order can (the turn by turn replay then does). `shapes` are the turns'
    statement sequences.

    Within a turn, two statements on a common table keep their order, unless both are plain
    INSERTs: keys are given, so those never depend on each other, except through foreign keys,
    and INSERTs run parent tables first (`parents_first`: a table's depth in the foreign key
    graph), so every row's parent is in before it whichever turn inserted the parent. Among the
    statements free to go next, INSERTs go first: a turn may change a row another turn of the
    batch just inserted (a guest's request started the host's conversation; the host's reply
    updates it), never the other way round.
    """
    if len(statements) == 1:
        return statements
    after: dict[str, set[str]] = {sql: set() for sql in statements}
    for shape in shapes:
        for first, later in _turn_edges(shape):
            after[first].add(later)
    waiting = dict.fromkeys(statements, 0)
    for followers in after.values():
        for sql in followers:
            waiting[sql] += 1
    position = {sql: n for n, sql in enumerate(statements)}

    def priority(sql: str) -> tuple[int, int, int]:
        table = _plain_insert_table(sql)
        if table is None:
            return (1, 0, position[sql])
        return (0, parents_first.get(table, 0), position[sql])

    ready = [sql for sql in statements if waiting[sql] == 0]
    order: list[str] = []
    while ready:
        sql = min(ready, key=priority)
        ready.remove(sql)
        order.append(sql)
        for follower in after[sql]:
            waiting[follower] -= 1
            if waiting[follower] == 0:
                ready.append(follower)
    return order if len(order) == len(statements) else None


@functools.lru_cache(maxsize=1024)
def _turn_edges(shape: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """(earlier, later) statement pairs whose order one turn of this shape needs kept."""
    edges = set()
    for i, first in enumerate(shape):
        for later in shape[i + 1 :]:
            if (
                later != first
                and _tables(first) & _tables(later)
                and not (_plain_insert_table(first) and _plain_insert_table(later))
            ):
                edges.add((first, later))
    return frozenset(edges)


def parents_first(conn: sqlite3.Connection) -> dict[str, int]:
    """Each table's depth in the foreign key graph: 0 for a table that points at none, one
    more than its deepest parent otherwise."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
    ]
    parents = {
        table: {
            row[2] for row in conn.execute(f'PRAGMA foreign_key_list("{table}")') if row[2] != table
        }
        for table in tables
    }
    depth: dict[str, int] = {}

    def of(table: str, seen: frozenset[str] = frozenset()) -> int:
        if table not in depth:
            above = [of(p, seen | {table}) for p in parents.get(table, ()) if p not in seen]
            depth[table] = 1 + max(above) if above else 0
        return depth[table]

    for table in tables:
        of(table)
    return depth


_TABLE = re.compile(r"\b(?:INTO|UPDATE|FROM|JOIN)\s+(\w+)", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _tables(sql: str) -> frozenset[str]:
    """The tables a statement names (what it writes and reads)."""
    return frozenset(name.lower() for name in _TABLE.findall(sql))


@functools.lru_cache(maxsize=256)
def _plain_insert_table(sql: str) -> str | None:
    """The table of an INSERT ... VALUES, the statement a turn adds a row with; else None."""
    insert = _INSERT.fullmatch(sql)
    return insert.group(1).lower() if insert else None


def _run_group(
    conn: sqlite3.Connection, sql: str, rows: list[Sequence[Any]], must_change: bool
) -> sqlite3.Cursor:
    """All of a batch's rows for one statement, in as few trips into SQLite as possible.

    executemany binds and steps row by row, and the sqlite3 module gives up the GIL around
    every step and takes it back after: a batch of a few hundred rows made the writer thread and
    the event loop hand the GIL back and forth a few hundred times, which cost the loop about
    half its turns. The same rows as one JSON array parameter, spread by json_each, are one
    step: the whole statement runs in SQLite with the GIL free.
    """
    if len(rows) > 1:
        bulk = _bulk_form(sql, must_change)
        if bulk is not None:
            payload = _json_rows(rows)
            # Where JSON would not give back exactly the Python value, executemany does:
            # SQLite's JSON text ends at a NUL character, and an integer past 64 bits would
            # come back a float instead of failing (19 digits anywhere, even in a body, is
            # enough to take the long way).
            if _NOT_FOR_JSON.search(payload) is None:
                return conn.execute(bulk, (payload,))
    return conn.executemany(sql, rows)


_NOT_FOR_JSON = re.compile(r"\\u0000|\d{19}")
_json_rows = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_INSERT = re.compile(r"INSERT INTO (\w+) \(([\w, ]+)\) VALUES \(([^()]*)\)")
_LITERAL = re.compile(r"'\w*'|-?\d+|NULL")
_UPDATE = re.compile(r"UPDATE (\w+) SET ([^?]*\?.*) WHERE (.*)")


@functools.lru_cache(maxsize=256)
def _bulk_form(sql: str, must_change: bool) -> str | None:
    """The statement taking its rows as one JSON array, where that means the same thing.

    INSERT ... VALUES (?, ...) becomes INSERT ... SELECT over json_each, rows in their order.
    An UPDATE is joined with json_each only when it is guarded (must change one row a row):
    a target row named twice would be changed once, the count falls short, and the batch is
    replayed statement by statement, so a bulk UPDATE that succeeds is the same as one by one.
    """
    insert = _INSERT.fullmatch(sql)
    if insert:
        table, columns, values = insert.groups()
        items = [item.strip() for item in values.split(",")]
        if len(items) != len(columns.split(",")):
            return None
        counter = iter(range(len(items)))
        spread = []
        for item in items:
            if item == "?":
                spread.append(f"value ->> {next(counter)}")
            elif _LITERAL.fullmatch(item):
                spread.append(item)
            else:
                return None
        return f"INSERT INTO {table} ({columns}) SELECT {', '.join(spread)} FROM json_each(?)"
    update = _UPDATE.fullmatch(sql)
    if update and must_change and "(" not in sql:
        table, assignments, condition = update.groups()
        counter = iter(range(sql.count("?")))

        def column(_: re.Match[str]) -> str:
            return f"_bulk._row ->> {next(counter)}"

        assignments = re.sub(r"\?", column, assignments)
        condition = re.sub(r"\?", column, condition)
        # (A statement must begin with UPDATE for the sqlite3 module to count its rows.)
        return (
            f"UPDATE {table} SET {assignments}"
            f" FROM (SELECT value AS _row FROM json_each(?)) AS _bulk WHERE {condition}"
        )
    return None


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
