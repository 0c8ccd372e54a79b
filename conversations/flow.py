"""One turn of a conversation: from what a person texted to what the bot says and does.

    decision = decide(Inbound("+15550001111", "LIST"), conversation, world, rules)
    decision.replies, decision.notifications, decision.state, decision.changes

Nothing here sends, stores or waits: `decide` reads the world and returns a `Decision`, which the
bot performs and storage commits in one transaction. The conversation's states and the moves
between them are the `TRANSITIONS` below, run by one transitions machine shared by all turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import islice
from typing import Any, NamedTuple, Protocol

from transitions import Machine

from conversations import texts
from conversations.commands import Command, parse
from conversations.dates import DateProblem, Stay, parse_stay
from conversations.gsm7 import clean
from conversations.listing import PriceProblem, check_home, check_text, first_photo, read_price
from conversations.model import Conversation, Person, Property, Reservation
from conversations.reservations import lifecycle
from conversations.search import HomeSearch

PAGE_SIZE = 5

STATES = [
    "start",  # nothing under way
    "browsing",  # a list of homes was shown: numbers pick from it
    "viewing",  # one home's details were shown: BOOK asks for it
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
BOOKING_STATES = ("asking_dates", "asking_message", "asking_name", "confirming")
LISTING_STATES = (
    "listing_title",
    "listing_place",
    "listing_description",
    "listing_price",
    "listing_photo",
    "listing_confirming",
)
# The listing steps that ask for a text, what each stores, and the move to the next step.
_TEXT_STEPS = {
    "listing_title": ("title", "got_title", texts.LISTING_PLACE),
    "listing_place": ("place", "got_place", texts.LISTING_DESCRIPTION),
    "listing_description": ("description", "got_description", texts.LISTING_PRICE),
}
SAVE_WORDS = frozenset({"save", "yes", "y", "ok", "okay", "confirm"})
# While the summary is shown these answer it (YES sends, NO drops), not a host's request.
CONFIRM_WORDS = frozenset({"yes", "y", "ok", "okay", "confirm", "no", "n"})


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
    new_home: Property | None = None  # a home the sender listed (its id is given on storing)
    home_changes: list[Property] = field(default_factory=list)  # the sender's homes, as changed
    reminded: list[int] = field(default_factory=list)  # requests whose host was just reminded


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
    for part in ("draft", "listing"):  # the parts steps change in place
        if isinstance(data.get(part), dict):
            data[part] = dict(data[part])
    decision = Decision(state=state, data=data)
    if _turn.state != state:
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
    if decision.state not in LISTING_STATES:
        decision.data.pop("listing", None)
    if decision.state != "replacing_photo":
        decision.data.pop("photo_for", None)
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
    # HOST in the middle of a booking keeps the half-made request rather than losing it to one
    # word: the guest is told to finish it or drop it with MENU first. (While the note is asked
    # for, only HOST alone is this; "host, we are two" is the note.)
    if (
        state in BOOKING_STATES
        and verb == "host"
        and (state != "asking_message" or not command.argument)
    ):
        return _say(decision, inbound, texts.HOST_WHILE_BOOKING)
    if state in LISTING_STATES and _listing_step(state, command, inbound, world, decision):
        return None
    if state == "replacing_photo" and verb in ("text", "empty"):
        return _photo_arrived(inbound, world, decision)
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
        return _list(command.argument, inbound, world, rules, decision)
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
    if verb == "host":
        return _start_listing(inbound, decision)
    if verb == "save":
        return _say(decision, inbound, texts.NOTHING_TO_SAVE)
    if verb == "homes":
        return _homes(inbound, world, decision)
    if verb in ("pause", "resume"):
        return _pause_or_resume(verb, command, inbound, world, decision)
    if verb == "price":
        return _price(command, inbound, world, decision)
    if verb == "photo":
        return _photo(command, inbound, world, decision)
    if verb == "empty":
        return _say(decision, inbound, texts.EMPTY)
    if conversation.version == 0 and state == "start":
        return _say(decision, inbound, texts.WELCOME)
    if state == "confirming":
        return _say(decision, inbound, texts.CONFIRM_WHAT)
    if state == "listing_confirming":
        return _say(decision, inbound, texts.LISTING_CONFIRM_WHAT)
    return _say(decision, inbound, texts.NOT_UNDERSTOOD)


# -- browsing -------------------------------------------------------------------------------


def _search(words: str, world: World) -> list[Property]:
    terms = clean(words).casefold().split()
    if not terms:
        return list(world.listed())
    return world.search_index().matching(terms)


# Words that join a search to its dates ("cabin for Dec 3-7"): not search words.
_JOINERS = frozenset({"for", "from", "on", "in", "at", "between", "during"})


def _words_and_dates(argument: str, rules: Rules) -> tuple[str, Stay | DateProblem | None]:
    """Split LIST's argument into search words and a trailing date phrase, if it ends in one.

    The longest ending that reads as a stay wins ("beach dec 3-7" -> "beach", Dec 3-7). An
    ending that looks like dates but can't be booked ("dec 7-3") is a question back, but only
    when it has a digit: "LIST sun" searches for "sun", not for a stay from Sunday.
    """
    words = argument.split()
    problem: tuple[int, DateProblem] | None = None
    for start in range(len(words)):
        ending = " ".join(words[start:])
        found = parse_stay(ending, rules.today, rules.max_nights)
        if isinstance(found, Stay):
            # "beach, dec 3-7": the comma went with the words, and is not one to search for
            head = [w for w in (word.strip(",;:") for word in words[:start]) if w]
            while head and head[-1] in _JOINERS:
                head.pop()
            return " ".join(head), found
        if found is not None and problem is None and any(c.isdigit() for c in ending):
            problem = (start, found)
    if problem is not None:
        return " ".join(words[: problem[0]]), problem[1]
    return argument, None


def _free(homes: list[Property], stay: tuple[date, date], world: World) -> list[Property]:
    """The homes no confirmed stay keeps busy on any night of `stay`."""
    return [
        home
        for home in homes
        if not any(
            other.status == "confirmed" and other.overlaps(*stay)
            for other in world.reservations_at(home.id)
        )
    ]


def _list(words: str, inbound: Inbound, world: World, rules: Rules, decision: Decision) -> None:
    words, stay = _words_and_dates(words, rules)
    if isinstance(stay, DateProblem):
        return _say(decision, inbound, texts.LIST_DATES_PROBLEM.format(reason=stay.reason))
    homes = _search(words, world)
    free = (stay.check_in, stay.check_out) if stay else None
    if free:
        homes = _free(homes, free, world)
    if not homes:
        return _say(decision, inbound, _nothing_found(words, free))
    decision.data["query"] = words
    decision.data["shown"] = []
    decision.data.pop("viewing", None)
    if free:
        decision.data["free"] = [free[0].isoformat(), free[1].isoformat()]
    else:
        decision.data.pop("free", None)
    _turn.browse()  # type: ignore[attr-defined]
    _page(homes, inbound, decision, free)


def _nothing_found(words: str, free: tuple[date, date] | None) -> str:
    shown = texts.shorten(words, 30)
    if free:
        dates = texts.date_range(*free)
        if words:
            return texts.NO_MATCH_FREE.format(words=shown, dates=dates)
        return texts.NONE_FREE.format(dates=dates)
    return texts.NO_MATCH.format(words=shown) if words else texts.NO_HOMES


def _more(inbound: Inbound, world: World, decision: Decision) -> None:
    if "query" not in decision.data:
        return _say(decision, inbound, texts.NO_LIST)
    homes = _search(decision.data["query"], world)
    free = _stored_stay(decision.data.get("free"))
    if free:  # the same dates as the first page
        homes = _free(homes, free, world)
    if len(decision.data["shown"]) >= len(homes):
        return _say(decision, inbound, texts.NO_MORE)
    _turn.browse()  # type: ignore[attr-defined]
    _page(homes, inbound, decision, free)


def _stored_stay(value: object) -> tuple[date, date] | None:
    if isinstance(value, list) and len(value) == 2:
        try:
            return date.fromisoformat(value[0]), date.fromisoformat(value[1])
        except (TypeError, ValueError):
            return None
    return None


def _page(
    homes: list[Property],
    inbound: Inbound,
    decision: Decision,
    free: tuple[date, date] | None = None,
) -> None:
    shown: list[int] = decision.data["shown"]
    seen = set(shown)
    page = list(islice((home for home in homes if home.id not in seen), PAGE_SIZE))
    first = len(shown) + 1
    decision.data["shown"] = shown + [home.id for home in page]
    has_more = len(decision.data["shown"]) < len(homes)
    _say(decision, inbound, texts.list_page(page, first, len(homes), has_more, free))


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


# -- hosts listing a home: HOST, a question a step, SAVE -------------------------------------


def _start_listing(inbound: Inbound, decision: Decision) -> None:
    decision.data["listing"] = {}
    _turn.host()  # type: ignore[attr-defined]
    _say(decision, inbound, texts.LISTING_TITLE)


def _listing_step(
    state: str, command: Command, inbound: Inbound, world: World, decision: Decision
) -> bool:
    """Answer one step of listing a home; False when the message is a command instead.

    As in a booking, the words are the answer to the question asked; MENU, HELP, HOST (start
    again) and a host's ACCEPT/REJECT with a reference always mean themselves.
    """
    verb = command.verb
    if verb in ("menu", "help", "host") or (
        verb in ("accept", "reject") and command.reference is not None
    ):
        return False
    listing = decision.data.get("listing")
    if not isinstance(listing, dict):  # a state without its listing: start over
        _start_listing(inbound, decision)
        return True
    if state == "listing_confirming":
        if command.argument:
            return False
        if verb == "save" or command.word in SAVE_WORDS:
            _save_listing(listing, inbound, world, decision)
            return True
        if command.word in ("no", "n"):
            _restart(inbound, decision)
            return True
        return False
    if state == "listing_photo":
        _listing_photo(command, listing, inbound, decision)
        return True
    if state == "listing_price":
        price = read_price(inbound.body)
        if isinstance(price, PriceProblem):
            _say(decision, inbound, texts.LISTING_FIX.format(problem=price.reason))
            return True
        listing["price"] = price
        _turn.got_price()  # type: ignore[attr-defined]
        _say(decision, inbound, texts.LISTING_PHOTO)
        return True
    label, trigger, next_question = _TEXT_STEPS[state]
    value = " ".join(inbound.body.split())
    problem = check_text(label, value)
    if problem:
        _say(decision, inbound, texts.LISTING_FIX.format(problem=problem))
        return True
    listing[label] = value
    getattr(_turn, trigger)()
    _say(decision, inbound, next_question)
    return True


def _listing_photo(
    command: Command, listing: dict[str, Any], inbound: Inbound, decision: Decision
) -> None:
    photo = first_photo(inbound.media)
    if photo is None and command.verb == "skip" and not command.argument:
        listing["image_url"] = None
    elif photo is None:
        text = texts.LISTING_NOT_A_PHOTO if inbound.media else texts.LISTING_NO_PHOTO
        return _say(decision, inbound, text)
    else:
        listing["image_url"] = photo
    _turn.got_photo()  # type: ignore[attr-defined]
    _listing_summary(listing, inbound, decision)


def _listing_summary(listing: dict[str, Any], inbound: Inbound, decision: Decision) -> None:
    photo = listing.get("image_url")
    text = texts.LISTING_SUMMARY.format(
        title=texts.shorten(str(listing.get("title", "")), 40),
        place=texts.shorten(str(listing.get("place", "")), 30),
        price=listing.get("price"),
        photo=texts.LISTING_WITH_PHOTO if photo else texts.LISTING_WITHOUT_PHOTO,
        description=texts.shorten(str(listing.get("description", "")), texts.DESCRIPTION_CHARS),
    )
    # The host sees the photo back, as guests will see it.
    decision.replies.append(Outgoing(inbound.phone, text, (photo,) if photo else ()))


def _save_listing(
    listing: dict[str, Any], inbound: Inbound, world: World, decision: Decision
) -> None:
    title, place, description = (
        listing.get("title"),
        listing.get("place"),
        listing.get("description"),
    )
    price, image_url = listing.get("price"), listing.get("image_url")
    if not (
        isinstance(title, str)
        and isinstance(place, str)
        and isinstance(description, str)
        and isinstance(price, int)
        and (image_url is None or isinstance(image_url, str))
    ):
        return _restart(inbound, decision, texts.LISTING_STALE.format(problems="a step is missing"))
    problems = check_home(
        title=title, place=place, description=description, price=price, image_url=image_url
    )
    if problems:
        return _restart(inbound, decision, texts.LISTING_STALE.format(problems="; ".join(problems)))
    decision.new_home = Property(
        0, inbound.phone, title, place, description, price, image_url, active=True
    )
    _turn.save()  # type: ignore[attr-defined]
    number = len(world.homes_of(inbound.phone)) + 1
    _say(decision, inbound, texts.LISTED.format(title=texts.shorten(title, 40), n=number))


# -- hosts managing their homes: HOMES, PAUSE, RESUME, PRICE, PHOTO ---------------------------
# A host's homes are numbered 1..n in the order they were listed (by id), as HOMES shows them.


def _homes(inbound: Inbound, world: World, decision: Decision) -> None:
    homes = world.homes_of(inbound.phone)
    if not homes:
        return _say(decision, inbound, texts.NO_HOMES_OF_YOURS)
    _say(decision, inbound, texts.host_homes(homes))


def _own_home(
    word: str, argument: str, inbound: Inbound, world: World, decision: Decision, example: str = ""
) -> tuple[int, Property] | None:
    """The sender's home numbered by the first word of `argument`, or None (and why, said)."""
    homes = world.homes_of(inbound.phone)
    if not homes:
        _say(decision, inbound, texts.NO_HOMES_OF_YOURS)
        return None
    first = argument.split(maxsplit=1)[0] if argument else ""
    number = Command(word, first).reference
    if number is None:
        _say(decision, inbound, texts.WHICH_HOME.format(command=word.upper(), example=example))
        return None
    if not 1 <= number <= len(homes):
        _say(decision, inbound, texts.NOT_YOUR_HOME.format(n=number, last=len(homes)))
        return None
    return number, homes[number - 1]


