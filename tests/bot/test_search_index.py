"""The console's word search catches up beside the turns (bot/search_index.py, migration 5):
a turn only appends its messages, the index takes them in bulk, and a search always sees every
committed message.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.search_index import MessageIndex
from conversations.model import Conversation, Person
from storage import console_queries, writes
from storage.db import Database, StaleWrite
from storage.queries import message_index_progress
from storage.schema import MIGRATIONS, migrate
from storage.sqlite import SqliteStore

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOT = "+15550009999"
GUEST = "+15550001111"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "airtng.db")
    await database.write(
        [
            writes.add_person(Person(1, GUEST, "Ann"), AT),
            writes.add_conversation(Conversation(1, BOT, GUEST, "start", AT, AT)),
        ]
    )
    yield database
    await database.close()


def said(body: str) -> writes.Write:
    return writes.log_message(1, "in", GUEST, body, AT, status="received")


async def found(db: Database, words: str) -> list[int]:
    where = console_queries.ConversationFilter(words=words)
    return [row["id"] for row in await db.read(console_queries.conversations, where, 10, 0)]


def fts_rows(conn: sqlite3.Connection, word: str) -> list[int]:
    query = "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid"
    return [row[0] for row in conn.execute(query, (f'"{word}"',))]


async def test_a_logged_message_is_findable_once_the_index_catches_up(db: Database) -> None:
    index = MessageIndex(SqliteStore(db), batch=3)
    await db.write([said(f"wedding guest number {n}") for n in range(10)])
    # The turn's commit did not index: that is the point.
    assert await found(db, "wedding") == []
    assert await db.read(message_index_progress) == (0, 10)

    assert await index.catch_up() == 10  # in four transactions of at most three rows
    assert await found(db, "wedding") == [1]
    assert await db.read(fts_rows, "number") == list(range(1, 11))
    assert await db.read(message_index_progress) == (10, 10)
    assert await index.catch_up() == 0


async def test_changed_bodies_leave_the_index_whether_or_not_they_were_in_it(
    db: Database,
) -> None:
    index = MessageIndex(SqliteStore(db))
    await db.write([said("secret wedding plans"), said("more wedding plans")])
    await index.catch_up()
    await db.write([said("a third wedding message")])  # not indexed yet
    # Retention empties all three bodies: the two indexed ones leave the index; the third was
    # never in it, and telling FTS5 to delete it would corrupt the index.
    await db.write(writes.forget_bodies_before(datetime(2027, 1, 1, tzinfo=UTC)))
    assert await db.read(fts_rows, "wedding") == []
    await db.write([said("after retention a wedding")])
    await index.catch_up()
    assert await db.read(fts_rows, "wedding") == [4]
    assert await db.read(fts_rows, "secret") == []

    def integrity(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")

    await db.transact(integrity)  # raises if the index and its rows disagree


async def test_two_catch_ups_at_once_index_each_message_once(db: Database) -> None:
    await db.write([said(f"word{n} shared") for n in range(50)])
    one, other = (
        MessageIndex(SqliteStore(db), batch=7),
        MessageIndex(SqliteStore(db), batch=7),
    )  # as two processes would
    results = await asyncio.gather(one.catch_up(), other.catch_up(), return_exceptions=True)
    # Whichever lost a race on the mark was refused whole, never indexing a row twice.
    assert all(isinstance(r, int | StaleWrite) for r in results)
    await one.catch_up()
    assert await db.read(fts_rows, "shared") == list(range(1, 51))
    assert await db.read(message_index_progress) == (50, 50)


async def test_a_database_from_before_the_change_keeps_its_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        conn.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
    conn.execute(
        "INSERT INTO conversations (id, bot_phone, phone, state, started_at, last_at)"
        " VALUES (1, ?, ?, 'start', 'x', 'x')",
        (BOT, GUEST),
    )
    for body in ("indexed by the old trigger", "also by the trigger"):
        conn.execute(
            "INSERT INTO messages (conversation_id, direction, phone, body, status, at)"
            " VALUES (1, 'in', ?, ?, 'received', 'x')",
            (GUEST, body),
        )
    assert migrate(conn) == len(MIGRATIONS)
    assert message_index_progress(conn) == (2, 2)
    assert fts_rows(conn, "trigger") == [1, 2]
    conn.execute("UPDATE messages SET body = 'changed' WHERE id = 1")
    assert fts_rows(conn, "trigger") == [2]
    assert fts_rows(conn, "changed") == [1]
    conn.close()


def index_config(conn: sqlite3.Connection) -> dict[str, object]:
    return dict(conn.execute("SELECT k, v FROM messages_fts_config").fetchall())


async def test_each_catch_up_step_merges_a_little_instead_of_fts5_merging_at_once(
    db: Database,
) -> None:
    """FTS5's own merging made one catch-up step in ~40 cost 5-15 ms of the writer, with the
    turns of its group commit waiting: migration 7 turns it off, and every step merges up to
    writes.INDEX_MERGE_PAGES pages instead. Counted in pages, not time: what a step wrote is
    the WAL's frames after it (checkpointed before each step, so the WAL starts over)."""
    assert (await db.read(index_config))["automerge"] == 0
    index = MessageIndex(SqliteStore(db), batch=100)
    pages = []
    for step in range(800):
        await db.write([said(f"word{(step * 37 + n) % 1000} other{n % 50}") for n in range(100)])
        await db.checkpoint()
        await index.catch_up()
        pages.append((await db.checkpoint())[1])
    # With FTS5 merging by itself, three steps here wrote 96-102 pages; the most now is 64.
    assert max(pages) < 80, sorted(pages)[-5:]
    assert len(await db.read(fts_rows, "other7")) == 1600
    await db.write(
        [writes.Write("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")]
    )
