"""One turn of a conversation: from what a person texted to what the bot says and does.

    decision = decide(Inbound("+15550001111", "LIST"), conversation, world, rules)
    decision.replies, decision.notifications, decision.state, decision.changes

Nothing here sends, stores or waits: `decide` reads the world and returns a `Decision`, which the
bot performs and storage commits in one transaction. The conversation's states and the moves
between them are the `TRANSITIONS` below, run by one transitions machine shared by all turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any, NamedTuple, Protocol

from transitions import Machine

from conversations import texts
from conversations.commands import Command, parse
from conversations.dates import DateProblem, Stay, parse_stay
from conversations.gsm7 import clean
from conversations.model import Conversation, Person, Property, Reservation
from conversations.reservations import lifecycle

PAGE_SIZE = 5

STATES = [
    "start",  # nothing under way
    "browsing",  # a list of homes was shown: numbers pick from it
    "viewing",  # one home's details were shown: BOOK asks for it
    "asking_dates",
    "asking_message",
    "asking_name",
    "confirming",  # the summary was shown: SEND sends the request
]
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "browse", "source": "*", "dest": "browsing"},
    {"trigger": "view", "source": "*", "dest": "viewing"},
    {"trigger": "book", "source": "*", "dest": "asking_dates"},
    {"trigger": "got_dates", "source": "asking_dates", "dest": "asking_message"},
    {
        "trigger": "got_message",
        "source": "asking_message",
        "dest": "confirming",
        "conditions": "knows_name",
    },
    {"trigger": "got_message", "source": "asking_message", "dest": "asking_name"},
    {"trigger": "got_name", "source": "asking_name", "dest": "confirming"},
    {"trigger": "send", "source": "confirming", "dest": "start"},
    {"trigger": "restart", "source": "*", "dest": "start"},
]
BOOKING_STATES = ("asking_dates", "asking_message", "asking_name", "confirming")
# While the summary is shown these answer it (YES sends, NO drops), not a host's request.
CONFIRM_WORDS = frozenset({"yes", "y", "ok", "okay", "confirm", "no", "n"})


class World(Protocol):
    """What a turn may know: the bot's in-memory view of people, homes and reservations."""

    def person(self, phone: str) -> Person | None: ...
    def property(self, property_id: int) -> Property | None: ...
    def listed(self) -> Sequence[Property]: ...
    def search_index(self) -> Sequence[tuple[str, Property]]: ...  # (casefolded text, home)
    def reservation(self, reservation_id: int) -> Reservation | None: ...
    def reservations_of_guest(self, phone: str) -> Sequence[Reservation]: ...
    def pending_for_host(self, phone: str) -> Sequence[Reservation]: ...
    def reservations_at(self, property_id: int) -> Sequence[Reservation]: ...
    def is_host(self, phone: str) -> bool: ...
    def next_reservation_id(self) -> int: ...


class Inbound(NamedTuple):
    phone: str
    body: str
    media: tuple[str, ...] = ()


class Rules(NamedTuple):
    now: datetime
    today: date
    max_nights: int


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


class _Turn:
    """The model the shared machine drives: one turn's context while it is being decided."""

    state: str

    def __init__(self) -> None:
        self.decision: Decision
        self.world: World
        self.phone: str

    def knows_name(self) -> bool:
        person = self.world.person(self.phone)
        return bool(self.decision.name or (person and person.name))


_turn = _Turn()
_machine = Machine(
    model=_turn,
    states=STATES,
    transitions=TRANSITIONS,
    initial="start",
    auto_transitions=False,
)


def decide(inbound: Inbound, conversation: Conversation, world: World, rules: Rules) -> Decision:
    """Decide one turn. Pure: reads `world` and `conversation`, changes neither."""
    state = conversation.state if conversation.state in STATES else "start"
    data = dict(conversation.data)
    if "draft" in data:
        data["draft"] = dict(data["draft"])  # the one part steps change in place
    decision = Decision(state=state, data=data)
    _machine.set_state(state, model=_turn)
    _turn.decision, _turn.world, _turn.phone = decision, world, inbound.phone
    person = world.person(inbound.phone)
    command = parse(inbound.body)
    opted_out = bool(person and person.opted_out)

    # Like Twilio, only the keyword alone opts in: "yes please" is not an opt-in.
    opt_in = command.verb == "opt_in" or (command.word == "yes" and not command.argument)
    if command.verb == "opt_out":
        decision.opted_out = True
    elif opted_out and opt_in:
        decision.opted_out = False
        if command.verb == "opt_in":
            _restart(inbound, decision, texts.WELCOME_BACK)
        else:  # YES opts back in and keeps its meaning in the conversation
            _respond(command, inbound, conversation, world, rules, decision)
    elif command.verb == "opt_in":
        _restart(inbound, decision, texts.MENU)
    else:
        _respond(command, inbound, conversation, world, rules, decision)

    decision.state = _turn.state
    if decision.state not in BOOKING_STATES:
        decision.data.pop("draft", None)
    _silence_opted_out(decision, inbound.phone, opted_out, world)
    return decision


