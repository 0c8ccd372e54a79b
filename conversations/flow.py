"""One turn of a conversation: from what a person texted to what the bot says and does.

    decision = decide(Inbound("+15550001111", "LIST"), conversation, world, rules)
    decision.replies, decision.notifications, decision.state, decision.changes

Nothing here sends, stores or waits: `decide` reads the world and returns a `Decision`, which the
bot performs and storage commits in one transaction. A turn is understood first
(`conversations.understand`: an intent with its slots, read in the conversation's context), then
routed by ROUTES below, the whole conversation in one table: (state, intent) -> the handler of
its role (browsing, booking, answering, hosting, talk). The states and their moves are
`conversations.turn`'s transitions machine, shared by all turns.
"""

from __future__ import annotations

from collections.abc import Callable

from conversations import answering, booking, browsing, hosting, talk, texts
from conversations import understand as u
from conversations.commands import parse
from conversations.dates import DateProblem, Stay
from conversations.model import Conversation, Reservation
from conversations.reservations import lifecycle
from conversations.turn import (
    BOOKING_STATES,
    LISTING_STATES,
    STATES,
    TRANSITIONS,
    Decision,
    Inbound,
    Outgoing,
    Rules,
    Turn,
    World,
    begin,
)

__all__ = [
    "BOOKING_STATES",
    "LISTING_STATES",
    "PAGE_SIZE",
    "ROUTES",
    "STATES",
    "TRANSITIONS",
    "Decision",
    "Inbound",
    "Outgoing",
    "Rules",
    "World",
    "decide",
    "expire",
    "remind",
]

PAGE_SIZE = browsing.PAGE_SIZE

Handler = Callable[[Turn], None]
ANY, FORM, LISTING = "*", "form", "listing"  # any state; the booking steps; the listing steps

# (state or group, intent) -> handler. The most particular entry wins: the state, its group
# (FORM, LISTING), then ANY.
ROUTES: dict[tuple[str, str], Handler] = {
    # Anywhere.
    (ANY, u.EMPTY): talk.empty,
    (ANY, u.HELP): talk.help,
    (ANY, u.MENU): talk.menu,
    (ANY, u.GREET): talk.greet,
    (ANY, u.THANKS): talk.thanks,
    (ANY, u.CHAT): talk.chat,
    (ANY, u.TEXT): talk.not_understood,
    (ANY, u.YES): talk.not_understood,  # a guest's yes to nothing asked
    (ANY, u.NO): talk.not_understood,
    (ANY, u.SKIP): talk.not_understood,
    # Guests finding a home.
    (ANY, u.SEARCH): browsing.search,
    (ANY, u.DATES): browsing.dates_alone,
    (ANY, u.MORE): browsing.more,
    (ANY, u.PICK): browsing.pick,
    (ANY, u.ASK): browsing.question,
    # Guests booking, and their trips.
    (ANY, u.BOOK): booking.book,
    (ANY, u.NIGHTS): booking.book,  # "for 3 nights" while viewing: book it, ask the day
    (ANY, u.SEND): booking.nothing_to_send,
    (ANY, u.MY): booking.trips,
    (ANY, u.WITHDRAW): booking.withdraw,
    # The booking form: every step takes any slot; the rest repeats the step's question.
    (FORM, u.DATES): booking.got_dates,
    (FORM, u.NIGHTS): booking.got_nights,
    (FORM, u.ASK): booking.question,
    (FORM, u.HOST): booking.host_while_booking,
    (FORM, u.GREET): booking.greet,
    (FORM, u.THANKS): booking.thanks,
    (FORM, u.CHAT): booking.repeat,
    (FORM, u.TEXT): booking.repeat,
    (FORM, u.YES): booking.repeat,
    (FORM, u.NO): booking.repeat,
    (FORM, u.SKIP): booking.repeat,
    ("asking_message", u.TEXT): booking.got_note,
    ("asking_message", u.EMPTY): booking.got_note,
    ("asking_message", u.SKIP): booking.no_note,
    ("asking_name", u.TEXT): booking.got_name,
    ("confirming", u.YES): booking.send,
    ("confirming", u.SEND): booking.send,
    ("confirming", u.NO): booking.drop,
    # Hosts answering requests.
    (ANY, u.REQUESTS): answering.requests,
    (ANY, u.ACCEPT): answering.accept,
    (ANY, u.REJECT): answering.reject,
    (ANY, u.UNSURE): answering.undecided,
    # Hosts listing and managing homes.
    (ANY, u.HOST): hosting.start_listing,
    (ANY, u.SAVE): hosting.nothing_to_save,
    (ANY, u.HOMES): hosting.homes,
    (ANY, u.PAUSE): hosting.pause,
    (ANY, u.RESUME): hosting.resume,
    (ANY, u.PRICE): hosting.price,
    (ANY, u.PHOTO): hosting.photo,
    (LISTING, u.TEXT): hosting.listing_step,
    ("replacing_photo", u.TEXT): hosting.photo_arrived,
}


