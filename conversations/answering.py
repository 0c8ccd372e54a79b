"""Hosts answering requests: REQUESTS, ACCEPT/REJECT (or "yes that's fine", "no, sorry"), and
the reply to anything that decides nothing (a hedge, a question, something unclear), which
says so, lists what is pending, and shows how to answer. A wrong accept is far worse than one
more question, so `conversations.understand` decides only on a plain approval or refusal.
"""

from __future__ import annotations

from collections.abc import Sequence

from conversations import texts
from conversations.model import Reservation
from conversations.reservations import lifecycle
from conversations.turn import Outgoing, Turn, pending_listing


def requests(t: Turn) -> None:
    if not t.world.is_host(t.phone):
        return t.say(texts.HOST_NOT_HOST)
    pending = t.world.pending_for_host(t.phone)
    if not pending:
        return t.say(texts.HOST_NONE_PENDING)
    t.say(texts.HOST_PENDING.format(items=pending_listing(pending, t.world)))


def accept(t: Turn) -> None:
    _decide(t, "accept")


def reject(t: Turn) -> None:
    _decide(t, "reject")


def undecided(t: Turn) -> None:
    """A host's text that decides nothing: say so, list the pending, show how to answer."""
    pending = t.world.pending_for_host(t.phone)
    if not pending:
        return t.say(texts.HOST_NONE_PENDING)
    ref = t.intent.number
    named = [r for r in pending if r.id == ref]
    if len(pending) > 1 and not named:
        items = pending_listing(pending, t.world)
        return t.say(texts.HOST_UNDECIDED.format(items=items))
    reservation = named[0] if named else pending[0]
    guest = t.world.person(reservation.guest_phone)
    guest_name = texts.shorten(guest.name, 20) if guest and guest.name else "a guest"
    if t.intent.question:
        # Not passed on: the bot relays no messages, and the host has the guest's note.
        # The guest's note, cut to what one segment leaves beside the rest of the reply.
        bare = texts.HOST_QUESTION_ONE.format(guest=guest_name, note="", ref=reservation.id)
        note = texts.shorten(reservation.message, max(texts.SEGMENT - len(bare), 10))
        text = texts.HOST_QUESTION_ONE.format(
            guest=guest_name, note=note or "no note", ref=reservation.id
        )
        return t.say(text)
    dates = texts.date_range(reservation.check_in, reservation.check_out)
    t.say(texts.HOST_UNDECIDED_ONE.format(ref=reservation.id, guest=guest_name, dates=dates))


def greet(t: Turn) -> bool:
    """A host with pending requests is greeted with them. False if there are none."""
    return _with_pending(t, texts.HOST_GREETING)


def thanks(t: Turn) -> bool:
    return _with_pending(t, texts.HOST_THANKED)


def _with_pending(t: Turn, text: str) -> bool:
    if not t.world.is_host(t.phone):
        return False
    pending = t.world.pending_for_host(t.phone)
    if not pending:
        return False
    t.say(text.format(items=pending_listing(pending, t.world)))
    return True


def _decide(t: Turn, verb: str) -> None:
    intent = t.intent
    if not t.world.is_host(t.phone):
        if intent.kind in ("accept", "reject") and intent.number is None and not intent.typo:
            word = t.inbound.body.strip().casefold().strip(".!?'\"")
            if word in ("yes", "y", "ok", "okay", "no", "n"):
                return t.say(texts.NOT_UNDERSTOOD)
        return t.say(texts.HOST_NOT_HOST)
    pending = t.world.pending_for_host(t.phone)
    ref = intent.number
    if ref is None:
        if not pending:
            return t.say(texts.HOST_NONE_PENDING)
        if len(pending) > 1:
            items = pending_listing(pending, t.world)
            return t.say(texts.HOST_WHICH.format(count=len(pending), items=items))
        reservation = pending[0]
    else:
        found = t.world.reservation(ref)
        home = t.world.property(found.property_id) if found else None
        if found is None or home is None or home.host_phone != t.phone:
            return t.say(texts.HOST_UNKNOWN_REF.format(ref=ref))
        if not lifecycle.can("accept", found):
            status = texts.STATUS_WORDS[found.status]
            return t.say(texts.NOT_PENDING.format(ref=ref, status=status))
        reservation = found
    _decided(t, verb, reservation, pending)


def _decided(t: Turn, verb: str, reservation: Reservation, pending: Sequence[Reservation]) -> None:
    world, decision = t.world, t.decision
    home = world.property(reservation.property_id)
    assert home is not None
    guest = world.person(reservation.guest_phone)
    guest_name = texts.shorten(guest.name, 20) if guest and guest.name else "a guest"
    dates = texts.date_range(reservation.check_in, reservation.check_out)
    title = texts.shorten(home.title, 30)
    closed: list[int] = []
    if verb == "accept":
        others = world.reservations_at(home.id)
        if any(
            o.status == "confirmed" and o.overlaps(reservation.check_in, reservation.check_out)
            for o in others
        ):
            return t.say(texts.HOST_OVERLAP.format(ref=reservation.id, title=title))
        decision.changes.append((reservation.id, lifecycle.next_status("accept", reservation)))
        guest_text = texts.GUEST_CONFIRMED.format(title=title, dates=dates, ref=reservation.id)
        # Accepting one request closes the pending ones it overlaps, and those guests are told.
        for other in others:
            if (
                other.id != reservation.id
                and other.status == "pending"
                and other.overlaps(reservation.check_in, reservation.check_out)
            ):
                decision.changes.append((other.id, lifecycle.next_status("reject", other)))
                closed.append(other.id)
                text = texts.GUEST_CLOSED.format(
                    title=title,
                    dates=texts.date_range(other.check_in, other.check_out),
                    ref=other.id,
                )
                decision.notifications.append(
                    Outgoing(other.guest_phone, text, reservation_id=other.id)
                )
        host_text = texts.HOST_ACCEPTED
    else:
        decision.changes.append((reservation.id, lifecycle.next_status("reject", reservation)))
        guest_text = texts.GUEST_REJECTED.format(title=title, dates=dates, ref=reservation.id)
        host_text = texts.HOST_REJECTED
    still = len(pending) - 1 - len(closed) if reservation in pending else len(pending) - len(closed)
    more = texts.HOST_MORE_PENDING.format(count=still) if still > 0 else texts.HOST_ALL_DONE
    text = host_text.format(ref=reservation.id, guest=guest_name, dates=dates, more=more)
    if closed:
        text += texts.HOST_ALSO_CLOSED.format(refs=", ".join(map(str, closed)))
    t.say(text)
    t.data["decided"] = True  # "ok" next is a thank-you, not a yes to another request
    decision.replies.append(
        Outgoing(reservation.guest_phone, guest_text, reservation_id=reservation.id)
    )