def _pause_or_resume(
    verb: str, command: Command, inbound: Inbound, world: World, decision: Decision
) -> None:
    found = _own_home(verb, command.argument, inbound, world, decision)
    if found is None:
        return
    number, home = found
    title = texts.shorten(home.title, 40)
    # Pausing only hides the home: its pending requests stay with the host to answer.
    if verb == "pause":
        if not home.active:
            return _say(decision, inbound, texts.ALREADY_PAUSED.format(title=title, n=number))
        decision.home_changes.append(replace(home, active=False))
        return _say(decision, inbound, texts.PAUSED.format(title=title, n=number))
    if home.active:
        return _say(decision, inbound, texts.ALREADY_LIVE.format(title=title, n=number))
    decision.home_changes.append(replace(home, active=True))
    _say(decision, inbound, texts.RESUMED.format(title=title, n=number))


def _price(command: Command, inbound: Inbound, world: World, decision: Decision) -> None:
    found = _own_home("price", command.argument, inbound, world, decision, " 150")
    if found is None:
        return
    number, home = found
    parts = command.argument.split(maxsplit=1)
    price = read_price(parts[1] if len(parts) == 2 else "")
    if isinstance(price, PriceProblem):
        return _say(decision, inbound, texts.PRICE_FIX.format(problem=price.reason, n=number))
    # Requests already sent keep what was agreed: only the price of new requests changes.
    if price != home.nightly_price:
        decision.home_changes.append(replace(home, nightly_price=price))
    text = texts.PRICE_SET.format(title=texts.shorten(home.title, 40), price=price)
    _say(decision, inbound, text)