def _respond(
    command: Command,
    inbound: Inbound,
    conversation: Conversation,
    world: World,
    rules: Rules,
    decision: Decision,
) -> None:
    state = _turn.state
    verb = command.verb
    # Inside a booking the person's words are answers to the question asked, except for the
    # few commands that always mean themselves.
    host_answer = verb in ("accept", "reject") and command.reference is not None
    if state == "asking_message" and verb not in ("menu", "help") and not host_answer:
        return _got_message(inbound, world, decision)
    if state == "confirming" and command.word in CONFIRM_WORDS and not command.argument:
        if verb == "accept":
            return _send_request(inbound, world, rules, decision)
        return _restart(inbound, decision)
    if state == "asking_dates" and verb not in ("menu", "help", "empty"):
        # Dates first: "next weekend" is dates here, not NEXT (the next page).
        stay = parse_stay(inbound.body, rules.today, rules.max_nights)
        if stay is not None:
            return _got_dates(stay, inbound, world, decision)
        if verb == "text":
            return _say(decision, inbound, texts.DATES_NOT_READ)
    if state == "asking_name" and verb == "text":
        return _got_name(command.argument, inbound, decision)

    if verb == "help":
        text = texts.HELP_HOST if world.is_host(inbound.phone) else texts.HELP_GUEST
        return _say(decision, inbound, text)
    if verb == "menu":
        return _restart(inbound, decision)
    if verb == "list":
        return _list(command.argument, inbound, world, decision)
    if verb == "more":
        return _more(inbound, world, decision)
    if verb == "number":
        return _view(int(command.argument), inbound, world, decision)
    if verb == "book":
        return _book(command, inbound, world, decision)
    if verb == "send":
        if state == "confirming":
            return _send_request(inbound, world, rules, decision)
        return _say(decision, inbound, texts.NOTHING_TO_SEND)
    if verb == "my":
        return _my_trips(inbound, world, decision)
    if verb == "withdraw":
        return _withdraw(command, inbound, world, decision)
    if verb == "requests":
        return _host_requests(inbound, world, decision)
    if verb in ("accept", "reject"):
        return _host_answer(verb, command, inbound, world, decision)
    if verb == "empty":
        return _say(decision, inbound, texts.EMPTY)
    if conversation.version == 0 and state == "start":
        return _say(decision, inbound, texts.WELCOME)
    if state == "confirming":
        return _say(decision, inbound, texts.CONFIRM_WHAT)
    return _say(decision, inbound, texts.NOT_UNDERSTOOD)


# -- browsing -------------------------------------------------------------------------------


def _search(words: str, world: World) -> list[Property]:
    terms = clean(words).casefold().split()
    if not terms:
        return list(world.listed())
    index = world.search_index()
    if len(terms) == 1:
        term = terms[0]
        return [home for text, home in index if term in text]
    return [home for text, home in index if all(term in text for term in terms)]


def _list(words: str, inbound: Inbound, world: World, decision: Decision) -> None:
    homes = _search(words, world)
    if not homes:
        text = texts.NO_MATCH.format(words=texts.shorten(words, 30)) if words else texts.NO_HOMES
        return _say(decision, inbound, text)
    decision.data["query"] = words
    decision.data["shown"] = []
    decision.data.pop("viewing", None)
    _turn.browse()  # type: ignore[attr-defined]
    _page(homes, inbound, decision)


def _more(inbound: Inbound, world: World, decision: Decision) -> None:
    if "query" not in decision.data:
        return _say(decision, inbound, texts.NO_LIST)
    homes = _search(decision.data["query"], world)
    if len(decision.data["shown"]) >= len(homes):
        return _say(decision, inbound, texts.NO_MORE)
    _turn.browse()  # type: ignore[attr-defined]
    _page(homes, inbound, decision)


def _page(homes: list[Property], inbound: Inbound, decision: Decision) -> None:
    shown: list[int] = decision.data["shown"]
    seen = set(shown)
    page = list(islice((home for home in homes if home.id not in seen), PAGE_SIZE))
    first = len(shown) + 1
    decision.data["shown"] = shown + [home.id for home in page]
    has_more = len(decision.data["shown"]) < len(homes)
    _say(decision, inbound, texts.list_page(page, first, len(homes), has_more))


