"""Tests for hosts by SMS in conversations.flow (issue 7): listing a home step by step (HOST,
title, place, description, price, photo, SAVE), managing homes (HOMES, PAUSE, RESUME, PRICE,
PHOTO), guests searching by words and dates (LIST <words> <dates>), and reminders."""

from __future__ import annotations

import copy
import re
from datetime import date

import pytest

from conversations import texts
from conversations.flow import (
    BOOKING_STATES,
    LISTING_STATES,
    Decision,
    Inbound,
    Outgoing,
    decide,
    remind,
)
from conversations.gsm7 import is_gsm7, segments
from conversations.listing import PriceProblem, first_photo, read_price
from conversations.model import Property
from tests.conversations.fakes import NOW, Chat, FakeWorld

HOST = "+15550100001"  # Hana: Beach House, Mountain Cabin (paused), Farm Stay
HOST2 = "+15550100002"  # Omar: City Loft
NEWCOMER = "+15550300001"  # nobody yet: becomes a host by text
GUEST = "+15550001111"
GUEST2 = "+15550002222"
PHOTO = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
PHOTO2 = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME2"
JPEG = ((PHOTO, "image/jpeg"),)
VOICE = (("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM3/Media/ME3", "audio/amr"),)

TITLE, PLACE = "Sea View Cottage", "Big Sur, CA"
DESCRIPTION = "Two rooms over the ocean, a deck and a fire pit. Sleeps 4."


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def make_world() -> FakeWorld:
    world = FakeWorld()
    world.add_person(HOST, "Hana")
    world.add_person(HOST2, "Omar")
    world.add_person(GUEST, "Ana")
    world.add_person(GUEST2, "Ben")
    world.add_home(HOST, "Beach House", place="Malibu", description="Sand and sea.", price=250)
    world.add_home(HOST, "Mountain Cabin", place="Aspen", description="Logs.", active=False)
    world.add_home(HOST2, "City Loft", place="New York", description="Soho loft.", price=300)
    world.add_home(HOST, "Farm Stay", place="Vermont", description="Goats.", price=90)
    return world


def home(world: FakeWorld, title: str) -> Property:
    return next(p for p in world.properties if p.title == title)


def mms(chat: Chat, body: str, media: tuple[tuple[str, str], ...]) -> Decision:
    """A turn with media, as Twilio delivers an MMS (Chat.send has none)."""
    decision = decide(Inbound(chat.phone, body, media), chat.conversation, chat.world, chat.rules)
    chat.world.apply(chat.phone, decision)
    chat.conversation.state = decision.state
    chat.conversation.data = decision.data
    chat.conversation.version += 1
    return decision


def only_reply(decision: Decision, phone: str) -> Outgoing:
    (reply,) = [r for r in decision.replies if r.to == phone]
    return reply


def at_photo_step(chat: Chat) -> None:
    for body in ("HOST", TITLE, PLACE, DESCRIPTION, "$180/night"):
        chat.send(body)
    assert chat.state == "listing_photo"


def at_summary(chat: Chat) -> Decision:
    at_photo_step(chat)
    decision = mms(chat, "", JPEG)
    assert chat.state == "listing_confirming"
    return decision


# What counts as saying what to send next, for hosts: a command in capitals, or a step's
# question whose answer is the next message (tests/conversations/test_texts.py for guests).
NEXT = re.compile(
    r"\b(LIST|MORE|BOOK|SEND|MY|WITHDRAW|MENU|HELP|REQUESTS|ACCEPT|REJECT|HOST|HOMES|PAUSE"
    r"|RESUME|PRICE|PHOTO|SAVE|SKIP)\b"
)


# A guest's booking questions are answered by the next message (as in test_texts.py).
STEP_QUESTIONS = re.compile(r'"[^"]*\d[^"]*"|a short note for the host|what name')


def good_reply(body: str) -> bool:
    next_step = NEXT.search(body) or STEP_QUESTIONS.search(body)
    return is_gsm7(body) and 0 < len(body) <= 1600 and bool(next_step)


# -- HOST: listing a home step by step ------------------------------------------------------


def test_a_new_person_lists_a_home_with_a_photo() -> None:
    world = make_world()
    host = Chat(world, NEWCOMER)
    assert host.ask("HOST") == texts.LISTING_TITLE
    assert host.state == "listing_title"
    assert host.ask(TITLE) == texts.LISTING_PLACE
    assert host.state == "listing_place"
    assert host.ask(PLACE) == texts.LISTING_DESCRIPTION
    assert host.state == "listing_description"
    assert host.ask(DESCRIPTION) == texts.LISTING_PRICE
    assert host.state == "listing_price"
    assert host.ask("$180") == texts.LISTING_PHOTO
    assert host.state == "listing_photo"
    summary = only_reply(mms(host, "", JPEG), NEWCOMER)
    assert summary.body == (
        f'{TITLE}, {PLACE}, $180/night, with a photo: "{DESCRIPTION}" '
        "Send SAVE to list it, or MENU to drop it."
    )
    assert summary.media == (PHOTO,)  # the host sees the photo as guests will
    assert host.state == "listing_confirming"
    assert host.data["listing"] == {
        "title": TITLE,
        "place": PLACE,
        "description": DESCRIPTION,
        "price": 180,
        "image_url": PHOTO,
    }
    decision = host.send("SAVE")
    assert [r.body for r in decision.replies] == [
        f"{TITLE} is listed as your home 1: guests can find and book it now. HOMES shows yours."
    ]
    assert decision.new_home == Property(5, NEWCOMER, TITLE, PLACE, DESCRIPTION, 180, PHOTO)
    assert host.state == "start"
    assert "listing" not in host.data
    assert world.is_host(NEWCOMER)