def _photo(command: Command, inbound: Inbound, world: World, decision: Decision) -> None:
    found = _own_home(
        "photo", command.argument, inbound, world, decision, " with the photo attached"
    )
    if found is None:
        return
    _, home = found
    photo = first_photo(inbound.media)
    title = texts.shorten(home.title, 40)
    if photo is not None:
        return _new_photo(home, photo, inbound, decision)
    # No photo came with it: the next picture the host sends is the new photo.
    decision.data["photo_for"] = home.id
    _turn.ask_photo()  # type: ignore[attr-defined]
    text = texts.PHOTO_NOT_A_PHOTO if inbound.media else texts.PHOTO_ASK
    _say(decision, inbound, text.format(title=title))


def _photo_arrived(inbound: Inbound, world: World, decision: Decision) -> None:
    home_id = decision.data.get("photo_for")
    home = world.property(home_id) if isinstance(home_id, int) else None
    if home is None or home.host_phone != inbound.phone:
        return _restart(inbound, decision, texts.NO_HOMES_OF_YOURS)
    photo = first_photo(inbound.media)
    title = texts.shorten(home.title, 40)
    if photo is None:
        text = texts.PHOTO_NOT_A_PHOTO if inbound.media else texts.PHOTO_STILL_WAITING
        return _say(decision, inbound, text.format(title=title))
    _new_photo(home, photo, inbound, decision)


