"""What the operator console (bot/console) and the CLI's `logs`/`reservations` read.

Every filter here is served by an index (migration 4 in storage/schema.py); the tests in
tests/console/test_queries.py check each query plan. Lists are paged: they fetch `limit + 1`
rows so the page knows whether there is a next one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

FAILED = ("failed", "undelivered")
WAITING = ("queued", "sending")


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    phone: str | None = None  # E.164
    words: str | None = None
    since: str | None = None  # ISO timestamps, `until` exclusive
    until: str | None = None
    state: str | None = None


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fts_query(words: str) -> str:
    """Words a person typed as an FTS5 query: each word a quoted string, all of them required
    (quoting keeps FTS5's operators and punctuation from being read as syntax)."""
    terms = [w.replace('"', '""') for w in words.split() if w.strip('"')]
    return " ".join(f'"{term}"' for term in terms)


def conversations(
    conn: sqlite3.Connection, where: ConversationFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Conversations newest first, each with its person, role and last message."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.phone:
        clauses.append("c.phone = ?")
        params.append(where.phone)
    if where.state:
        clauses.append("c.state = ?")
        params.append(where.state)
    if where.since:
        clauses.append("c.last_at >= ?")
        params.append(where.since)
    if where.until:
        clauses.append("c.last_at < ?")
        params.append(where.until)
    if where.words and fts_query(where.words):
        clauses.append(
            "c.id IN (SELECT m.conversation_id FROM messages m WHERE m.id IN"
            " (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?))"
        )
        params.append(fts_query(where.words))
    sql = (
        "SELECT c.id, c.phone, c.state, c.started_at, c.last_at, p.id AS person_id,"
        " p.name, COALESCE(p.opted_out, 0) AS opted_out,"
        " EXISTS (SELECT 1 FROM properties h WHERE h.host_id = p.id) AS is_host,"
        " (SELECT m.body FROM messages m WHERE m.conversation_id = c.id"
        "  ORDER BY m.id DESC LIMIT 1) AS last_body,"
        " (SELECT m.direction FROM messages m WHERE m.conversation_id = c.id"
        "  ORDER BY m.id DESC LIMIT 1) AS last_direction"
        " FROM conversations c LEFT JOIN people p ON p.phone = c.phone"
    )
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY c.last_at DESC, c.id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    rows = _dicts(conn.execute(sql, params))
    for row in rows:
        row["role"] = "host" if row.pop("is_host") else "guest"
    return rows


def states(conn: sqlite3.Connection) -> list[str]:
    """The conversation states in use (a skip scan of conversations_by_state)."""
    rows = conn.execute("SELECT DISTINCT state FROM conversations ORDER BY state")
    return [row[0] for row in rows]


def transcript(conn: sqlite3.Connection, conversation_id: int, limit: int) -> dict[str, Any] | None:
    """One conversation: its person, its last `limit` messages in order (each with its outbox
    delivery status) and the reservations of its person, as guest or as host."""
    found = _dicts(
        conn.execute(
            "SELECT c.id, c.phone, c.bot_phone, c.state, c.started_at, c.last_at,"
            " p.id AS person_id, p.name, COALESCE(p.opted_out, 0) AS opted_out,"
            " EXISTS (SELECT 1 FROM properties h WHERE h.host_id = p.id) AS is_host"
            " FROM conversations c LEFT JOIN people p ON p.phone = c.phone WHERE c.id = ?",
            (conversation_id,),
        )
    )
    if not found:
        return None
    conversation = found[0]
    conversation["role"] = "host" if conversation.pop("is_host") else "guest"
    messages = _dicts(
        conn.execute(
            "SELECT m.id, m.direction, m.body, m.media, m.status, m.twilio_sid, m.outbox_id,"
            " m.state_before, m.state_after, m.at, o.status AS delivery,"
            " o.error_code, o.error, o.attempts, o.reservation_id"
            " FROM messages m LEFT JOIN outbox o ON o.id = m.outbox_id"
            " WHERE m.conversation_id = ? ORDER BY m.id DESC LIMIT ?",
            (conversation_id, limit),
        )
    )
    messages.reverse()
    for message in messages:
        message["media"] = json.loads(message["media"] or "[]")
    conversation["messages"] = messages
    conversation["reservations"] = (
        person_reservations(conn, conversation["person_id"], 50)
        if conversation["person_id"] is not None
        else []
    )
    return conversation


_RESERVATION_COLUMNS = (
    "SELECT r.id, r.status, r.property_id, p.title AS property_title, g.phone AS guest_phone,"
    " g.name AS guest_name, h.phone AS host_phone, h.name AS host_name, r.check_in, r.check_out,"
    " r.message, r.created_at, r.updated_at, r.reminded_at"
    " FROM reservations r JOIN properties p ON p.id = r.property_id"
    " JOIN people g ON g.id = r.guest_id JOIN people h ON h.id = p.host_id"
)


def person_reservations(
    conn: sqlite3.Connection, person_id: int, limit: int
) -> list[dict[str, Any]]:
    return _dicts(
        conn.execute(
            _RESERVATION_COLUMNS + " WHERE r.id IN ("
            "SELECT id FROM reservations WHERE guest_id = ?"
            " UNION SELECT r2.id FROM reservations r2 JOIN properties p2"
            " ON p2.id = r2.property_id WHERE p2.host_id = ?)"
            " ORDER BY r.id DESC LIMIT ?",
            (person_id, person_id, limit),
        )
    )


@dataclass(frozen=True, slots=True)
class ReservationFilter:
    status: str | None = None
    home: int | None = None
    host: str | None = None  # E.164
    guest: str | None = None  # E.164
    check_in_from: str | None = None  # dates, YYYY-MM-DD, inclusive
    check_in_to: str | None = None


def reservations(
    conn: sqlite3.Connection, where: ReservationFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if where.status:
        clauses.append("r.status = ?")
        params.append(where.status)
    if where.home is not None:
        clauses.append("r.property_id = ?")
        params.append(where.home)
    if where.guest:
        clauses.append("r.guest_id = (SELECT id FROM people WHERE phone = ?)")
        params.append(where.guest)
    if where.host:
        clauses.append(
            "r.property_id IN (SELECT id FROM properties WHERE host_id ="
            " (SELECT id FROM people WHERE phone = ?))"
        )
        params.append(where.host)
    if where.check_in_from:
        clauses.append("r.check_in >= ?")
        params.append(where.check_in_from)
    if where.check_in_to:
        clauses.append("r.check_in <= ?")
        params.append(where.check_in_to)
    sql = _RESERVATION_COLUMNS
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY r.id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    return _dicts(conn.execute(sql, params))


def homes(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return _dicts(conn.execute("SELECT id, title FROM properties ORDER BY id"))


def reservation_history(conn: sqlite3.Connection, reservation_id: int) -> dict[str, Any] | None:
    """A reservation and its steps: requested (created), the texts sent about it (the outbox
    rows that carry its id: the host's request, the guest's answer), decided (its last change)."""
    found = _dicts(conn.execute(_RESERVATION_COLUMNS + " WHERE r.id = ?", (reservation_id,)))
    if not found:
        return None
    reservation = found[0]
    reservation["deliveries"] = _dicts(
        conn.execute(
            "SELECT o.id, o.to_phone, o.body, o.status, o.error_code, o.error, o.attempts,"
            " o.created_at, o.updated_at, m.conversation_id"
            " FROM outbox o LEFT JOIN messages m ON m.outbox_id = o.id"
            " WHERE o.reservation_id = ? ORDER BY o.id",
            (reservation_id,),
        )
    )
    steps: list[dict[str, Any]] = [{"at": reservation["created_at"], "what": "requested"}]
    for delivery in reservation["deliveries"]:
        who = "host" if delivery["to_phone"] == reservation["host_phone"] else "guest"
        steps.append(
            {
                "at": delivery["created_at"],
                "what": "host notified" if who == "host" else "guest told",
                "delivery": delivery,
            }
        )
    if reservation["reminded_at"]:
        steps.append({"at": reservation["reminded_at"], "what": "host reminded"})
    if reservation["status"] != "pending":
        steps.append({"at": reservation["updated_at"], "what": reservation["status"]})
    steps.sort(key=lambda step: step["at"])
    reservation["steps"] = steps
    return reservation


def outbox(
    conn: sqlite3.Connection, statuses: tuple[str, ...], limit: int, offset: int
) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(statuses))
    return _dicts(
        conn.execute(
            "SELECT o.id, o.to_phone, o.body, o.status, o.attempts, o.next_attempt_at,"
            " o.twilio_sid, o.error_code, o.error, o.reservation_id, o.created_at,"
            " o.updated_at, (SELECT m.conversation_id FROM messages m WHERE m.outbox_id = o.id)"
            " AS conversation_id"
            f" FROM outbox o WHERE o.status IN ({marks}) ORDER BY o.id DESC LIMIT ? OFFSET ?",
            (*statuses, limit, offset),
        )
    )


def outbox_row(conn: sqlite3.Connection, outbox_id: int) -> dict[str, Any] | None:
    rows = _dicts(
        conn.execute("SELECT id, status, to_phone FROM outbox WHERE id = ?", (outbox_id,))
    )
    return rows[0] if rows else None


def outbox_ids_of(conn: sqlite3.Connection, phone: str) -> list[int]:
    """The outbox rows of a person's messages (messages_by_phone)."""
    rows = conn.execute(
        "SELECT outbox_id FROM messages WHERE phone = ? AND outbox_id IS NOT NULL", (phone,)
    )
    return [row[0] for row in rows]


def operator_actions(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    return _dicts(
        conn.execute(
            "SELECT id, at, action, target, detail FROM operator_actions ORDER BY id DESC LIMIT ?",
            (limit,),
        )
    )


def person(conn: sqlite3.Connection, person_id: int) -> dict[str, Any] | None:
    rows = _dicts(conn.execute("SELECT id, phone, name FROM people WHERE id = ?", (person_id,)))
    return rows[0] if rows else None


def overview(conn: sqlite3.Connection, today: str, week: str, chart_from: str) -> dict[str, Any]:
    """The numbers since `today` and since `week` (ISO timestamps), and requests per day since
    `chart_from`."""

    def count(sql: str, *params: Any) -> int:
        return int(conn.execute(sql, params).fetchone()[0])

    numbers: dict[str, Any] = {}
    for name, since in (("today", today), ("week", week)):
        decided = conn.execute(
            "SELECT status, created_at, updated_at FROM reservations WHERE created_at >= ?"
            " AND status != 'pending'",
            (since,),
        ).fetchall()
        confirmed = sum(1 for status, _, _ in decided if status == "confirmed")
        answered = [
            (datetime.fromisoformat(updated) - datetime.fromisoformat(created)).total_seconds()
            for status, created, updated in decided
            if status in ("confirmed", "rejected")
        ]
        numbers[name] = {
            "conversations": count("SELECT COUNT(*) FROM conversations WHERE last_at >= ?", since),
            "requests": count("SELECT COUNT(*) FROM reservations WHERE created_at >= ?", since),
            "decided": len(decided),
            "acceptance": (confirmed / len(decided)) if decided else None,
            "median_response_seconds": median(answered) if answered else None,
            "failed": count(
                "SELECT COUNT(*) FROM outbox WHERE status IN ('failed', 'undelivered')"
                " AND updated_at >= ?",
                since,
            ),
        }
        changes = conn.execute(
            "SELECT opted_out, COUNT(*) FROM opt_changes WHERE at >= ? AND source != 'migration'"
            " GROUP BY opted_out",
            (since,),
        ).fetchall()
        numbers[name]["opt_outs"] = dict(changes).get(1, 0)
        numbers[name]["opt_ins"] = dict(changes).get(0, 0)
    numbers["opted_out"] = count("SELECT COUNT(*) FROM people WHERE opted_out = 1")
    numbers["per_day"] = dict(
        conn.execute(
            "SELECT substr(created_at, 1, 10), COUNT(*) FROM reservations WHERE created_at >= ?"
            " GROUP BY 1 ORDER BY 1",
            (chart_from,),
        ).fetchall()
    )
    return numbers


def logs(
    conn: sqlite3.Connection, phone: str | None, since: str | None, limit: int, after_id: int
) -> list[dict[str, Any]]:
    """Messages in order (the CLI's `logs`), by phone (messages_by_phone) or by time
    (messages_by_at), `limit` at a time after message `after_id`."""
    clauses = ["m.id > ?"]
    params: list[Any] = [after_id]
    if phone:
        clauses.append("m.phone = ?")
        params.append(phone)
    if since:
        clauses.append("m.at >= ?")
        params.append(since)
    return _dicts(
        conn.execute(
            "SELECT m.id, m.conversation_id, m.at, m.direction, m.phone, m.body, m.media,"
            " COALESCE(o.status, m.status) AS status, o.error_code, m.state_before,"
            " m.state_after FROM messages m LEFT JOIN outbox o ON o.id = m.outbox_id"
            f" WHERE {' AND '.join(clauses)} ORDER BY m.id LIMIT ?",
            (*params, limit),
        )
    )


def retention_counts(conn: sqlite3.Connection, cutoff: str) -> tuple[int, int]:
    """How many message and outbox bodies older than `cutoff` retention would empty."""
    messages = conn.execute(
        "SELECT COUNT(*) FROM messages WHERE at < ? AND (body != '' OR media != '[]')", (cutoff,)
    ).fetchone()[0]
    outbox_rows = conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE created_at < ? AND body != ''"
        " AND status NOT IN ('queued', 'sending')",
        (cutoff,),
    ).fetchone()[0]
    return int(messages), int(outbox_rows)
