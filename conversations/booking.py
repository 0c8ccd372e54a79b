"""Guests booking a home, and their trips: the booking form (dates, a note for the host, the
name the host sees, the summary, SEND), MY, WITHDRAW.

The form is filled, not walked: each step takes any slot ("book the cabin Dec 3-7" fills the
home and the dates at once; new dates at the note step change the dates; "make it 3 nights"
changes the nights) and `advance` then asks for the first thing still missing. Nothing given
is lost to a text the bot didn't get: the step's question is asked again, with an example.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from conversations import browsing, texts
from conversations.dates import DateProblem, Stay, parse_stay
from conversations.gsm7 import clean
from conversations.model import Property, Reservation
from conversations.reservations import lifecycle
from conversations.turn import BOOKING_STATES, Outgoing, Turn

# -- starting: which home -------------------------------------------------------------------


def book(t: Turn) -> None:
    """BOOK, "book it", "book 3", "book the cabin from the 3rd to the 7th of May"."""
    intent = t.intent
    home = _home_to_book(t)
    if home is None:
        return
    if home.host_phone == t.phone:
        return t.say(texts.OWN_HOME)
    old = t.data.get("draft") if t.state in BOOKING_STATES else None
    draft: dict[str, Any] = {"property_id": home.id}
    if isinstance(old, dict):  # another home mid-form: what was given stays
        draft.update({k: v for k, v in old.items() if k != "property_id"})
    t.data["viewing"] = home.id
    t.data["draft"] = draft
    if t.state not in BOOKING_STATES:
        t.move("book")
    stay = intent.stay if intent.stay is not None else _dates_asked_about(t, home)
    if intent.nights is not None and not isinstance(stay, Stay):
        draft["nights"] = intent.nights
    if isinstance(stay, DateProblem):
        t.move("ask_dates")
        title = texts.shorten(home.title, 40)
        return t.say(texts.BOOKING_PROBLEM.format(title=title, reason=stay.reason))
    if isinstance(stay, Stay):
        if not _set_dates(t, draft, home, stay):
            return
    elif "check_in" in draft and not _still_free(t, draft, home):
        return
    advance(t)


def _home_to_book(t: Turn) -> Property | None:
    intent = t.intent
    if intent.number is not None:
        return browsing.picked(t, intent.number)
    if intent.words:
        found = browsing.named(t, intent.words)
        if isinstance(found, Property):
            return found
        if found:  # several homes answer to those words: show them
            browsing.show_list(t, intent.words, None)
            return None
        if t.data.get("viewing") is None and not t.data.get("draft"):
            t.say(texts.WHICH_NAMED.format(words=texts.shorten(intent.words, 30)))
            return None
    # The home being booked or viewed, never a position in a list since redrawn.
    draft = t.data.get("draft")
    home_id = draft.get("property_id") if isinstance(draft, dict) else t.data.get("viewing")
    if home_id is None:
        t.say(texts.BOOK_WHICH)
        return None
    home = t.world.property(home_id)
    if home is None or not home.active:
        t.say(texts.HOME_GONE)
        return None
    return home


def _dates_asked_about(t: Turn, home: Property) -> Stay | None:
    """The dates the guest last asked about for this home, or listed homes free on."""
    asked = t.data.get("asked")
    if isinstance(asked, list) and len(asked) == 3 and asked[0] == home.id:
        stay = browsing.stored_stay(asked[1:])
    else:
        stay = browsing.stored_stay(t.data.get("free"))
    if stay is None or stay[0] < t.rules.today:
        return None
    return Stay(*stay)


# -- the form -------------------------------------------------------------------------------


def advance(t: Turn, lead: str = "") -> None:
    """Go to the first step still missing and ask it: dates, the note, the name, the summary."""
    found = _draft_home(t)
    if found is None:
        t.move("restart")
        return t.say(texts.HOME_GONE)
    draft, home = found
    title = texts.shorten(home.title, 40)
    if "check_in" not in draft:
        t.move("ask_dates")
        nights = draft.get("nights")
        if isinstance(nights, int):
            text = texts.ASK_START.format(
                title=title, nights=nights, night_word=texts.night_word(nights)
            )
            return t.say(lead + text)
        return t.say(lead + texts.ASK_DATES.format(title=title))
    check_in, check_out = _dates(draft)
    nights = (check_out - check_in).days
    dates = texts.date_range(check_in, check_out)
    if "message" not in draft:
        t.move("ask_note")
        return t.say(
            texts.ASK_MESSAGE.format(
                dates=dates,
                nights=nights,
                night_word=texts.night_word(nights),
                total=nights * home.nightly_price,
            )
        )
    if not t.knows_name():
        t.move("ask_name")
        if lead:
            total = nights * home.nightly_price
            return t.say(
                texts.DATES_THEN_NAME.format(
                    dates=dates, nights=nights, night_word=texts.night_word(nights), total=total
                )
            )
        return t.say(texts.ASK_NAME)
    t.move("summarise")
    t.say(_summary(t, draft, home))


def got_dates(t: Turn) -> None:
    """Dates at any step: the dates of the request (the step asked, or they changed)."""
    found = _draft_home(t)
    if found is None:
        t.move("restart")
        return t.say(texts.HOME_GONE)
    draft, home = found
    stay = t.intent.stay
    nights = draft.get("nights")
    if isinstance(stay, DateProblem) and isinstance(nights, int):
        # "Dec 3" after "book it for 3 nights": the nights given before
        rules = t.rules
        again = parse_stay(
            f"{t.inbound.body} for {nights} nights",
            rules.today,
            rules.max_nights,
            same_day=rules.same_day,
        )
        stay = again if isinstance(again, Stay) else stay
    if isinstance(stay, DateProblem):
        return t.say(stay.reason)
    if stay is None:
        return repeat(t)
    if _set_dates(t, draft, home, stay):
        advance(t, lead=texts.CHANGED_LEAD if t.state == "asking_name" else "")


def got_nights(t: Turn) -> None:
    """ "make it 3 nights": the same check-in, that many nights; without a check-in yet, the
    nights are kept and the day asked."""
    found = _draft_home(t)
    if found is None:
        t.move("restart")
        return t.say(texts.HOME_GONE)
    draft, home = found
    nights = t.intent.nights
    assert nights is not None
    if not 1 <= nights <= t.rules.max_nights:
        return t.say(texts.NIGHTS_RANGE.format(max_nights=t.rules.max_nights))
    if "check_in" not in draft:
        draft["nights"] = nights
        return advance(t)
    check_in = date.fromisoformat(draft["check_in"])
    if _set_dates(t, draft, home, Stay(check_in, check_in + timedelta(days=nights))):
        advance(t, lead=texts.CHANGED_LEAD if t.state == "asking_name" else "")


def _set_dates(t: Turn, draft: dict[str, Any], home: Property, stay: Stay) -> bool:
    """Put the stay in the draft if the home can take it; else say why (the step stays)."""
    title = texts.shorten(home.title, 40)
    for other in t.world.reservations_at(home.id):
        if other.status == "confirmed" and other.overlaps(stay.check_in, stay.check_out):
            t.say(texts.DATES_TAKEN.format(title=title))
            return False
        if (
            other.status == "pending"
            and other.guest_phone == t.phone
            and other.overlaps(stay.check_in, stay.check_out)
        ):
            t.say(texts.ALREADY_ASKED.format(ref=other.id, title=title))
            return False
    draft["check_in"] = stay.check_in.isoformat()
    draft["check_out"] = stay.check_out.isoformat()
    draft.pop("nights", None)
    return True


def _still_free(t: Turn, draft: dict[str, Any], home: Property) -> bool:
    """Dates kept from another home: still good at this one? If not, they are dropped and said."""
    check_in, check_out = _dates(draft)
    if _set_dates(t, draft, home, Stay(check_in, check_out)):
        return True
    draft.pop("check_in", None)
    draft.pop("check_out", None)
    t.move("ask_dates")
    return False


def got_note(t: Turn) -> None:
    message = texts.shorten(t.inbound.body, texts.MESSAGE_CHARS)
    if not message:
        return t.say(texts.MESSAGE_EMPTY)
    t.data["draft"]["message"] = message
    advance(t)


def no_note(t: Turn) -> None:
    """SKIP, "no", "none" at the note step: the request goes without a note."""
    t.data["draft"]["message"] = ""
    advance(t)


def got_name(t: Turn) -> None:
    name = clean(" ".join(t.intent.text.split())).strip(" .,!?\"'")
    if t.intent.question or len(name.split()) > 4:
        return t.say(texts.NAME_AGAIN)
    if not name or len(name) > texts.NAME_CHARS or not any(c.isalpha() for c in name):
        return t.say(texts.NAME_BAD)
    t.decision.name = name
    advance(t)


def repeat(t: Turn, lead: str = "") -> None:
    """The step's question again, with an example: nothing given so far is lost."""
    step = t.state
    if step == "asking_dates":
        found = _draft_home(t)
        if found is None:
            return advance(t)
        if lead:
            return advance(t, lead)
        return t.say(texts.DATES_NOT_READ)
    if step == "asking_message":
        return t.say(lead + texts.NOTE_AGAIN if lead else texts.NOTE_AGAIN)
    if step == "asking_name":
        return t.say(lead + texts.NAME_AGAIN)
    t.say(lead + texts.CONFIRM_WHAT)


