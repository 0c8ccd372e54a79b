"""The Database's group commit on a real SQLite file: batching, per-turn isolation, flush,
close and durability.

    db = await Database.open(tmp_path / "airtng.db")
    await asyncio.gather(*(db.commit([write]) for write in many))   # one transaction, many turns
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import storage.db
from bench.wal_pages import wal_restarts
from conversations.model import Conversation, Person, Property
from storage import writes
from storage.db import Database, StaleWrite, Write, _call, _checkpoint_passes, _dispatched
from storage.schema import MIGRATIONS

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "airtng.db")
    yield database
    await database.close()


def person(n: int) -> Person:
    return Person(n, f"+1555000{n:04d}", f"Person {n}")


def add(n: int) -> Write:
    return writes.add_person(person(n), AT)


def people_ids(conn: sqlite3.Connection) -> list[int]:
    return [row[0] for row in conn.execute("SELECT id FROM people ORDER BY id")]


def on_disk(path: Path, sql: str) -> list[tuple[object, ...]]:
    """What another process would see in the file: a fresh connection of its own."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_many_concurrent_turns_all_commit_in_fewer_transactions(db: Database) -> None:
    commits_before, turns_before = db.commits, db.turns_committed

    async def turn(n: int) -> int:
        await db.commit([add(n), writes.handled(f"SM{n:032d}", "<Response/>", AT)])
        # The caller resumes only once its own writes are committed: the reader sees them.
        return await db.read(
            lambda conn: conn.execute("SELECT COUNT(*) FROM people WHERE id = ?", (n,)).fetchone()[
                0
            ]
        )

    seen = await asyncio.gather(*(turn(n) for n in range(1, 201)))

    assert seen == [1] * 200
    assert await db.read(people_ids) == list(range(1, 201))
    assert (
        await db.read(
            lambda conn: conn.execute("SELECT COUNT(*) FROM handled_messages").fetchone()[0]
        )
        == 200
    )
    assert db.turns_committed - turns_before == 200
    # Batching: 200 turns cannot have taken 200 transactions.
    assert 1 <= db.commits - commits_before < 200


async def test_a_failing_turn_fails_alone_and_its_batch_mates_commit(db: Database) -> None:
    await db.commit([add(1)])
    host = Property(1, person(1).phone, "Beach House", "Malibu", "By the sea.", 250)
    free = Property(2, person(1).phone, "Free House", "Nowhere", "Costs nothing.", 0)
    commits_before = db.commits

    results = await asyncio.gather(
        db.commit([add(10)]),
        # A person, then a home that breaks CHECK (nightly_price > 0): the person goes too.
        db.commit([add(11), writes.add_property(free, 1, AT)]),
        db.commit([add(12), writes.add_property(host, 1, AT)]),
        # A guarded write that matches no row: the database is not what the turn believed.
        db.commit([add(13), writes.update_person(Person(999, "+15559999999", "Nobody"), AT)]),
        # The same MessageSid twice: the second turn breaks the primary key.
        db.commit([add(14), writes.handled("SM1", "<Response/>", AT)]),
        db.commit([add(15), writes.handled("SM1", "<Response>again</Response>", AT)]),
        db.commit([add(16)]),
        return_exceptions=True,
    )

    assert results[0] is None
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert "CHECK constraint failed" in str(results[1])
    assert results[2] is None
    assert isinstance(results[3], StaleWrite)
    assert results[4] is None
    assert isinstance(results[5], sqlite3.IntegrityError)
    assert results[6] is None
    # All seven were one batch, so the savepoints (not separate transactions) kept them apart.
    assert db.commits - commits_before == 1
    assert await db.read(people_ids) == [1, 10, 12, 14, 16]
    assert await db.read(lambda c: c.execute("SELECT id FROM properties").fetchall()) == [(1,)]
    assert await db.read(
        lambda c: c.execute("SELECT sid, twiml FROM handled_messages").fetchall()
    ) == [("SM1", "<Response/>")]