def test_a_listed_home_is_live_for_guests_at_once() -> None:
    world = make_world()
    host = Chat(world, NEWCOMER)
    at_summary(host)
    host.send("SAVE")
    guest = Chat(world, GUEST)
    listing = guest.ask("LIST sea view")
    assert listing.split("\n")[1] == f"1 {TITLE}, {PLACE} $180"
    details = guest.send("1")
    assert details.replies[0].media == (PHOTO,)
    assert guest.ask("BOOK").startswith(f"Booking {TITLE}.")


def test_an_existing_host_gets_the_next_number() -> None:
    world = make_world()
    host = Chat(world, HOST)
    at_summary(host)
    assert host.ask("YES").startswith(f"{TITLE} is listed as your home 4:")
    assert [p.title for p in world.homes_of(HOST)][-1] == TITLE


@pytest.mark.parametrize("word", ["SAVE", "save!", "yes", "OK", "y"])
def test_save_words(word: str) -> None:
    host = Chat(make_world(), NEWCOMER)
    at_summary(host)
    assert host.send(word).new_home is not None


@pytest.mark.parametrize("word", ["MENU", "no", "N"])
def test_the_summary_dropped(word: str) -> None:
    world = make_world()
    host = Chat(world, NEWCOMER)
    at_summary(host)
    decision = host.send(word)
    assert decision.new_home is None
    assert [r.body for r in decision.replies] == [texts.MENU]
    assert host.state == "start"
    assert "listing" not in host.data
    assert not world.is_host(NEWCOMER)


def test_other_text_at_the_summary_asks_again() -> None:
    host = Chat(make_world(), NEWCOMER)
    at_summary(host)
    assert host.ask("hmm, maybe") == texts.LISTING_CONFIRM_WHAT
    assert host.state == "listing_confirming"
    assert host.send("SAVE").new_home is not None


def test_save_with_nothing_to_save() -> None:
    host = Chat(make_world(), NEWCOMER)
    assert host.ask("SAVE") == texts.NOTHING_TO_SAVE
    assert host.state == "start"


@pytest.mark.parametrize(
    ("state", "body", "problem"),
    [
        ("listing_title", "", "the title is empty"),
        ("listing_title", "   ", "the title is empty"),
        ("listing_title", "x" * 61, "the title is over 60 characters"),
        ("listing_place", "y" * 61, "the place is over 60 characters"),
        ("listing_description", "z" * 601, "the description is over 600 characters"),
    ],
)
def test_text_steps_say_what_is_wrong(state: str, body: str, problem: str) -> None:
    host = Chat(make_world(), NEWCOMER)
    for step in ("HOST", TITLE, PLACE):
        if host.state == state:
            break
        host.send(step)
    assert host.state == state
    before = copy.deepcopy(host.data["listing"])
    reply = host.ask(body)
    assert reply == f"Sorry, {problem}. Please send it again, or MENU to go back."
    assert host.state == state
    assert host.data["listing"] == before


def test_the_longest_texts_are_taken_and_spaces_are_tidied() -> None:
    host = Chat(make_world(), NEWCOMER)
    host.send("HOST")
    host.send("  Sea   View  " + "x" * 51)  # 60 once the spaces are tidied
    host.send("p" * 60)
    host.send("d" * 600)
    assert host.state == "listing_price"
    assert host.data["listing"] == {
        "title": "Sea View " + "x" * 51,
        "place": "p" * 60,
        "description": "d" * 600,
    }


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("120", 120),
        ("$120", 120),
        ("$ 120", 120),
        ("120/night", 120),
        ("$120/night", 120),
        ("$120 / night", 120),
        ("120 a night", 120),
        ("120 per night", 120),
        ("120 dollars", 120),
        ("120 USD", 120),
        ("120$", 120),
        ("$120.00", 120),
        ("$1,200", 1200),
        ("1", 1),
        ("100000", 100_000),
        ("120.", 120),
    ],
)
def test_prices_hosts_text(text: str, price: int) -> None:
    assert read_price(text) == price
    host = Chat(make_world(), NEWCOMER)
    for body in ("HOST", TITLE, PLACE, DESCRIPTION):
        host.send(body)
    assert host.ask(text) == texts.LISTING_PHOTO
    assert host.data["listing"]["price"] == price  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0", "the nightly price must be a whole number of dollars from 1 to 100000"),
        ("$0", "the nightly price must be a whole number of dollars from 1 to 100000"),
        ("-5", "the nightly price must be a whole number of dollars from 1 to 100000"),
        ("100001", "the nightly price must be a whole number of dollars from 1 to 100000"),
        ("12.50", "the price must be whole dollars, no cents, like 120"),
        ("$99.99/night", "the price must be whole dollars, no cents, like 120"),
        ("cheap", "I could not read a price there. It must be a whole number of dollars from 1 "
         "to 100000"),
        ("", "I could not read a price there. It must be a whole number of dollars from 1 "
         "to 100000"),
        ("120 or 150", "I could not read a price there. It must be a whole number of dollars "
         "from 1 to 100000"),
    ],
)  # fmt: skip
def test_prices_that_are_refused(text: str, reason: str) -> None:
    assert read_price(text) == PriceProblem(reason)
    host = Chat(make_world(), NEWCOMER)
    for body in ("HOST", TITLE, PLACE, DESCRIPTION):
        host.send(body)
    assert host.ask(text) == f"Sorry, {reason}. Please send it again, or MENU to go back."
    assert host.state == "listing_price"
    assert "price" not in host.data["listing"]  # type: ignore[operator]


