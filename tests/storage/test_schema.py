"""The schema on a real SQLite file: migrations, the connection's PRAGMAs, and an index behind
every query the service makes (checked with EXPLAIN QUERY PLAN).

    db = await Database.open(tmp_path / "airtng.db", durability="full")
"""

from __future__ import annotations

import gc
import inspect
import random
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bench.wal_pages import frames_since_restart
from conversations.model import Conversation, Person, Property
from storage import queries, writes
from storage.db import Database, Write
from storage.schema import MIGRATIONS, migrate
from storage.writes import stamp
from tests.storage.test_queries import AT, BOT, GUEST, HOST, IDLE, history, reservation

TABLES = {
    "settings", "people", "properties", "reservations", "conversations", "messages",
    "handled_messages", "outbox",
    # migration 4 (the operator console): the words-in-messages index and FTS5's own tables
    "operator_actions", "messages_fts", "messages_fts_data", "messages_fts_idx",
    "messages_fts_docsize", "messages_fts_config",
    # migration 6: opt-outs and opt-ins as events
    "opt_changes",
}  # fmt: skip


def open_plain(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def tables(path: Path) -> set[str]:
    conn = open_plain(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {name for (name,) in rows}
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = open_plain(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def open_connections(before: set[threading.Thread]) -> list[aiosqlite.Connection]:
    """aiosqlite connections started since `before` and not closed. aiosqlite has no public
    "is open": `_thread` and `_connection` are its own fields."""
    new = {thread for thread in threading.enumerate() if thread not in before}
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, aiosqlite.Connection)
        and obj._thread in new
        and obj._connection is not None
    ]


@pytest.fixture
async def close_leaks() -> AsyncIterator[None]:
    """Close the aiosqlite connections a test left open: their non-daemon threads would
    otherwise keep pytest from exiting."""
    before = set(threading.enumerate())
    yield
    for connection in open_connections(before):
        await connection.close()


async def test_a_fresh_file_gets_every_table_at_the_newest_version(tmp_path: Path) -> None:
    path = tmp_path / "data" / "airtng.db"  # the folder is made too
    db = await Database.open(path)
    await db.close()
    assert tables(path) == TABLES
    assert user_version(path) == len(MIGRATIONS)


async def test_opening_again_changes_nothing_and_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    db = await Database.open(path)
    await db.commit([writes.add_person(GUEST, AT)])
    await db.close()
    conn = open_plain(path)
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()

    for _ in range(2):
        db = await Database.open(path)
        assert await db.read(lambda c: c.execute("SELECT id, phone FROM people").fetchall()) == [
            (GUEST.id, GUEST.phone)
        ]
        await db.close()
    conn = open_plain(path)
    assert conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == (
        schema
    )
    conn.close()
    assert user_version(path) == len(MIGRATIONS)


@pytest.mark.parametrize("applied", range(1, len(MIGRATIONS)))
async def test_an_older_database_is_brought_up_to_date(tmp_path: Path, applied: int) -> None:
    path = tmp_path / "airtng.db"
    conn = open_plain(path)
    for number, script in enumerate(MIGRATIONS[:applied], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.execute(
        "INSERT INTO people (id, phone, name, opted_out, created_at, updated_at)"
        " VALUES (1, '+15550001111', 'Ann', 0, 'then', 'then')"
    )
    conn.close()

    db = await Database.open(path)
    await db.close()
    assert user_version(path) == len(MIGRATIONS)
    assert on_disk(path, "SELECT id, name FROM people") == [(1, "Ann")]


def on_disk(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = open_plain(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def newer_file(path: Path) -> int:
    db = await Database.open(path)
    await db.commit([writes.add_person(GUEST, AT)])
    await db.close()
    newer = len(MIGRATIONS) + 1
    conn = open_plain(path)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    return newer


@pytest.mark.usefixtures("close_leaks")
async def test_people_opted_out_before_migration_6_count_from_their_last_change(
    tmp_path: Path,
) -> None:
    path = tmp_path / "airtng.db"
    conn = open_plain(path)
    for number, script in enumerate(MIGRATIONS[:5], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.execute(
        "INSERT INTO people (id, phone, name, opted_out, created_at, updated_at) VALUES"
        " (1, '+15550001111', 'Ann', 1, 'then', '2026-11-30T10:00:00.000+00:00'),"
        " (2, '+15550001112', 'Bo', 0, 'then', 'then')"
    )
    conn.close()
    db = await Database.open(path)
    await db.close()
    assert on_disk(path, "SELECT person_id, opted_out, source, at FROM opt_changes") == [
        (1, 1, "migration", "2026-11-30T10:00:00.000+00:00")
    ]


@pytest.mark.usefixtures("close_leaks")
async def test_handled_messagesids_keep_their_answers_through_migration_8(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    conn = open_plain(path)
    for number, script in enumerate(MIGRATIONS[:7], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    for sid, n in (("SMb", 2), ("SMa", 1), ("SMc", 3)):
        write = writes.handled(sid, f"<Response>{n}</Response>", AT + timedelta(seconds=n))
        conn.execute(write.sql, write.params)
    conn.close()
    db = await Database.open(path)
    try:
        assert await db.read(queries.find_handled, ["SMa", "SMc", "SMz"]) == {
            "SMa": "<Response>1</Response>",
            "SMc": "<Response>3</Response>",
        }
        snapshot = await db.read(queries.load_snapshot, stamp(AT), 2)
        assert [sid for sid, _ in snapshot.handled] == ["SMb", "SMc"]
        # A MessageSid is still handled once: a second answer for it is refused.
        with pytest.raises(sqlite3.IntegrityError, match=r"handled_messages\.sid"):
            await db.commit([writes.handled("SMa", "<Response/>", AT)])
        await db.commit([writes.handled("SMd", "<Response/>", AT)])
    finally:
        await db.close()
    assert on_disk(path, "SELECT sid FROM handled_messages ORDER BY id") == [
        ("SMa",), ("SMb",), ("SMc",), ("SMd",)
    ]  # fmt: skip


def test_random_messagesids_write_few_pages_a_turn(tmp_path: Path) -> None:
    """Twilio's MessageSids are random, so each turn's handled row lands somewhere new. Kept in
    a table keyed by the sid, with its TwiML, that cost 3.6 pages of WAL a turn (a page of its
    own and a split every few rows); in arrival order with the sid in an index of its own,
    1.6. Counted in the WAL: 40 group commits of 24 turns beside 20,000 earlier ones."""
    path = tmp_path / "airtng.db"
    conn = open_plain(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    migrate(conn)
    twiml = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{"x" * 170}</Message>'
    rng = random.Random(8)

    def handled() -> Write:
        return writes.handled("SM" + rng.randbytes(16).hex(), twiml + "</Response>", AT)

    conn.execute("BEGIN")
    for _ in range(20_000):
        conn.execute(*handled()[:2])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for _ in range(40):
        conn.execute("BEGIN")
        for _ in range(24):
            conn.execute(*handled()[:2])
        conn.execute("COMMIT")
    frames = len(frames_since_restart(Path(f"{path}-wal")))
    conn.close()
    assert frames / (40 * 24) < 2.0, f"{frames} pages for {40 * 24} turns"


async def test_a_database_from_newer_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    newer = await newer_file(path)
    with pytest.raises(RuntimeError) as refused:
        await Database.open(path)
    message = str(refused.value)
    assert f"schema version {newer}, newer than this code ({len(MIGRATIONS)})" in message
    assert "run the newer code" in message
    # Refused means untouched.
    assert user_version(path) == newer
    assert on_disk(path, "SELECT phone FROM people") == [(GUEST.phone,)]


@pytest.mark.usefixtures("close_leaks")
async def test_a_refused_open_leaves_no_connection_behind(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    await newer_file(path)
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError):
        await Database.open(path)
    assert open_connections(before) == []


async def test_journal_mode_is_wal(tmp_path: Path) -> None:
    path = tmp_path / "airtng.db"
    db = await Database.open(path)
    try:
        assert await db.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
        assert await db.transact(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0]) == 1
    finally:
        await db.close()
    assert on_disk(path, "PRAGMA journal_mode") == [("wal",)]  # WAL stays with the file


@pytest.mark.parametrize(("durability", "synchronous"), [("full", 2), ("normal", 1)])
async def test_durability_sets_synchronous_on_the_writer(
    tmp_path: Path, durability: str, synchronous: int
) -> None:
    db = await Database.open(tmp_path / "airtng.db", durability)
    try:
        got = await db.transact(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0])
        assert got == synchronous
    finally:
        await db.close()


# -- every query has an index ----------------------------------------------------------------


class Recording(sqlite3.Connection):
    """A real connection that remembers each statement it runs, to EXPLAIN them after."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statements: list[tuple[str, Any]] = []

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.statements.append((sql, parameters))
        return super().execute(sql, parameters)


SINCE = stamp(AT - IDLE)
NOW = stamp(AT)

# Each public function of storage.queries, called the ways the service calls it.
READS: dict[str, Callable[[sqlite3.Connection], object]] = {
    "load_snapshot": lambda c: queries.load_snapshot(c, SINCE, 10_000),
    "find_handled": lambda c: queries.find_handled(c, [f"SM{n:032d}" for n in (1, 2, 999)]),
    "setting": lambda c: queries.setting(c, "session_secret"),
    "due_outbox": lambda c: queries.due_outbox(c, NOW, 8),
    "next_outbox_time": lambda c: queries.next_outbox_time(c),
    "outbox_backlog": lambda c: queries.outbox_backlog(c),
    "outbox_work": lambda c: queries.outbox_work(c, NOW, 8),
    "known_twilio_sids": lambda c: queries.known_twilio_sids(c, ["SM1", "SM2"]),
    "admin_reservations[all]": lambda c: queries.admin_reservations(c, None, 100, 0),
    "admin_reservations[status]": lambda c: queries.admin_reservations(c, "confirmed", 100, 0),
    "admin_conversations[all]": lambda c: queries.admin_conversations(c, None, 100, 0, 1000),
    "admin_conversations[phone]": (
        lambda c: queries.admin_conversations(c, "+15550300011", 100, 0, 1000)
    ),
    "admin_outbox[all]": lambda c: queries.admin_outbox(c, None, 100, 0),
    "admin_outbox[status]": lambda c: queries.admin_outbox(c, "sent", 100, 0),
    "admin_properties": lambda c: queries.admin_properties(c),
    "all_homes": lambda c: queries.all_homes(c),
    "handled_sids": lambda c: queries.handled_sids(c),
    "message_index_progress": lambda c: queries.message_index_progress(c),
}

# Each function of storage.writes, with arguments that match rows in the history.
WRITES: dict[str, Write] = {
    "add_person": writes.add_person(Person(500, "+15550000500"), AT),
    "update_person": writes.update_person(GUEST, AT),
    "opt_change": writes.opt_change(GUEST.id, True, "keyword", AT),
    "add_property": writes.add_property(Property(9, HOST.phone, "T", "P", "D", 10), HOST.id, AT),
    "update_property": writes.update_property(
        Property(1, HOST.phone, "T", "P", "D", 10, active=False), AT
    ),
    "add_reservation": writes.add_reservation(reservation(90), GUEST.id),
    "change_reservation": writes.change_reservation(1, "pending", "confirmed", AT),
    "remind_reservation": writes.remind_reservation(1, AT),
    "add_conversation": writes.add_conversation(
        Conversation(900, BOT, GUEST.phone, "start", AT, AT)
    ),
    "save_conversation": writes.save_conversation(
        Conversation(1, BOT, GUEST.phone, "start", AT, AT, {}, 2), 1
    ),
    "log_message": writes.log_message(1, "in", GUEST.phone, "hi", AT, status="received"),
    "handled": writes.handled("SMnew", "<Response/>", AT),
    "set_setting": writes.set_setting("k", "v"),
    "enqueue": writes.enqueue(900, GUEST.phone, BOT, "b", None, None, AT),
    "outbox_sending": writes.outbox_sending(1, 1, AT, AT),
    "outbox_sent": writes.outbox_sent(1, "SM1", "sent", AT),
    "outbox_retry": writes.outbox_retry(1, AT, 20429, "busy", AT),
    "outbox_failed": writes.outbox_failed(1, 21211, "invalid", AT),
    "outbox_cancelled": writes.outbox_cancelled(1, "opted out", AT),
    "outbox_status[delivered]": writes.outbox_status("SM1", "delivered", None, AT),
    "outbox_status[failed]": writes.outbox_status("SM1", "failed", 30006, AT),
    "outbox_note": writes.outbox_note(1, None, "network", AT),
    # the operator console (issue 5)
    "operator_action": writes.operator_action("retry", "outbox 1", "", AT),
    "outbox_requeue": writes.outbox_requeue(1, AT),
    **{
        f"redact_person[{n}]": write
        for n, write in enumerate(writes.redact_person(GUEST.id, GUEST.phone, "r-1", [1, 2], AT))
    },
    **{f"index_messages[{n}]": write for n, write in enumerate(writes.index_messages(0, 10))},
    **{
        f"forget_bodies_before[{n}]": write
        for n, write in enumerate(writes.forget_bodies_before(AT))
    },
}

# Statements meant to read a whole table (case, table as the plan names it): they are not
# missing an index.
FULL_SCANS = {
    # The bot keeps every person, home and reservation in memory: the start loads them all.
    ("load_snapshot", "people"),
    ("load_snapshot", "properties"),
    ("load_snapshot", "reservations"),
    # Every handled MessageSid goes into the in-memory dedupe index at start.
    ("handled_sids", "handled_messages"),
    # The operator's list of homes is every home.
    ("admin_properties", "p"),
    ("all_homes", "p"),
    # Unfiltered pages walk the primary key backwards (ORDER BY id DESC) and stop after
    # LIMIT + OFFSET rows: no sort, no more rows than the page.
    ("admin_reservations[all]", "r"),
    ("admin_outbox[all]", "outbox"),
}

# Statements allowed to sort their matches (case, first table in FROM): each sorts a set an
# index has already narrowed to something small, never a whole table.
BOUNDED_SORTS = {
    # The queued and sending rows (the backlog), found through outbox_by_status.
    ("due_outbox", "outbox"),
    ("outbox_work", "outbox"),  # due_outbox, with the time of the next row after it
    # One person's conversations, found through conversations_by_pair; an index on
    # (phone, last_at) would cost every turn, which rewrites last_at.
    ("admin_conversations[phone]", "conversations"),
}

# The index the queries that matter most must use (case, first table in FROM).
EXPECTED_INDEX = {
    ("find_handled", "handled_messages"): "handled_by_sid",
    ("load_snapshot", "handled_messages"): "handled_by_at",
    ("known_twilio_sids", "outbox"): "outbox_by_sid",
    ("admin_conversations[all]", "conversations"): "conversations_by_last",
    ("admin_conversations[phone]", "conversations"): "conversations_by_pair",
    ("admin_conversations[all]", "messages"): "messages_by_conversation",
    ("admin_outbox[status]", "outbox"): "outbox_by_status",
    ("admin_reservations[status]", "reservations"): "reservations_by_status_id",
    ("outbox_status[delivered]", "outbox"): "outbox_by_sid",
    ("outbox_status[failed]", "outbox"): "outbox_by_sid",
}


def public_functions(module: object) -> set[str]:
    return {
        name
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == getattr(module, "__name__", None) and not name.startswith("_")
    }


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    """A file with some of every row. The service never runs ANALYZE, so these are the plans
    it gets: no statistics, only the schema."""
    path = tmp_path / "history.db"
    conn = open_plain(path)
    try:
        migrate(conn)
        conn.execute("BEGIN")
        for write in history(people=30, conversations=200, messages_each=5, outbox=300):
            conn.execute(write.sql, write.params)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path


def plan(conn: sqlite3.Connection, sql: str, params: Any) -> list[str]:
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def first_table(sql: str) -> str:
    match = re.search(r"\b(?:FROM|UPDATE|INTO)\s+(\w+)", sql)
    assert match, sql
    return match.group(1)


def plan_problems(case: str, sql: str, lines: list[str]) -> list[str]:
    problems = []
    for line in lines:
        scan = re.fullmatch(r"SCAN (\w+)", line)  # "SCAN t USING INDEX i" walks an index
        if scan and (case, scan.group(1)) not in FULL_SCANS:
            problems.append(f"{case}: full scan of {scan.group(1)}: {sql}")
        if line.startswith("USE TEMP B-TREE") and (case, first_table(sql)) not in BOUNDED_SORTS:
            problems.append(f"{case}: sorts every match ({line}): {sql}")
    expected = EXPECTED_INDEX.get((case, first_table(sql)))
    if expected and not any(expected in line for line in lines):
        problems.append(f"{case}: expected {expected}, got {lines}: {sql}")
    return problems


def test_every_query_and_write_is_checked() -> None:
    assert {case.split("[")[0] for case in READS} == public_functions(queries)
    assert {case.split("[")[0] for case in WRITES} == public_functions(writes) - {"stamp"}


@pytest.mark.parametrize("case", sorted(READS))
def test_each_read_uses_an_index(history_file: Path, case: str) -> None:
    conn = sqlite3.connect(history_file, isolation_level=None, factory=Recording)
    try:
        READS[case](conn)
        statements = [
            (sql, params) for sql, params in conn.statements if sql.lstrip().startswith("SELECT")
        ]
        assert statements, f"{case} ran no query"
        problems = []
        checked = set()
        for sql, params in statements:
            lines = plan(conn, sql, params)
            checked.add((case, first_table(sql)))
            problems += plan_problems(case, sql, lines)
    finally:
        conn.close()
    assert problems == []
    for key in EXPECTED_INDEX:
        if key[0] == case:
            assert key in checked, f"{key} was never run"


@pytest.mark.parametrize("case", sorted(WRITES))
def test_each_guarded_or_filtered_write_uses_an_index(history_file: Path, case: str) -> None:
    write = WRITES[case]
    conn = open_plain(history_file)
    try:
        lines = plan(conn, write.sql, write.params)
    finally:
        conn.close()
    assert plan_problems(case, write.sql, lines) == []
    if " WHERE " in write.sql:
        assert all(line.startswith("SEARCH") for line in lines), lines


def test_load_snapshot_finds_live_conversations_through_an_index(history_file: Path) -> None:
    conn = sqlite3.connect(history_file, isolation_level=None, factory=Recording)
    try:
        queries.load_snapshot(conn, SINCE, 0)
        [(sql, params)] = [
            (sql, params) for sql, params in conn.statements if "FROM conversations WHERE" in sql
        ]
        lines = plan(conn, sql, params)
    finally:
        conn.close()
    assert any(line.startswith("SEARCH conversations USING") for line in lines), lines


def test_the_snapshot_loads_only_the_recent_handled_sids(history_file: Path) -> None:
    # The start asks for the 10,000 most recent: an index on `at` reads just those.
    conn = open_plain(history_file)
    try:
        snapshot = queries.load_snapshot(conn, SINCE, 3)
    finally:
        conn.close()
    newest = [f"SM{n:032d}" for n in (3, 2, 1)]  # handled n hours ago
    assert [sid for sid, _ in snapshot.handled] == newest
    assert len(snapshot.conversations) == 4  # last active 1-4 hours ago: still live
    assert snapshot.last_ids["outbox"] == 300
