"""The bot's memory of people, homes, reservations and live conversations, written through to
the database: every change made here comes with the `Write`s that persist it.

    world = World.from_snapshot(await db.read(load_snapshot, since, 0), bot_phone)
    writes = world.perform(turn, decision)      # memory changed now, writes committed next

Deciding a turn reads only this memory and performing it changes memory without awaiting, so
two turns never see each other half-done; the writes are committed before anyone is answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from conversations.flow import Decision, Outgoing
from conversations.model import Conversation, Person, Property, Reservation
from conversations.search import HomeSearch
from storage import writes
from storage.db import Write
from storage.queries import Snapshot

OPEN = ("pending", "confirmed")


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


class StaleDecision(RuntimeError):
    """A decision about a reservation that has changed since: refused, nothing performed."""


class TurnFacts(NamedTuple):
    """What the bot knows about the inbound message, beyond what the conversation decides."""

    sid: str
    phone: str
    bot_phone: str
    body: str
    media: tuple[str, ...]  # the URLs, as the log keeps them
    at: datetime


class World:
    def __init__(self, snapshot: Snapshot, idle: timedelta) -> None:
        self.idle = idle
        self.people: dict[str, Person] = {p.phone: p for p in snapshot.people}
        self.properties: dict[int, Property] = {p.id: p for p in snapshot.properties}
        self.reservations: dict[int, Reservation] = {}
        self._by_guest: dict[str, list[Reservation]] = {}
        self._open_at: dict[int, dict[int, Reservation]] = {}
        self._pending_by_host: dict[str, dict[int, Reservation]] = {}
        self._homes_of: dict[str, list[int]] = {}
        self._listed: list[Property] | None = None
        self._search_index: HomeSearch | None = None
        self.conversations: dict[tuple[str, str], Conversation] = {
            (c.bot_phone, c.phone): c for c in snapshot.conversations
        }
        self._last = dict(snapshot.last_ids)
        for home in snapshot.properties:
            self._homes_of.setdefault(home.host_phone, []).append(home.id)
        for reservation in snapshot.reservations:
            self._index(reservation)

    # -- what a turn may read (conversations.flow.World) ------------------------------------

    def person(self, phone: str) -> Person | None:
        return self.people.get(phone)

    def property(self, property_id: int) -> Property | None:
        return self.properties.get(property_id)

    def listed(self) -> Sequence[Property]:
        if self._listed is None:
            self._search_index = None
            self._listed = [p for p in self.properties.values() if p.active]
            self._listed.sort(key=lambda p: p.id)
        return self._listed

    def homes_of(self, phone: str) -> Sequence[Property]:
        return [self.properties[i] for i in sorted(self._homes_of.get(phone, ()))]

    def home_titled(self, host_phone: str, title: str) -> Property | None:
        """The host's home of this title, if listed already: the same host and title is one
        home (case and spacing aside), so listing it again changes nothing."""
        wanted = _title_key(title)
        for home in self.homes_of(host_phone):
            if _title_key(home.title) == wanted:
                return home
        return None

    def search_index(self) -> HomeSearch:
        # Built once: LIST <words> searches every listed home.
        if self._search_index is None:
            self._search_index = HomeSearch(self.listed())
        return self._search_index

    def reservation(self, reservation_id: int) -> Reservation | None:
        return self.reservations.get(reservation_id)

    def reservations_of_guest(self, phone: str) -> Sequence[Reservation]:
        return self._by_guest.get(phone, ())

    def pending_for_host(self, phone: str) -> Sequence[Reservation]:
        pending = self._pending_by_host.get(phone)
        return sorted(pending.values(), key=lambda r: r.id) if pending else []

    def reservations_at(self, property_id: int) -> Sequence[Reservation]:
        """The pending and confirmed reservations of a home: all that dates can clash with."""
        return list(self._open_at.get(property_id, {}).values())

    def is_host(self, phone: str) -> bool:
        return phone in self._homes_of

    def next_reservation_id(self) -> int:
        return self._last["reservations"] + 1

    def pending(self) -> list[Reservation]:
        return [r for by_id in self._pending_by_host.values() for r in by_id.values()]

    # -- conversations ----------------------------------------------------------------------

    def live_conversation(self, bot_phone: str, phone: str, now: datetime) -> Conversation | None:
        conversation = self.conversations.get((bot_phone, phone))
        if conversation is not None and now - conversation.last_at >= self.idle:
            return None
        return conversation

    def new_conversation(self, bot_phone: str, phone: str, now: datetime) -> Conversation:
        """A conversation not yet stored: `perform` stores it with the turn."""
        return Conversation(self._next("conversations"), bot_phone, phone, "start", now, now)

    def forget_idle(self, now: datetime) -> int:
        """Drop conversations idle past the limit from memory (they stay in the database)."""
        idle = [key for key, c in self.conversations.items() if now - c.last_at >= self.idle]
        for key in idle:
            del self.conversations[key]
        return len(idle)

    # -- performing decisions ---------------------------------------------------------------

    def perform(
        self,
        turn: TurnFacts,
        conversation: Conversation,
        decision: Decision,
        twiml: str,
    ) -> list[Write]:
        """Apply a turn's decision to memory and return the writes that persist it all."""
        self._check_changes(decision.changes)
        out: list[Write] = []
        person = self._person(turn.phone, turn.at, out)
        if (decision.name and decision.name != person.name) or (
            decision.opted_out is not None and decision.opted_out != person.opted_out
        ):
            person.name = decision.name or person.name
            if decision.opted_out is not None and decision.opted_out != person.opted_out:
                person.opted_out = decision.opted_out
                out.append(writes.opt_change(person.id, person.opted_out, "keyword", turn.at))
            out.append(writes.update_person(person, turn.at))

        state_before = conversation.state
        conversation.state = decision.state
        conversation.data = decision.data
        conversation.last_at = turn.at
        if conversation.version == 0:
            conversation.version = 1
            self.conversations[(turn.bot_phone, turn.phone)] = conversation
            out.append(writes.add_conversation(conversation))
        else:
            conversation.version += 1
            out.append(writes.save_conversation(conversation, conversation.version - 1))
        out.append(
            writes.log_message(
                conversation.id,
                "in",
                turn.phone,
                turn.body,
                turn.at,
                media=turn.media,
                status="received",
                twilio_sid=turn.sid,
                state_before=state_before,
                state_after=conversation.state,
            )
        )
        if decision.new_home is not None:
            _, listed = self.add_home(turn.phone, None, decision.new_home, turn.at)
            out += listed
        self._change_homes(turn.phone, decision.home_changes, turn.at, out)
        if decision.new_reservation is not None:
            self._add_reservation(decision.new_reservation, turn.at, out)
        self._change_reservations(decision.changes, turn.at, out)
        for reply in decision.replies:
            where = conversation if reply.to == turn.phone else None
            self._log_out(reply, turn.bot_phone, turn.at, out, status="replied", where=where)
        self._enqueue(decision.notifications, turn.bot_phone, turn.at, out)
        out.append(writes.handled(turn.sid, twiml, turn.at))
        return out

    def perform_expiry(self, decision: Decision, bot_phone: str, now: datetime) -> list[Write]:
        self._check_changes(decision.changes)
        """Apply an expiry or a reminder (conversations.flow.expire, remind)."""
        out: list[Write] = []
        self._change_reservations(decision.changes, now, out)
        for reservation_id in decision.reminded:
            self.reservations[reservation_id].reminded_at = now
            out.append(writes.remind_reservation(reservation_id, now))
        self._enqueue(decision.notifications, bot_phone, now, out)
        return out

    def set_opted_out(self, phone: str, now: datetime) -> list[Write]:
        out: list[Write] = []
        person = self._person(phone, now, out)
        if not person.opted_out:
            person.opted_out = True
            out.append(writes.update_person(person, now))
            out.append(writes.opt_change(person.id, True, "twilio", now))
        return out

    def add_home(
        self, host_phone: str, host_name: str | None, home: Property, now: datetime
    ) -> tuple[Property, list[Write]]:
        """List a home for a host (created if new): the operator's add-home, the demo, and a
        host's SAVE by text."""
        out: list[Write] = []
        host = self._person(host_phone, now, out)
        if host_name and host.name != host_name:
            host.name = host_name
            out.append(writes.update_person(host, now))
        home.id = self._next("properties")
        home.host_phone = host_phone
        self.properties[home.id] = home
        self._homes_of.setdefault(host_phone, []).append(home.id)
        self._listed = None
        self._search_index = None
        out.append(writes.add_property(home, host.id, now))
        return home, out

    # -- inside ------------------------------------------------------------------------------

    def _next(self, table: str) -> int:
        self._last[table] += 1
        return self._last[table]

    def _person(self, phone: str, now: datetime, out: list[Write]) -> Person:
        person = self.people.get(phone)
        if person is None:
            person = Person(self._next("people"), phone)
            self.people[phone] = person
            out.append(writes.add_person(person, now))
        return person

    def _change_homes(
        self, host_phone: str, changed: list[Property], now: datetime, out: list[Write]
    ) -> None:
        """A host's homes as the turn changed them (paused, resumed, a new photo or price)."""
        for new in changed:
            home = self.properties[new.id]
            if home.host_phone != host_phone:
                raise ValueError(f"home {new.id} is not {host_phone}'s to change")
            # Changed in place: the reservations and lists that hold this home see it at once.
            home.title, home.place, home.description = new.title, new.place, new.description
            home.nightly_price, home.image_url, home.active = (
                new.nightly_price,
                new.image_url,
                new.active,
            )
            out.append(writes.update_property(home, now))
        if changed:
            self._listed = None
            self._search_index = None

    def _index(self, reservation: Reservation) -> None:
        self.reservations[reservation.id] = reservation
        self._by_guest.setdefault(reservation.guest_phone, []).append(reservation)
        home = self.properties.get(reservation.property_id)
        if reservation.status in OPEN:
            self._open_at.setdefault(reservation.property_id, {})[reservation.id] = reservation
        if reservation.status == "pending" and home is not None:
            self._pending_by_host.setdefault(home.host_phone, {})[reservation.id] = reservation

    def _add_reservation(self, reservation: Reservation, now: datetime, out: list[Write]) -> None:
        guest = self._person(reservation.guest_phone, now, out)
        self._last["reservations"] = max(self._last["reservations"], reservation.id)
        self._index(reservation)
        out.append(writes.add_reservation(reservation, guest.id))

    def _check_changes(self, changes: list[tuple[int, str]]) -> None:
        """Before anything is performed: only a pending request changes, so a decision made on
        a stale view (a reservation decided since) is refused whole."""
        for reservation_id, _ in changes:
            reservation = self.reservations.get(reservation_id)
            if reservation is None or reservation.status != "pending":
                status = reservation.status if reservation else "unknown"
                raise StaleDecision(f"request {reservation_id} is {status}")

    def _change_reservations(
        self, changes: list[tuple[int, str]], now: datetime, out: list[Write]
    ) -> None:
        for reservation_id, status in changes:
            reservation = self.reservations[reservation_id]
            out.append(writes.change_reservation(reservation_id, reservation.status, status, now))
            reservation.status = status
            reservation.updated_at = now
            if status not in OPEN:
                self._open_at.get(reservation.property_id, {}).pop(reservation_id, None)
            if status != "pending":
                home = self.properties.get(reservation.property_id)
                if home is not None:
                    pending = self._pending_by_host.get(home.host_phone, {})
                    pending.pop(reservation_id, None)
                    if not pending:
                        self._pending_by_host.pop(home.host_phone, None)

    def _conversation_of(
        self, bot_phone: str, phone: str, now: datetime, out: list[Write]
    ) -> Conversation:
        """The live conversation a message to `phone` belongs in, started if there is none."""
        conversation = self.live_conversation(bot_phone, phone, now)
        if conversation is None:
            self._person(phone, now, out)
            conversation = self.new_conversation(bot_phone, phone, now)
            conversation.version = 1
            self.conversations[(bot_phone, phone)] = conversation
            out.append(writes.add_conversation(conversation))
        return conversation

    def _log_out(
        self,
        message: Outgoing,
        bot_phone: str,
        now: datetime,
        out: list[Write],
        *,
        status: str,
        where: Conversation | None = None,
        outbox_id: int | None = None,
    ) -> None:
        conversation = where or self._conversation_of(bot_phone, message.to, now, out)
        out.append(
            writes.log_message(
                conversation.id,
                "out",
                message.to,
                message.body,
                now,
                media=message.media,
                status=status,
                outbox_id=outbox_id,
            )
        )

    def _enqueue(
        self, notifications: list[Outgoing], bot_phone: str, now: datetime, out: list[Write]
    ) -> None:
        for message in notifications:
            outbox_id = self._next("outbox")
            media = message.media[0] if message.media else None
            out.append(
                writes.enqueue(
                    outbox_id,
                    message.to,
                    bot_phone,
                    message.body,
                    media,
                    message.reservation_id,
                    now,
                )
            )
            self._log_out(message, bot_phone, now, out, status="queued", outbox_id=outbox_id)