def route(state: str, kind: str) -> Handler:
    group = FORM if state in BOOKING_STATES else LISTING if state in LISTING_STATES else ANY
    return ROUTES.get((state, kind)) or ROUTES.get((group, kind)) or ROUTES[(ANY, kind)]


def decide(inbound: Inbound, conversation: Conversation, world: World, rules: Rules) -> Decision:
    """Decide one turn. Pure: reads `world` and `conversation`, changes neither."""
    t = begin(inbound, conversation, world, rules)
    decision = t.decision
    person = world.person(inbound.phone)
    command = parse(inbound.body)
    opted_out = bool(person and person.opted_out)

    # Twilio's keywords stay Twilio's: only a whole-message opt-out word opts out, and, like
    # Twilio, only the keyword alone opts in ("yes please" is not an opt-in).
    opt_in = command.verb == "opt_in" or (command.word == "yes" and not command.argument)
    if command.verb == "opt_out":
        decision.opted_out = True
    elif opted_out and opt_in:
        decision.opted_out = False
        if command.verb == "opt_in":
            t.restart(texts.WELCOME_BACK)
        else:  # YES opts back in and keeps its meaning in the conversation
            _respond(t)
    elif command.verb == "opt_in":
        t.restart(texts.MENU)
    else:
        _respond(t)

    decision.state = t.state
    if decision.state not in BOOKING_STATES:
        decision.data.pop("draft", None)
    if decision.state not in LISTING_STATES:
        decision.data.pop("listing", None)
    if decision.state != "replacing_photo":
        decision.data.pop("photo_for", None)
    if decision.state not in ("browsing", "viewing"):
        decision.data.pop("asked", None)
    _silence_opted_out(decision, inbound.phone, opted_out, world)
    return decision


def _respond(t: Turn) -> None:
    """Understand the text in its context, then do what ROUTES says."""
    data, state = t.data, t.state
    just_decided = bool(data.pop("decided", False))
    is_host = t.world.is_host(t.phone)
    month = data.get("month")
    context = u.Context(
        state=state,
        today=t.rules.today,
        max_nights=t.rules.max_nights,
        same_day=t.rules.same_day,
        month=month if isinstance(month, int) else None,
        viewing=state == "viewing",
        listed=state in ("browsing", "viewing") and bool(data.get("shown")),
        host=is_host,
        pending=len(t.world.pending_for_host(t.phone)) if is_host else 0,
        just_decided=just_decided,
    )
    intent = u.understand(t.inbound.body, context)
    t.intent = intent
    route(state, intent.kind)(t)
    # "the 3rd to the 7th" later means the month named now
    stay = intent.stay
    if isinstance(stay, Stay):
        data["month"] = stay.check_in.month
    elif isinstance(stay, DateProblem) and stay.month is not None:
        data["month"] = stay.month


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
