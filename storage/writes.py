"""Every change the service makes to the database, as `Write`s a turn collects and commits at once.

writes = [log_inbound(...), save_conversation(...), handled(sid, twiml, at)]
await db.commit(writes)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from conversations.model import Conversation, Person, Property, Reservation
from storage.db import Write

_last_stamp: tuple[datetime | None, str] = (None, "")
# json.dumps with any option builds a new encoder on every call; one made once costs nothing.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


def stamp(moment: datetime) -> str:
    """Timestamps are ISO 8601 in UTC with milliseconds, so they sort as text."""
    global _last_stamp
    # A turn stamps the same moment on every row it writes: format it once. (One read of the
    # pair, so another thread replacing it meanwhile can't mix two moments.)
    last = _last_stamp
    if last[0] is moment:
        return last[1]
    text = moment.isoformat(timespec="milliseconds")
    _last_stamp = (moment, text)
    return text


# -- people and homes -----------------------------------------------------------------------


def add_person(person: Person, at: datetime) -> Write:
    return Write(
        "INSERT INTO people (id, phone, name, opted_out, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (person.id, person.phone, person.name, int(person.opted_out), stamp(at), stamp(at)),
    )


def update_person(person: Person, at: datetime) -> Write:
    return Write(
        "UPDATE people SET name = ?, opted_out = ?, updated_at = ? WHERE id = ?",
        (person.name, int(person.opted_out), stamp(at), person.id),
        must_change=True,
    )


def opt_change(person_id: int, opted_out: bool, source: str, at: datetime) -> Write:
    """An opt-out (or an opt-in) as it happened: `source` is "keyword" (the person texted it)
    or "twilio" (Twilio refused a message with 21610)."""
    return Write(
        "INSERT INTO opt_changes (person_id, opted_out, source, at) VALUES (?, ?, ?, ?)",
        (person_id, int(opted_out), source, stamp(at)),
    )


def add_property(home: Property, host_id: int, at: datetime) -> Write:
    return Write(
        "INSERT INTO properties (id, host_id, title, place, description, image_url,"
        " nightly_price, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            home.id,
            host_id,
            home.title,
            home.place,
            home.description,
            home.image_url,
            home.nightly_price,
            int(home.active),
            stamp(at),
            stamp(at),
        ),
    )


def update_property(home: Property, at: datetime) -> Write:
    """A host changed a home (paused, resumed, a new photo or price): its facts as they are now."""
    return Write(
        "UPDATE properties SET title = ?, place = ?, description = ?, image_url = ?,"
        " nightly_price = ?, active = ?, updated_at = ? WHERE id = ?",
        (
            home.title,
            home.place,
            home.description,
            home.image_url,
            home.nightly_price,
            int(home.active),
            stamp(at),
            home.id,
        ),
        must_change=True,
    )


# -- reservations ---------------------------------------------------------------------------


def add_reservation(reservation: Reservation, guest_id: int) -> Write:
    r = reservation
    return Write(
        "INSERT INTO reservations (id, property_id, guest_id, check_in, check_out, message,"
        " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            r.id,
            r.property_id,
            guest_id,
            r.check_in.isoformat(),
            r.check_out.isoformat(),
            r.message,
            r.status,
            stamp(r.created_at),
            stamp(r.updated_at),
        ),
    )


def change_reservation(reservation_id: int, old: str, new: str, at: datetime) -> Write:
    # Guarded by the old status: only a pending request changes, and only once.
    return Write(
        "UPDATE reservations SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        (new, stamp(at), reservation_id, old),
        must_change=True,
    )


def remind_reservation(reservation_id: int, at: datetime) -> Write:
    # Guarded: only a pending request not yet reminded, so a host is reminded once.
    return Write(
        "UPDATE reservations SET reminded_at = ? WHERE id = ? AND status = 'pending'"
        " AND reminded_at IS NULL",
        (stamp(at), reservation_id),
        must_change=True,
    )


# -- conversations and the message log ------------------------------------------------------


def add_conversation(conversation: Conversation) -> Write:
    c = conversation
    return Write(
        "INSERT INTO conversations (id, bot_phone, phone, state, data, started_at, last_at,"
        " version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            c.id,
            c.bot_phone,
            c.phone,
            c.state,
            _compact_json(c.data),
            stamp(c.started_at),
            stamp(c.last_at),
            c.version,
        ),
    )


def save_conversation(conversation: Conversation, previous_version: int) -> Write:
    c = conversation
    return Write(
        "UPDATE conversations SET state = ?, data = ?, last_at = ?, version = ?"
        " WHERE id = ? AND version = ?",
        (
            c.state,
            _compact_json(c.data),
            stamp(c.last_at),
            c.version,
            c.id,
            previous_version,
        ),
        must_change=True,
    )


def log_message(
    conversation_id: int,
    direction: str,
    phone: str,
    body: str,
    at: datetime,
    *,
    media: Sequence[str] = (),
    status: str,
    twilio_sid: str | None = None,
    outbox_id: int | None = None,
    state_before: str | None = None,
    state_after: str | None = None,
) -> Write:
    return Write(
        "INSERT INTO messages (conversation_id, direction, phone, body, media, twilio_sid,"
        " status, outbox_id, state_before, state_after, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            conversation_id,
            direction,
            phone,
            body,
            json.dumps(list(media)) if media else "[]",
            twilio_sid,
            status,
            outbox_id,
            state_before,
            state_after,
            stamp(at),
        ),
    )


# Index pages an FTS5 'merge' may write a catch-up step: at 500 rows a step this keeps the
# segments as few as FTS5's own automatic merging did, and no step costs more than a few ms.
INDEX_MERGE_PAGES = 16


def index_messages(after: int, upto: int) -> list[Write]:
    """Put the bodies of messages `after` < id <= `upto` into the word index (FTS5), merge a
    few of its segments (migration 7 turned FTS5's own merging off), and move the mark; the
    guard refuses a range another catch-up has indexed already."""
    return [
        Write(
            "INSERT INTO messages_fts (rowid, body)"
            " SELECT id, body FROM messages WHERE id > ? AND id <= ?",
            (after, upto),
        ),
        Write(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', ?)",
            (INDEX_MERGE_PAGES,),
        ),
        Write(
            "UPDATE settings SET value = ? WHERE key = 'messages_indexed_upto' AND value = ?",
            (str(upto), str(after)),
            must_change=True,
        ),
    ]


def handled(sid: str, twiml: str, at: datetime) -> Write:
    return Write(
        "INSERT INTO handled_messages (sid, twiml, at) VALUES (?, ?, ?)", (sid, twiml, stamp(at))
    )


def set_setting(key: str, value: str) -> Write:
    return Write(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


# -- the outbox -----------------------------------------------------------------------------


def enqueue(
    outbox_id: int,
    to: str,
    from_: str,
    body: str,
    media_url: str | None,
    reservation_id: int | None,
    at: datetime,
) -> Write:
    return Write(
        "INSERT INTO outbox (id, to_phone, from_phone, body, media_url, status, attempts,"
        " next_attempt_at, reservation_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
        (outbox_id, to, from_, body, media_url, stamp(at), reservation_id, stamp(at), stamp(at)),
    )


def outbox_sending(outbox_id: int, attempts: int, retry_at: datetime, at: datetime) -> Write:
    # Written before the request goes out: after a crash, a 'sending' row is one whose
    # outcome is unknown, and it is reconciled with Twilio before any new attempt.
    return Write(
        "UPDATE outbox SET status = 'sending', attempts = ?, next_attempt_at = ?, updated_at = ?"
        " WHERE id = ? AND status IN ('queued', 'sending')",
        (attempts, stamp(retry_at), stamp(at), outbox_id),
        must_change=True,
    )


def outbox_sent(outbox_id: int, twilio_sid: str, status: str, at: datetime) -> Write:
    return Write(
        "UPDATE outbox SET status = ?, twilio_sid = ?, error_code = NULL, error = NULL,"
        " updated_at = ? WHERE id = ?",
        (status, twilio_sid, stamp(at), outbox_id),
    )


def outbox_retry(
    outbox_id: int, retry_at: datetime, error_code: int | None, error: str, at: datetime
) -> Write:
    return Write(
        "UPDATE outbox SET status = 'queued', next_attempt_at = ?, error_code = ?, error = ?,"
        " updated_at = ? WHERE id = ?",
        (stamp(retry_at), error_code, error, stamp(at), outbox_id),
    )


def outbox_failed(outbox_id: int, error_code: int | None, error: str, at: datetime) -> Write:
    return Write(
        "UPDATE outbox SET status = 'failed', error_code = ?, error = ?, updated_at = ?"
        " WHERE id = ?",
        (error_code, error, stamp(at), outbox_id),
    )


def outbox_cancelled(outbox_id: int, reason: str, at: datetime) -> Write:
    return Write(
        "UPDATE outbox SET status = 'cancelled', error = ?, updated_at = ? WHERE id = ?",
        (reason, stamp(at), outbox_id),
    )


# Status callbacks can arrive out of order: a late 'sent' never overwrites 'delivered'.
TRACKED_STATUSES = ("sent", "delivered", "undelivered", "failed")


def outbox_status(twilio_sid: str, status: str, error_code: int | None, at: datetime) -> Write:
    """A status callback's news; `status` is one of TRACKED_STATUSES."""
    if status in ("failed", "undelivered"):
        return Write(
            "UPDATE outbox SET status = ?, error_code = ?, updated_at = ? WHERE twilio_sid = ?",
            (status, error_code, stamp(at), twilio_sid),
        )
    return Write(
        "UPDATE outbox SET status = ?, updated_at = ? WHERE twilio_sid = ?"
        " AND status IN ('queued', 'sending', 'sent')",
        (status, stamp(at), twilio_sid),
    )


def outbox_note(outbox_id: int, error_code: int | None, error: str, at: datetime) -> Write:
    """Why the last attempt did not land, kept for the operator while it is retried."""
    return Write(
        "UPDATE outbox SET error_code = ?, error = ?, updated_at = ? WHERE id = ?",
        (error_code, error, stamp(at), outbox_id),
    )


# -- the operator console -------------------------------------------------------------------


def operator_action(action: str, target: str, detail: str, at: datetime) -> Write:
    return Write(
        "INSERT INTO operator_actions (at, action, target, detail) VALUES (?, ?, ?, ?)",
        (stamp(at), action, target, detail),
    )


def outbox_requeue(outbox_id: int, at: datetime) -> Write:
    """An operator sends a failed message again: queued, due now, its attempts counted afresh."""
    return Write(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?, error_code = NULL,"
        " error = NULL, updated_at = ? WHERE id = ? AND status IN ('failed', 'undelivered')",
        (stamp(at), stamp(at), outbox_id),
        must_change=True,
    )


def redact_person(
    person_id: int, phone: str, placeholder: str, outbox_ids: Sequence[int], at: datetime
) -> list[Write]:
    """A privacy request: the person's number and every message body to or from them are
    replaced (`outbox_ids`: the outbox rows of their messages); reservations (dates, home,
    status) are kept and still point at the person."""
    text = "[redacted]"
    out = [
        Write(
            f"UPDATE outbox SET body = ?, media_url = NULL, to_phone = ?"
            f" WHERE id IN ({','.join('?' * len(chunk))})",
            (text, placeholder, *chunk),
        )
        for chunk in (outbox_ids[n : n + 500] for n in range(0, len(outbox_ids), 500))
    ]
    return [
        *out,
        Write(
            "UPDATE messages SET body = ?, media = '[]', phone = ? WHERE phone = ?",
            (text, placeholder, phone),
        ),
        Write(
            "UPDATE conversations SET phone = ?, data = '{}' WHERE phone = ?",
            (placeholder, phone),
        ),
        Write(
            "UPDATE reservations SET message = ? WHERE guest_id = ? AND message != ''",
            (text, person_id),
        ),
        Write(
            "UPDATE people SET phone = ?, name = NULL, updated_at = ? WHERE id = ? AND phone = ?",
            (placeholder, stamp(at), person_id, phone),
            must_change=True,
        ),
    ]


def forget_bodies_before(cutoff: datetime) -> list[Write]:
    """Retention: message bodies older than `cutoff` are emptied; the rows (counts, times,
    states, delivery status) and reservations stay."""
    return [
        Write(
            "UPDATE messages SET body = '', media = '[]' WHERE at < ? AND (body != '' OR"
            " media != '[]')",
            (stamp(cutoff),),
        ),
        Write(
            "UPDATE outbox SET body = '', media_url = NULL WHERE created_at < ? AND body != ''"
            " AND status NOT IN ('queued', 'sending')",
            (stamp(cutoff),),
        ),
    ]
