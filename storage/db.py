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
import os
import re
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import aiosqlite

from storage.schema import migrate, schema_problem

log = logging.getLogger(__name__)

T = TypeVar("T")

# WAL checkpoints: committed pages copied from the WAL into the database file, on a connection
# and thread of their own beside the group commit. With durability "normal" a checkpoint also
# writes the WAL itself to disk first (commits don't), so its work grew with the time since the
# last one: every second under the browse benchmark (python -m bench.run --mix browse --trace)
# that was ~50 MB, checkpoints of 45 ms at p99 against 32 with "full", and the slowest 1% of
# turns overlapped a checkpoint 19 times as often as turns in general (8 times with "full").
# So, while turns commit: a checkpoint every CHECKPOINT_BUSY_SECONDS (smaller steps of the same
# copying); the WAL written to disk every WAL_SYNC_SECONDS beside the commits ("normal" only:
# a checkpoint then finds it there, as with "full", whose every commit syncs it); and both on a
# thread below the event loop's and the writer's CPU priority (Linux: a thread's own nice).
CHECKPOINT_BUSY_SECONDS = 0.2
CHECKPOINT_IDLE_SECONDS = 1.0
WAL_SYNC_SECONDS = 0.05
CHECKPOINTER_NICE = 10
# The WAL starts over from its beginning only at a commit that finds it all copied, which never
# happens while commits run beside every checkpoint: under a steady load it would grow without
# end. Past WAL_RESTART_FRAMES (4 KB each: 256 MB, every ~2-3 s under the browse benchmark at
# ~80 pages a group commit) the checkpointer copies again at once, on its own thread, what came
# during its last pass (each pass shorter than the one before), up to CATCH_UP_PASSES passes or
# until a pass finds CATCH_UP_FRAMES new frames or fewer; then the writer copies what came
# during that short last pass, before its next batch, and the WAL starts over. That catch-up
# holds every turn in flight (7 ms at p50 here, with the group commit after it; left to the
# writer alone the copy was all that came during a whole checkpoint), mostly for its three syncs
# (the WAL's before copying, the database's after, the WAL header's as it starts over): with
# each sync held 8 ms (`python -m bench.run --fsync-ms 8`) it took 37-49 ms, and 75% of the
# slowest 1% of turns met one when it came every 16,384 frames; four times rarer, 15%, and the
# p99 5 ms lower. On this machine's disk (~0.15 ms a sync) the two sizes measured the same.
WAL_RESTART_FRAMES = 65536
CATCH_UP_PASSES = 4
CATCH_UP_FRAMES = 256


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
        self._wal_syncs: asyncio.Task[None] | None = None
        self._closed = False
        self.read_only = False
        self.commits = 0  # transactions and turns committed, for the benchmark's report
        self.turns_committed = 0
        self.replays = 0  # batches committed turn by turn (a failure, or a statement or value
        # the one-step commit does not take)
        self._dispatch = Dispatch()
        self._catch_up = False  # the writer copies what the checkpointer missed (see above)
        self.wal_syncs = 0  # the WAL written to disk beside the commits ("normal"; see above)

    @classmethod
    async def open(
        cls, path: Path, durability: str = "normal", *, read_only: bool = False
    ) -> Database:
        """The writer, the reader and the checkpointer, the schema migrated.

        read_only: for an operator command beside a service that owns the file (storage/lock.py):
        one connection that refuses every write, no migration (the schema must be this code's
        already) and no checkpoints, so nothing the service does is disturbed.
        """
        if read_only:
            return await cls._open_read_only(path)
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
        await _call(checkpointer, _lower_priority)
        db = cls(writer, reader)
        db._checkpointer = checkpointer
        db._committer = asyncio.create_task(db._commit_loop(), name="group-commit")
        db._checkpoints = asyncio.create_task(db._checkpoint_loop(), name="wal-checkpoint")
        if durability != "full":  # ("full" syncs the WAL at every commit)
            db._wal_syncs = asyncio.create_task(
                db._wal_sync_loop(Path(f"{path}-wal")), name="wal-sync"
            )
        return db

    @classmethod
    async def _open_read_only(cls, path: Path) -> Database:
        reader = await aiosqlite.connect(path, isolation_level=None)
        try:
            await reader.executescript("PRAGMA busy_timeout=5000; PRAGMA query_only=ON;")
            problem = await _call(reader, schema_problem)
            if problem:
                raise RuntimeError(f"{path}: {problem}")
        except BaseException:
            await reader.close()
            raise
        db = cls(reader, reader)
        db.read_only = True
        db._committer = asyncio.create_task(db._commit_loop(), name="group-commit")
        return db

    async def check(self, timeout: float = 2.0) -> str | None:
        """Why this store cannot take turns now, or None: it answers, at this code's schema,
        and its group commit runs. Asked by /readyz; one look on the checkpointer's
        connection, which no console query or turn is queued on."""
        if self._closed:
            return "the database is closed"
        if self._committer is None or self._committer.done():
            return "the group commit has stopped"
        try:
            async with asyncio.timeout(timeout):
                return await _call(self._checkpointer or self._reader, schema_problem)
        except TimeoutError:
            return f"the database did not answer within {timeout:g} s"
        except sqlite3.Error as error:
            return f"the database cannot be read: {error}"

    async def close(self) -> None:
        if self._closed:
            return
        await self.flush()
        self._closed = True
        for task in (self._committer, self._checkpoints, self._wal_syncs):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._checkpointer:
            await self._checkpointer.close()
        await self._reader.close()
        await self._writer.close()  # (the reader itself when read-only: closing twice is safe)

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

    async def _checkpoint_loop(self) -> None:
        """Copy committed pages from the WAL into the database file, off the commit path.

        PASSIVE never blocks the writer or the reader. Often while turns commit, seldom when
        idle (see CHECKPOINT_BUSY_SECONDS); and when commits ran beside a checkpoint of a WAL
        past WAL_RESTART_FRAMES, the writer finishes the copy so the WAL starts over.
        """
        commits = self.commits
        while True:
            busy = self.commits != commits
            await asyncio.sleep(CHECKPOINT_BUSY_SECONDS if busy else CHECKPOINT_IDLE_SECONDS)
            commits = self.commits
            try:
                _, frames, _ = await self.checkpoint()
            except Exception:
                log.exception("WAL checkpoint failed; trying again")
                continue
            if frames >= WAL_RESTART_FRAMES and self.commits != commits:
                self._catch_up = True

    async def _wal_sync_loop(self, wal: Path) -> None:
        """Durability "normal": while turns commit, write the WAL to disk every
        WAL_SYNC_SECONDS, beside the commits (which never wait for it)."""
        commits = self.commits
        while True:
            await asyncio.sleep(WAL_SYNC_SECONDS)
            if self.commits == commits:
                continue
            commits = self.commits
            assert self._checkpointer is not None
            try:
                await _call(self._checkpointer, _sync_file, wal)
                self.wal_syncs += 1
            except OSError:  # the next checkpoint syncs it anyway
                log.exception("syncing the WAL failed; the next checkpoint syncs it")

    async def checkpoint(self) -> tuple[int, int, int]:
        """A PASSIVE checkpoint: (busy, frames in the WAL, frames copied to the database); past
        WAL_RESTART_FRAMES, passes back to back until one finds little new (see above)."""
        assert self._checkpointer is not None
        return await _call(self._checkpointer, _checkpoint_passes)

    async def _commit_loop(self) -> None:
        """Hand the turns queued so far to the writer as one batch; resume them; again.

        The writer waits for this loop between batches (the loop must resume one batch's turns
        before it hands over the next), and that wait is what makes batches big. A writer that
        took the next batch itself the moment it had committed one was tried (the browse
        benchmark, paired against this, 6 rounds): its threads spent 50% more CPU a turn
        (179 against 118 us), and on two cores shared with the loop that cost 7% of the
        turns a second and 4.6 ms at p99 (worse in 6 rounds of 6). See BENCHMARKS.md.
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if not batch:
                self._idle.set()
                continue
            try:
                work = self._dispatch.batch([writes for writes, _ in batch])
                if self._catch_up:
                    self._catch_up = False
                    failures, replayed = await _call(self._writer, _catch_up_then_apply, work)
                else:
                    failures, replayed = await _call(self._writer, _apply, work)
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


class Batch(NamedTuple):
    """A group commit as the writer thread gets it: the turns, and (when every statement is
    one the dispatch trigger knows) all their rows as one JSON array, made on the event loop."""

    turns: list[Sequence[Write]]
    payload: str | None
    dispatch: Dispatch
    kinds: frozenset[int] = frozenset()  # the statements the payload's rows use


class Dispatch:
    """Statements numbered for the one-step group commit (see `_apply`); lives on the loop."""

    LIMIT = 64  # kinds; statements past it (one-off shapes) take the turn by turn way

    def __init__(self) -> None:
        # (sql, must_change) -> (its kind number, how many ? it has)
        self.kinds: dict[tuple[str, bool], tuple[int, int]] = {}
        # Every statement known so far, by kind number: replaced, never changed in place, as
        # the writer thread reads it.
        self.statements: tuple[tuple[str, bool], ...] = ()
        self.installed = 0  # kinds the writer connection's trigger knows (writer thread only)
        # Kinds SQLite would not take into the trigger (writer thread only; replaced whole).
        self.broken: frozenset[int] = frozenset()

    def batch(self, turns: list[Sequence[Write]]) -> Batch:
        rows: list[tuple[int, Sequence[Any]]] = []
        used: set[int] = set()
        kinds = self.kinds
        for writes in turns:
            for write in writes:
                known = kinds.get((write.sql, write.must_change)) or self._learn(write)
                if known is None:
                    return Batch(turns, None, self)
                kind, count = known
                params = write.params
                # Only what binding would take as it is: the right number of plain values
                # (binding refuses a list or a wrong count, where JSON would store or ignore).
                if params.__class__ not in _SEQUENCES or len(params) != count:
                    return Batch(turns, None, self)
                for value in params:
                    cls = value.__class__
                    if cls is int:
                        # SQLite reads an integer past 64 bits back from JSON as a float,
                        # where binding fails: 19 digits or more go the way that binds.
                        if not -_LONG < value < _LONG:
                            return Batch(turns, None, self)
                    elif cls not in _PLAIN:
                        return Batch(turns, None, self)
                rows.append((kind, params))
                used.add(kind)
        try:
            payload = _json(rows)
        except ValueError:  # a float NaN or infinity: binding stores what SQLite makes of it
            return Batch(turns, None, self)
        if "\\u0000" in payload:  # SQLite's JSON text would end at the NUL character
            return Batch(turns, None, self)
        return Batch(turns, payload, self, frozenset(used))

    def _learn(self, write: Write) -> tuple[int, int] | None:
        if len(self.statements) >= self.LIMIT or _dispatched(write.sql, 0) is None:
            return None
        known = self.kinds[write.sql, write.must_change] = (
            len(self.statements),
            write.sql.count("?"),
        )
        self.statements += ((write.sql, write.must_change),)
        return known


_SEQUENCES = frozenset({tuple, list})
# Besides int, checked on its own. A float's JSON is its repr: 17 significant digits at most,
# read back as the same float.
_PLAIN = frozenset({str, float, bool, type(None)})
_LONG = 10**18


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _apply(conn: sqlite3.Connection, batch: Batch) -> Applied:
    """Commit many turns in one transaction.

    The sqlite3 module gives up the GIL around every step of every statement and must take
    it back from the event loop after, which costs far more than the step when the loop is
    busy: a batch run statement by statement spent two thirds of its time waiting for the GIL,
    and the turns waiting for it left the loop idle. So a batch is one statement: every row of
    every turn, in arrival order, goes as one JSON array into an INSERT on a view whose INSTEAD
    OF trigger runs each row's own statement (`_install`): that INSERT is the transaction.

    If anything fails (a constraint, a guarded write that changed no row), the transaction is
    rolled back and replayed turn by turn in arrival order, each turn in a savepoint, so a
    failing turn is refused alone. One difference from running the turns one by one: SQLite
    checks foreign keys when a statement ends, so within a batch a row may come before the
    parent row it points at (the database is consistent when the batch commits; a parent that
    never comes fails the batch, and the replay refuses the turn).
    """
    try:
        _install(conn, batch.dispatch)
    except sqlite3.Error:  # not seen: each statement was tried alone first
        log.exception("the group commit trigger was refused; committing turn by turn")
        return Applied(_apply_in_order(conn, batch.turns), True)
    if batch.payload is None or batch.kinds & batch.dispatch.broken:
        return Applied(_apply_in_order(conn, batch.turns), True)
    try:
        # No BEGIN and COMMIT: one statement outside a transaction is its own transaction,
        # committed (and with durability "full", synced) when it ends, or not at all.
        conn.execute(_DISPATCH, (batch.payload,))
        return Applied({}, False)
    except Exception:  # rolled back whole with its statement: run the turns one by one
        return Applied(_apply_in_order(conn, batch.turns), True)


def _checkpoint_passes(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """PASSIVE checkpoints on the checkpointer's thread: one, and while the WAL is past
    WAL_RESTART_FRAMES, more at once, each copying what commits added during the one before,
    until one finds CATCH_UP_FRAMES new frames or fewer (or CATCH_UP_PASSES were run)."""
    busy, frames, copied = _passive_checkpoint(conn)
    for _ in range(CATCH_UP_PASSES - 1):
        if busy or frames < WAL_RESTART_FRAMES or copied < frames:
            break  # the WAL is small, or a reader or another checkpoint holds it back
        seen = frames
        busy, frames, copied = _passive_checkpoint(conn)
        if frames - seen <= CATCH_UP_FRAMES:  # (fewer when the writer started it over)
            break
    return busy, frames, copied


def _passive_checkpoint(conn: sqlite3.Connection) -> tuple[int, int, int]:
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(frames), int(copied)


def _catch_up_then_apply(conn: sqlite3.Connection, batch: Batch) -> Applied:
    """Copy what the checkpointer left in the WAL (what was committed while it ran: a few
    batches), then commit the batch: the WAL, all copied, starts over from its beginning."""
    try:
        _passive_checkpoint(conn)
    except sqlite3.Error:  # the checkpointer's next pass copies it; the turns go on regardless
        log.exception("the writer's WAL catch-up failed")
    return _apply(conn, batch)


def _sync_file(conn: sqlite3.Connection, path: Path) -> None:
    """fdatasync a file by its name (SQLite's own descriptor is not ours to use): the kernel
    writes the file's dirty pages, whichever descriptor wrote them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _lower_priority(conn: sqlite3.Connection) -> None:
    """Run on the checkpointer's thread: below the event loop and the writer, which a turn
    waits for (Linux gives each thread its own nice value; elsewhere nothing changes)."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, thread) < CHECKPOINTER_NICE:
            os.setpriority(os.PRIO_PROCESS, thread, CHECKPOINTER_NICE)


_DISPATCH = "INSERT INTO temp._batch (kind, row) SELECT value ->> 0, value -> 1 FROM json_each(?)"


def _install(conn: sqlite3.Connection, dispatch: Dispatch) -> None:
    """The view `temp._batch` and its trigger, rebuilt when statements were added (warm-up).

    Each statement becomes its own kind's branch: `?` number n is `NEW.row ->> n` and a
    `NEW.kind = k` term keeps it to its rows; a guarded write is followed by a RAISE that
    aborts the whole INSERT when it changed no row. TEMP: the writer connection's own, never
    in the database file. A statement SQLite will not take into a trigger is left out
    (`broken`): batches using it commit turn by turn, slower and still correct.
    """
    statements = dispatch.statements
    if dispatch.installed == len(statements):
        return
    conn.execute("CREATE TEMP VIEW IF NOT EXISTS _batch (kind, row) AS SELECT NULL, NULL WHERE 0")
    broken = set(dispatch.broken)
    for kind in range(dispatch.installed, len(statements)):
        try:  # each new statement alone first, so one bad one can't keep out the rest
            conn.execute(_trigger("_batch_probe", [_branch(kind, *statements[kind])]))
            conn.execute("DROP TRIGGER temp._batch_probe")
        except sqlite3.Error:
            log.exception("statement %r cannot be group-committed in one step", statements[kind][0])
            broken.add(kind)
    body = [
        _branch(kind, *statements[kind]) for kind in range(len(statements)) if kind not in broken
    ]
    conn.execute("DROP TRIGGER IF EXISTS temp._batch_rows")
    conn.execute(_trigger("_batch_rows", body))
    dispatch.broken = frozenset(broken)
    dispatch.installed = len(statements)


def _branch(kind: int, sql: str, must_change: bool) -> str:
    branch = _dispatched(sql, kind)
    assert branch is not None
    if must_change:
        branch += f"; SELECT RAISE(ABORT, 'stale write') WHERE NEW.kind = {kind} AND changes() = 0"
    return branch


def _trigger(name: str, branches: list[str]) -> str:
    statements = "".join(f"{branch}; " for branch in branches) or "SELECT 1; "
    return f"CREATE TEMP TRIGGER {name} INSTEAD OF INSERT ON _batch BEGIN {statements}END"


_VALUES = re.compile(r"(INSERT INTO \w+ \([\w, ]+\)) VALUES \((.*?)\)(| ON CONFLICT.*)")
_WHERE = re.compile(r"((?:UPDATE|DELETE FROM|INSERT INTO) (?:(?! WHERE ).)*) WHERE (.*)")
_PARAMETER = re.compile(r"\?")
_QUOTED = re.compile(r"'[^']*'")
# Numbered or named parameters (the rewriting counts plain ? only); RETURNING (not allowed in a
# trigger); OR FAIL and OR ROLLBACK (they would end the one statement's transaction half done);
# IN (?, ...) lists (a shape for every length: they would fill the kinds with one-offs).
_NOT_ONE_STEP = re.compile(
    r"\?\d|[:@$]\w|\bRETURNING\b|\bOR\s+(?:FAIL|ROLLBACK)\b|\bIN\s*\(\s*\?", re.IGNORECASE
)


@functools.lru_cache(maxsize=256)
def _dispatched(sql: str, kind: int) -> str | None:
    """`sql` as a branch of the dispatch trigger for rows of `kind`, or None if it has no
    form this knows (it then commits turn by turn: correct, only slower)."""
    if "?" in "".join(_QUOTED.findall(sql)) or ";" in sql:
        return None
    if _NOT_ONE_STEP.search(_QUOTED.sub("''", sql)):
        return None
    counter = iter(range(sql.count("?")))
    bound = _PARAMETER.sub(lambda _: f"NEW.row ->> {next(counter)}", sql)
    values = _VALUES.fullmatch(bound)
    if values:  # (a WHERE before ON CONFLICT also settles SQLite's parse of the upsert)
        table, row, upsert = values.groups()
        return f"{table} SELECT {row} WHERE NEW.kind = {kind}{upsert}"
    where = _WHERE.fullmatch(bound)
    if where:
        return f"{where.group(1)} WHERE NEW.kind = {kind} AND ({where.group(2)})"
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
