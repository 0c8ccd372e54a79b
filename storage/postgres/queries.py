"""What the operator's console, the admin API and the CLI read, in PostgreSQL's SQL: the same
rows, fields and formats as the SQLite queries (storage/queries.py, storage/console_queries.py),
so every instance and either backend gives the same answers.

    rows = await conversations(connection, ConversationFilter(words="wedding"), 51, 0)

Timestamps come back as `airtng_stamp(t)` (ISO 8601, UTC, milliseconds: what SQLite stores),
dates as YYYY-MM-DD, media lists as the JSON text SQLite keeps.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from storage.console_queries import (
    ConversationFilter,
    ReservationFilter,
    decisions,
    fts_query,
    history_steps,
)


def _dicts(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(row) for row in rows]


class _Where:
    """Clauses and their $n parameters, numbered as they are added."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *values: Any) -> None:
        for value in values:
            self.params.append(value)
            clause = clause.replace("?", f"${len(self.params)}", 1)
        self.clauses.append(clause)

    def next(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


# -- the operator's JSON API ----------------------------------------------------------------

_ADMIN_RESERVATION = (
    "SELECT r.id, r.status, r.property_id, p.title AS property_title, g.phone AS guest_phone,"
    " g.name AS guest_name, h.phone AS host_phone, h.name AS host_name,"
    " r.check_in::text AS check_in, r.check_out::text AS check_out,"
    " r.message, airtng_stamp(r.created_at) AS created_at,"
    " airtng_stamp(r.updated_at) AS updated_at"
    " FROM reservations r JOIN properties p ON p.id = r.property_id"
    " JOIN people g ON g.id = r.guest_id JOIN people h ON h.id = p.host_id"
)


async def admin_reservations(
    conn: asyncpg.Connection, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    where = _Where()
    if status:
        where.add("r.status = ?", status)
    page = f" ORDER BY r.id DESC LIMIT {where.next(limit)} OFFSET {where.next(offset)}"
    return _dicts(await conn.fetch(_ADMIN_RESERVATION + where.sql() + page, *where.params))


async def admin_conversations(
    conn: asyncpg.Connection, phone: str | None, limit: int, offset: int, messages_each: int
) -> list[dict[str, Any]]:
    where = _Where()
    if phone:
        where.add("c.phone = ?", phone)
    each = where.next(messages_each)
    page = (
        f" ORDER BY c.last_at DESC, c.id DESC LIMIT {where.next(limit)} OFFSET {where.next(offset)}"
    )
    rows = await conn.fetch(
        "SELECT c.id, c.phone, airtng_stamp(c.started_at) AS started_at,"
        " airtng_stamp(c.last_at) AS last_at, c.state, coalesce(("
        "  SELECT jsonb_agg(jsonb_build_object('direction', m.direction, 'body', m.body,"
        "   'media', m.media, 'at', airtng_stamp(m.at), 'status', coalesce(o.status, m.status))"
        "   ORDER BY m.id)"
        f"  FROM (SELECT * FROM messages WHERE conversation_id = c.id ORDER BY id DESC"
        f"   LIMIT {each}) m LEFT JOIN outbox o ON o.id = m.outbox_id), '[]') AS messages"
        " FROM conversations c" + where.sql() + page,
        *where.params,
    )
    out = []
    for row in rows:
        conversation = dict(row)
        conversation["messages"] = json.loads(conversation["messages"])
        out.append(conversation)
    return out


async def admin_outbox(
    conn: asyncpg.Connection, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    where = _Where()
    if status:
        where.add("status = ?", status)
    page = f" ORDER BY id DESC LIMIT {where.next(limit)} OFFSET {where.next(offset)}"
    return _dicts(
        await conn.fetch(
            'SELECT id, to_phone AS "to", body, status, attempts, twilio_sid, error_code, error,'
            " airtng_stamp(next_attempt_at) AS next_attempt_at,"
            " airtng_stamp(created_at) AS created_at, airtng_stamp(updated_at) AS updated_at"
            " FROM outbox" + where.sql() + page,
            *where.params,
        )
    )


async def admin_properties(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return _dicts(
        await conn.fetch(
            "SELECT p.id, p.title, p.place, p.description, p.image_url, p.nightly_price,"
            " h.phone AS host_phone, h.name AS host_name, p.active"
            " FROM properties p JOIN people h ON h.id = p.host_id ORDER BY p.id"
        )
    )


# -- the console and the CLI ----------------------------------------------------------------


async def conversations(
    conn: asyncpg.Connection, where: ConversationFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    w = _Where()
    if where.phone:
        w.add("c.phone = ?", where.phone)
    if where.state:
        w.add("c.state = ?", where.state)
    if where.since:
        w.add("c.last_at >= ?::text::timestamptz", where.since)
    if where.until:
        w.add("c.last_at < ?::text::timestamptz", where.until)
    if where.words and fts_query(where.words):
        w.add(
            "c.id IN (SELECT m.conversation_id FROM messages m"
            " WHERE m.words @@ plainto_tsquery('simple', ?))",
            where.words,
        )
    page = f" ORDER BY c.last_at DESC, c.id DESC LIMIT {w.next(limit)} OFFSET {w.next(offset)}"
    rows = _dicts(
        await conn.fetch(
            "SELECT c.id, c.phone, c.state, airtng_stamp(c.started_at) AS started_at,"
            " airtng_stamp(c.last_at) AS last_at, p.id AS person_id, p.name,"
            " coalesce(p.opted_out, false)::int AS opted_out,"
            " EXISTS (SELECT 1 FROM properties h WHERE h.host_id = p.id) AS is_host,"
            " (SELECT m.body FROM messages m WHERE m.conversation_id = c.id"
            "  ORDER BY m.id DESC LIMIT 1) AS last_body,"
            " (SELECT m.direction FROM messages m WHERE m.conversation_id = c.id"
            "  ORDER BY m.id DESC LIMIT 1) AS last_direction"
            " FROM conversations c LEFT JOIN people p ON p.phone = c.phone" + w.sql() + page,
            *w.params,
        )
    )
    for row in rows:
        row["role"] = "host" if row.pop("is_host") else "guest"
    return rows


async def states(conn: asyncpg.Connection) -> list[str]:
    return [
        row[0] for row in await conn.fetch("SELECT DISTINCT state FROM conversations ORDER BY 1")
    ]


async def transcript(
    conn: asyncpg.Connection, conversation_id: int, limit: int
) -> dict[str, Any] | None:
    found = await conn.fetchrow(
        "SELECT c.id, c.phone, c.bot_phone, c.state, airtng_stamp(c.started_at) AS started_at,"
        " airtng_stamp(c.last_at) AS last_at, p.id AS person_id, p.name,"
        " coalesce(p.opted_out, false)::int AS opted_out,"
        " EXISTS (SELECT 1 FROM properties h WHERE h.host_id = p.id) AS is_host"
        " FROM conversations c LEFT JOIN people p ON p.phone = c.phone WHERE c.id = $1",
        conversation_id,
    )
    if found is None:
        return None
    conversation = dict(found)
    conversation["role"] = "host" if conversation.pop("is_host") else "guest"
    messages = _dicts(
        await conn.fetch(
            "SELECT m.id, m.direction, m.body, m.media::text AS media, m.status, m.twilio_sid,"
            " m.outbox_id, m.state_before, m.state_after, airtng_stamp(m.at) AS at,"
            " o.status AS delivery, o.error_code, o.error, o.attempts, o.reservation_id"
            " FROM messages m LEFT JOIN outbox o ON o.id = m.outbox_id"
            " WHERE m.conversation_id = $1 ORDER BY m.id DESC LIMIT $2",
            conversation_id,
            limit,
        )
    )
    messages.reverse()
    for message in messages:
        message["media"] = json.loads(message["media"] or "[]")
    conversation["messages"] = messages
    conversation["reservations"] = (
        await _person_reservations(conn, conversation["person_id"], 50)
        if conversation["person_id"] is not None
        else []
    )
    return conversation


_RESERVATION_COLUMNS = (
    "SELECT r.id, r.status, r.property_id, p.title AS property_title, g.phone AS guest_phone,"
    " g.name AS guest_name, h.phone AS host_phone, h.name AS host_name,"
    " r.check_in::text AS check_in, r.check_out::text AS check_out, r.message,"
    " airtng_stamp(r.created_at) AS created_at, airtng_stamp(r.updated_at) AS updated_at,"
    " airtng_stamp(r.reminded_at) AS reminded_at"
    " FROM reservations r JOIN properties p ON p.id = r.property_id"
    " JOIN people g ON g.id = r.guest_id JOIN people h ON h.id = p.host_id"
)


async def _person_reservations(
    conn: asyncpg.Connection, person_id: int, limit: int
) -> list[dict[str, Any]]:
    return _dicts(
        await conn.fetch(
            _RESERVATION_COLUMNS + " WHERE r.id IN ("
            "SELECT id FROM reservations WHERE guest_id = $1"
            " UNION SELECT r2.id FROM reservations r2 JOIN properties p2"
            " ON p2.id = r2.property_id WHERE p2.host_id = $1)"
            " ORDER BY r.id DESC LIMIT $2",
            person_id,
            limit,
        )
    )


async def reservations(
    conn: asyncpg.Connection, where: ReservationFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    w = _Where()
    if where.status:
        w.add("r.status = ?", where.status)
    if where.home is not None:
        w.add("r.property_id = ?", where.home)
    if where.guest:
        w.add("r.guest_id = (SELECT id FROM people WHERE phone = ?)", where.guest)
    if where.host:
        w.add(
            "r.property_id IN (SELECT id FROM properties WHERE host_id ="
            " (SELECT id FROM people WHERE phone = ?))",
            where.host,
        )
    if where.check_in_from:
        w.add("r.check_in >= ?::text::date", where.check_in_from)
    if where.check_in_to:
        w.add("r.check_in <= ?::text::date", where.check_in_to)
    page = f" ORDER BY r.id DESC LIMIT {w.next(limit)} OFFSET {w.next(offset)}"
    return _dicts(await conn.fetch(_RESERVATION_COLUMNS + w.sql() + page, *w.params))


async def home_titles(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return _dicts(await conn.fetch("SELECT id, title FROM properties ORDER BY id"))


async def reservation_history(
    conn: asyncpg.Connection, reservation_id: int
) -> dict[str, Any] | None:
    found = await conn.fetchrow(_RESERVATION_COLUMNS + " WHERE r.id = $1", reservation_id)
    if found is None:
        return None
    reservation = dict(found)
    reservation["deliveries"] = _dicts(
        await conn.fetch(
            "SELECT o.id, o.to_phone, o.body, o.status, o.error_code, o.error, o.attempts,"
            " airtng_stamp(o.created_at) AS created_at, airtng_stamp(o.updated_at) AS updated_at,"
            " m.conversation_id"
            " FROM outbox o LEFT JOIN messages m ON m.outbox_id = o.id"
            " WHERE o.reservation_id = $1 ORDER BY o.id",
            reservation_id,
        )
    )
    reservation["steps"] = history_steps(reservation)
    return reservation


async def outbox(
    conn: asyncpg.Connection, statuses: tuple[str, ...], limit: int, offset: int
) -> list[dict[str, Any]]:
    return _dicts(
        await conn.fetch(
            "SELECT o.id, o.to_phone, o.body, o.status, o.attempts,"
            " airtng_stamp(o.next_attempt_at) AS next_attempt_at, o.twilio_sid, o.error_code,"
            " o.error, o.reservation_id, airtng_stamp(o.created_at) AS created_at,"
            " airtng_stamp(o.updated_at) AS updated_at,"
            " (SELECT m.conversation_id FROM messages m WHERE m.outbox_id = o.id LIMIT 1)"
            " AS conversation_id"
            " FROM outbox o WHERE o.status = ANY ($1) ORDER BY o.id DESC LIMIT $2 OFFSET $3",
            list(statuses),
            limit,
            offset,
        )
    )


async def outbox_row(conn: asyncpg.Connection, outbox_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT id, status, to_phone FROM outbox WHERE id = $1", outbox_id)
    return dict(row) if row else None


async def operator_actions(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    return _dicts(
        await conn.fetch(
            "SELECT id, airtng_stamp(at) AS at, action, target, detail FROM operator_actions"
            " ORDER BY id DESC LIMIT $1",
            limit,
        )
    )


async def person(conn: asyncpg.Connection, person_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT id, phone, name FROM people WHERE id = $1", person_id)
    return dict(row) if row else None


async def overview(
    conn: asyncpg.Connection, today: str, week: str, chart_from: str
) -> dict[str, Any]:
    async def count(sql: str, *params: Any) -> int:
        return int(await conn.fetchval(sql, *params))

    numbers: dict[str, Any] = {}
    for name, since in (("today", today), ("week", week)):
        decided = await conn.fetch(
            "SELECT status, airtng_stamp(created_at), airtng_stamp(updated_at)"
            " FROM reservations WHERE created_at >= $1::text::timestamptz AND status != 'pending'",
            since,
        )
        numbers[name] = {
            "conversations": await count(
                "SELECT count(*) FROM conversations WHERE last_at >= $1::text::timestamptz", since
            ),
            "requests": await count(
                "SELECT count(*) FROM reservations WHERE created_at >= $1::text::timestamptz", since
            ),
            **decisions([(r[0], r[1], r[2]) for r in decided]),
            "failed": await count(
                "SELECT count(*) FROM outbox WHERE status IN ('failed', 'undelivered')"
                " AND updated_at >= $1::text::timestamptz",
                since,
            ),
        }
        changes = await conn.fetch(
            "SELECT opted_out, count(*) FROM opt_changes WHERE at >= $1::text::timestamptz"
            " AND source != 'migration' GROUP BY opted_out",
            since,
        )
        counted = {bool(row[0]): int(row[1]) for row in changes}
        numbers[name]["opt_outs"] = counted.get(True, 0)
        numbers[name]["opt_ins"] = counted.get(False, 0)
    numbers["opted_out"] = await count("SELECT count(*) FROM people WHERE opted_out")
    rows = await conn.fetch(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*) FROM reservations"
        " WHERE created_at >= $1::text::timestamptz GROUP BY 1 ORDER BY 1",
        chart_from,
    )
    numbers["per_day"] = {row[0]: int(row[1]) for row in rows}
    return numbers


async def logs(
    conn: asyncpg.Connection, phone: str | None, since: str | None, limit: int, after_id: int
) -> list[dict[str, Any]]:
    w = _Where()
    w.add("m.id > ?", after_id)
    if phone:
        w.add("m.phone = ?", phone)
    if since:
        w.add("m.at >= ?::text::timestamptz", since)
    return _dicts(
        await conn.fetch(
            "SELECT m.id, m.conversation_id, airtng_stamp(m.at) AS at, m.direction, m.phone,"
            " m.body, m.media::text AS media, coalesce(o.status, m.status) AS status,"
            " o.error_code, m.state_before, m.state_after"
            " FROM messages m LEFT JOIN outbox o ON o.id = m.outbox_id"
            + w.sql()
            + f" ORDER BY m.id LIMIT {w.next(limit)}",
            *w.params,
        )
    )


async def retention_counts(conn: asyncpg.Connection, cutoff: str) -> tuple[int, int]:
    messages = await conn.fetchval(
        "SELECT count(*) FROM messages WHERE at < $1::text::timestamptz"
        " AND (body != '' OR media != '[]')",
        cutoff,
    )
    outbox_rows = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE created_at < $1::text::timestamptz AND body != ''"
        " AND status NOT IN ('queued', 'sending')",
        cutoff,
    )
    return int(messages), int(outbox_rows)