def test_a_price_that_looks_like_a_home_number_is_a_price() -> None:
    # "3" elsewhere picks home 3 of a list; at the price step it is $3.
    host = Chat(make_world(), NEWCOMER)
    host.send("LIST")
    for body in ("HOST", TITLE, PLACE, DESCRIPTION):
        host.send(body)
    assert host.ask("3") == texts.LISTING_PHOTO
    assert host.data["listing"]["price"] == 3  # type: ignore[index]


def test_a_photo_step_takes_the_image() -> None:
    host = Chat(make_world(), NEWCOMER)
    at_photo_step(host)
    decision = mms(host, "here it is", ((PHOTO, "image/png"),))
    assert host.state == "listing_confirming"
    assert host.data["listing"]["image_url"] == PHOTO  # type: ignore[index]
    assert only_reply(decision, NEWCOMER).media == (PHOTO,)


def test_the_first_image_of_an_mms_is_the_photo() -> None:
    assert first_photo(JPEG) == PHOTO
    assert first_photo(((PHOTO2, "IMAGE/GIF"), (PHOTO, "image/jpeg"))) == PHOTO2
    assert first_photo((*VOICE, (PHOTO, "image/jpeg"))) == PHOTO
    assert first_photo(VOICE) is None
    assert first_photo(((PHOTO, ""),)) is None
    assert first_photo(()) is None


def test_a_file_that_is_not_a_photo_gets_a_retry() -> None:
    host = Chat(make_world(), NEWCOMER)
    at_photo_step(host)
    assert only_reply(mms(host, "", VOICE), NEWCOMER).body == texts.LISTING_NOT_A_PHOTO
    assert host.state == "listing_photo"
    card = (("https://api.twilio.com/x/Media/ME9", "text/vcard"),)
    assert only_reply(mms(host, "my card", card), NEWCOMER).body == texts.LISTING_NOT_A_PHOTO
    assert host.state == "listing_photo"
    mms(host, "", JPEG)
    assert host.state == "listing_confirming"


@pytest.mark.parametrize("body", ["a sunny place", "", "LIST", "3", "photo"])
def test_a_text_instead_of_a_photo_gets_a_retry(body: str) -> None:
    host = Chat(make_world(), NEWCOMER)
    at_photo_step(host)
    assert host.ask(body) == texts.LISTING_NO_PHOTO
    assert host.state == "listing_photo"
    assert "image_url" not in host.data["listing"]  # type: ignore[operator]


def test_skip_lists_it_without_a_photo() -> None:
    world = make_world()
    host = Chat(world, NEWCOMER)
    at_photo_step(host)
    decision = host.send("SKIP")
    reply = only_reply(decision, NEWCOMER)
    assert reply.body.startswith(f"{TITLE}, {PLACE}, $180/night, no photo: ")
    assert reply.media == ()
    decision = host.send("SAVE")
    assert decision.new_home is not None and decision.new_home.image_url is None


@pytest.mark.parametrize("state", LISTING_STATES)
def test_menu_drops_the_listing_at_every_step(state: str) -> None:
    world = make_world()
    host = Chat(world, NEWCOMER)
    for body in ("HOST", TITLE, PLACE, DESCRIPTION, "180", "SKIP"):
        if host.state == state:
            break
        host.send(body)
    assert host.state == state
    assert host.ask("MENU") == texts.MENU
    assert host.state == "start"
    assert "listing" not in host.data
    assert world.homes_of(NEWCOMER) == []


def test_help_keeps_the_step() -> None:
    host = Chat(make_world(), NEWCOMER)
    host.send("HOST")
    host.send(TITLE)
    assert host.ask("HELP") == texts.HELP_GUEST
    assert host.state == "listing_place"
    assert host.ask(PLACE) == texts.LISTING_DESCRIPTION


def test_host_again_starts_the_listing_over() -> None:
    host = Chat(make_world(), NEWCOMER)
    host.send("HOST")
    host.send(TITLE)
    assert host.ask("HOST") == texts.LISTING_TITLE
    assert host.state == "listing_title"
    assert host.data["listing"] == {}