def _new_photo(home: Property, photo: str, inbound: Inbound, decision: Decision) -> None:
    decision.home_changes.append(replace(home, image_url=photo))
    if _turn.state == "replacing_photo":
        _turn.restart()  # type: ignore[attr-defined]
    text = texts.PHOTO_SET.format(title=texts.shorten(home.title, 40))
    decision.replies.append(Outgoing(inbound.phone, text, (photo,)))


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


def remind(reservation: Reservation, world: World) -> Decision | None:
    """The decision when a pending request has waited half its time: the host is reminded,
    once. None if it is no longer pending or the host was reminded already."""
    if reservation.status != "pending" or reservation.reminded_at is not None:
        return None
    decision = Decision(state="", data={})
    decision.reminded.append(reservation.id)
    home = world.property(reservation.property_id)
    if home is not None:
        guest = world.person(reservation.guest_phone)
        text = texts.REMINDER.format(
            ref=reservation.id,
            title=texts.shorten(home.title, 30),
            dates=texts.date_range(reservation.check_in, reservation.check_out),
            guest=texts.shorten(guest.name, 20) if guest and guest.name else "a guest",
        )
        decision.notifications.append(
            Outgoing(home.host_phone, text, reservation_id=reservation.id)
        )
    _silence_opted_out(decision, "", False, world)
    return decision
