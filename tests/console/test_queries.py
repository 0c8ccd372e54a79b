"""Every console filter is answered from an index (issue 5: the console stays fast with a
million messages). Each query runs for real on a small database while SQLite's trace records
the statements it ran, with their values; each statement's plan must then read no big table
from end to end ("SCAN table" without an index) and sort no list for its ORDER BY."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storage import console_queries as q
from storage.db import Database
from tests.storage.test_queries import history

AT = datetime(2026, 7, 1, 12, tzinfo=UTC)
BARE_SCAN = re.compile(r"\bSCAN (\w+)$")
NEWEST_FIRST = re.compile(r"ORDER BY (\w+\.)?id DESC LIMIT")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "console.db")
    await db.commit(history(people=20, conversations=40, messages_each=5, outbox=30))
    yield db
    await db.close()


def plans(conn: sqlite3.Connection, query: Callable[..., Any], *args: Any) -> list[str]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        query(conn, *args)
    finally:
        conn.set_trace_callback(None)
    lines = []
    for sql in statements:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql):
            lines.append(f"{row[3]}  <- {sql}")
    return lines


CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "conversations": (q.conversations, (q.ConversationFilter(), 51, 0)),
    "by phone": (q.conversations, (q.ConversationFilter(phone="+15550000001"), 51, 0)),
    "by words": (q.conversations, (q.ConversationFilter(words="hello"), 51, 0)),
    "by state": (q.conversations, (q.ConversationFilter(state="start"), 51, 0)),
    "by dates": (
        q.conversations,
        (q.ConversationFilter(since="2026-01-01", until="2026-12-01"), 51, 0),
    ),
    "transcript": (q.transcript, (1, 1000)),
    "reservations": (q.reservations, (q.ReservationFilter(), 51, 0)),
    "reservations by status": (q.reservations, (q.ReservationFilter(status="pending"), 51, 0)),
    "reservations by home": (q.reservations, (q.ReservationFilter(home=1), 51, 0)),
    "reservations by guest": (q.reservations, (q.ReservationFilter(guest="+15550000001"), 51, 0)),
    "reservations by host": (q.reservations, (q.ReservationFilter(host="+15550100001"), 51, 0)),
    "reservations by dates": (
        q.reservations,
        (q.ReservationFilter(check_in_from="2026-08-01", check_in_to="2026-09-01"), 51, 0),
    ),
    "reservation history": (q.reservation_history, (1,)),
    "outbox failed": (q.outbox, (q.FAILED, 51, 0)),
    "operator actions": (q.operator_actions, (50,)),
    "overview": (q.overview, ("2026-07-01", "2026-06-29", "2026-06-18")),
    "logs by phone": (q.logs, ("+15550000001", "2026-01-01", 500, 0)),
    "logs since": (q.logs, (None, "2026-01-01", 500, 0)),
    "retention": (q.retention_counts, ("2026-01-01",)),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_every_console_query_uses_an_index(db: Database, name: str) -> None:
    query, args = CASES[name]
    lines = await db.read(plans, query, *args)
    assert lines, "the query ran no SELECT"
    # A bare SCAN is allowed only as a walk of the primary key newest first, stopped by LIMIT.
    scans = [
        line
        for line in lines
        if BARE_SCAN.search(line.split("  <- ")[0]) and not NEWEST_FIRST.search(line)
    ]
    assert scans == [], "\n".join(lines)
    # A phone's conversations (by phone) are few: sorting them is fine.
    if name in ("conversations", "by state", "reservations", "logs by phone", "operator actions"):
        sorts = [line for line in lines if "TEMP B-TREE FOR ORDER BY" in line]
        assert sorts == [], "\n".join(lines)


async def test_words_are_quoted_for_fts5() -> None:
    assert q.fts_query('wedding "quiet') == '"wedding" """quiet"'
    assert q.fts_query("AND OR NEAR(*") == '"AND" "OR" "NEAR(*"'
    assert q.fts_query('  ""  ') == ""