def greet(t: Turn) -> None:
    repeat(t, lead=texts.HI_LEAD)


def thanks(t: Turn) -> None:
    repeat(t, lead=texts.THANKED_LEAD)


def question(t: Turn) -> None:
    """A question about the home being booked: the fact, then the step's question."""
    found = _draft_home(t)
    if found is None:
        return advance(t)
    _, home = found
    fact, _ = browsing.answer(t, home)
    media = (home.image_url,) if t.intent.topic == "photo" and home.image_url else ()
    t.say(f"{fact} {texts.THEN_STEP[t.state]}", media)


def host_while_booking(t: Turn) -> None:
    # HOST in the middle of a booking keeps the half-made request rather than losing it to one
    # word: the guest is told to finish it or drop it with MENU first.
    t.say(texts.HOST_WHILE_BOOKING)


def drop(t: Turn) -> None:
    t.restart()


def _draft_home(t: Turn) -> tuple[dict[str, Any], Property] | None:
    draft = t.data.get("draft")
    home = t.world.property(draft["property_id"]) if isinstance(draft, dict) else None
    if not isinstance(draft, dict) or home is None or not home.active:
        return None
    return draft, home


def _dates(draft: dict[str, Any]) -> tuple[date, date]:
    return date.fromisoformat(draft["check_in"]), date.fromisoformat(draft["check_out"])