def test_a_host_answers_a_request_in_the_middle_of_listing() -> None:
    world = make_world()
    world.add_reservation(GUEST, home(world, "Beach House"), d(12, 3), d(12, 7))
    host = Chat(world, HOST)
    host.send("HOST")
    host.send(TITLE)
    decision = host.send("ACCEPT 1")
    assert decision.changes == [(1, "confirmed")]
    assert host.state == "listing_place"
    assert host.data["listing"] == {"title": TITLE}
    # Without a reference, YES is a title like any other word: never an answer by accident.
    host.send("HOST")
    assert host.ask("yes") == texts.LISTING_PLACE
    assert host.data["listing"] == {"title": "yes"}


def test_an_opt_out_word_is_never_a_title() -> None:
    world = make_world()
    host = Chat(world, NEWCOMER)
    host.send("HOST")
    decision = host.send("STOP")
    assert decision.opted_out is True
    assert decision.replies == []
    assert host.data["listing"] == {}


def test_title_and_place_reach_guests_in_gsm7() -> None:
    world = make_world()
    host = Chat(world, NEWCOMER)
    for body in ("HOST", "Zoë’s “Sea” Cottage 🌊", "Lac-Mégantic", "Café… 🙂", "99", "SKIP"):
        host.send(body)
    assert is_gsm7(host.ask("SAVE"))
    assert home(world, "Zoë’s “Sea” Cottage 🌊").place == "Lac-Mégantic"  # kept as typed
    listing = Chat(world, GUEST).ask("LIST cottage")
    assert is_gsm7(listing)
    assert 'Zoe\'s "Sea" Cottage' in listing


# -- HOST while booking ---------------------------------------------------------------------


def guest_in(state: str, world: FakeWorld) -> Chat:
    guest = Chat(world, GUEST)
    for body in ("LIST", "BOOK 1", "Dec 3-7", "Hi, two of us."):
        if guest.state == state:
            break
        guest.send(body)
    assert guest.state == state
    return guest


@pytest.mark.parametrize("state", BOOKING_STATES)
def test_host_in_the_middle_of_a_booking_keeps_the_booking(state: str) -> None:
    world = make_world()
    world.people[2].name = None if state == "asking_name" else "Ana"
    guest = guest_in(state, world)
    data = dict(guest.data)
    assert guest.ask("HOST") == texts.HOST_WHILE_BOOKING
    assert guest.state == state
    assert guest.data == data
    assert guest.ask("MENU") == texts.MENU
    assert guest.ask("HOST") == texts.LISTING_TITLE


def test_host_with_words_is_the_note_to_the_host() -> None:
    world = make_world()
    guest = guest_in("asking_message", world)
    guest.send("Host, we are two quiet people")
    assert guest.state == "confirming"
    assert guest.data["draft"]["message"] == "Host, we are two quiet people"  # type: ignore[index]


# -- HOMES ----------------------------------------------------------------------------------


def test_homes_lists_the_hosts_own_homes_in_order() -> None:
    world = make_world()
    home(world, "Farm Stay").image_url = PHOTO
    home(world, "Beach House").image_url = PHOTO
    assert Chat(world, HOST).ask("HOMES") == (
        "Your homes:\n"
        "1 Beach House, $250/night, live\n"
        "2 Mountain Cabin, $100/night, paused, no photo\n"
        "3 Farm Stay, $90/night, live\n"
        "PAUSE <n>, RESUME <n>, PRICE <n> <$>, PHOTO <n>; HOST adds a home."
    )
    assert (
        Chat(world, HOST2).ask("HOMES").split("\n")[1] == "1 City Loft, $300/night, live, no photo"
    )


def test_homes_for_someone_with_none() -> None:
    assert Chat(make_world(), GUEST).ask("HOMES") == texts.NO_HOMES_OF_YOURS


def test_many_homes_stay_within_1600() -> None:
    world = FakeWorld()
    for n in range(40):
        world.add_home(HOST, f"{n} " + "Long title " * 6, price=100_000, active=n % 2 == 0)
    reply = Chat(world, HOST).ask("HOMES")
    assert len(reply) <= 1600
    assert "\nand 20 more\n" in reply
    assert reply.endswith("HOST adds a home.")


# -- PAUSE and RESUME -----------------------------------------------------------------------


def test_pause_hides_a_home_from_guests() -> None:
    world = make_world()
    host = Chat(world, HOST)
    decision = host.send("PAUSE 3")
    assert [r.body for r in decision.replies] == [
        "Farm Stay is paused: guests can't find or book it. Pending requests still wait for you. "
        "RESUME 3 shows it again."
    ]
    farm = home(world, "Farm Stay")
    assert decision.home_changes == [
        Property(farm.id, HOST, "Farm Stay", "Vermont", "Goats.", 90, None, active=False)
    ]
    assert not farm.active
    guest = Chat(world, GUEST)
    assert "Farm Stay" not in guest.ask("LIST")
    assert guest.ask("LIST goats") == 'No homes match "goats". Send LIST to see all homes.'


def test_a_guest_cannot_book_a_paused_home() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    assert guest.ask("LIST").split("\n")[3] == "3 Farm Stay, Vermont $90"
    Chat(world, HOST).send("PAUSE 3")
    assert guest.ask("BOOK 3") == texts.HOME_GONE
    assert guest.ask("3") == texts.HOME_GONE
    assert guest.state == "browsing"