def _picked(number: int, inbound: Inbound, world: World, decision: Decision) -> Property | None:
    shown: list[int] = decision.data.get("shown", [])
    if not shown:
        _say(decision, inbound, texts.NO_LIST)
        return None
    if not 1 <= number <= len(shown):
        _say(decision, inbound, texts.NOT_IN_LIST.format(n=number, last=len(shown)))
        return None
    home = world.property(shown[number - 1])
    if home is None or not home.active:
        _say(decision, inbound, texts.HOME_GONE)
        return None
    return home


def _view(number: int, inbound: Inbound, world: World, decision: Decision) -> None:
    home = _picked(number, inbound, world, decision)
    if home is None:
        return
    decision.data["viewing"] = home.id
    _turn.view()  # type: ignore[attr-defined]
    media = (home.image_url,) if home.image_url else ()
    decision.replies.append(Outgoing(inbound.phone, texts.home_details(number, home), media))


# -- booking --------------------------------------------------------------------------------


def _book(command: Command, inbound: Inbound, world: World, decision: Decision) -> None:
    if command.argument:
        number = command.reference
        if number is None:
            return _say(decision, inbound, texts.BOOK_WHICH)
        home = _picked(number, inbound, world, decision)
        if home is None:
            return
    else:
        # The home whose details were shown last, never a position in a list since redrawn.
        viewing = decision.data.get("viewing")
        if viewing is None:
            return _say(decision, inbound, texts.BOOK_WHICH)
        home = world.property(viewing)
        if home is None or not home.active:
            return _say(decision, inbound, texts.HOME_GONE)
    if home.host_phone == inbound.phone:
        return _say(decision, inbound, texts.OWN_HOME)
    decision.data["viewing"] = home.id
    decision.data["draft"] = {"property_id": home.id}
    _turn.book()  # type: ignore[attr-defined]
    _say(decision, inbound, texts.ASK_DATES.format(title=texts.shorten(home.title, 40)))


def _draft_home(decision: Decision, world: World) -> tuple[dict[str, Any], Property] | None:
    draft = decision.data.get("draft")
    home = world.property(draft["property_id"]) if draft else None
    if draft is None or home is None or not home.active:
        return None
    return draft, home


def _got_dates(
    stay: Stay | DateProblem, inbound: Inbound, world: World, decision: Decision
) -> None:
    found = _draft_home(decision, world)
    if found is None:
        _turn.restart()  # type: ignore[attr-defined]
        return _say(decision, inbound, texts.HOME_GONE)
    draft, home = found
    if isinstance(stay, DateProblem):
        return _say(decision, inbound, stay.reason)
    for other in world.reservations_at(home.id):
        if other.status == "confirmed" and other.overlaps(stay.check_in, stay.check_out):
            title = texts.shorten(home.title, 40)
            return _say(decision, inbound, texts.DATES_TAKEN.format(title=title))
        if (
            other.status == "pending"
            and other.guest_phone == inbound.phone
            and other.overlaps(stay.check_in, stay.check_out)
        ):
            text = texts.ALREADY_ASKED.format(ref=other.id, title=texts.shorten(home.title, 40))
            return _say(decision, inbound, text)
    draft["check_in"] = stay.check_in.isoformat()
    draft["check_out"] = stay.check_out.isoformat()
    _turn.got_dates()  # type: ignore[attr-defined]
    text = texts.ASK_MESSAGE.format(
        dates=texts.date_range(stay.check_in, stay.check_out),
        nights=stay.nights,
        night_word=texts.night_word(stay.nights),
        total=stay.nights * home.nightly_price,
    )
    _say(decision, inbound, text)


def _got_message(inbound: Inbound, world: World, decision: Decision) -> None:
    message = texts.shorten(inbound.body, texts.MESSAGE_CHARS)
    if not message:
        return _say(decision, inbound, texts.MESSAGE_EMPTY)
    decision.data["draft"]["message"] = message
    _turn.got_message()  # type: ignore[attr-defined]
    if _turn.state == "asking_name":
        return _say(decision, inbound, texts.ASK_NAME)
    _summarise(inbound, world, decision)


def _got_name(text: str, inbound: Inbound, decision: Decision) -> None:
    name = clean(" ".join(text.split())).strip(" .,!?\"'")
    if not name or len(name) > texts.NAME_CHARS or not any(c.isalpha() for c in name):
        return _say(decision, inbound, texts.NAME_BAD)
    decision.name = name
    _turn.got_name()  # type: ignore[attr-defined]
    _summarise(inbound, _turn.world, decision)


