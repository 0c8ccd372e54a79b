"""Every read the service makes. Each function takes a sqlite3 connection and runs on the
database's reader thread, so a whole function is one round trip:

    snapshot = await db.read(load_snapshot, live_since)
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from conversations.model import Conversation, Person, Property, Reservation


@dataclass(slots=True)
class Snapshot:
    """What the bot keeps in memory, as the database has it."""

    people: list[Person] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    handled: list[tuple[str, str]] = field(default_factory=list)  # recent (sid, twiml)
    last_ids: dict[str, int] = field(default_factory=dict)


def load_snapshot(conn: sqlite3.Connection, live_since: str, recent_handled: int) -> Snapshot:
    snap = Snapshot()
    conn.execute("BEGIN")  # one consistent view across the tables
    try:
        phones: dict[int, str] = {}
        for row in conn.execute("SELECT id, phone, name, opted_out FROM people"):
            snap.people.append(Person(row[0], row[1], row[2], bool(row[3])))
            phones[row[0]] = row[1]
        for row in conn.execute(
            "SELECT id, host_id, title, place, description, nightly_price, image_url, active"
            " FROM properties ORDER BY id"
        ):
            snap.properties.append(
                Property(
                    row[0], phones[row[1]], row[2], row[3], row[4], row[5], row[6], bool(row[7])
                )
            )
        for row in conn.execute(
            "SELECT id, property_id, guest_id, check_in, check_out, message, status, created_at,"
            " updated_at, reminded_at FROM reservations ORDER BY id"
        ):
            snap.reservations.append(
                Reservation(
                    row[0],
                    row[1],
                    phones[row[2]],
                    date.fromisoformat(row[3]),
                    date.fromisoformat(row[4]),
                    row[5],
                    row[6],
                    datetime.fromisoformat(row[7]),
                    datetime.fromisoformat(row[8]),
                    datetime.fromisoformat(row[9]) if row[9] else None,
                )
            )
        for row in conn.execute(
            "SELECT id, bot_phone, phone, state, data, started_at, last_at, version"
            " FROM conversations WHERE last_at >= ?",  # by the index on last_at; order is free
            (live_since,),
        ):
            snap.conversations.append(
                Conversation(
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    datetime.fromisoformat(row[5]),
                    datetime.fromisoformat(row[6]),
                    json.loads(row[4]),
                    row[7],
                )
            )
        rows = conn.execute(
            "SELECT sid, twiml FROM handled_messages ORDER BY at DESC LIMIT ?", (recent_handled,)
        ).fetchall()
        snap.handled = [(sid, twiml) for sid, twiml in reversed(rows)]
        for table in ("people", "properties", "reservations", "conversations", "outbox"):
            snap.last_ids[table] = conn.execute(
                f"SELECT COALESCE(MAX(id), 0) FROM {table}"
            ).fetchone()[0]
    finally:
        conn.execute("COMMIT")
    return snap


def all_homes(conn: sqlite3.Connection) -> list[Property]:
    """Every home, listed or paused, by id, with its host's phone."""
    rows = conn.execute(
        "SELECT p.id, h.phone, p.title, p.place, p.description, p.nightly_price, p.image_url,"
        " p.active FROM properties p JOIN people h ON h.id = p.host_id ORDER BY p.id"
    )
    return [Property(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]


def find_handled(conn: sqlite3.Connection, sids: list[str]) -> dict[str, str]:
    """The TwiML that answered each of these MessageSids, for those already handled."""
    marks = ",".join("?" * len(sids))
    rows = conn.execute(f"SELECT sid, twiml FROM handled_messages WHERE sid IN ({marks})", sids)
    return dict(rows.fetchall())


def setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def message_index_progress(conn: sqlite3.Connection) -> tuple[int, int]:
    """(the last message id in the word index, the last message id): what is left to index."""
    conn.execute("BEGIN")  # both from one view
    try:
        upto = conn.execute(
            "SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'messages_indexed_upto'"
        ).fetchone()
        newest = conn.execute("SELECT MAX(id) FROM messages").fetchone()[0]
    finally:
        conn.execute("COMMIT")
    return (int(upto[0]) if upto else 0), int(newest or 0)


# -- the outbox -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    to: str
    from_: str
    body: str
    media_url: str | None
    status: str
    attempts: int
    next_attempt_at: str
    created_at: str
    opted_out: bool = False  # the recipient opted out since it was queued (a shared store says)


def due_outbox(conn: sqlite3.Connection, now: str, limit: int) -> list[OutboxItem]:
    rows = conn.execute(
        "SELECT id, to_phone, from_phone, body, media_url, status, attempts, next_attempt_at,"
        " created_at FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= ?"
        " ORDER BY next_attempt_at LIMIT ?",
        (now, limit),
    )
    return [OutboxItem(*row) for row in rows]


def next_outbox_time(conn: sqlite3.Connection, after: str = "") -> str | None:
    """The first next attempt (or lease end) of a queued or sending row, later than `after`."""
    row = conn.execute(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE status IN ('queued', 'sending')"
        " AND next_attempt_at > ?",
        (after,),
    ).fetchone()
    return row[0] if row else None


class OutboxWork(NamedTuple):
    due: list[OutboxItem]  # oldest first, at most `limit`
    later: str | None  # when the first row not due now will be


def outbox_work(conn: sqlite3.Connection, now: str, limit: int) -> OutboxWork:
    """What the outbox worker needs from one look: what is due, and when to look next."""
    return OutboxWork(due_outbox(conn, now, limit), next_outbox_time(conn, now))


class OutboxBacklog(NamedTuple):
    queued: int
    sending: int
    oldest: str | None  # when the oldest row not sent yet was queued


def outbox_backlog(conn: sqlite3.Connection) -> OutboxBacklog:
    """How much of the outbox is not sent yet, and since when (GET /metrics, once a scrape):
    counts and first ids from outbox_by_status, so the cost is the backlog's, not the table's."""
    row = conn.execute(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE status = 'queued'),"
        " (SELECT COUNT(*) FROM outbox WHERE status = 'sending'),"
        " (SELECT created_at FROM outbox WHERE id = min(coalesce(q, s), coalesce(s, q)))"
        " FROM (SELECT (SELECT MIN(id) FROM outbox WHERE status = 'queued') AS q,"
        " (SELECT MIN(id) FROM outbox WHERE status = 'sending') AS s)"
    ).fetchone()
    return OutboxBacklog(*row)


