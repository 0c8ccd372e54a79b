"""An in-memory `World` for the conversation tests, and a `Chat` that plays turns against it.

    world = FakeWorld()
    home = world.add_home(HOST, "Beach House", place="Malibu", price=250)
    guest = Chat(world, GUEST)
    guest.send("LIST").replies[0].body

`FakeWorld` implements the `conversations.flow.World` protocol over plain lists, with the same
answers the bot's world gives (listed homes by id, pending requests by id, only pending and
confirmed reservations at a home). `apply` performs a decision the way `bot.world.World.perform`
does for what a turn may read next: the person's name and opt-out flag, the new reservation, the
status changes, a home listed or changed by its host, a reminder sent. Every decision applied is kept, so a test can read every text the bot said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from conversations.flow import Decision, Inbound, Outgoing, Rules, decide
from conversations.model import Conversation, Person, Property, Reservation
from conversations.search import HomeSearch

BOT = "+15550009999"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
RULES = Rules(now=NOW, today=TODAY, max_nights=30)
OPEN = ("pending", "confirmed")


@dataclass
class FakeWorld:
    people: list[Person] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    # -- building the world ------------------------------------------------------------------

    def add_person(self, phone: str, name: str | None = None, opted_out: bool = False) -> Person:
        person = self.person(phone)
        if person is None:
            person = Person(len(self.people) + 1, phone)
            self.people.append(person)
        person.name = name if name is not None else person.name
        person.opted_out = opted_out
        return person

    def add_home(
        self,
        host: str,
        title: str,
        *,
        place: str = "Somewhere",
        description: str = "A home.",
        price: int = 100,
        image_url: str | None = None,
        active: bool = True,
    ) -> Property:
        if self.person(host) is None:
            self.add_person(host)
        home = Property(
            id=len(self.properties) + 1,
            host_phone=host,
            title=title,
            place=place,
            description=description,
            nightly_price=price,
            image_url=image_url,
            active=active,
        )
        self.properties.append(home)
        return home

    def add_reservation(
        self,
        guest: str,
        home: Property,
        check_in: date,
        check_out: date,
        *,
        status: str = "pending",
        message: str = "Hello",
    ) -> Reservation:
        if self.person(guest) is None:
            self.add_person(guest)
        reservation = Reservation(
            id=self.next_reservation_id(),
            property_id=home.id,
            guest_phone=guest,
            check_in=check_in,
            check_out=check_out,
            message=message,
            status=status,
            created_at=NOW,
            updated_at=NOW,
        )
        self.reservations.append(reservation)
        return reservation

    # -- conversations.flow.World ------------------------------------------------------------

    def person(self, phone: str) -> Person | None:
        return next((p for p in self.people if p.phone == phone), None)

    def property(self, property_id: int) -> Property | None:
        return next((p for p in self.properties if p.id == property_id), None)

    def listed(self) -> Sequence[Property]:
        return sorted((p for p in self.properties if p.active), key=lambda p: p.id)

    def homes_of(self, phone: str) -> Sequence[Property]:
        return sorted((p for p in self.properties if p.host_phone == phone), key=lambda p: p.id)

    def search_index(self) -> HomeSearch:
        return HomeSearch(self.listed())

    def reservation(self, reservation_id: int) -> Reservation | None:
        return next((r for r in self.reservations if r.id == reservation_id), None)

    def reservations_of_guest(self, phone: str) -> Sequence[Reservation]:
        return [r for r in self.reservations if r.guest_phone == phone]

    def pending_for_host(self, phone: str) -> Sequence[Reservation]:
        homes = {p.id for p in self.properties if p.host_phone == phone}
        return sorted(
            (r for r in self.reservations if r.status == "pending" and r.property_id in homes),
            key=lambda r: r.id,
        )

    def reservations_at(self, property_id: int) -> Sequence[Reservation]:
        return [r for r in self.reservations if r.property_id == property_id and r.status in OPEN]

    def is_host(self, phone: str) -> bool:
        return any(p.host_phone == phone for p in self.properties)

    def next_reservation_id(self) -> int:
        return max((r.id for r in self.reservations), default=0) + 1

    # -- performing a decision ---------------------------------------------------------------

    def apply(self, sender: str, decision: Decision) -> None:
        """What the next turn should see after `decision` (bot.world.World.perform, in memory)."""
        self.decisions.append(decision)
        if decision.name is not None or decision.opted_out is not None:
            person = self.person(sender) or self.add_person(sender)
            if decision.name is not None:
                person.name = decision.name
            if decision.opted_out is not None:
                person.opted_out = decision.opted_out
        if decision.new_reservation is not None:
            if self.person(decision.new_reservation.guest_phone) is None:
                self.add_person(decision.new_reservation.guest_phone)
            self.reservations.append(decision.new_reservation)
        for reservation_id, status in decision.changes:
            reservation = self.reservation(reservation_id)
            assert reservation is not None, f"decision changes unknown reservation {reservation_id}"
            reservation.status = status
        if decision.new_home is not None:
            if self.person(sender) is None:
                self.add_person(sender)
            decision.new_home.id = max((p.id for p in self.properties), default=0) + 1
            self.properties.append(decision.new_home)
        for changed in decision.home_changes:
            at = next(i for i, p in enumerate(self.properties) if p.id == changed.id)
            assert self.properties[at].host_phone == changed.host_phone == sender
            self.properties[at] = changed
        for reservation_id in decision.reminded:
            reservation = self.reservation(reservation_id)
            assert reservation is not None, f"decision reminds of unknown {reservation_id}"
            reservation.reminded_at = NOW

    def said(self) -> list[Outgoing]:
        """Every message the applied decisions sent: replies, then notifications, in order."""
        return [m for d in self.decisions for m in [*d.replies, *d.notifications]]


class Chat:
    """One person's conversation with the bot over a FakeWorld: each `send` is one turn."""

    def __init__(self, world: FakeWorld, phone: str, rules: Rules = RULES) -> None:
        self.world = world
        self.phone = phone
        self.rules = rules
        self.conversation = Conversation(1, BOT, phone, "start", NOW, NOW)

    def send(self, body: str) -> Decision:
        decision = decide(Inbound(self.phone, body), self.conversation, self.world, self.rules)
        self.world.apply(self.phone, decision)
        self.conversation.state = decision.state
        self.conversation.data = decision.data
        self.conversation.version += 1
        return decision

    def ask(self, body: str) -> str:
        """The one reply to the sender (fails if there is not exactly one)."""
        decision = self.send(body)
        mine = [r.body for r in decision.replies if r.to == self.phone]
        assert len(mine) == 1, f"{body!r} got replies {decision.replies}"
        return mine[0]

    @property
    def state(self) -> str:
        return self.conversation.state

    @property
    def data(self) -> dict[str, object]:
        return self.conversation.data
