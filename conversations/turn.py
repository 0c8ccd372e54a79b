"""What one turn works with: what it may read (`World`, `Inbound`, `Rules`), what it decides
(`Decision`, `Outgoing`), and the conversation's states as one transitions machine shared by
every turn (`Turn`, the model it drives). The flow (`conversations.flow`) routes a turn to the
handlers of each role, which all take the `Turn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from transitions import Machine

from conversations import texts
from conversations.model import Conversation, Person, Property, Reservation
from conversations.search import HomeSearch
from conversations.understand import Intent

STATES = [
    "start",  # nothing under way
    "browsing",  # a list of homes was shown: numbers pick from it
    "viewing",  # one home's details were shown: BOOK asks for it
    # The booking form: each step asks for what is still missing, any step takes any of it.
    "asking_dates",
    "asking_message",
    "asking_name",
    "confirming",  # the summary was shown: SEND sends the request
    # A host listing a home (HOST): one question a step, then the summary and SAVE.
    "listing_title",
    "listing_place",
    "listing_description",
    "listing_price",
    "listing_photo",
    "listing_confirming",
    "replacing_photo",  # PHOTO <n> came without a photo: the next picture is the new one
]
BOOKING_STATES = ("asking_dates", "asking_message", "asking_name", "confirming")
LISTING_STATES = (
    "listing_title",
    "listing_place",
    "listing_description",
    "listing_price",
    "listing_photo",
    "listing_confirming",
)
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "browse", "source": "*", "dest": "browsing"},
    {"trigger": "view", "source": "*", "dest": "viewing"},
    {"trigger": "book", "source": "*", "dest": "asking_dates"},
    # The form goes to the first step still missing, from any step.
    {"trigger": "ask_dates", "source": BOOKING_STATES, "dest": "asking_dates"},
    {"trigger": "ask_note", "source": BOOKING_STATES, "dest": "asking_message"},
    {"trigger": "ask_name", "source": BOOKING_STATES, "dest": "asking_name"},
    {"trigger": "summarise", "source": BOOKING_STATES, "dest": "confirming"},
    {"trigger": "send", "source": "confirming", "dest": "start"},
    {"trigger": "host", "source": "*", "dest": "listing_title"},
    {"trigger": "got_title", "source": "listing_title", "dest": "listing_place"},
    {"trigger": "got_place", "source": "listing_place", "dest": "listing_description"},
    {"trigger": "got_description", "source": "listing_description", "dest": "listing_price"},
    {"trigger": "got_price", "source": "listing_price", "dest": "listing_photo"},
    {"trigger": "got_photo", "source": "listing_photo", "dest": "listing_confirming"},
    {"trigger": "save", "source": "listing_confirming", "dest": "start"},
    {"trigger": "ask_photo", "source": "*", "dest": "replacing_photo"},
    {"trigger": "restart", "source": "*", "dest": "start"},
]


class World(Protocol):
    """What a turn may know: the bot's in-memory view of people, homes and reservations."""

    def person(self, phone: str) -> Person | None: ...
    def property(self, property_id: int) -> Property | None: ...
    def listed(self) -> Sequence[Property]: ...
    def homes_of(self, phone: str) -> Sequence[Property]: ...  # a host's own homes, by id
    def search_index(self) -> HomeSearch: ...  # the listed homes, by their words
    def reservation(self, reservation_id: int) -> Reservation | None: ...
    def reservations_of_guest(self, phone: str) -> Sequence[Reservation]: ...
    def pending_for_host(self, phone: str) -> Sequence[Reservation]: ...
    def reservations_at(self, property_id: int) -> Sequence[Reservation]: ...
    def is_host(self, phone: str) -> bool: ...
    def next_reservation_id(self) -> int: ...


class Inbound(NamedTuple):
    phone: str
    body: str
    media: tuple[tuple[str, str], ...] = ()  # (MediaUrl{N}, MediaContentType{N}) of an MMS


class Rules(NamedTuple):
    now: datetime
    today: date  # in the bot's time zone ([booking] timezone)
    max_nights: int
    # Whether a stay may still start today: the local time is before [booking]
    # same_day_until_hour. Without it check-in is from tomorrow.
    same_day: bool = False


@dataclass(slots=True)
class Outgoing:
    to: str
    body: str
    media: tuple[str, ...] = ()
    reservation_id: int | None = None


@dataclass(slots=True)
class Decision:
    state: str
    data: dict[str, Any]
    replies: list[Outgoing] = field(default_factory=list)  # TwiML <Message>s
    notifications: list[Outgoing] = field(default_factory=list)  # REST, through the outbox
    name: str | None = None  # the name the sender gave
    opted_out: bool | None = None  # the sender's new opt-out flag, when it changes
    new_reservation: Reservation | None = None
    changes: list[tuple[int, str]] = field(default_factory=list)  # (reservation id, status)
    new_home: Property | None = None  # a home the sender listed (its id is given on storing)
    home_changes: list[Property] = field(default_factory=list)  # the sender's homes, as changed
    reminded: list[int] = field(default_factory=list)  # requests whose host was just reminded


class Turn:
    """The model the shared machine drives: one turn's context while it is being decided.

    Deciding is synchronous, so the one instance is never used by two turns at once; moving
    it costs a few microseconds, where a machine or a model per turn costs 100+.
    """

    state: str

    def __init__(self) -> None:
        self.decision: Decision
        self.world: World
        self.rules: Rules
        self.inbound: Inbound
        self.conversation: Conversation
        self.intent: Intent

    @property
    def phone(self) -> str:
        return self.inbound.phone

    @property
    def data(self) -> dict[str, Any]:
        return self.decision.data

    def move(self, trigger: str) -> None:
        """Fire one of TRANSITIONS' triggers."""
        self.trigger(trigger)  # type: ignore[attr-defined]

    def say(self, text: str, media: tuple[str, ...] = ()) -> None:
        self.decision.replies.append(Outgoing(self.phone, text, media))

    def restart(self, text: str = texts.MENU) -> None:
        self.move("restart")
        self.data.pop("draft", None)
        self.say(text)

    def knows_name(self) -> bool:
        person = self.world.person(self.phone)
        return bool(self.decision.name or (person and person.name))

    def name(self) -> str:
        """The sender's name as hosts see it."""
        if self.decision.name:
            return self.decision.name
        person = self.world.person(self.phone)
        if person and person.name:
            return texts.shorten(person.name, texts.NAME_CHARS)
        return "a guest"


turn = Turn()
machine = Machine(
    model=turn, states=STATES, transitions=TRANSITIONS, initial="start", auto_transitions=False
)


def begin(inbound: Inbound, conversation: Conversation, world: World, rules: Rules) -> Turn:
    """The shared Turn, set to this conversation: its state, and a copy of its data that the
    turn may change (the conversation itself is never changed)."""
    state = conversation.state if conversation.state in STATES else "start"
    data = dict(conversation.data)
    for part in ("draft", "listing"):  # the parts steps change in place
        if isinstance(data.get(part), dict):
            data[part] = dict(data[part])
    if turn.state != state:
        machine.set_state(state, model=turn)
    turn.decision = Decision(state=state, data=data)
    turn.world, turn.rules, turn.inbound, turn.conversation = world, rules, inbound, conversation
    return turn


def pending_listing(pending: Sequence[Reservation], world: World) -> str:
    """A host's pending requests, as texts.pending_items shows them."""
    items = []
    for reservation in pending:
        home = world.property(reservation.property_id)
        guest = world.person(reservation.guest_phone)
        if home is not None:
            items.append((reservation, home, (guest.name if guest else None) or "a guest"))
    return texts.pending_items(items)