def test_a_guest_booking_a_home_paused_meanwhile_is_told() -> None:
    world = make_world()
    guest = guest_in("confirming", world)
    Chat(world, HOST).send("PAUSE 1")
    assert guest.ask("SEND") == texts.HOME_GONE
    assert guest.state == "start"
    assert world.reservations == []


def test_pending_requests_of_a_paused_home_stay_answerable() -> None:
    world = make_world()
    world.add_reservation(GUEST, home(world, "Beach House"), d(12, 3), d(12, 7))
    host = Chat(world, HOST)
    host.send("PAUSE 1")
    assert host.ask("REQUESTS").startswith("Pending: 1 Beach House Dec 3-7 Ana.")
    decision = host.send("ACCEPT 1")
    assert decision.changes == [(1, "confirmed")]
    assert decision.replies[1].to == GUEST


def test_resume_shows_it_again() -> None:
    world = make_world()
    host = Chat(world, HOST)
    decision = host.send("RESUME 2")
    assert [r.body for r in decision.replies] == [
        "Mountain Cabin is live again: guests can find and book it. PAUSE 2 hides it."
    ]
    assert [c.active for c in decision.home_changes] == [True]
    assert "Mountain Cabin" in Chat(world, GUEST).ask("LIST")


def test_pause_and_resume_what_already_is() -> None:
    world = make_world()
    host = Chat(world, HOST)
    decision = host.send("PAUSE 2")
    assert decision.home_changes == []
    assert [r.body for r in decision.replies] == [
        "Mountain Cabin is already paused. RESUME 2 shows it again, HOMES lists yours."
    ]
    decision = host.send("RESUME #1")
    assert decision.home_changes == []
    assert [r.body for r in decision.replies] == [
        "Beach House is already live. PAUSE 1 hides it, HOMES lists yours."
    ]


@pytest.mark.parametrize(
    ("phone", "body", "reply"),
    [
        (HOST, "PAUSE", "Which home? Send PAUSE and its number from HOMES, like PAUSE 1."),
        (HOST, "RESUME beach", "Which home? Send RESUME and its number from HOMES, like RESUME 1."),
        (HOST, "PAUSE 4", "You have no home 4. Send HOMES to see yours, numbered 1 to 3."),
        (HOST, "PAUSE 0", "You have no home 0. Send HOMES to see yours, numbered 1 to 3."),
        (HOST2, "PAUSE 2", "You have no home 2. Send HOMES to see yours, numbered 1 to 1."),
        (GUEST, "PAUSE 1", texts.NO_HOMES_OF_YOURS),
        (GUEST, "RESUME 1", texts.NO_HOMES_OF_YOURS),
        (GUEST, "PRICE 1 90", texts.NO_HOMES_OF_YOURS),
        (GUEST, "PHOTO 1", texts.NO_HOMES_OF_YOURS),
    ],
)
def test_which_home(phone: str, body: str, reply: str) -> None:
    world = make_world()
    decision = Chat(world, phone).send(body)
    assert [r.body for r in decision.replies] == [reply]
    assert decision.home_changes == []


def test_numbers_are_the_hosts_own() -> None:
    # Omar's home 1 is the City Loft, whatever its id; Hana's homes are not his to pause.
    world = make_world()
    decision = Chat(world, HOST2).send("PAUSE 1")
    assert [c.title for c in decision.home_changes] == ["City Loft"]
    assert home(world, "Beach House").active


# -- PRICE ----------------------------------------------------------------------------------


def test_price_changes_the_price_for_new_requests() -> None:
    world = make_world()
    pending = world.add_reservation(GUEST, home(world, "Beach House"), d(12, 3), d(12, 7))
    host = Chat(world, HOST)
    decision = host.send("PRICE 1 $300/night")
    assert [r.body for r in decision.replies] == [
        "Beach House is now $300 a night for new requests. HOMES shows your homes."
    ]
    assert [(c.title, c.nightly_price) for c in decision.home_changes] == [("Beach House", 300)]
    assert world.reservation(pending.id) == pending  # a request already sent is not touched
    guest = Chat(world, GUEST2)
    assert guest.ask("LIST beach").split("\n")[1] == "1 Beach House, Malibu $300"
    guest.send("BOOK 1")
    assert "$1200" in guest.ask("Dec 10-14")


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("PRICE 1", "Sorry, I could not read a price there. It must be a whole number of dollars "
         "from 1 to 100000. Send e.g. PRICE 1 120, or HOMES."),
        ("PRICE 1 0", "Sorry, the nightly price must be a whole number of dollars from 1 to "
         "100000. Send e.g. PRICE 1 120, or HOMES."),
        ("PRICE 3 12.5", "Sorry, the price must be whole dollars, no cents, like 120. "
         "Send e.g. PRICE 3 120, or HOMES."),
        ("PRICE $120", "Which home? Send PRICE and its number from HOMES, like PRICE 1 150."),
        ("PRICE", "Which home? Send PRICE and its number from HOMES, like PRICE 1 150."),
        ("PRICE 9 120", "You have no home 9. Send HOMES to see yours, numbered 1 to 3."),
    ],
)  # fmt: skip
def test_price_says_what_is_wrong(body: str, reply: str) -> None:
    decision = Chat(make_world(), HOST).send(body)
    assert [r.body for r in decision.replies] == [reply]
    assert decision.home_changes == []