def _summarise(inbound: Inbound, world: World, decision: Decision) -> None:
    found = _draft_home(decision, world)
    if found is None:
        _turn.restart()  # type: ignore[attr-defined]
        return _say(decision, inbound, texts.HOME_GONE)
    draft, home = found
    check_in, check_out = (
        date.fromisoformat(draft["check_in"]),
        date.fromisoformat(draft["check_out"]),
    )
    nights = (check_out - check_in).days
    text = texts.SUMMARY.format(
        title=texts.shorten(home.title, 30),
        dates=texts.date_range(check_in, check_out),
        nights=nights,
        night_word=texts.night_word(nights),
        total=nights * home.nightly_price,
        name=_name_of(inbound.phone, world, decision),
        message=texts.shorten(draft["message"], 60),
    )
    _say(decision, inbound, text)


def _send_request(inbound: Inbound, world: World, rules: Rules, decision: Decision) -> None:
    found = _draft_home(decision, world)
    if found is None:
        _turn.restart()  # type: ignore[attr-defined]
        return _say(decision, inbound, texts.HOME_GONE)
    draft, home = found
    check_in, check_out = (
        date.fromisoformat(draft["check_in"]),
        date.fromisoformat(draft["check_out"]),
    )
    # The world may have moved since the dates were given: check again at the moment of sending.
    title = texts.shorten(home.title, 40)
    if check_in <= rules.today:
        _turn.restart()  # type: ignore[attr-defined]
        _turn.book()  # type: ignore[attr-defined]
        decision.data["draft"] = {"property_id": home.id}
        return _say(decision, inbound, texts.DATES_PASSED.format(title=title))
    for other in world.reservations_at(home.id):
        if other.status == "confirmed" and other.overlaps(check_in, check_out):
            _turn.restart()  # type: ignore[attr-defined]
            _turn.book()  # type: ignore[attr-defined]
            decision.data["draft"] = {"property_id": home.id}
            return _say(decision, inbound, texts.DATES_TAKEN.format(title=title))
    reservation = Reservation(
        id=world.next_reservation_id(),
        property_id=home.id,
        guest_phone=inbound.phone,
        check_in=check_in,
        check_out=check_out,
        message=draft["message"],
        status="pending",
        created_at=rules.now,
        updated_at=rules.now,
    )
    decision.new_reservation = reservation
    _turn.send()  # type: ignore[attr-defined]
    _say(decision, inbound, texts.SENT.format(ref=reservation.id, title=title))
    decision.notifications.append(
        Outgoing(
            home.host_phone,
            texts.NEW_REQUEST.format(
                ref=reservation.id,
                title=texts.shorten(home.title, 30),
                dates=texts.date_range(check_in, check_out),
                nights=reservation.nights,
                night_word=texts.night_word(reservation.nights),
                guest=_name_of(inbound.phone, world, decision),
                message=reservation.message,
            ),
            reservation_id=reservation.id,
        )
    )


def _name_of(phone: str, world: World, decision: Decision) -> str:
    if decision.name:
        return decision.name
    person = world.person(phone)
    return texts.shorten(person.name, texts.NAME_CHARS) if person and person.name else "a guest"


def _restart(inbound: Inbound, decision: Decision, text: str = texts.MENU) -> None:
    _turn.restart()  # type: ignore[attr-defined]
    decision.data.pop("draft", None)
    _say(decision, inbound, text)


# -- the guest's trips ----------------------------------------------------------------------


def _my_trips(inbound: Inbound, world: World, decision: Decision) -> None:
    items = []
    for reservation in sorted(
        world.reservations_of_guest(inbound.phone), key=lambda r: r.id, reverse=True
    )[:5]:
        home = world.property(reservation.property_id)
        if home is not None:
            items.append((reservation, home))
    if not items:
        return _say(decision, inbound, texts.NO_TRIPS)
    _say(decision, inbound, texts.trips(items))


def _withdraw(command: Command, inbound: Inbound, world: World, decision: Decision) -> None:
    ref = command.reference
    if ref is None:
        return _say(decision, inbound, texts.WITHDRAW_WHICH)
    reservation = world.reservation(ref)
    if reservation is None or reservation.guest_phone != inbound.phone:
        return _say(decision, inbound, texts.NOT_YOURS.format(ref=ref))
    if not lifecycle.can("withdraw", reservation):
        status = texts.STATUS_WORDS[reservation.status]
        return _say(decision, inbound, texts.NOT_PENDING.format(ref=ref, status=status))
    decision.changes.append((ref, lifecycle.next_status("withdraw", reservation)))
    _say(decision, inbound, texts.WITHDRAWN.format(ref=ref))
    home = world.property(reservation.property_id)
    if home is not None:
        text = texts.HOST_TOLD_WITHDRAWN.format(
            ref=ref,
            title=texts.shorten(home.title, 40),
            dates=texts.date_range(reservation.check_in, reservation.check_out),
        )
        decision.notifications.append(Outgoing(home.host_phone, text, reservation_id=ref))


