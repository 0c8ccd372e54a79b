"""Hosts listing a home by text (HOST, a question a step, SAVE) and managing the homes they have
(HOMES, PAUSE, RESUME, PRICE, PHOTO). A host's homes are numbered 1..n in the order they were
listed (by id), as HOMES shows them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conversations import texts
from conversations.commands import Command, parse
from conversations.listing import PriceProblem, check_home, check_text, first_photo, read_price
from conversations.model import Property
from conversations.turn import Outgoing, Turn

# The listing steps that ask for a text, what each stores, and the move to the next step.
_TEXT_STEPS = {
    "listing_title": ("title", "got_title", texts.LISTING_PLACE),
    "listing_place": ("place", "got_place", texts.LISTING_DESCRIPTION),
    "listing_description": ("description", "got_description", texts.LISTING_PRICE),
}
SAVE_WORDS = frozenset({"save", "yes", "y", "ok", "okay", "confirm", "sure", "yep", "yeah"})
DROP_WORDS = frozenset({"no", "n", "nope", "never mind", "nevermind"})

# -- listing a home: HOST, a question a step, SAVE -----------------------------------------


def start_listing(t: Turn) -> None:
    t.data["listing"] = {}
    t.move("host")
    t.say(texts.LISTING_TITLE)


def listing_step(t: Turn) -> None:
    """Answer one step of listing a home: the words are the answer to the question asked (MENU,
    HELP, HOST and a host's decision by reference were routed elsewhere)."""
    state = t.state
    command = parse(t.inbound.body)
    listing = t.data.get("listing")
    if not isinstance(listing, dict):  # a state without its listing: start over
        return start_listing(t)
    if state == "listing_confirming":
        said = " ".join(t.inbound.body.casefold().split()).strip(" .!")
        if (command.verb == "save" and not command.argument) or said in SAVE_WORDS:
            return _save_listing(t, listing)
        if said in DROP_WORDS:
            return t.restart()
        return t.say(texts.LISTING_CONFIRM_WHAT)
    if state == "listing_photo":
        return _listing_photo(t, command, listing)
    if state == "listing_price":
        price = read_price(t.inbound.body)
        if isinstance(price, PriceProblem):
            return t.say(texts.LISTING_FIX.format(problem=price.reason))
        listing["price"] = price
        t.move("got_price")
        return t.say(texts.LISTING_PHOTO)
    label, trigger, next_question = _TEXT_STEPS[state]
    value = " ".join(t.inbound.body.split())
    problem = check_text(label, value)
    if problem:
        return t.say(texts.LISTING_FIX.format(problem=problem))
    listing[label] = value
    t.move(trigger)
    t.say(next_question)


def _listing_photo(t: Turn, command: Command, listing: dict[str, Any]) -> None:
    photo = first_photo(t.inbound.media)
    if photo is None and command.verb == "skip" and not command.argument:
        listing["image_url"] = None
    elif photo is None:
        return t.say(texts.LISTING_NOT_A_PHOTO if t.inbound.media else texts.LISTING_NO_PHOTO)
    else:
        listing["image_url"] = photo
    t.move("got_photo")
    _listing_summary(t, listing)


def _listing_summary(t: Turn, listing: dict[str, Any]) -> None:
    photo = listing.get("image_url")
    text = texts.LISTING_SUMMARY.format(
        title=texts.shorten(str(listing.get("title", "")), 40),
        place=texts.shorten(str(listing.get("place", "")), 30),
        price=listing.get("price"),
        photo=texts.LISTING_WITH_PHOTO if photo else texts.LISTING_WITHOUT_PHOTO,
        description=texts.shorten(str(listing.get("description", "")), texts.DESCRIPTION_CHARS),
    )
    # The host sees the photo back, as guests will see it.
    t.say(text, (photo,) if photo else ())


def _save_listing(t: Turn, listing: dict[str, Any]) -> None:
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
        return t.restart(texts.LISTING_STALE.format(problems="a step is missing"))
    problems = check_home(
        title=title, place=place, description=description, price=price, image_url=image_url
    )
    if problems:
        return t.restart(texts.LISTING_STALE.format(problems="; ".join(problems)))
    t.decision.new_home = Property(
        0, t.phone, title, place, description, price, image_url, active=True
    )
    t.move("save")
    number = len(t.world.homes_of(t.phone)) + 1
    t.say(texts.LISTED.format(title=texts.shorten(title, 40), n=number))


def nothing_to_save(t: Turn) -> None:
    t.say(texts.NOTHING_TO_SAVE)


# -- managing homes: HOMES, PAUSE, RESUME, PRICE, PHOTO --------------------------------------


def homes(t: Turn) -> None:
    mine = t.world.homes_of(t.phone)
    if not mine:
        return t.say(texts.NO_HOMES_OF_YOURS)
    t.say(texts.host_homes(mine))


def _own_home(t: Turn, word: str, example: str = "") -> tuple[int, Property] | None:
    """The sender's home numbered by the first word of the argument, or None (and why, said)."""
    mine = t.world.homes_of(t.phone)
    if not mine:
        t.say(texts.NO_HOMES_OF_YOURS)
        return None
    argument = t.intent.text
    first = argument.split(maxsplit=1)[0] if argument else ""
    number = Command(word, first).reference
    if number is None:
        t.say(texts.WHICH_HOME.format(command=word.upper(), example=example))
        return None
    if not 1 <= number <= len(mine):
        t.say(texts.NOT_YOUR_HOME.format(n=number, last=len(mine)))
        return None
    return number, mine[number - 1]


def pause(t: Turn) -> None:
    _pause_or_resume(t, "pause")


def resume(t: Turn) -> None:
    _pause_or_resume(t, "resume")


def _pause_or_resume(t: Turn, verb: str) -> None:
    found = _own_home(t, verb)
    if found is None:
        return
    number, home = found
    title = texts.shorten(home.title, 40)
    # Pausing only hides the home: its pending requests stay with the host to answer.
    if verb == "pause":
        if not home.active:
            return t.say(texts.ALREADY_PAUSED.format(title=title, n=number))
        t.decision.home_changes.append(replace(home, active=False))
        return t.say(texts.PAUSED.format(title=title, n=number))
    if home.active:
        return t.say(texts.ALREADY_LIVE.format(title=title, n=number))
    t.decision.home_changes.append(replace(home, active=True))
    t.say(texts.RESUMED.format(title=title, n=number))


def price(t: Turn) -> None:
    found = _own_home(t, "price", " 150")
    if found is None:
        return
    number, home = found
    parts = t.intent.text.split(maxsplit=1)
    new = read_price(parts[1] if len(parts) == 2 else "")
    if isinstance(new, PriceProblem):
        return t.say(texts.PRICE_FIX.format(problem=new.reason, n=number))
    # Requests already sent keep what was agreed: only the price of new requests changes.
    if new != home.nightly_price:
        t.decision.home_changes.append(replace(home, nightly_price=new))
    t.say(texts.PRICE_SET.format(title=texts.shorten(home.title, 40), price=new))


def photo(t: Turn) -> None:
    found = _own_home(t, "photo", " with the photo attached")
    if found is None:
        return
    _, home = found
    picture = first_photo(t.inbound.media)
    if picture is not None:
        return _new_photo(t, home, picture)
    # No photo came with it: the next picture the host sends is the new photo.
    t.data["photo_for"] = home.id
    t.move("ask_photo")
    text = texts.PHOTO_NOT_A_PHOTO if t.inbound.media else texts.PHOTO_ASK
    t.say(text.format(title=texts.shorten(home.title, 40)))


def photo_arrived(t: Turn) -> None:
    home_id = t.data.get("photo_for")
    home = t.world.property(home_id) if isinstance(home_id, int) else None
    if home is None or home.host_phone != t.phone:
        return t.restart(texts.NO_HOMES_OF_YOURS)
    picture = first_photo(t.inbound.media)
    if picture is None:
        text = texts.PHOTO_NOT_A_PHOTO if t.inbound.media else texts.PHOTO_STILL_WAITING
        return t.say(text.format(title=texts.shorten(home.title, 40)))
    _new_photo(t, home, picture)


def _new_photo(t: Turn, home: Property, picture: str) -> None:
    t.decision.home_changes.append(replace(home, image_url=picture))
    if t.state == "replacing_photo":
        t.move("restart")
    text = texts.PHOTO_SET.format(title=texts.shorten(home.title, 40))
    t.decision.replies.append(Outgoing(t.phone, text, (picture,)))