def test_the_same_price_changes_nothing() -> None:
    decision = Chat(make_world(), HOST).send("PRICE 1 250")
    assert decision.home_changes == []
    assert decision.replies[0].body.startswith("Beach House is now $250 a night")


# -- PHOTO ----------------------------------------------------------------------------------


def test_photo_with_a_picture_replaces_it() -> None:
    world = make_world()
    host = Chat(world, HOST)
    host.send("LIST")
    decision = mms(host, "PHOTO 3", JPEG)
    reply = only_reply(decision, HOST)
    assert reply.body == "New photo of Farm Stay saved: guests see it now. HOMES shows your homes."
    assert reply.media == (PHOTO,)
    assert [(c.title, c.image_url) for c in decision.home_changes] == [("Farm Stay", PHOTO)]
    assert host.state == "browsing"  # where the host was
    guest = Chat(world, GUEST)
    guest.send("LIST")
    assert guest.send("3").replies[0].media == (PHOTO,)


def test_photo_without_a_picture_asks_for_it() -> None:
    world = make_world()
    host = Chat(world, HOST)
    decision = host.send("PHOTO 1")
    assert [r.body for r in decision.replies] == [texts.PHOTO_ASK.format(title="Beach House")]
    assert decision.home_changes == []
    assert host.state == "replacing_photo"
    assert host.ask("here you go") == texts.PHOTO_STILL_WAITING.format(title="Beach House")
    assert only_reply(mms(host, "", VOICE), HOST).body == texts.PHOTO_NOT_A_PHOTO.format(
        title="Beach House"
    )
    assert host.state == "replacing_photo"
    decision = mms(host, "", ((PHOTO2, "image/jpeg"),))
    assert [(c.title, c.image_url) for c in decision.home_changes] == [("Beach House", PHOTO2)]
    assert host.state == "start"
    assert "photo_for" not in host.data


def test_photo_with_a_file_that_is_not_a_photo() -> None:
    host = Chat(make_world(), HOST)
    decision = mms(host, "PHOTO 1", VOICE)
    assert decision.home_changes == []
    assert only_reply(decision, HOST).body == texts.PHOTO_NOT_A_PHOTO.format(title="Beach House")
    assert host.state == "replacing_photo"


def test_menu_keeps_the_old_photo() -> None:
    world = make_world()
    host = Chat(world, HOST)
    host.send("PHOTO 1")
    assert host.ask("MENU") == texts.MENU
    assert host.state == "start"
    assert "photo_for" not in host.data
    assert home(world, "Beach House").image_url is None


def test_photo_which_home() -> None:
    reply = Chat(make_world(), HOST).ask("PHOTO")
    assert reply == (
        "Which home? Send PHOTO and its number from HOMES, like PHOTO 1 with the photo attached."
    )


# -- LIST <words> <dates> -------------------------------------------------------------------


def dated_world() -> FakeWorld:
    """Beach House confirmed Dec 4-6; Farm Stay has a pending request on the same nights."""
    world = make_world()
    world.add_reservation(
        GUEST2, home(world, "Beach House"), d(12, 4), d(12, 6), status="confirmed"
    )
    world.add_reservation(GUEST2, home(world, "Farm Stay"), d(12, 4), d(12, 6))
    return world


def titles(reply: str) -> list[str]:
    return [line.split(" ", 1)[1].split(",")[0] for line in reply.split("\n")[1:-1]]


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("LIST Dec 3-7", ["City Loft", "Farm Stay"]),  # a pending request does not block
        ("LIST dec 3-7", ["City Loft", "Farm Stay"]),
        ("LIST 12/3 to 12/7", ["City Loft", "Farm Stay"]),
        ("LIST Dec 6-8", ["Beach House", "City Loft", "Farm Stay"]),  # check-out day is free
        ("LIST Dec 1-4", ["Beach House", "City Loft", "Farm Stay"]),
        ("LIST beach Dec 3-7", []),
        ("LIST beach Dec 6 for 2 nights", ["Beach House"]),
        ("LIST beach, Dec 6 for 2 nights", ["Beach House"]),
        ("LIST sand sea Dec 10-12", ["Beach House"]),
        ("LIST goats dec 3 - dec 7", ["Farm Stay"]),
        ("LIST loft for Dec 3-7", ["City Loft"]),  # "for" joins the words to the dates
        ("LIST loft from december 3 to 7", ["City Loft"]),
    ],
)
def test_list_with_dates_shows_only_free_homes(body: str, shown: list[str]) -> None:
    guest = Chat(dated_world(), GUEST)
    reply = guest.ask(body)
    if not shown:
        assert reply == 'No homes match "beach" and are free Dec 3-7. Send LIST to see all homes.'
        return
    assert titles(reply) == shown
    assert reply.startswith(f"Homes 1-{len(shown)} of {len(shown)} free Dec ")


def test_a_dated_list_reads() -> None:
    guest = Chat(dated_world(), GUEST)
    assert guest.ask("LIST Dec 3-7") == (
        "Homes 1-2 of 2 free Dec 3-7:\n"
        "1 City Loft, New York $300\n"
        "2 Farm Stay, Vermont $90\n"
        "Send a number to see a home, LIST to restart."
    )
    assert guest.data["query"] == ""
    assert guest.data["free"] == ["2026-12-03", "2026-12-07"]


