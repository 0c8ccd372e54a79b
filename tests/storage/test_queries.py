"""storage.writes and storage.queries together on a real SQLite file: what a turn writes is
what the next start loads, guarded writes refuse stale changes, and the operator's JSON API
returns SPEC §4's fields.

    await db.commit([writes.add_person(guest, AT)])
    snapshot = await db.read(load_snapshot, stamp(AT - IDLE), 100)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conversations.model import Conversation, Person, Property, Reservation
from storage import writes
from storage.db import Database, StaleWrite, Write
from storage.queries import (
    OutboxItem,
    OutboxWork,
    admin_conversations,
    admin_outbox,
    admin_properties,
    admin_reservations,
    due_outbox,
    find_handled,
    known_twilio_sids,
    load_snapshot,
    next_outbox_time,
    outbox_work,
    setting,
)
from storage.writes import stamp

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IDLE = timedelta(hours=4)
BOT = "+15550009999"

HOST = Person(1, "+15550100001", "Hana")
GUEST = Person(2, "+15550001111", "Ann")
QUIET = Person(3, "+15550002222", None, opted_out=True)
BEACH = Property(
    1, HOST.phone, "Beach House", "Malibu, CA", "Steps from the sand.", 250,
    "https://img.example.com/beach.jpg",
)  # fmt: skip
CABIN = Property(2, HOST.phone, "Cabin", "Tahoe, CA", "Snow and pines.", 90, None, active=False)


def reservation(n: int, status: str = "pending", property_id: int = 1) -> Reservation:
    at = AT + timedelta(minutes=n)
    check_in = date(2026, 4, 1) + timedelta(days=7 * n)
    return Reservation(
        n, property_id, GUEST.phone, check_in, check_in + timedelta(days=3), f"Note {n}",
        status, at, at,
    )  # fmt: skip


def conversation(n: int, phone: str, last_at: datetime, state: str = "start") -> Conversation:
    return Conversation(
        n, BOT, phone, state, last_at - timedelta(minutes=5), last_at,
        {"page": n, "list": [1, 2], "name": "Ann"}, 1,
    )  # fmt: skip


def homes() -> list[Write]:
    """The host, a guest, a person who opted out, and two homes."""
    return [
        writes.add_person(HOST, AT),
        writes.add_person(GUEST, AT),
        writes.add_person(QUIET, AT),
        writes.add_property(BEACH, HOST.id, AT),
        writes.add_property(CABIN, HOST.id, AT),
    ]


def history(people: int, conversations: int, messages_each: int, outbox: int) -> list[Write]:
    """A database with some of everything, for the query plans and the paging."""
    out = homes()
    out += [writes.add_person(Person(n, f"+1555030{n:04d}"), AT) for n in range(10, 10 + people)]
    out += [writes.add_reservation(reservation(n, "confirmed"), GUEST.id) for n in range(1, 20)]
    for n in range(1, conversations + 1):
        phone = f"+1555030{10 + n % people:04d}"
        out.append(writes.add_conversation(conversation(n, phone, AT - timedelta(hours=n))))
        for m in range(messages_each):
            out.append(writes.log_message(n, "in", phone, f"hi {m}", AT, status="received"))
        out.append(writes.handled(f"SM{n:032d}", "<Response/>", AT - timedelta(hours=n)))
    for n in range(1, outbox + 1):
        out.append(writes.enqueue(n, GUEST.phone, BOT, f"note {n}", None, None, AT))
        if n % 3:
            out.append(writes.outbox_sent(n, f"SM{n:032x}", "sent", AT))
    return out


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "airtng.db")
    yield database
    await database.close()


# -- what a start loads ----------------------------------------------------------------------


async def test_snapshot_returns_what_was_written(db: Database) -> None:
    live = conversation(1, GUEST.phone, AT - timedelta(minutes=30), "browsing")
    edge = conversation(2, HOST.phone, AT - IDLE, "start")  # exactly at the cut-off: live
    stale = conversation(3, QUIET.phone, AT - IDLE - timedelta(milliseconds=1))
    pending, confirmed = reservation(1), reservation(2, "confirmed")
    await db.commit(
        [
            *homes(),
            writes.add_reservation(pending, GUEST.id),
            writes.add_reservation(confirmed, GUEST.id),
            writes.add_conversation(live),
            writes.add_conversation(edge),
            writes.add_conversation(stale),
            writes.enqueue(7, HOST.phone, BOT, "New request", None, 1, AT),
        ]
    )
    # Handled MessageSids, oldest first, written out of order.
    await db.commit(
        [writes.handled(f"SM{n}", f"<Response>{n}</Response>", AT + timedelta(seconds=n))
         for n in (3, 1, 5, 2, 4)]
    )  # fmt: skip

    snapshot = await db.read(load_snapshot, stamp(AT - IDLE), 3)

    assert sorted(snapshot.people, key=lambda p: p.id) == [HOST, GUEST, QUIET]
    assert snapshot.properties == [BEACH, CABIN]
    assert snapshot.reservations == [pending, confirmed]
    # Loaded in index order (by last activity), not by id: the bot keys them by pair anyway.
    conversations = sorted(snapshot.conversations, key=lambda c: c.id)
    assert conversations == [live, edge]
    assert conversations[0].data == {"page": 1, "list": [1, 2], "name": "Ann"}
    # The three most recent, in the order they were handled.
    assert snapshot.handled == [
        ("SM3", "<Response>3</Response>"),
        ("SM4", "<Response>4</Response>"),
        ("SM5", "<Response>5</Response>"),
    ]
    assert snapshot.last_ids == {
        "people": 3, "properties": 2, "reservations": 2, "conversations": 3, "outbox": 7,
    }  # fmt: skip
    assert (await db.read(load_snapshot, stamp(AT - IDLE), 0)).handled == []


async def test_an_empty_database_loads_an_empty_snapshot(db: Database) -> None:
    snapshot = await db.read(load_snapshot, stamp(AT), 100)
    assert (snapshot.people, snapshot.properties, snapshot.reservations) == ([], [], [])
    assert (snapshot.conversations, snapshot.handled) == ([], [])
    assert snapshot.last_ids == dict.fromkeys(
        ("people", "properties", "reservations", "conversations", "outbox"), 0
    )


async def test_find_handled_returns_only_the_known_sids(db: Database) -> None:
    await db.commit(
        [
            writes.handled("SMa", "<Response><Message>A</Message></Response>", AT),
            writes.handled("SMb", "<Response/>", AT),
        ]
    )
    assert await db.read(find_handled, ["SMa", "SMx", "SMb"]) == {
        "SMa": "<Response><Message>A</Message></Response>",
        "SMb": "<Response/>",
    }
    assert await db.read(find_handled, ["SMx"]) == {}
    assert await db.read(find_handled, []) == {}


async def test_settings_are_upserted(db: Database) -> None:
    assert await db.read(setting, "session_secret") is None
    await db.commit([writes.set_setting("session_secret", "one")])
    await db.commit([writes.set_setting("session_secret", "two")])
    assert await db.read(setting, "session_secret") == "two"


async def test_people_and_conversations_change_under_their_guards(db: Database) -> None:
    talk = conversation(1, GUEST.phone, AT)
    await db.commit([*homes(), writes.add_conversation(talk)])

    moved = Conversation(
        1, BOT, GUEST.phone, "booking", talk.started_at, AT + timedelta(minutes=1),
        {"home": 1}, 2,
    )  # fmt: skip
    await db.commit([writes.save_conversation(moved, previous_version=1)])
    # Another process saved version 2 already: saving over version 1 again is refused.
    again = Conversation(
        1, BOT, GUEST.phone, "start", talk.started_at, AT + timedelta(minutes=2), {}, 2
    )
    with pytest.raises(StaleWrite):
        await db.commit([writes.save_conversation(again, previous_version=1)])
    with pytest.raises(StaleWrite):
        await db.commit([writes.update_person(Person(42, "+15550004242", "Ghost"), AT)])
    await db.commit([writes.update_person(Person(2, GUEST.phone, "Annie", opted_out=True), AT)])

    snapshot = await db.read(load_snapshot, stamp(AT - IDLE), 0)
    assert snapshot.conversations == [moved]
    assert sorted(snapshot.people, key=lambda p: p.id)[1] == Person(2, GUEST.phone, "Annie", True)


async def test_a_reservation_changes_from_pending_only_once(db: Database) -> None:
    await db.commit([*homes(), writes.add_reservation(reservation(1), GUEST.id)])
    later = AT + timedelta(hours=1)
    await db.commit([writes.change_reservation(1, "pending", "confirmed", later)])
    with pytest.raises(StaleWrite):
        await db.commit([writes.change_reservation(1, "pending", "rejected", later)])

    [row] = await db.read(admin_reservations, None, 10, 0)
    assert (row["status"], row["updated_at"]) == ("confirmed", stamp(later))
    assert row["created_at"] == stamp(reservation(1).created_at)


# -- the outbox ------------------------------------------------------------------------------


async def test_due_outbox_is_oldest_first_and_a_lease_hides_a_claimed_row(db: Database) -> None:
    minute = timedelta(minutes=1)
    await db.commit(
        [
            writes.enqueue(1, GUEST.phone, BOT, "third", None, None, AT + 2 * minute),
            writes.enqueue(2, HOST.phone, BOT, "first", "https://img.example.com/a.jpg", 4, AT),
            writes.enqueue(3, GUEST.phone, BOT, "second", None, None, AT + minute),
            writes.enqueue(4, GUEST.phone, BOT, "later", None, None, AT + 10 * minute),
        ]
    )
    now = AT + 5 * minute
    due = await db.read(due_outbox, stamp(now), 10)
    assert due[0] == OutboxItem(
        2, HOST.phone, BOT, "first", "https://img.example.com/a.jpg", "queued", 0, stamp(AT),
        stamp(AT),
    )  # fmt: skip
    assert [item.id for item in due] == [2, 3, 1]
    assert [item.id for item in await db.read(due_outbox, stamp(now), 2)] == [2, 3]
    assert await db.read(next_outbox_time) == stamp(AT)
    # The worker's one look: what is due now, and when the first row not due yet is.
    assert await db.read(outbox_work, stamp(AT + minute), 10) == OutboxWork(
        [due[0], due[1]], stamp(AT + 2 * minute)
    )
    assert (await db.read(outbox_work, stamp(now), 10)).later == stamp(AT + 10 * minute)

    # Claimed with a lease a minute long: not due again until the lease runs out.
    await db.commit([writes.outbox_sending(2, 1, now + minute, now)])
    assert [item.id for item in await db.read(due_outbox, stamp(now), 10)] == [3, 1]
    after_lease = await db.read(due_outbox, stamp(now + minute), 10)
    assert [(item.id, item.status, item.attempts) for item in after_lease] == [
        (3, "queued", 0),
        (1, "queued", 0),
        (2, "sending", 1),
    ]

    # Sent, failed or cancelled rows are never due; a sent row cannot be claimed again.
    await db.commit(
        [
            writes.outbox_sent(2, "SM2", "sent", now),
            writes.outbox_failed(3, 21211, "invalid number", now),
            writes.outbox_cancelled(1, "recipient opted out", now),
        ]
    )
    with pytest.raises(StaleWrite):
        await db.commit([writes.outbox_sending(2, 2, now + minute, now)])
    far = stamp(AT + timedelta(days=1))
    assert [item.id for item in await db.read(due_outbox, far, 10)] == [4]
    assert await db.read(next_outbox_time) == stamp(AT + 10 * minute)


async def test_a_retry_requeues_with_its_reason(db: Database) -> None:
    await db.commit([writes.enqueue(1, GUEST.phone, BOT, "hello", None, None, AT)])
    await db.commit([writes.outbox_sending(1, 1, AT + timedelta(minutes=1), AT)])
    retry_at = AT + timedelta(seconds=30)
    await db.commit([writes.outbox_retry(1, retry_at, 20429, "Too Many Requests", AT)])
    [row] = await db.read(admin_outbox, None, 10, 0)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == (
        "queued", 1, stamp(retry_at),
    )  # fmt: skip
    assert (row["error_code"], row["error"]) == (20429, "Too Many Requests")
    await db.commit([writes.outbox_note(1, None, "network: timeout", AT)])
    [row] = await db.read(admin_outbox, None, 10, 0)
    assert (row["error_code"], row["error"]) == (None, "network: timeout")
    # A successful send clears the last attempt's error.
    await db.commit([writes.outbox_sent(1, "SM1", "sent", AT)])
    [row] = await db.read(admin_outbox, None, 10, 0)
    assert (row["status"], row["twilio_sid"], row["error_code"], row["error"]) == (
        "sent", "SM1", None, None,
    )  # fmt: skip


async def test_status_callbacks_never_move_delivered_back(db: Database) -> None:
    await db.commit(
        [writes.enqueue(n, GUEST.phone, BOT, f"note {n}", None, None, AT) for n in (1, 2, 3, 4)]
        + [writes.outbox_sent(n, f"SM{n}", "sent", AT) for n in (1, 2, 3)]
    )
    later = AT + timedelta(seconds=5)
    await db.commit([writes.outbox_status("SM1", "delivered", None, later)])
    await db.commit([writes.outbox_status("SM1", "sent", None, later)])  # late, out of order
    await db.commit([writes.outbox_status("SM2", "undelivered", 30003, later)])
    await db.commit([writes.outbox_status("SM2", "delivered", None, later)])  # too late
    await db.commit([writes.outbox_status("SM3", "failed", 30006, later)])
    await db.commit([writes.outbox_status("SM3", "sent", None, later)])  # too late
    await db.commit([writes.outbox_status("SMunknown", "delivered", None, later)])  # no row

    rows = {row["id"]: row for row in await db.read(admin_outbox, None, 10, 0)}
    assert {n: (rows[n]["status"], rows[n]["error_code"]) for n in rows} == {
        1: ("delivered", None),
        2: ("undelivered", 30003),
        3: ("failed", 30006),
        4: ("queued", None),
    }
    assert rows[1]["updated_at"] == stamp(later)
    assert await db.read(known_twilio_sids, ["SM1", "SM3", "SMunknown"]) == {"SM1", "SM3"}
    assert await db.read(known_twilio_sids, ["SMunknown"]) == set()


# -- the operator's JSON API (SPEC §4) -------------------------------------------------------

RESERVATION_FIELDS = {
    "id", "status", "property_id", "property_title", "guest_phone", "guest_name", "host_phone",
    "host_name", "check_in", "check_out", "message", "created_at", "updated_at",
}  # fmt: skip
CONVERSATION_FIELDS = {"id", "phone", "started_at", "last_at", "state", "messages"}
MESSAGE_FIELDS = {"direction", "body", "media", "at", "status"}
OUTBOX_FIELDS = {"id", "to", "body", "status", "attempts", "twilio_sid", "error"}
PROPERTY_FIELDS = {
    "id", "title", "place", "description", "image_url", "nightly_price", "host_phone",
    "host_name", "active",
}  # fmt: skip


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


async def test_admin_reservations(db: Database) -> None:
    statuses = ["pending", "confirmed", "rejected", "pending", "withdrawn", "expired", "pending"]
    await db.commit(
        homes()
        + [
            writes.add_reservation(reservation(n, status, 1 + n % 2), GUEST.id)
            for n, status in enumerate(statuses, start=1)
        ]
    )
    rows = await db.read(admin_reservations, None, 100, 0)
    assert ids(rows) == [7, 6, 5, 4, 3, 2, 1]  # newest first
    assert set(rows[0]) == RESERVATION_FIELDS
    one = reservation(2, "confirmed", 1)
    assert rows[5] == {
        "id": 2,
        "status": "confirmed",
        "property_id": 1,
        "property_title": "Beach House",
        "guest_phone": GUEST.phone,
        "guest_name": "Ann",
        "host_phone": HOST.phone,
        "host_name": "Hana",
        "check_in": one.check_in.isoformat(),
        "check_out": one.check_out.isoformat(),
        "message": "Note 2",
        "created_at": stamp(one.created_at),
        "updated_at": stamp(one.updated_at),
    }
    assert rows[0]["property_title"] == "Cabin"
    json.dumps(rows)  # what the API sends as it is

    assert ids(await db.read(admin_reservations, "pending", 100, 0)) == [7, 4, 1]
    assert ids(await db.read(admin_reservations, "pending", 2, 1)) == [4, 1]
    assert ids(await db.read(admin_reservations, None, 3, 2)) == [5, 4, 3]
    assert ids(await db.read(admin_reservations, None, 3, 7)) == []
    assert await db.read(admin_reservations, "confirmed", 100, 0) == [rows[5]]


async def test_admin_conversations_with_messages_and_delivery_status(db: Database) -> None:
    guest_old = conversation(1, GUEST.phone, AT - timedelta(hours=6))
    host_talk = conversation(2, HOST.phone, AT - timedelta(hours=1), "host")
    guest_new = conversation(3, GUEST.phone, AT, "browsing")
    tied = conversation(4, QUIET.phone, AT)  # same last_at as 3: the higher id first
    second = timedelta(seconds=1)
    await db.commit(
        [
            *homes(),
            *(writes.add_conversation(c) for c in (guest_old, host_talk, guest_new, tied)),
            writes.enqueue(1, HOST.phone, BOT, "New request 1", None, None, AT),
            writes.enqueue(2, HOST.phone, BOT, "Reminder", None, None, AT),
            writes.log_message(
                3, "in", GUEST.phone, "BOOK 1", AT, status="received", twilio_sid="SMin",
                state_before="browsing", state_after="booking",
            ),
            writes.log_message(
                3, "out", GUEST.phone, "Which dates?", AT + second, status="replied",
                media=["https://img.example.com/beach.jpg"],
            ),
            writes.log_message(2, "out", HOST.phone, "New request 1", AT, status="queued",
                               outbox_id=1),
            writes.log_message(2, "out", HOST.phone, "Reminder", AT + second, status="queued",
                               outbox_id=2),
            writes.log_message(2, "in", HOST.phone, "ACCEPT", AT + 2 * second, status="received"),
        ]
    )  # fmt: skip
    await db.commit(
        [
            writes.outbox_sent(1, "SMout1", "sent", AT),
            writes.outbox_sent(2, "SMout2", "sent", AT),
        ]
    )
    await db.commit([writes.outbox_status("SMout1", "delivered", None, AT)])
    await db.commit([writes.outbox_status("SMout2", "undelivered", 30003, AT)])

    rows = await db.read(admin_conversations, None, 100, 0, 1000)
    assert ids(rows) == [4, 3, 2, 1]  # most recent activity first
    assert all(set(row) == CONVERSATION_FIELDS for row in rows)
    by_id = {row["id"]: row for row in rows}
    assert {k: v for k, v in by_id[3].items() if k != "messages"} == {
        "id": 3,
        "phone": GUEST.phone,
        "started_at": stamp(guest_new.started_at),
        "last_at": stamp(AT),
        "state": "browsing",
    }
    assert by_id[3]["messages"] == [
        {"direction": "in", "body": "BOOK 1", "media": [], "at": stamp(AT), "status": "received"},
        {
            "direction": "out",
            "body": "Which dates?",
            "media": ["https://img.example.com/beach.jpg"],
            "at": stamp(AT + second),
            "status": "replied",
        },
    ]
    # REST notifications carry their outbox row's status, not the one they were logged with.
    assert [(m["body"], m["status"]) for m in by_id[2]["messages"]] == [
        ("New request 1", "delivered"),
        ("Reminder", "undelivered"),
        ("ACCEPT", "received"),
    ]
    assert all(set(m) == MESSAGE_FIELDS for m in by_id[2]["messages"])
    assert by_id[1]["messages"] == []
    json.dumps(rows)

    assert ids(await db.read(admin_conversations, GUEST.phone, 100, 0, 1000)) == [3, 1]
    assert ids(await db.read(admin_conversations, "+15557777777", 100, 0, 1000)) == []
    assert ids(await db.read(admin_conversations, None, 2, 1, 1000)) == [3, 2]
    assert ids(await db.read(admin_conversations, GUEST.phone, 1, 1, 1000)) == [1]
    # At most `messages_each` messages per conversation: the newest ones, oldest first.
    [host] = await db.read(admin_conversations, HOST.phone, 10, 0, 2)
    assert [m["body"] for m in host["messages"]] == ["Reminder", "ACCEPT"]


async def test_admin_outbox(db: Database) -> None:
    await db.commit(
        [writes.enqueue(n, GUEST.phone, BOT, f"note {n}", None, None, AT) for n in range(1, 7)]
    )
    await db.commit(
        [
            writes.outbox_sending(1, 1, AT + timedelta(minutes=1), AT),
            writes.outbox_sent(1, "SM1", "sent", AT),
            writes.outbox_sent(2, "SM2", "sent", AT),
            writes.outbox_sent(3, "SM3", "sent", AT),
            writes.outbox_failed(4, 21610, "opted out at Twilio", AT),
        ]
    )
    await db.commit([writes.outbox_status("SM2", "delivered", None, AT)])

    rows = await db.read(admin_outbox, None, 100, 0)
    assert ids(rows) == [6, 5, 4, 3, 2, 1]
    assert all(set(row) >= OUTBOX_FIELDS for row in rows)
    by_id = {row["id"]: row for row in rows}
    assert {k: by_id[1][k] for k in OUTBOX_FIELDS} == {
        "id": 1, "to": GUEST.phone, "body": "note 1", "status": "sent", "attempts": 1,
        "twilio_sid": "SM1", "error": None,
    }  # fmt: skip
    assert (by_id[4]["status"], by_id[4]["error"], by_id[4]["error_code"]) == (
        "failed", "opted out at Twilio", 21610,
    )  # fmt: skip
    assert by_id[2]["status"] == "delivered"
    json.dumps(rows)

    assert ids(await db.read(admin_outbox, "sent", 100, 0)) == [3, 1]
    assert ids(await db.read(admin_outbox, "queued", 100, 0)) == [6, 5]
    assert ids(await db.read(admin_outbox, "queued", 1, 1)) == [5]
    assert ids(await db.read(admin_outbox, None, 2, 2)) == [4, 3]
    assert ids(await db.read(admin_outbox, "cancelled", 100, 0)) == []


async def test_admin_properties(db: Database) -> None:
    await db.commit(homes())
    rows = await db.read(admin_properties)
    assert all(set(row) == PROPERTY_FIELDS for row in rows)
    assert rows == [
        {
            "id": 1,
            "title": "Beach House",
            "place": "Malibu, CA",
            "description": "Steps from the sand.",
            "image_url": "https://img.example.com/beach.jpg",
            "nightly_price": 250,
            "host_phone": HOST.phone,
            "host_name": "Hana",
            "active": True,
        },
        {
            "id": 2,
            "title": "Cabin",
            "place": "Tahoe, CA",
            "description": "Snow and pines.",
            "image_url": None,
            "nightly_price": 90,
            "host_phone": HOST.phone,
            "host_name": "Hana",
            "active": False,
        },
    ]


async def test_admin_lists_page_through_a_bigger_history(db: Database) -> None:
    await db.commit(history(people=20, conversations=120, messages_each=2, outbox=150))
    seen: list[int] = []
    for offset in range(0, 150, 40):
        seen += ids(await db.read(admin_outbox, None, 40, offset))
    assert seen == list(range(150, 0, -1))
    sent = ids(await db.read(admin_outbox, "sent", 1000, 0))
    assert sent == [n for n in range(150, 0, -1) if n % 3]
    conversations = ids(await db.read(admin_conversations, None, 1000, 0, 10))
    assert conversations == list(range(1, 121))  # conversation n was last active n hours ago
    assert ids(await db.read(admin_conversations, None, 10, 100, 10)) == list(range(101, 111))
