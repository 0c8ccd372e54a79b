"""Bulk history for the benchmark and the big-database tests: a million logged messages, 100,000
reservations and conversations, and a full outbox, written fast in one transaction.

    await db.transact(seed_history, SeedSpec(messages=1_000_000, reservations=100_000), now)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from storage.writes import stamp


@dataclass(frozen=True, slots=True)
class SeedSpec:
    people: int = 10_000
    conversations: int = 100_000
    messages: int = 1_000_000
    reservations: int = 100_000
    live_conversations: bool = True  # last activity now, so they are loaded into memory
    bot_phone: str = "+15550009999"


def _phone(n: int) -> str:
    return f"+1557{n:07d}"


def seed_history(conn: sqlite3.Connection, spec: SeedSpec, now: datetime) -> None:
    """Add history on top of what is there: people, their conversations and messages, and
    reservations (decided, in the past) at the homes already listed."""
    at = stamp(now)
    old = stamp(now - timedelta(days=30))
    first_person = conn.execute("SELECT COALESCE(MAX(id), 0) FROM people").fetchone()[0] + 1
    conn.executemany(
        "INSERT INTO people (id, phone, name, opted_out, created_at, updated_at)"
        " VALUES (?, ?, ?, 0, ?, ?)",
        (
            (first_person + i, _phone(first_person + i), f"Seed {i}", old, old)
            for i in range(spec.people)
        ),
    )
    first_conversation = (
        conn.execute("SELECT COALESCE(MAX(id), 0) FROM conversations").fetchone()[0] + 1
    )
    last_at = at if spec.live_conversations else old
    conn.executemany(
        "INSERT INTO conversations (id, bot_phone, phone, state, data, started_at, last_at,"
        " version) VALUES (?, ?, ?, 'start', '{}', ?, ?, 1)",
        (
            (
                first_conversation + i,
                spec.bot_phone,
                # Live conversations need distinct pairs; older ones share their people.
                f"+1558{i:07d}"
                if spec.live_conversations
                else _phone(first_person + i % spec.people),
                old,
                last_at,
            )
            for i in range(spec.conversations)
        ),
    )
    conn.executemany(
        "INSERT INTO messages (conversation_id, direction, phone, body, media, status, at)"
        " VALUES (?, ?, ?, ?, '[]', ?, ?)",
        (
            (
                first_conversation + i % spec.conversations,
                "in" if i % 2 == 0 else "out",
                _phone(first_person + i % spec.people),
                "LIST" if i % 2 == 0 else "Homes 1-5 of 6: 1 Beach House, Malibu, CA $250 ...",
                "received" if i % 2 == 0 else "replied",
                old,
            )
            for i in range(spec.messages)
        ),
    )
    homes = [row[0] for row in conn.execute("SELECT id FROM properties")]
    if homes and spec.reservations:
        start = date(2020, 1, 1)
        conn.executemany(
            "INSERT INTO reservations (property_id, guest_id, check_in, check_out, message,"
            " status, created_at, updated_at) VALUES (?, ?, ?, ?, 'seed', ?, ?, ?)",
            (
                (
                    homes[i % len(homes)],
                    first_person + i % spec.people,
                    (start + timedelta(days=i // len(homes) % 2000)).isoformat(),
                    (start + timedelta(days=i // len(homes) % 2000 + 1)).isoformat(),
                    ("rejected", "withdrawn", "expired")[i % 3],
                    old,
                    old,
                )
                for i in range(spec.reservations)
            ),
        )


def seed_outbox(
    conn: sqlite3.Connection, count: int, to_prefix: str, from_phone: str, now: datetime
) -> None:
    """Queue `count` messages to distinct numbers, due now: the outbox drain benchmark."""
    at = stamp(now)
    conn.executemany(
        "INSERT INTO outbox (to_phone, from_phone, body, status, attempts, next_attempt_at,"
        " created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?)",
        (
            (f"{to_prefix}{i:06d}", from_phone, f"Drain test message {i}", at, at, at)
            for i in range(count)
        ),
    )


def seed_pending(
    conn: sqlite3.Connection, per_home: int, start: date, now: datetime
) -> list[tuple[int, int]]:
    """`per_home` pending requests at every home, a week apart from `start`, each from its own
    new guest: the host-accept benchmark. Returns (reservation id, property id) pairs."""
    at = stamp(now)
    homes = [row[0] for row in conn.execute("SELECT id FROM properties ORDER BY id")]
    first_person = conn.execute("SELECT COALESCE(MAX(id), 0) FROM people").fetchone()[0] + 1
    first_reservation = (
        conn.execute("SELECT COALESCE(MAX(id), 0) FROM reservations").fetchone()[0] + 1
    )
    rows = []
    for n in range(per_home):
        check_in = start + timedelta(days=7 * n)
        for k, home in enumerate(homes):
            index = n * len(homes) + k
            rows.append((first_reservation + index, home, first_person + index, check_in))
    conn.executemany(
        "INSERT INTO people (id, phone, name, opted_out, created_at, updated_at)"
        " VALUES (?, ?, ?, 0, ?, ?)",
        ((person, f"+1554{person:07d}", f"Guest {person}", at, at) for _, _, person, _ in rows),
    )
    conn.executemany(
        "INSERT INTO reservations (id, property_id, guest_id, check_in, check_out, message,"
        " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'hello', 'pending', ?, ?)",
        (
            (rid, home, person, day.isoformat(), (day + timedelta(days=3)).isoformat(), at, at)
            for rid, home, person, day in rows
        ),
    )
    return [(rid, home) for rid, home, _, _ in rows]