def _summary(t: Turn, draft: dict[str, Any], home: Property) -> str:
    check_in, check_out = _dates(draft)
    nights = (check_out - check_in).days
    values = {
        "title": texts.shorten(home.title, 30),
        "dates": texts.date_range(check_in, check_out),
        "nights": nights,
        "night_word": texts.night_word(nights),
        "total": nights * home.nightly_price,
        "name": t.name(),
        "message": texts.shorten(draft["message"], 60),
    }
    return (texts.SUMMARY if draft["message"] else texts.SUMMARY_NO_NOTE).format(**values)


# -- sending --------------------------------------------------------------------------------


def send(t: Turn) -> None:
    found = _draft_home(t)
    if found is None or "check_in" not in found[0] or "message" not in found[0]:
        t.move("restart")
        return t.say(texts.HOME_GONE)
    draft, home = found
    check_in, check_out = _dates(draft)
    # The world may have moved since the dates were given: check again at the moment of sending.
    title = texts.shorten(home.title, 40)
    first_day = t.rules.today if t.rules.same_day else t.rules.today + timedelta(days=1)
    if check_in < first_day:
        _ask_dates_again(t, home)
        return t.say(texts.DATES_PASSED.format(title=title))
    for other in t.world.reservations_at(home.id):
        if other.status == "confirmed" and other.overlaps(check_in, check_out):
            _ask_dates_again(t, home)
            return t.say(texts.DATES_TAKEN.format(title=title))
    now = t.rules.now
    reservation = Reservation(
        id=t.world.next_reservation_id(),
        property_id=home.id,
        guest_phone=t.phone,
        check_in=check_in,
        check_out=check_out,
        message=draft["message"],
        status="pending",
        created_at=now,
        updated_at=now,
    )
    t.decision.new_reservation = reservation
    t.move("send")
    t.say(texts.SENT.format(ref=reservation.id, title=title))
    new_request = texts.NEW_REQUEST if reservation.message else texts.NEW_REQUEST_NO_NOTE
    t.decision.notifications.append(
        Outgoing(
            home.host_phone,
            new_request.format(
                ref=reservation.id,
                title=texts.shorten(home.title, 30),
                dates=texts.date_range(check_in, check_out),
                nights=reservation.nights,
                night_word=texts.night_word(reservation.nights),
                guest=t.name(),
                message=reservation.message,
            ),
            reservation_id=reservation.id,
        )
    )


def _ask_dates_again(t: Turn, home: Property) -> None:
    t.move("restart")
    t.move("book")
    t.data["draft"] = {"property_id": home.id}


def nothing_to_send(t: Turn) -> None:
    t.say(texts.NOTHING_TO_SEND)


# -- the guest's trips ----------------------------------------------------------------------


def trips(t: Turn) -> None:
    items = []
    for reservation in sorted(
        t.world.reservations_of_guest(t.phone), key=lambda r: r.id, reverse=True
    )[:5]:
        home = t.world.property(reservation.property_id)
        if home is not None:
            items.append((reservation, home))
    if not items:
        return t.say(texts.NO_TRIPS)
    t.say(texts.trips(items))


def withdraw(t: Turn) -> None:
    """WITHDRAW 12, "cancel my request 12": the guest's own pending request."""
    ref = t.intent.number
    if ref is None:
        return t.say(texts.WITHDRAW_WHICH)
    reservation = t.world.reservation(ref)
    if reservation is None or reservation.guest_phone != t.phone:
        return t.say(texts.NOT_YOURS.format(ref=ref))
    if not lifecycle.can("withdraw", reservation):
        status = texts.STATUS_WORDS[reservation.status]
        return t.say(texts.NOT_PENDING.format(ref=ref, status=status))
    t.decision.changes.append((ref, lifecycle.next_status("withdraw", reservation)))
    t.say(texts.WITHDRAWN.format(ref=ref))
    home = t.world.property(reservation.property_id)
    if home is not None:
        text = texts.HOST_TOLD_WITHDRAWN.format(
            ref=ref,
            title=texts.shorten(home.title, 40),
            dates=texts.date_range(reservation.check_in, reservation.check_out),
        )
        t.decision.notifications.append(Outgoing(home.host_phone, text, reservation_id=ref))