def known_twilio_sids(conn: sqlite3.Connection, sids: list[str]) -> set[str]:
    """Which of these Twilio message SIDs some outbox row already records."""
    marks = ",".join("?" * len(sids))
    rows = conn.execute(f"SELECT twilio_sid FROM outbox WHERE twilio_sid IN ({marks})", sids)
    return {row[0] for row in rows}


# -- the operator's JSON API ----------------------------------------------------------------


def admin_reservations(
    conn: sqlite3.Connection, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    sql = (
        "SELECT r.id, r.status, r.property_id, p.title AS property_title, g.phone AS guest_phone,"
        " g.name AS guest_name, h.phone AS host_phone, h.name AS host_name, r.check_in,"
        " r.check_out, r.message, r.created_at, r.updated_at"
        " FROM reservations r JOIN properties p ON p.id = r.property_id"
        " JOIN people g ON g.id = r.guest_id JOIN people h ON h.id = p.host_id"
    )
    params: list[Any] = []
    if status:
        sql += " WHERE r.status = ?"
        params.append(status)
    sql += " ORDER BY r.id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    return _dicts(conn.execute(sql, params))


def admin_conversations(
    conn: sqlite3.Connection, phone: str | None, limit: int, offset: int, messages_each: int
) -> list[dict[str, Any]]:
    sql = "SELECT id, phone, started_at, last_at, state FROM conversations"
    params: list[Any] = []
    if phone:
        sql += " WHERE phone = ?"
        params.append(phone)
    sql += " ORDER BY last_at DESC, id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    conversations = _dicts(conn.execute(sql, params))
    for conversation in conversations:
        rows = conn.execute(
            "SELECT m.direction, m.body, m.media, m.at, COALESCE(o.status, m.status) AS status"
            " FROM messages m LEFT JOIN outbox o ON o.id = m.outbox_id"
            " WHERE m.conversation_id = ? ORDER BY m.id DESC LIMIT ?",
            (conversation["id"], messages_each),
        )
        # The newest messages when there are more than fit, shown in the order they came.
        conversation["messages"] = [
            {"direction": d, "body": b, "media": json.loads(m), "at": at, "status": s}
            for d, b, m, at, s in reversed(rows.fetchall())
        ]
    return conversations


def admin_outbox(
    conn: sqlite3.Connection, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    sql = (
        'SELECT id, to_phone AS "to", body, status, attempts, twilio_sid, error_code, error,'
        " next_attempt_at, created_at, updated_at FROM outbox"
    )
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    return _dicts(conn.execute(sql, params))


def admin_properties(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = _dicts(
        conn.execute(
            "SELECT p.id, p.title, p.place, p.description, p.image_url, p.nightly_price,"
            " h.phone AS host_phone, h.name AS host_name, p.active"
            " FROM properties p JOIN people h ON h.id = p.host_id ORDER BY p.id"
        )
    )
    for row in rows:
        row["active"] = bool(row["active"])
    return rows


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def handled_sids(conn: sqlite3.Connection) -> list[str]:
    """Every MessageSid already answered (the bot indexes them in memory at start)."""
    return [row[0] for row in conn.execute("SELECT sid FROM handled_messages")]
