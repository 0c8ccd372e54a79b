"""A turn's decision as the one JSON document `airtng_turn_apply` writes (storage/postgres/
turns.py): what `bot.world.World.perform` makes `Write`s of on SQLite, here as data for one
PL/pgSQL call, so a turn's writes are one round trip on PostgreSQL too.

    changes = turn_changes(inbound, conversation, person, decision, twiml, live_since)
    sql = apply_script(changes, lock_key)   # BEGIN; apply; COMMIT; unlock: one message

Ids the decision needs before it is written (the new reservation's, the new conversation's)
come from the database's sequences before deciding; the rest are given as the rows go in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from conversations.flow import Decision, Outgoing
from conversations.model import Conversation, Person, Property


class InboundFacts(NamedTuple):
    sid: str
    phone: str
    bot_phone: str
    body: str
    media: tuple[str, ...]
    at: datetime


def _home(home: Property) -> dict[str, Any]:
    return {
        "id": home.id,
        "title": home.title,
        "place": home.place,
        "description": home.description,
        "image_url": home.image_url,
        "nightly_price": home.nightly_price,
        "active": home.active,
    }


def _message(
    phone: str, body: str, media: Sequence[str], status: str, *, own: bool, **more: Any
) -> dict[str, Any]:
    return {
        "phone": phone,
        "direction": "out",
        "body": body,
        "media": list(media),
        "status": status,
        "own": own,
        **more,
    }


def _outgoing(
    message: Outgoing, sender: str | None, status: str, *, queued: bool = False
) -> dict[str, Any]:
    more: dict[str, Any] = {}
    if queued:
        more = {"outbox": True, "reservation_id": message.reservation_id}
    return _message(
        message.to, message.body, message.media, status, own=message.to == sender, **more
    )


def turn_changes(
    turn: InboundFacts,
    conversation: Conversation,
    person: Person | None,
    decision: Decision,
    twiml: str,
    live_since: datetime,
) -> dict[str, Any]:
    """Everything one turn changes, in the order `World.perform` writes it."""
    changes: dict[str, Any] = {
        "at": turn.at.isoformat(),
        "bot": turn.bot_phone,
        "live_since": live_since.isoformat(),
        "sender": turn.phone,
    }
    known_name = person.name if person else None
    known_opt_out = person.opted_out if person else False
    if (decision.name and decision.name != known_name) or (
        decision.opted_out is not None and decision.opted_out != known_opt_out
    ):
        changes["person"] = {"name": decision.name or None, "opted_out": decision.opted_out}
    changes["conversation"] = {
        "id": conversation.id,
        "new": conversation.version == 0,
        "version": conversation.version,
        "state": decision.state,
        "data": decision.data,
    }
    messages = [
        {
            "phone": turn.phone,
            "direction": "in",
            "body": turn.body,
            "media": list(turn.media),
            "status": "received",
            "sid": turn.sid,
            "state_before": conversation.state,
            "state_after": decision.state,
            "own": True,
        }
    ]
    if decision.new_home is not None:
        changes["new_home"] = _home(decision.new_home)
    if decision.home_changes:
        changes["home_changes"] = [_home(home) for home in decision.home_changes]
    if decision.new_reservation is not None:
        r = decision.new_reservation
        changes["new_reservation"] = {
            "id": r.id,
            "property_id": r.property_id,
            "guest_phone": r.guest_phone,
            "check_in": r.check_in.isoformat(),
            "check_out": r.check_out.isoformat(),
            "message": r.message,
            "status": r.status,
        }
    if decision.changes:
        # Only a pending request changes: the guard in the database is its status.
        changes["changes"] = [[rid, "pending", status] for rid, status in decision.changes]
    messages += [_outgoing(reply, turn.phone, "replied") for reply in decision.replies]
    messages += [_outgoing(n, turn.phone, "queued", queued=True) for n in decision.notifications]
    changes["messages"] = messages
    changes["handled"] = {"sid": turn.sid, "twiml": twiml}
    return changes


def timed_changes(
    decision: Decision, bot_phone: str, at: datetime, live_since: datetime
) -> dict[str, Any]:
    """An expiry or a reminder (conversations.flow.expire, remind): no sender, no conversation."""
    changes: dict[str, Any] = {
        "at": at.isoformat(),
        "bot": bot_phone,
        "live_since": live_since.isoformat(),
        "messages": [_outgoing(n, None, "queued", queued=True) for n in decision.notifications],
    }
    if decision.changes:
        changes["changes"] = [[rid, "pending", status] for rid, status in decision.changes]
    if decision.reminded:
        changes["reminded"] = list(decision.reminded)
    return changes


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{value!r} is not JSON")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default).encode
# PostgreSQL text cannot hold NUL: an escaped NUL (not an escaped backslash before "u0000").
_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def encode(changes: dict[str, Any]) -> str:
    """The document as JSON text PostgreSQL takes (NUL characters, which text cannot hold, are
    dropped; SQLite keeps them)."""
    text = _encode(changes)
    if "\\u0000" in text:
        text = _NUL.sub(r"\1", text)
    return text


def literal(text: str) -> str:
    """`text` as an SQL string literal (standard_conforming_strings is on for every connection
    of the store: a quote is the only character to double)."""
    return "'" + text.replace("'", "''") + "'"


def apply_script(changes: dict[str, Any], lock_key: int | None) -> str:
    """One simple-protocol message: the writes in a transaction, then the pair handed on. The
    unlock comes after COMMIT, so the next turn of the pair reads what this one wrote; if the
    apply fails, the rest of the message is skipped (the caller rolls back, and still holds the
    pair)."""
    script = f"BEGIN; SELECT airtng_turn_apply({literal(encode(changes))}::jsonb); COMMIT;"
    if lock_key is not None:
        script += f" SELECT pg_advisory_unlock({int(lock_key)});"
    return script