async def test_a_foreign_key_to_nothing_fails_that_turn_only(db: Database) -> None:
    orphan = Property(1, "+15550000000", "Orphan", "Nowhere", "No host.", 100)
    results = await asyncio.gather(
        db.commit([add(1)]),
        db.commit([writes.add_property(orphan, 404, AT)]),
        db.commit([add(2)]),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert "FOREIGN KEY" in str(results[1])
    assert results[2] is None
    assert await db.read(people_ids) == [1, 2]
    assert await db.read(lambda c: c.execute("SELECT COUNT(*) FROM properties").fetchone()) == (0,)


async def test_a_turns_writes_apply_in_its_own_order_beside_other_turns(db: Database) -> None:
    # Each turn's writes must apply in the order the turn listed them, whatever other turns in
    # the same batch do. Guarded writes: an update of a row inserted later in the batch.
    await db.commit([add(1), add(2)])
    renamed = Person(2, person(2).phone, "Renamed")
    added = Person(3, person(3).phone, "Added")
    results = await asyncio.gather(
        db.commit([writes.update_person(Person(1, person(1).phone, "First"), AT)]),
        db.commit([writes.add_person(added, AT)]),
        db.commit([writes.update_person(Person(3, added.phone, "Added later"), AT)]),
        db.commit([writes.update_person(renamed, AT)]),
        return_exceptions=True,
    )
    assert results == [None, None, None, None]
    names = await db.read(lambda c: c.execute("SELECT id, name FROM people ORDER BY id").fetchall())
    assert names == [(1, "First"), (2, "Renamed"), (3, "Added later")]


async def test_an_early_status_is_kept_when_a_batch_mate_shares_its_statement(
    db: Database,
) -> None:
    await db.commit(
        [
            writes.enqueue(1, "+15550001111", "+15550009999", "one", None, None, AT),
            writes.enqueue(2, "+15550002222", "+15550009999", "two", None, None, AT),
            writes.outbox_sent(1, "SM1", "sent", AT),
        ]
    )
    await asyncio.gather(
        db.commit([writes.outbox_status("SM1", "delivered", None, AT)]),
        db.commit(
            [
                writes.outbox_sent(2, "SM2", "sent", AT),
                writes.outbox_status("SM2", "delivered", None, AT),
            ]
        ),
    )
    statuses = await db.read(lambda c: c.execute("SELECT id, status FROM outbox").fetchall())
    assert statuses == [(1, "delivered"), (2, "delivered")]


async def test_a_turn_with_an_unbindable_parameter_fails_alone(db: Database) -> None:
    too_big = Write("INSERT INTO settings (key, value) VALUES ('big', ?)", (2**64,))
    results = await asyncio.gather(
        db.commit([add(1)]), db.commit([too_big]), db.commit([add(2)]), return_exceptions=True
    )
    assert results[0] is None
    assert isinstance(results[1], OverflowError)
    assert results[2] is None
    await db.commit([add(3)])
    assert await db.read(people_ids) == [1, 2, 3]


def conversation(n: int, version: int, state: str = "start") -> Conversation:
    return Conversation(n, "+15550009999", person(n).phone, state, AT, AT, {"n": n}, version)


def said(n: int, body: str) -> Write:
    return writes.log_message(n, "in", person(n).phone, body, AT, status="received")


async def test_a_batch_of_ordinary_turns_commits_in_one_pass(db: Database) -> None:
    await db.commit(
        [w for n in range(1, 41) for w in (add(n), writes.add_conversation(conversation(n, 1)))]
    )
    replays, commits = db.replays, db.commits
    bodies = {n: f'turn {n}: ¿qué tal? 😀 "quoted" \\ back\nslash' for n in range(1, 61)}

    def turn(n: int) -> list[Write]:
        if n <= 40:  # a conversation going on
            opening = [writes.save_conversation(conversation(n, 2, "browsing"), 1)]
        else:  # someone new
            opening = [add(n), writes.add_conversation(conversation(n, 1))]
        return [
            *opening,
            said(n, bodies[n]),
            said(n, "reply"),
            writes.handled(f"SM{n}", "<R/>", AT),
        ]

    # A host's conversation started by a guest's turn and updated by the host's own turn,
    # both in this batch: the update must run after the insert.
    started = [add(70), writes.add_conversation(conversation(70, 1))]
    host_reply = [writes.save_conversation(conversation(70, 2, "browsing"), 1)]
    await asyncio.gather(
        *(db.commit(turn(n)) for n in range(1, 61)), db.commit(started), db.commit(host_reply)
    )

    assert db.commits - commits == 1
    assert db.replays == replays  # no turn-by-turn replay was needed
    rows = await db.read(
        lambda c: c.execute(
            "SELECT id, state, version, data FROM conversations ORDER BY id"
        ).fetchall()
    )
    assert rows[:2] == [(1, "browsing", 2, '{"n":1}'), (2, "browsing", 2, '{"n":2}')]
    assert rows[40:] == [(n, "start", 1, f'{{"n":{n}}}') for n in range(41, 61)] + [
        (70, "browsing", 2, '{"n":70}')
    ]
    logged = await db.read(
        lambda c: c.execute(
            "SELECT id, conversation_id, body, twilio_sid, outbox_id FROM messages ORDER BY id"
        ).fetchall()
    )
    # Rows keep their arrival order and their exact values.
    assert [row[1:3] for row in logged] == [
        (n, body) for n in range(1, 61) for body in (bodies[n], "reply")
    ]
    assert [row[0] for row in logged] == list(range(1, 121))
    assert all(row[3] is None and row[4] is None for row in logged)


async def test_values_json_would_change_take_the_long_way(db: Database) -> None:
    await db.commit([add(1), writes.add_conversation(conversation(1, 1))])
    big = "INSERT INTO settings (key, value) VALUES (?, ?)"
    results = await asyncio.gather(
        db.commit([said(1, "nul \x00 inside")]),
        db.commit([said(1, "plain")]),
        db.commit([Write(big, ("a", 2**64))]),
        db.commit([Write(big, ("b", 2**63 - 1))]),
        return_exceptions=True,
    )
    assert results[:2] == [None, None]
    assert isinstance(results[2], OverflowError)
    assert results[3] is None
    bodies = await db.read(lambda c: c.execute("SELECT body FROM messages ORDER BY id").fetchall())
    assert bodies == [("nul \x00 inside",), ("plain",)]
    stored = await db.read(
        lambda c: c.execute("SELECT value FROM settings WHERE key = 'b'").fetchone()
    )
    assert stored == (str(2**63 - 1),)


async def test_long_runs_of_digits_in_texts_still_commit_in_one_step(db: Database) -> None:
    # Message sids are hex: 19 decimal digits in a row happen (the benchmark's sids are mostly
    # zeros). Only an integer of 19 digits or more, which could be past 64 bits, sends a batch
    # the long way; a text that looks like one goes in one step and comes back exactly.
    await db.commit([add(1), writes.add_conversation(conversation(1, 1))])
    replays = db.replays
    sid = "SM" + "0" * 28 + "369d"
    big = "INSERT INTO settings (key, value) VALUES (?, ?)"
    await asyncio.gather(
        db.commit([said(1, "call 12345678901234567890123"), writes.handled(sid, "<R/>", AT)]),
        db.commit([said(1, "x -1234567890123456789")]),
        db.commit([said(1, "[1234567890123456789]"), Write(big, ("18 digits", 10**18 - 1))]),
    )
    assert db.replays == replays
    await db.commit([Write(big, ("19 digits", -(10**18)))])  # the long way: exact too
    assert db.replays == replays + 1
    assert await db.read(
        lambda c: c.execute("SELECT body FROM messages ORDER BY id").fetchall()
    ) == [
        ("call 12345678901234567890123",),
        ("x -1234567890123456789",),
        ("[1234567890123456789]",),
    ]
    assert await db.read(lambda c: c.execute("SELECT sid FROM handled_messages").fetchall()) == [
        (sid,)
    ]
    assert await db.read(
        lambda c: c.execute(
            "SELECT key, value FROM settings WHERE key LIKE '%digits' ORDER BY key"
        ).fetchall()
    ) == [("18 digits", str(10**18 - 1)), ("19 digits", str(-(10**18)))]


async def test_a_statement_seen_after_warm_up_joins_the_one_step_commit(db: Database) -> None:
    await db.commit([add(1)])
    replays = db.replays
    await asyncio.gather(
        db.commit([add(2), writes.update_person(Person(1, person(1).phone, "Ann"), AT)]),
        db.commit([writes.set_setting("greeting", "hello"), add(3)]),
    )
    await db.commit([writes.set_setting("greeting", "hi")])  # the upsert's other branch
    assert db.replays == replays
    assert await db.read(
        lambda c: c.execute("SELECT id, name FROM people ORDER BY id").fetchall()
    ) == [(1, "Ann"), (2, "Person 2"), (3, "Person 3")]
    assert await db.read(
        lambda c: c.execute("SELECT value FROM settings WHERE key = 'greeting'").fetchall()
    ) == [("hi",)]


async def test_a_statement_the_trigger_cannot_take_commits_turn_by_turn(db: Database) -> None:
    odd = Write("INSERT INTO settings (key, value) VALUES ('what?', ?)", ("x",))  # a ? as text
    replays = db.replays
    await asyncio.gather(db.commit([add(1)]), db.commit([odd]))
    assert db.replays == replays + 1
    assert await db.read(people_ids) == [1]
    assert await db.read(
        lambda c: c.execute("SELECT value FROM settings WHERE key = 'what?'").fetchall()
    ) == [("x",)]


async def test_parameters_binding_would_refuse_are_refused_in_a_batch_too(db: Database) -> None:
    # JSON would store a list as text and ignore a missing or extra value; binding refuses.
    setting = "INSERT INTO settings (key, value) VALUES (?, ?)"
    results = await asyncio.gather(
        db.commit([add(1)]),
        db.commit([Write(setting, ("short",))]),
        db.commit([Write(setting, ("list", ["a"]))]),
        db.commit([Write(setting, ("long", "b", "c"))]),
        db.commit([add(2)]),
        return_exceptions=True,
    )
    assert results[0] is None and results[4] is None
    assert all(isinstance(error, sqlite3.ProgrammingError) for error in results[1:4])
    assert await db.read(people_ids) == [1, 2]
    assert (
        await db.read(
            lambda c: c.execute(
                "SELECT key FROM settings WHERE key IN ('short', 'list', 'long')"
            ).fetchall()
        )
        == []
    )


async def test_a_statement_sqlite_will_not_take_into_the_trigger_leaves_the_rest_fast(
    db: Database,
) -> None:
    # A multi-row VALUES fits the rewriting's pattern but not SQLite's grammar once rewritten.
    two = Write("INSERT INTO settings (key, value) VALUES (?, ?), (?, ?)", ("a", "1", "b", "2"))
    await asyncio.gather(db.commit([add(1)]), db.commit([two]))
    replays = db.replays
    await asyncio.gather(db.commit([add(2)]), db.commit([add(3)]))
    assert db.replays == replays  # batches without it still commit in one step
    assert await db.read(people_ids) == [1, 2, 3]
    assert await db.read(
        lambda c: c.execute(
            "SELECT key, value FROM settings WHERE key IN ('a', 'b') ORDER BY key"
        ).fetchall()
    ) == [("a", "1"), ("b", "2")]


async def test_the_commit_trigger_lives_only_on_the_writer_connection(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    db = await Database.open(path)
    try:
        await db.commit([add(1)])
        assert on_disk(path, "SELECT name FROM sqlite_master WHERE name LIKE '%batch%'") == []
        assert on_disk(path, "SELECT id FROM people") == [(1,)]
    finally:
        await db.close()


def test_statements_become_trigger_branches_for_their_own_rows() -> None:
    assert _dispatched("INSERT INTO t (a, b) VALUES (?, 'x')", 3) == (
        "INSERT INTO t (a, b) SELECT NEW.row ->> 0, 'x' WHERE NEW.kind = 3"
    )
    assert _dispatched(
        "INSERT INTO s (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", 1
    ) == (
        "INSERT INTO s (k, v) SELECT NEW.row ->> 0, NEW.row ->> 1 WHERE NEW.kind = 1"
        " ON CONFLICT(k) DO UPDATE SET v = excluded.v"
    )
    assert _dispatched("UPDATE t SET a = ? WHERE id = ? OR b = ?", 2) == (
        "UPDATE t SET a = NEW.row ->> 0 WHERE NEW.kind = 2"
        " AND (id = NEW.row ->> 1 OR b = NEW.row ->> 2)"
    )
    assert _dispatched("INSERT INTO f (rowid, body) SELECT id, body FROM m WHERE id > ?", 0) == (
        "INSERT INTO f (rowid, body) SELECT id, body FROM m WHERE NEW.kind = 0"
        " AND (id > NEW.row ->> 0)"
    )
    assert _dispatched("UPDATE t SET a = '?' WHERE id = ?", 0) is None  # a ? that is text
    assert _dispatched("DELETE FROM t", 0) is None  # no WHERE to add its kind to
    assert _dispatched("UPDATE t SET a = 1 WHERE id = ?; DROP TABLE t", 0) is None
    assert _dispatched("UPDATE t SET a = ?2 WHERE id = ?1", 0) is None  # numbered
    assert _dispatched("UPDATE t SET a = :a WHERE id = 1", 0) is None  # named
    assert _dispatched("UPDATE t SET a = ? WHERE at = '12:30'", 0) is not None  # a colon in text
    assert _dispatched("UPDATE OR FAIL t SET a = ? WHERE id = ?", 0) is None  # half a statement
    assert _dispatched("UPDATE t SET a = ? WHERE id IN (?, ?)", 0) is None  # one-off shapes
    assert _dispatched("INSERT INTO t (a) VALUES (?) RETURNING a", 0) is None


async def test_two_turns_changing_one_row_from_one_version_cannot_both_win(db: Database) -> None:
    await db.commit([add(1), writes.add_conversation(conversation(1, 1))])
    results = await asyncio.gather(
        db.commit([writes.save_conversation(conversation(1, 2, "browsing"), 1)]),
        db.commit([writes.save_conversation(conversation(1, 2, "viewing"), 1)]),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], StaleWrite)
    assert await db.read(
        lambda c: c.execute("SELECT state, version FROM conversations").fetchall()
    ) == [("browsing", 2)]


async def test_a_child_row_may_arrive_before_its_parent_in_a_batch(db: Database) -> None:
    await db.commit([add(1), writes.add_conversation(conversation(1, 1))])
    replays = db.replays
    # Turn one logs into conversation 1, turn two starts conversation 2 and logs into it: one
    # statement type (the messages INSERT) on both sides of conversation 2's INSERT.
    await asyncio.gather(
        db.commit([said(1, "first")]),
        db.commit([add(2), writes.add_conversation(conversation(2, 1)), said(2, "second")]),
    )
    assert db.replays == replays
    assert await db.read(
        lambda c: c.execute("SELECT conversation_id, body FROM messages ORDER BY id").fetchall()
    ) == [(1, "first"), (2, "second")]
    assert await db.read(lambda c: c.execute("PRAGMA foreign_key_check").fetchall()) == []


async def test_commits_are_on_disk_when_commit_returns(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    db = await Database.open(path)
    try:
        await db.commit([add(1), writes.set_setting("greeting", "hello")])
        # Another connection, as another process would open the file.
        assert on_disk(path, "SELECT id, name FROM people") == [(1, "Person 1")]
    finally:
        await db.close()
    reopened = await Database.open(path)
    try:
        assert await reopened.read(people_ids) == [1]
        assert await reopened.read(
            lambda c: c.execute("SELECT value FROM settings WHERE key = 'greeting'").fetchone()
        ) == ("hello",)
    finally:
        await reopened.close()


async def test_flush_waits_for_every_commit_handed_over(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    db = await Database.open(path)
    try:
        tasks = [asyncio.create_task(db.commit([add(n)])) for n in range(1, 51)]
        await asyncio.sleep(0)  # let each task hand its writes to commit()
        await db.flush()
        assert on_disk(path, "SELECT COUNT(*) FROM people") == [(50,)]
        assert await asyncio.gather(*tasks) == [None] * 50
        assert db.turns_committed == 50
    finally:
        await db.close()


async def test_close_commits_what_is_pending_then_refuses_more(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    db = await Database.open(path)
    tasks = [asyncio.create_task(db.commit([add(n)])) for n in range(1, 21)]
    await asyncio.sleep(0)  # let each task hand its writes to commit()
    await db.close()
    assert await asyncio.gather(*tasks) == [None] * 20
    assert on_disk(path, "SELECT COUNT(*) FROM people") == [(20,)]
    with pytest.raises(RuntimeError, match="database closed"):
        await db.commit([add(21)])
    with pytest.raises(RuntimeError, match="database closed"):
        await db.write([add(21)])
    await db.close()  # closing twice is harmless
    assert on_disk(path, "SELECT COUNT(*) FROM people") == [(20,)]


async def test_transact_commits_its_work_or_rolls_all_of_it_back(db: Database) -> None:
    def insert_two(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
        conn.execute("INSERT INTO settings (key, value) VALUES ('b', '2')")
        return conn.execute("SELECT COUNT(*) FROM settings WHERE key < 'm'").fetchone()[0]

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO settings (key, value) VALUES ('c', '3')")
        raise ValueError("changed my mind")

    assert await db.transact(insert_two) == 2
    with pytest.raises(ValueError, match="changed my mind"):
        await db.transact(insert_then_fail)
    keys = await db.read(
        lambda c: c.execute("SELECT key FROM settings WHERE key < 'm' ORDER BY key").fetchall()
    )
    assert keys == [("a",), ("b",)]
    # transact runs after the commits handed over before it, and sees them.
    pending = asyncio.create_task(db.commit([add(1)]))
    await asyncio.sleep(0)  # let the task hand its writes to commit()
    assert await db.transact(people_ids) == [1]
    await pending


async def test_read_runs_on_a_read_only_connection(db: Database) -> None:
    def sneak_a_write(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await db.read(sneak_a_write)
    assert (
        await db.read(
            lambda c, key: c.execute(
                "SELECT COUNT(*) FROM settings WHERE key = ?", (key,)
            ).fetchone()[0],
            "x",
        )
        == 0
    )


async def test_a_failed_turn_leaves_the_committer_working(db: Database) -> None:
    with pytest.raises(StaleWrite):
        await db.commit([writes.change_reservation(1, "pending", "confirmed", AT)])
    await db.commit([add(1)])
    assert await db.read(people_ids) == [1]


async def test_commits_never_checkpoint_and_the_checkpointer_keeps_up(tmp_path: Path) -> None:
    """Group commits don't stop to copy the WAL into the database (autocheckpoint is off on
    the writer); the separate checkpointer copies everything committed."""
    db = await Database.open(tmp_path / "wal.db")
    try:
        autocheckpoint = await db.transact(
            lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        )
        assert autocheckpoint == 0
        await asyncio.gather(
            *(
                db.commit(
                    [Write("INSERT INTO settings (key, value) VALUES (?, ?)", (f"k{n}", "v" * 500))]
                )
                for n in range(2000)
            )
        )
        busy, frames, copied = await db.checkpoint()
        assert (busy, copied) == (0, frames) and frames > 0
        # The next commit starts the WAL over from its beginning: it does not grow forever.
        await db.commit([Write("INSERT INTO settings (key, value) VALUES ('last', 'v')")])
        _, frames_after, _ = await db.checkpoint()
        assert frames_after < frames
    finally:
        await db.close()


async def test_the_wal_starts_over_under_a_steady_stream_of_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits running beside every checkpoint would keep the WAL from ever starting over (it
    grew by ~50 MB a second under the benchmark): past WAL_RESTART_FRAMES the writer copies
    what the checkpointer missed before its next batch, and the WAL starts over however long
    the stream lasts (so its file is only as big as the longest stretch between two restarts).
    Counted from the WAL's own header, not timed: on a machine busy with other work the
    checkpointer (below everything else's priority) runs less often and the WAL grows further
    between restarts, but it still restarts."""
    monkeypatch.setattr(storage.db, "CHECKPOINT_BUSY_SECONDS", 0.01)
    monkeypatch.setattr(storage.db, "CHECKPOINT_IDLE_SECONDS", 0.01)
    monkeypatch.setattr(storage.db, "WAL_RESTART_FRAMES", 64)
    path = tmp_path / "steady.db"
    db = await Database.open(path)
    wal = Path(f"{path}-wal")
    try:
        first = wal_restarts(wal)
        written = 0
        # Back to back, so every checkpoint has commits beside it, until the WAL has started
        # over three times; without the writer's catch-up it never does (60 MB of rows, ~3 s).
        while wal_restarts(wal) < first + 3:
            assert written * 1000 < 60e6, f"the WAL started over {wal_restarts(wal) - first} times"
            rows = [
                Write(
                    "INSERT INTO settings (key, value) VALUES (?, ?)",
                    (f"k{written + n}", "v" * 900),
                )
                for n in range(8)
            ]
            await asyncio.gather(*(db.commit([row]) for row in rows))
            written += len(rows)
    finally:
        await db.close()
    assert on_disk(path, "SELECT count(*) FROM settings WHERE key LIKE 'k%'") == [(written,)]


class CommitsDuringCheckpoints:
    """A checkpointer's connection (a real one) beside a writer (a real one) that commits
    `rows[n]` rows of a page each while checkpoint n runs: the timing, made certain."""

    def __init__(self, path: Path, rows: list[int]) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.writer = sqlite3.connect(path, isolation_level=None)
        self.writer.execute("PRAGMA wal_autocheckpoint=0")
        self.writer.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
        self.rows = list(rows)
        self.passes: list[tuple[int, int, int]] = []

    def execute(self, sql: str) -> sqlite3.Cursor:
        rows = self.rows.pop(0) if self.rows else 0
        if rows:  # a commit under way as the pass runs (so the WAL cannot start over)
            self.writer.execute("BEGIN IMMEDIATE")
            self.writer.execute("INSERT INTO t VALUES (?)", ("x" * 3000,))
        result = self.conn.execute(sql).fetchone()
        self.passes.append(result)
        if rows:
            self.writer.execute("COMMIT")
        for _ in range(rows - 1):  # and the rest of those committed meanwhile
            self.writer.execute("INSERT INTO t VALUES (?)", ("x" * 3000,))
        return self.conn.execute("SELECT ?, ?, ?", result)

    def new_frames(self) -> int:
        """Frames committed since the last pass (what a writer's catch-up would copy)."""
        _, frames, _ = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(frames - self.passes[-1][1])


def test_past_the_restart_size_the_checkpointer_copies_again_until_little_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's catch-up (the WAL starting over) held every turn in flight for all that was
    committed during a whole checkpoint (6-8 ms, 15 at p99, at the browse benchmark's rate).
    Past the restart size the checkpointer now copies again at once what came during its
    last pass, each pass shorter, so the writer is left what came during a short one."""

    def committed(name: str) -> Path:
        setup = CommitsDuringCheckpoints(tmp_path / name, [400])
        setup.conn.execute("PRAGMA journal_mode=WAL")
        setup.execute("PRAGMA wal_checkpoint(PASSIVE)")  # 400 rows committed, none copied
        return tmp_path / name

    path = committed("passes.db")
    # Below the restart size: one pass, whatever came meanwhile.
    monkeypatch.setattr(storage.db, "WAL_RESTART_FRAMES", 10_000)
    small = CommitsDuringCheckpoints(path, [300, 300])
    _checkpoint_passes(small)  # type: ignore[arg-type]
    assert len(small.passes) == 1
    # Past it: again while a pass found more than CATCH_UP_FRAMES new (300 rows, ~900 frames),
    # and not after one that found fewer (40 rows): the writer is left what came during that
    # one (5 rows), not what came during the first (300).
    monkeypatch.setattr(storage.db, "WAL_RESTART_FRAMES", 100)
    big = CommitsDuringCheckpoints(path, [300, 40, 5, 500])
    busy, frames, copied = _checkpoint_passes(big)  # type: ignore[arg-type]
    assert len(big.passes) == 3 and busy == 0 and copied == frames
    assert 5 <= big.new_frames() < 40
    # Never more than CATCH_UP_PASSES, however much keeps coming.
    endless = CommitsDuringCheckpoints(committed("endless.db"), [400] * 10)
    _checkpoint_passes(endless)  # type: ignore[arg-type]
    assert len(endless.passes) == storage.db.CATCH_UP_PASSES


@pytest.mark.parametrize("durability", ["normal", "full"])
async def test_with_normal_durability_the_wal_is_written_to_disk_beside_the_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str
) -> None:
    """ "normal" commits never wait for the disk, and a checkpoint used to write a whole second
    of WAL at once before copying it; now, while turns commit, the WAL is synced in small steps
    beside them (and not at all while nothing commits). "full" syncs it at every commit."""
    monkeypatch.setattr(storage.db, "WAL_SYNC_SECONDS", 0.01)
    db = await Database.open(tmp_path / "synced.db", durability)
    try:
        await asyncio.sleep(0.05)
        assert db.wal_syncs == 0  # nothing committed: nothing to sync
        for n in range(5):
            await db.commit([add(n)])
            await asyncio.sleep(0.03)
        synced = db.wal_syncs
        assert (synced >= 3) if durability == "normal" else (synced == 0)
        await asyncio.sleep(0.05)
        assert db.wal_syncs == synced  # idle again
    finally:
        await db.close()


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
async def test_the_checkpointer_runs_below_the_event_loop_and_the_writer(db: Database) -> None:
    def nice(conn: sqlite3.Connection | None = None) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert db._checkpointer is not None
    own = nice()
    assert await _call(db._checkpointer, nice) == max(own, storage.db.CHECKPOINTER_NICE) > own
    assert await _call(db._writer, nice) == own


# -- beside a service that owns the file (bot/offline.py), and what /readyz asks -------------


async def test_a_read_only_store_reads_and_refuses_every_write(tmp_path: Path) -> None:
    owner = await Database.open(tmp_path / "airtng.db")
    await owner.commit([add(1)])
    beside = await Database.open(tmp_path / "airtng.db", read_only=True)
    try:
        assert beside.read_only and not owner.read_only
        assert await beside.read(people_ids) == [1]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await beside.commit([add(2)])
        await owner.commit([add(3)])  # the owner keeps writing, and the reader sees it
        assert await beside.read(people_ids) == [1, 3]
    finally:
        await beside.close()
        await owner.close()
    assert on_disk(tmp_path / "airtng.db", "SELECT id FROM people") == [(1,), (3,)]


async def test_a_read_only_store_never_migrates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(f"{MIGRATIONS[0]}\nPRAGMA user_version = 1;")
    conn.close()
    with pytest.raises(RuntimeError, match="schema version 1, older than this code's"):
        await Database.open(path, read_only=True)
    assert on_disk(path, "PRAGMA user_version") == [(1,)]


async def test_check_says_why_the_store_cannot_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    db = await Database.open(path)
    try:
        assert await db.check() is None
        newer = sqlite3.connect(path)  # what newer code's migration does to the file
        newer.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        assert await db.check() == (
            f"the database is at schema version {len(MIGRATIONS) + 1},"
            f" newer than this code's {len(MIGRATIONS)}"
        )
        newer.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        newer.close()
        assert await db.check() is None
        # The connection it asks is busy for longer than the check waits (a checkpoint copying
        # a large WAL, a disk that stalls): it answers "not ready" instead of waiting.
        stall = asyncio.create_task(_call(db._checkpointer, lambda conn: time.sleep(0.5)))
        await asyncio.sleep(0.05)
        assert await db.check(timeout=0.1) == "the database did not answer within 0.1 s"
        await stall
    finally:
        await db.close()
    assert await db.check() == "the database is closed"