def test_no_home_free_on_those_dates() -> None:
    world = FakeWorld()
    beach = world.add_home(HOST, "Beach House")
    world.add_reservation(GUEST2, beach, d(12, 1), d(12, 20), status="confirmed")
    guest = Chat(world, GUEST)
    assert guest.ask("LIST dec 3-7") == (
        "No homes are free Dec 3-7. Send LIST to see all homes, or other dates."
    )
    assert guest.state == "start"


def test_more_keeps_the_dates() -> None:
    world = FakeWorld()
    for n in range(1, 9):
        world.add_home(HOST, f"Home {n}", place="Town")
    for n in (2, 5):
        busy = home(world, f"Home {n}")
        world.add_reservation(GUEST2, busy, d(12, 2), d(12, 5), status="confirmed")
    guest = Chat(world, GUEST)
    first = guest.ask("LIST town dec 3-7")
    assert first.startswith("Homes 1-5 of 6 free Dec 3-7:\n")
    assert titles(first) == ["Home 1", "Home 3", "Home 4", "Home 6", "Home 7"]
    more = guest.ask("MORE")
    assert more.startswith("Homes 6-6 of 6 free Dec 3-7:\n")
    assert titles(more) == ["Home 8"]
    assert guest.ask("MORE") == texts.NO_MORE
    # A plain LIST forgets the dates.
    assert guest.ask("LIST").startswith("Homes 1-5 of 8:\n")
    assert "free" not in guest.data


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("LIST beach Dec 7-3", 'Check-out (Dec 3) must be after check-in (Dec 7). Send e.g. '
         '"Dec 3-7".'),
        ("LIST Dec 3", 'How many nights from Dec 3? Send e.g. "Dec 3 for 2 nights".'),
        ("LIST 3-7", 'Which month? Send e.g. "Dec 3-7".'),
    ],
)  # fmt: skip
def test_list_with_dates_that_cannot_be_booked_asks(body: str, reason: str) -> None:
    guest = Chat(dated_world(), GUEST)
    assert guest.ask(body) == f"{reason} Or send LIST for all homes."
    assert guest.state == "start"


@pytest.mark.parametrize("body", ["LIST sun", "LIST may", "LIST next", "LIST weekend retreat"])
def test_date_words_without_a_number_are_search_words(body: str) -> None:
    words = body.split(" ", 1)[1]
    reply = Chat(dated_world(), GUEST).ask(body)
    assert reply == f'No homes match "{words}". Send LIST to see all homes.'


def test_list_words_still_work() -> None:
    reply = Chat(dated_world(), GUEST).ask("LIST sand sea")
    assert titles(reply) == ["Beach House"]
    assert reply.startswith("Homes 1-1 of 1:")


# -- reminders ------------------------------------------------------------------------------


def test_remind_texts_the_host_once() -> None:
    world = make_world()
    pending = world.add_reservation(GUEST, home(world, "Beach House"), d(12, 3), d(12, 7))
    decision = remind(pending, world)
    assert decision is not None
    assert decision.reminded == [pending.id]
    assert decision.changes == []
    assert [(n.to, n.body, n.reservation_id) for n in decision.notifications] == [
        (
            HOST,
            "Reminder: request 1 (Beach House, Dec 3-7, from Ana) is waiting for you. "
            "Reply ACCEPT 1 or REJECT 1",
            1,
        )
    ]
    world.apply("", decision)
    assert pending.reminded_at == NOW
    assert remind(pending, world) is None


@pytest.mark.parametrize("status", ["confirmed", "rejected", "withdrawn", "expired"])
def test_no_reminder_for_a_request_that_is_not_pending(status: str) -> None:
    world = make_world()
    pending = world.add_reservation(GUEST, home(world, "Beach House"), d(12, 3), d(12, 7))
    pending.status = status
    assert remind(pending, world) is None


def test_a_host_who_opted_out_is_not_reminded_but_it_counts() -> None:
    world = make_world()
    world.add_person(HOST, "Hana", opted_out=True)
    pending = world.add_reservation(GUEST, home(world, "Beach House"), d(12, 3), d(12, 7))
    decision = remind(pending, world)
    assert decision is not None
    assert decision.notifications == []
    assert decision.reminded == [pending.id]


def test_a_guest_without_a_name_and_a_paused_home() -> None:
    world = make_world()
    world.add_person("+15550009876")
    pending = world.add_reservation(
        "+15550009876", home(world, "Mountain Cabin"), d(12, 3), d(12, 4)
    )
    decision = remind(pending, world)
    assert decision is not None
    assert "(Mountain Cabin, Dec 3-4, from a guest)" in decision.notifications[0].body


# -- every new text -------------------------------------------------------------------------