# -- hosts ----------------------------------------------------------------------------------


def _pending_listing(pending: Sequence[Reservation], world: World) -> str:
    items = []
    for reservation in pending:
        home = world.property(reservation.property_id)
        guest = world.person(reservation.guest_phone)
        if home is not None:
            items.append((reservation, home, (guest.name if guest else None) or "a guest"))
    return texts.pending_items(items)


def _host_requests(inbound: Inbound, world: World, decision: Decision) -> None:
    if not world.is_host(inbound.phone):
        return _say(decision, inbound, texts.HOST_NOT_HOST)
    pending = world.pending_for_host(inbound.phone)
    if not pending:
        return _say(decision, inbound, texts.HOST_NONE_PENDING)
    _say(decision, inbound, texts.HOST_PENDING.format(items=_pending_listing(pending, world)))


def _host_answer(
    verb: str, command: Command, inbound: Inbound, world: World, decision: Decision
) -> None:
    if not world.is_host(inbound.phone):
        if command.word in ("yes", "y", "ok", "okay", "no", "n"):
            return _say(decision, inbound, texts.NOT_UNDERSTOOD)
        return _say(decision, inbound, texts.HOST_NOT_HOST)
    pending = world.pending_for_host(inbound.phone)
    ref = command.reference
    if ref is None:
        if not pending:
            return _say(decision, inbound, texts.HOST_NONE_PENDING)
        if len(pending) > 1:
            items = _pending_listing(pending, world)
            return _say(decision, inbound, texts.HOST_WHICH.format(count=len(pending), items=items))
        reservation = pending[0]
    else:
        found = world.reservation(ref)
        home = world.property(found.property_id) if found else None
        if found is None or home is None or home.host_phone != inbound.phone:
            return _say(decision, inbound, texts.HOST_UNKNOWN_REF.format(ref=ref))
        if not lifecycle.can("accept", found):
            status = texts.STATUS_WORDS[found.status]
            return _say(decision, inbound, texts.NOT_PENDING.format(ref=ref, status=status))
        reservation = found
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
            return _say(
                decision, inbound, texts.HOST_OVERLAP.format(ref=reservation.id, title=title)
            )
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
    _say(decision, inbound, text)
    decision.replies.append(
        Outgoing(reservation.guest_phone, guest_text, reservation_id=reservation.id)
    )


# -- helpers --------------------------------------------------------------------------------


def _say(decision: Decision, inbound: Inbound, text: str) -> None:
    decision.replies.append(Outgoing(inbound.phone, text))


def _silence_opted_out(
    decision: Decision, sender: str, sender_opted_out: bool, world: World
) -> None:
    """Nobody who opted out is sent anything: no TwiML reply, no REST message."""

    def opted_out(phone: str) -> bool:
        if phone == sender:
            return decision.opted_out if decision.opted_out is not None else sender_opted_out
        person = world.person(phone)
        return bool(person and person.opted_out)

    decision.replies = [r for r in decision.replies if not opted_out(r.to)]
    decision.notifications = [n for n in decision.notifications if not opted_out(n.to)]


def expire(reservation: Reservation, world: World) -> Decision | None:
    """The decision when a pending request has waited too long: it expires, the guest and the
    host are told. None if it can no longer expire."""
    if not lifecycle.can("expire", reservation):
        return None
    home = world.property(reservation.property_id)
    decision = Decision(state="", data={})
    decision.changes.append((reservation.id, lifecycle.next_status("expire", reservation)))
    title = texts.shorten(home.title, 40) if home else "the home"
    dates = texts.date_range(reservation.check_in, reservation.check_out)
    decision.notifications.append(
        Outgoing(
            reservation.guest_phone,
            texts.GUEST_EXPIRED.format(ref=reservation.id, title=title, dates=dates),
            reservation_id=reservation.id,
        )
    )
    if home is not None:
        decision.notifications.append(
            Outgoing(
                home.host_phone,
                texts.HOST_TOLD_EXPIRED.format(ref=reservation.id, title=title, dates=dates),
                reservation_id=reservation.id,
            )
        )
    _silence_opted_out(decision, "", False, world)
    return decision