def hosting_story() -> list[tuple[str, Decision]]:
    """Every hosting step, refusal and command, as (sender, decision)."""
    world = dated_world()
    story: list[tuple[str, Decision]] = []
    newcomer, host, guest = Chat(world, NEWCOMER), Chat(world, HOST), Chat(world, GUEST)

    def say(chat: Chat, body: str, media: tuple[tuple[str, str], ...] = ()) -> None:
        story.append((chat.phone, mms(chat, body, media)))

    for body in ["HOST", "", "x" * 61, "Zoë’s “Sea” Cottage 🌊", "", "Lac-Mégantic", "z" * 601,
                 "Café… " * 90, "cheap", "12.50", "0", "$100000"]:  # fmt: skip
        say(newcomer, body)
    say(newcomer, "no photo yet")
    say(newcomer, "", VOICE)
    say(newcomer, "", JPEG)
    for body in ["hmm", "SAVE", "SAVE", "HOMES", "PAUSE", "PAUSE 9", "PAUSE 1", "PAUSE 1"]:
        say(newcomer, body)
    for body in ["RESUME 1", "RESUME 1", "PRICE 1", "PRICE 1 0", "PRICE 1 $99", "PHOTO 1"]:
        say(newcomer, body)
    say(newcomer, "soon")
    say(newcomer, "", VOICE)
    say(newcomer, "", JPEG)
    say(newcomer, "PHOTO", JPEG)
    for body in ["HOMES", "PAUSE 1", "HELP", "HOST", "MENU", "SKIP"]:
        say(host, body)
    for body in ["LIST dec 3-7", "MORE", "LIST beach dec 3-7", "LIST dec 7-3", "LIST dec 1-31",
                 "LIST", "BOOK 1", "HOST", "Dec 10-12", "HOST", "Hi", "HOST", "HOMES", "SAVE"]:  # fmt: skip
        say(guest, body)
    pending = world.reservations[-1]
    reminder = remind(pending, world)
    assert reminder is not None
    story.append(("", reminder))
    return story


def test_every_hosting_reply_is_gsm7_and_says_what_next() -> None:
    story = hosting_story()
    replies = [r for sender, d in story for r in d.replies if r.to == sender]
    assert len(replies) == len([s for s in story if s[0]])  # one answer to every message
    for reply in replies:
        assert good_reply(reply.body), reply.body
    for _, decision in story:
        for note in decision.notifications:
            assert is_gsm7(note.body) and segments(note.body) == 1, note.body
    said = "\n".join(r.body for r in replies)
    for name in (
        "LISTING_TITLE", "LISTING_PLACE", "LISTING_DESCRIPTION", "LISTING_PRICE", "LISTING_PHOTO",
        "LISTING_FIX", "LISTING_NOT_A_PHOTO", "LISTING_NO_PHOTO", "LISTING_SUMMARY",
        "LISTING_CONFIRM_WHAT", "LISTED", "NOTHING_TO_SAVE", "HOST_WHILE_BOOKING",
        "NO_HOMES_OF_YOURS", "WHICH_HOME", "NOT_YOUR_HOME", "PAUSED", "ALREADY_PAUSED", "RESUMED",
        "ALREADY_LIVE", "PRICE_SET", "PRICE_FIX", "PHOTO_ASK", "PHOTO_NOT_A_PHOTO",
        "PHOTO_STILL_WAITING", "PHOTO_SET", "NO_MATCH_FREE", "LIST_DATES_PROBLEM", "HELP_HOST",
    ):  # fmt: skip
        text: str = getattr(texts, name)
        fragment = max(re.split(r"\{[^}]*\}", text), key=len).strip()
        assert fragment in said, f"{name} ({fragment!r}) never said"


def test_the_rule_for_what_next_can_fail() -> None:
    assert not good_reply("Saved.")
    assert not good_reply("Zoë")
    assert good_reply("Send HOMES to see yours.")


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("LISTED", {"title": "x" * 40, "n": 999}),
        ("WHICH_HOME", {"command": "PHOTO", "example": " with the photo attached"}),
        ("NOT_YOUR_HOME", {"n": 123456789, "last": 999}),
        ("PAUSED", {"title": "x" * 40, "n": 999}),
        ("ALREADY_PAUSED", {"title": "x" * 40, "n": 999}),
        ("RESUMED", {"title": "x" * 40, "n": 999}),
        ("ALREADY_LIVE", {"title": "x" * 40, "n": 999}),
        ("PRICE_SET", {"title": "x" * 40, "price": 100_000}),
        ("PHOTO_ASK", {"title": "x" * 40}),
        ("PHOTO_NOT_A_PHOTO", {"title": "x" * 40}),
        ("PHOTO_STILL_WAITING", {"title": "x" * 40}),
        ("PHOTO_SET", {"title": "x" * 40}),
        ("NO_MATCH_FREE", {"words": "x" * 30, "dates": "Dec 30-Jan 2"}),
        ("NONE_FREE", {"dates": "Dec 30-Jan 2"}),
        ("LISTING_FIX", {"problem": "the description is over 600 characters"}),
        (
            "REMINDER",
            {"ref": 123456, "title": "x" * 30, "dates": "Dec 30-Jan 2", "guest": "y" * 20},
        ),
    ],
)
def test_host_texts_fit_one_segment_with_long_values(name: str, values: dict[str, object]) -> None:
    text = getattr(texts, name).format(**values)
    assert is_gsm7(text)
    assert segments(text) == 1, f"{name} is {len(text)} characters"
