"""Tests for conversations.flow: every guest and host command of SPEC §3 in every state that
matters, Twilio's opt-out keywords, request expiry, and decide() never failing on any body."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import texts
from conversations.dates import DateProblem, parse_stay
from conversations.flow import PAGE_SIZE, STATES, Inbound, Rules, decide, expire
from conversations.model import Conversation, Property, Reservation
from tests.conversations.fakes import BOT, NOW, RULES, TODAY, Chat, FakeWorld

HOST = "+15550100001"  # Hana: Beach House, Mountain Cabin, Farm Stay
HOST2 = "+15550100002"  # Omar: City Loft, Lake Cottage, Desert Casita, Treehouse
GUEST = "+15550001111"
GUEST2 = "+15550002222"
GUEST3 = "+15550003333"
BEACH_JPG = "https://example.com/homes/beach.jpg"


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def make_world() -> FakeWorld:
    """Seven listed homes (two pages) and one unlisted, two hosts with names, guests without."""
    world = FakeWorld()
    world.add_person(HOST, "Hana")
    world.add_person(HOST2, "Omar")
    world.add_home(
        HOST,
        "Beach House",
        place="Malibu",
        description="Ocean views and a deck.",
        price=250,
        image_url=BEACH_JPG,
    )
    world.add_home(HOST, "Mountain Cabin", place="Aspen", description="Log cabin.", price=180)
    world.add_home(HOST2, "City Loft", place="New York", description="Loft in Soho.", price=300)
    world.add_home(
        HOST2, "Lake Cottage", place="Tahoe", description="Quiet, beach access.", price=150
    )
    world.add_home(HOST2, "Desert Casita", place="Joshua Tree", description="Stars.", price=120)
    world.add_home(HOST, "Farm Stay", place="Vermont", description="Goats.", price=90)
    world.add_home(HOST2, "Treehouse", place="Portland", description="Trees.", price=200)
    world.add_home(HOST, "Closed Villa", place="Malibu", description="Gone.", active=False)
    return world


def home(world: FakeWorld, title: str) -> Property:
    return next(p for p in world.properties if p.title == title)


def at_summary(chat: Chat, number: int = 1, dates: str = "Dec 3-7", note: str = "Hi!") -> str:
    """Drive a chat from LIST to the summary; returns the summary text."""
    chat.send("LIST")
    chat.send(f"BOOK {number}")
    chat.send(dates)
    reply = chat.ask(note)
    if chat.state == "asking_name":
        reply = chat.ask("Ana")
    assert chat.state == "confirming", reply
    return reply


def summary(title: str, dates: str, nights: int, total: int, name: str, message: str) -> str:
    return texts.SUMMARY.format(
        title=title,
        dates=dates,
        nights=nights,
        night_word=texts.night_word(nights),
        total=total,
        name=name,
        message=message,
    )


# -- the first message ----------------------------------------------------------------------


def test_first_message_that_is_not_a_command_gets_the_welcome() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.conversation.version == 0
    assert guest.ask("hi there") == texts.WELCOME
    assert guest.state == "start"


def test_only_the_first_message_gets_the_welcome() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("hi") == texts.WELCOME
    # A second greeting gets a short, friendly answer that says what to send next.
    assert guest.ask("hello?") == texts.GREETING
    assert guest.ask("hi") == texts.GREETING


def test_a_first_message_that_is_a_command_is_answered_as_the_command() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("LIST").startswith("Homes 1-5 of 7:")


def test_an_empty_body_is_answered() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("") == texts.EMPTY
    assert guest.ask("   ") == texts.EMPTY


def test_not_understood_says_what_can_be_sent() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    reply = guest.ask("the quick brown fox jumps over it")
    assert reply == texts.NOT_UNDERSTOOD
    assert reply.startswith("Sorry, I didn't get that.")
    assert "LIST" in reply and "HELP" in reply
    # In a list, what can be sent there: a number, MORE, a place and dates.
    guest.send("LIST")
    reply = guest.ask("the quick brown fox jumps over it")
    assert reply == texts.NOT_UNDERSTOOD_BROWSING
    assert reply.startswith("Sorry, I didn't get that.") and "MORE" in reply


# -- LIST, MORE, numbers --------------------------------------------------------------------


def test_list_shows_the_first_page_of_listed_homes() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("list") == (
        "Homes 1-5 of 7:\n"
        "1 Beach House, Malibu $250\n"
        "2 Mountain Cabin, Aspen $180\n"
        "3 City Loft, New York $300\n"
        "4 Lake Cottage, Tahoe $150\n"
        "5 Desert Casita, Joshua Tree $120\n"
        "Send a number to see a home, MORE for more."
    )
    assert PAGE_SIZE == 5
    assert guest.state == "browsing"
    assert guest.data["shown"] == [1, 2, 3, 4, 5]


def test_more_pages_on_then_says_it_was_the_last_page() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    assert guest.ask("MORE") == (
        "Homes 6-7 of 7:\n6 Farm Stay, Vermont $90\n7 Treehouse, Portland $200\n"
        "Send a number to see a home, LIST to restart."
    )
    assert guest.data["shown"] == [1, 2, 3, 4, 5, 6, 7]
    assert guest.ask("more") == texts.NO_MORE
    assert "last page" in texts.NO_MORE
    assert guest.ask("NEXT") == texts.NO_MORE


def test_list_restarts_paging() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("MORE")
    assert guest.ask("BROWSE").startswith("Homes 1-5 of 7:")
    assert guest.data["shown"] == [1, 2, 3, 4, 5]


def test_more_without_a_list() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    assert guest.ask("MORE") == texts.NO_LIST
    assert guest.state == "start"


def test_one_page_exactly_offers_no_more() -> None:
    world = FakeWorld()
    for n in range(PAGE_SIZE):
        world.add_home(HOST, f"Home {n + 1}", place="Town", price=100)
    guest = Chat(world, GUEST)
    reply = guest.ask("LIST")
    assert reply.startswith("Homes 1-5 of 5:\n1 Home 1, Town $100\n")
    assert reply.endswith("Send a number to see a home, LIST to restart.")
    assert guest.ask("MORE") == texts.NO_MORE


def test_no_homes_at_all() -> None:
    guest = Chat(FakeWorld(), GUEST)
    assert guest.ask("LIST") == texts.NO_HOMES
    assert guest.state == "start"


@pytest.mark.parametrize(
    ("body", "titles"),
    [
        ("LIST beach", ["Beach House", "Lake Cottage"]),  # title; description
        ("list TAHOE", ["Lake Cottage"]),  # place
        ("list beach malibu", ["Beach House"]),  # every word must match
        ("list log cabin", ["Mountain Cabin"]),
        ("browse soho!", ["City Loft"]),
    ],
)
def test_list_words_filters_by_title_description_and_place(body: str, titles: list[str]) -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    reply = guest.ask(body)
    lines = reply.split("\n")
    assert lines[0] == f"Homes 1-{len(titles)} of {len(titles)}:"
    assert [line.split(",")[0] for line in lines[1:-1]] == [
        f"{n} {t}" for n, t in enumerate(titles, 1)
    ]
    assert guest.data["shown"] == [home(world, t).id for t in titles]


def test_list_words_with_no_match() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    assert guest.ask("LIST castle") == 'No homes match "castle". Send LIST to see all homes.'
    assert guest.state == "browsing"  # the last list still stands
    assert guest.data["shown"] == [1, 2, 3, 4, 5]


def test_an_unlisted_home_never_shows() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("LIST villa") == 'No homes match "villa". Send LIST to see all homes.'


def test_viewing_a_home_with_its_photo() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    decision = guest.send("1")
    assert len(decision.replies) == 1
    reply = decision.replies[0]
    assert reply.to == GUEST
    assert reply.media == (BEACH_JPG,)
    assert reply.body == (
        "1 Beach House, Malibu, $250/night. Ocean views and a deck. "
        "Send BOOK to ask for it, or LIST."
    )
    assert guest.state == "viewing"
    assert guest.data["viewing"] == 1


def test_viewing_a_home_without_a_photo_has_no_media() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    decision = guest.send("2")
    assert decision.replies[0].media == ()
    assert decision.replies[0].body.startswith("2 Mountain Cabin, Aspen, $180/night.")


def test_numbers_count_on_across_pages() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("MORE")
    assert guest.ask("#6").startswith("6 Farm Stay, Vermont, $90/night.")


@pytest.mark.parametrize("number", ["0", "6", "99"])
def test_a_number_not_in_the_list(number: str) -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    assert guest.ask(number) == texts.NOT_IN_LIST.format(n=int(number), last=5)
    assert guest.state == "browsing"


def test_a_number_without_a_list() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("3") == texts.NO_LIST


def test_a_home_unlisted_after_the_list_was_shown() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    home(world, "Mountain Cabin").active = False
    assert guest.ask("2") == texts.HOME_GONE
    assert guest.state == "browsing"


# -- booking --------------------------------------------------------------------------------


def test_book_without_a_list_or_a_home() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("BOOK") == texts.BOOK_WHICH
    assert guest.state == "start"
    assert guest.ask("BOOK 3") == texts.NO_LIST
    assert guest.state == "start"


def test_book_from_the_list_without_a_number_asks_which() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    assert guest.ask("BOOK") == texts.BOOK_WHICH
    assert guest.state == "browsing"


def test_book_while_viewing_asks_for_dates() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("3")
    reply = guest.ask("book")
    assert reply == (
        'Booking City Loft. Which dates? Like "Dec 3-7" or "12/3 to 12/7". MENU to go back.'
    )
    assert guest.state == "asking_dates"
    assert guest.data["draft"] == {"property_id": home(world, "City Loft").id}


def test_book_n_from_the_list() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    assert guest.ask("BOOK #4").startswith("Booking Lake Cottage. Which dates?")
    assert guest.data["draft"] == {"property_id": home(world, "Lake Cottage").id}
    assert guest.data["viewing"] == 4


def test_book_n_not_in_the_list() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    assert guest.ask("BOOK 9") == texts.NOT_IN_LIST.format(n=9, last=5)
    assert guest.state == "browsing"


def test_booking_ones_own_home_is_refused() -> None:
    host = Chat(make_world(), HOST)
    host.send("LIST")
    assert host.ask("BOOK 1") == texts.OWN_HOME
    assert host.state == "browsing"
    assert "draft" not in host.data


def test_the_whole_booking_for_a_guest_without_a_name() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("1")
    guest.send("BOOK")
    assert guest.ask("Dec 3-7") == (
        "Dec 3-7, 4 nights, $1000. Now a short note for the host: who you are, why you travel."
    )
    assert guest.state == "asking_message"
    assert guest.data["draft"] == {
        "property_id": 1,
        "check_in": "2026-12-03",
        "check_out": "2026-12-07",
    }
    assert guest.ask("We are two, quiet, love the sea.") == texts.ASK_NAME
    assert guest.state == "asking_name"
    decision = guest.send("Ana")
    assert decision.name == "Ana"
    assert [r.body for r in decision.replies] == [
        summary("Beach House", "Dec 3-7", 4, 1000, "Ana", "We are two, quiet, love the sea.")
    ]
    assert decision.replies[0].body == (
        'Beach House, Dec 3-7 (4 nights), $1000, as Ana: "We are two, quiet, love the sea.". '
        "Send SEND to ask the host, or MENU to drop it."
    )
    assert guest.state == "confirming"

    decision = guest.send("SEND")
    assert decision.state == "start"
    assert "draft" not in decision.data
    reservation = decision.new_reservation
    assert reservation == Reservation(
        id=1,
        property_id=1,
        guest_phone=GUEST,
        check_in=d(12, 3),
        check_out=d(12, 7),
        message="We are two, quiet, love the sea.",
        status="pending",
        created_at=NOW,
        updated_at=NOW,
    )
    assert [(r.to, r.body) for r in decision.replies] == [
        (
            GUEST,
            "Request 1 sent to the host of Beach House. I'll text you their answer. "
            "MY shows your trips.",
        )
    ]
    assert len(decision.notifications) == 1
    note = decision.notifications[0]
    assert note.to == HOST
    assert note.reservation_id == 1
    assert note.body == (
        'New request 1: Beach House, Dec 3-7 (4 nights) from Ana: "We are two, quiet, love the '
        'sea." Reply ACCEPT 1 or REJECT 1'
    )
    assert "Reply ACCEPT 1 or REJECT 1" in note.body
    assert "Dec 3-7" in note.body and "4 nights" in note.body and "Ana" in note.body
    assert GUEST not in note.body and GUEST.lstrip("+") not in note.body
    assert "5550001111" not in note.body
    assert decision.changes == []


def test_a_guest_with_a_name_is_not_asked_for_it() -> None:
    world = make_world()
    world.add_person(GUEST, "Bea")
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("BOOK 2")
    guest.send("Dec 10 for 2 nights")
    decision = guest.send("Hello")
    assert decision.state == "confirming"
    assert decision.name is None
    assert decision.replies[0].body == summary(
        "Mountain Cabin", "Dec 10-12", 2, 360, "Bea", "Hello"
    )


def test_the_name_asked_once_is_not_asked_again() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    at_summary(guest, 1)
    guest.send("SEND")
    assert world.person(GUEST) is not None
    assert world.person(GUEST).name == "Ana"  # type: ignore[union-attr]
    guest.send("LIST")
    guest.send("BOOK 3")
    guest.send("Dec 3-7")
    assert guest.send("Hi again").state == "confirming"


def test_the_reservation_takes_the_next_reservation_id() -> None:
    world = make_world()
    for n in range(40):
        world.add_reservation(GUEST2, home(world, "Treehouse"), d(1, 1, 2027), d(1, 2, 2027))
        world.reservations[-1].status = "rejected" if n % 2 else "expired"
    assert world.next_reservation_id() == 41
    guest = Chat(world, GUEST)
    at_summary(guest, 1)
    decision = guest.send("SEND")
    assert decision.new_reservation is not None
    assert decision.new_reservation.id == 41
    assert "Reply ACCEPT 41 or REJECT 41" in decision.notifications[0].body
    assert decision.replies[0].body.startswith("Request 41 sent")


@pytest.mark.parametrize("word", ["YES", "yes!", "Y", "ok", "Okay", "CONFIRM"])
def test_yes_at_the_summary_sends(word: str) -> None:
    guest = Chat(make_world(), GUEST)
    at_summary(guest)
    decision = guest.send(word)
    assert decision.new_reservation is not None
    assert decision.state == "start"
    assert decision.notifications[0].to == HOST


@pytest.mark.parametrize("word", ["NO", "n", "MENU"])
def test_no_or_menu_at_the_summary_drops_the_request(word: str) -> None:
    guest = Chat(make_world(), GUEST)
    at_summary(guest)
    decision = guest.send(word)
    assert decision.new_reservation is None
    assert decision.notifications == []
    assert decision.state == "start"
    assert "draft" not in decision.data
    assert [r.body for r in decision.replies] == [texts.MENU]
    assert guest.ask("SEND") == texts.NOTHING_TO_SEND


def test_other_text_at_the_summary_asks_again() -> None:
    guest = Chat(make_world(), GUEST)
    at_summary(guest)
    assert guest.ask("hmm maybe") == texts.CONFIRM_WHAT
    assert guest.state == "confirming"
    assert guest.send("SEND").new_reservation is not None


def test_send_with_nothing_to_send() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    assert guest.ask("SEND") == texts.NOTHING_TO_SEND
    assert guest.state == "browsing"


@pytest.mark.parametrize("steps", [2, 3, 4])
def test_menu_drops_the_draft_at_every_step(steps: int) -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    for body in ["BOOK 1", "Dec 3-7", "Hi"][: steps - 1]:
        guest.send(body)
    assert guest.state == ["asking_dates", "asking_message", "asking_name"][steps - 2]
    assert "draft" in guest.data
    assert guest.ask("MENU") == texts.MENU
    assert guest.state == "start"
    assert "draft" not in guest.data


def test_list_during_a_booking_drops_the_draft() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    assert guest.ask("LIST").startswith("Homes 1-5 of 7:")
    assert guest.state == "browsing"
    assert "draft" not in guest.data


def test_unreadable_dates() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    assert guest.ask("whenever suits") == texts.DATES_NOT_READ
    assert guest.state == "asking_dates"


@pytest.mark.parametrize(
    "dates", ["2026-11-20 to 2026-11-22", "Dec 7-3", "Dec 1 - Jan 5", "Dec 3 for 0 nights", "Dec 3"]
)
def test_dates_that_cant_be_booked_get_the_reason(dates: str) -> None:
    problem = parse_stay(dates, TODAY, 30)
    assert isinstance(problem, DateProblem)
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    assert guest.ask(dates) == problem.reason
    assert guest.state == "asking_dates"


@pytest.mark.parametrize("dates", ["next weekend", "next friday to sunday"])
def test_dates_starting_with_next_are_dates(dates: str) -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send(dates)
    assert guest.state == "asking_message"


def test_dates_overlapping_a_confirmed_stay_are_refused() -> None:
    world = make_world()
    world.add_reservation(
        GUEST2, home(world, "Beach House"), d(12, 5), d(12, 9), status="confirmed"
    )
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    assert guest.ask("Dec 3-7") == texts.DATES_TAKEN.format(title="Beach House")
    assert guest.state == "asking_dates"
    # The check-out day is free for the next check-in.
    assert guest.ask("Dec 1-5").startswith("Dec 1-5, 4 nights, $1000.")
    assert guest.state == "asking_message"


def test_dates_overlapping_another_guests_pending_request_are_fine() -> None:
    world = make_world()
    world.add_reservation(GUEST2, home(world, "Beach House"), d(12, 5), d(12, 9))
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send("Dec 3-7")
    assert guest.state == "asking_message"


def test_a_guests_own_overlapping_pending_request_is_refused() -> None:
    world = make_world()
    mine = world.add_reservation(GUEST, home(world, "Beach House"), d(12, 4), d(12, 6))
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    assert guest.ask("Dec 3-7") == texts.ALREADY_ASKED.format(ref=mine.id, title="Beach House")
    assert guest.state == "asking_dates"
    guest.send("Dec 10-12")
    assert guest.state == "asking_message"


def test_a_stay_confirmed_before_send_is_refused_at_send() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    at_summary(guest, 1)
    world.add_reservation(
        GUEST2, home(world, "Beach House"), d(12, 6), d(12, 8), status="confirmed"
    )
    decision = guest.send("SEND")
    assert decision.new_reservation is None
    assert decision.notifications == []
    assert [r.body for r in decision.replies] == [texts.DATES_TAKEN.format(title="Beach House")]
    assert decision.state == "asking_dates"


def test_a_home_unlisted_during_the_booking() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    at_summary(guest, 1)
    home(world, "Beach House").active = False
    decision = guest.send("SEND")
    assert decision.new_reservation is None
    assert [r.body for r in decision.replies] == [texts.HOME_GONE]
    assert decision.state == "start"


def test_dates_that_became_past_before_send_say_so() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    at_summary(guest, 1, "Nov 24-26")
    guest.rules = Rules(now=NOW, today=d(11, 24), max_nights=30)
    decision = guest.send("SEND")
    assert decision.new_reservation is None
    assert "could not read" not in decision.replies[0].body


def test_message_step_takes_any_text_as_the_note() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send("Dec 3-7")
    guest.send("  We   come for the LIST of beaches  ")
    assert guest.data["draft"]["message"] == "We come for the LIST of beaches"  # type: ignore[index]


def test_an_emoji_only_note_is_asked_again() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send("Dec 3-7")
    assert guest.ask("🙂🙂") == texts.MESSAGE_EMPTY
    assert guest.state == "asking_message"


def test_an_empty_note_is_asked_again() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send("Dec 3-7")
    assert guest.ask("") == texts.MESSAGE_EMPTY


@pytest.mark.parametrize("name", ["🙂", "x" * 41, "42 42"])
def test_a_name_that_is_not_a_name_is_asked_again(name: str) -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send("Dec 3-7")
    guest.send("Hi")
    decision = guest.send(name)
    assert decision.state == "asking_name"
    assert decision.name is None
    assert [r.body for r in decision.replies] == [texts.NAME_BAD]


def test_a_name_with_unicode_is_kept_in_gsm7() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send("Dec 3-7")
    guest.send("Hi")
    decision = guest.send("Zoë “Z” O’Neil 🙂")
    assert decision.name == 'Zoe "Z" O\'Neil'


def test_book_after_a_new_list_never_books_an_unseen_home() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("2")  # Mountain Cabin
    guest.send("LIST beach")  # 1 Beach House, 2 Lake Cottage
    decision = guest.send("BOOK")
    draft = decision.data.get("draft")
    assert draft is None or draft["property_id"] == home(world, "Mountain Cabin").id


# -- the guest's trips ----------------------------------------------------------------------


def test_my_without_trips() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("MY") == texts.NO_TRIPS
    assert guest.ask("trips") == texts.NO_TRIPS


def test_my_lists_the_latest_five_with_status_and_ref() -> None:
    world = make_world()
    statuses = ["confirmed", "rejected", "withdrawn", "expired", "pending", "pending"]
    for n, status in enumerate(statuses):
        world.add_reservation(
            GUEST, home(world, "City Loft"), d(12, 1 + 3 * n), d(12, 3 + 3 * n), status=status
        )
    world.add_reservation(GUEST2, home(world, "Farm Stay"), d(12, 1), d(12, 2))
    guest = Chat(world, GUEST)
    assert guest.ask("MY") == (
        "Your trips:\n"
        "6 City Loft Dec 16-18: waiting for the host\n"
        "5 City Loft Dec 13-15: waiting for the host\n"
        "4 City Loft Dec 10-12: expired\n"
        "3 City Loft Dec 7-9: withdrawn\n"
        "2 City Loft Dec 4-6: declined\n"
        "WITHDRAW <ref> drops a pending one. LIST for homes."
    )


# -- withdrawing ----------------------------------------------------------------------------


def test_withdraw_own_pending_request_tells_the_host() -> None:
    world = make_world()
    mine = world.add_reservation(GUEST, home(world, "City Loft"), d(12, 3), d(12, 7))
    guest = Chat(world, GUEST)
    decision = guest.send("WITHDRAW #1")
    assert decision.changes == [(mine.id, "withdrawn")]
    assert [(r.to, r.body) for r in decision.replies] == [(GUEST, texts.WITHDRAWN.format(ref=1))]
    assert [(n.to, n.body, n.reservation_id) for n in decision.notifications] == [
        (
            HOST2,
            "Request 1 for City Loft (Dec 3-7) was withdrawn by the guest. REQUESTS shows the rest.",
            1,
        )
    ]
    assert mine.status == "withdrawn"


@pytest.mark.parametrize("body", ["WITHDRAW 1", "WITHDRAW 99"])
def test_withdraw_someone_elses_or_unknown_request_is_refused(body: str) -> None:
    world = make_world()
    world.add_reservation(GUEST2, home(world, "City Loft"), d(12, 3), d(12, 7))
    guest = Chat(world, GUEST)
    decision = guest.send(body)
    assert decision.changes == []
    assert decision.notifications == []
    ref = int(body.split()[1])
    assert [r.body for r in decision.replies] == [texts.NOT_YOURS.format(ref=ref)]


@pytest.mark.parametrize(
    ("status", "word"),
    [("confirmed", "confirmed"), ("rejected", "declined"), ("withdrawn", "withdrawn")],
)
def test_withdraw_a_request_that_is_not_pending_is_refused(status: str, word: str) -> None:
    world = make_world()
    world.add_reservation(GUEST, home(world, "City Loft"), d(12, 3), d(12, 7), status=status)
    guest = Chat(world, GUEST)
    decision = guest.send("withdraw 1")
    assert decision.changes == []
    assert decision.notifications == []
    assert [r.body for r in decision.replies] == [
        f"Request 1 is already {word}, so it can't change. Send MY to see your trips."
    ]


def test_withdraw_without_a_ref() -> None:
    guest = Chat(make_world(), GUEST)
    assert guest.ask("WITHDRAW") == texts.WITHDRAW_WHICH
    assert guest.ask("withdraw it") == texts.WITHDRAW_WHICH


def test_cancel_with_a_ref_is_neither_an_opt_out_nor_a_withdrawal() -> None:
    world = make_world()
    world.add_reservation(GUEST, home(world, "City Loft"), d(12, 3), d(12, 7))
    guest = Chat(world, GUEST)
    guest.send("hi")
    decision = guest.send("CANCEL 1")
    assert decision.opted_out is None
    assert decision.changes == []
    assert [r.body for r in decision.replies] == [texts.NOT_UNDERSTOOD]


# -- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["HELP", "info", "Help?"])
def test_help_differs_for_hosts(body: str) -> None:
    world = make_world()
    assert Chat(world, GUEST).ask(body) == texts.HELP_GUEST
    assert Chat(world, HOST).ask(body) == texts.HELP_HOST
    assert texts.HELP_GUEST != texts.HELP_HOST
    assert "ACCEPT" in texts.HELP_HOST and "ACCEPT" not in texts.HELP_GUEST


def test_help_keeps_a_booking_going() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    assert guest.ask("HELP") == texts.HELP_GUEST
    assert guest.state == "asking_dates"
    guest.send("Dec 3-7")
    assert guest.state == "asking_message"


# -- hosts ----------------------------------------------------------------------------------


def host_world(*stays: tuple[str, str, date, date]) -> FakeWorld:
    world = make_world()
    world.add_person(GUEST, "Ana")
    world.add_person(GUEST2, "Ben")
    world.add_person(GUEST3, "Cy")
    for guest, title, check_in, check_out in stays:
        world.add_reservation(guest, home(world, title), check_in, check_out)
    return world


@pytest.mark.parametrize("body", ["ACCEPT", "REJECT", "yes", "NO", "REQUESTS"])
def test_host_with_no_pending_requests(body: str) -> None:
    host = Chat(host_world(), HOST)
    decision = host.send(body)
    assert decision.changes == []
    assert [r.body for r in decision.replies] == [texts.HOST_NONE_PENDING]


@pytest.mark.parametrize("word", ["ACCEPT", "accept!", "YES", "y", "Confirm", "OK", "okay"])
def test_host_accepts_the_only_pending_request(word: str) -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    decision = host.send(word)
    assert decision.changes == [(1, "confirmed")]
    assert [(r.to, r.body, r.reservation_id) for r in decision.replies] == [
        (
            HOST,
            "You accepted request 1 (Ana, Dec 3-7). No more pending: REQUESTS lists new ones.",
            None,
        ),
        (
            GUEST,
            "Good news! Beach House confirmed your stay Dec 3-7 (request 1). MY shows your trips.",
            1,
        ),
    ]
    assert decision.notifications == []
    assert GUEST not in decision.replies[0].body
    assert HOST not in decision.replies[1].body


@pytest.mark.parametrize("word", ["REJECT", "no", "N", "decline."])
def test_host_rejects_the_only_pending_request(word: str) -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    decision = host.send(word)
    assert decision.changes == [(1, "rejected")]
    assert [(r.to, r.body) for r in decision.replies] == [
        (HOST, "You rejected request 1 (Ana, Dec 3-7). No more pending: REQUESTS lists new ones."),
        (
            GUEST,
            "Sorry, Beach House can't host you Dec 3-7 (request 1). Send LIST to find another "
            "home.",
        ),
    ]


@pytest.mark.parametrize("body", ["ACCEPT", "REJECT", "yes", "n"])
def test_host_with_several_pending_is_asked_which(body: str) -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Farm Stay", d(12, 10), d(12, 12)),
    )
    host = Chat(world, HOST)
    decision = host.send(body)
    assert decision.changes == []
    assert [r.body for r in decision.replies] == [
        "You have 2 pending requests: 1 Beach House Dec 3-7 Ana; 2 Farm Stay Dec 10-12 Ben. "
        "Reply ACCEPT <ref> or REJECT <ref>."
    ]


def test_host_answers_by_ref_among_several() -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Farm Stay", d(12, 10), d(12, 12)),
    )
    host = Chat(world, HOST)
    decision = host.send("accept #2")
    assert decision.changes == [(2, "confirmed")]
    assert decision.replies[0].body == (
        "You accepted request 2 (Ben, Dec 10-12). 1 more pending: send REQUESTS."
    )
    assert decision.replies[1].to == GUEST2
    decision = host.send("REJECT 1")
    assert decision.changes == [(1, "rejected")]
    assert decision.replies[0].body == (
        "You rejected request 1 (Ana, Dec 3-7). No more pending: REQUESTS lists new ones."
    )
    assert decision.replies[1].to == GUEST


@pytest.mark.parametrize("body", ["ACCEPT 3", "REJECT 3", "accept 99", "yes 3"])
def test_host_answering_a_ref_not_theirs_is_refused(body: str) -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Farm Stay", d(12, 10), d(12, 12)),
        (GUEST3, "City Loft", d(12, 3), d(12, 7)),  # Omar's
    )
    host = Chat(world, HOST)
    decision = host.send(body)
    assert decision.changes == []
    ref = int(body.split()[1])
    assert [r.body for r in decision.replies] == [texts.HOST_UNKNOWN_REF.format(ref=ref)]


def test_host_answering_a_request_no_longer_pending() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    world.reservations[0].status = "withdrawn"
    host = Chat(world, HOST)
    decision = host.send("ACCEPT 1")
    assert decision.changes == []
    assert [r.body for r in decision.replies] == [
        texts.NOT_PENDING.format(ref=1, status="withdrawn")
    ]


def test_accepting_closes_overlapping_pending_requests_at_that_home_only() -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),  # 1: accepted
        (GUEST2, "Beach House", d(12, 5), d(12, 9)),  # 2: overlaps -> rejected
        (GUEST3, "Beach House", d(12, 7), d(12, 10)),  # 3: starts on check-out day: stays
        (GUEST2, "Mountain Cabin", d(12, 3), d(12, 7)),  # 4: same dates, other home: stays
        (GUEST3, "Beach House", d(12, 1), d(12, 4)),  # 5: overlaps -> rejected
    )
    host = Chat(world, HOST)
    decision = host.send("ACCEPT 1")
    assert decision.changes == [(1, "confirmed"), (2, "rejected"), (5, "rejected")]
    assert [(n.to, n.body, n.reservation_id) for n in decision.notifications] == [
        (
            GUEST2,
            "Sorry, Beach House was booked for Dec 5-9 by someone else (request 2). "
            "Send LIST for other homes.",
            2,
        ),
        (
            GUEST3,
            "Sorry, Beach House was booked for Dec 1-4 by someone else (request 5). "
            "Send LIST for other homes.",
            5,
        ),
    ]
    assert [(r.to, r.body) for r in decision.replies] == [
        (
            HOST,
            "You accepted request 1 (Ana, Dec 3-7). 2 more pending: send REQUESTS. "
            "Declined as overlapping: 2, 5.",
        ),
        (
            GUEST,
            "Good news! Beach House confirmed your stay Dec 3-7 (request 1). MY shows your trips.",
        ),
    ]
    assert [r.status for r in world.reservations] == [
        "confirmed",
        "rejected",
        "pending",
        "pending",
        "rejected",
    ]


def test_rejecting_closes_nothing_else() -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Beach House", d(12, 5), d(12, 9)),
    )
    decision = Chat(world, HOST).send("REJECT 1")
    assert decision.changes == [(1, "rejected")]
    assert decision.notifications == []


def test_accepting_a_request_that_overlaps_a_confirmed_stay_is_refused() -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Beach House", d(12, 5), d(12, 9)),
    )
    world.reservations[1].status = "confirmed"
    host = Chat(world, HOST)
    decision = host.send("ACCEPT")
    assert decision.changes == []
    assert [r.body for r in decision.replies] == [
        texts.HOST_OVERLAP.format(ref=1, title="Beach House")
    ]
    assert host.send("REJECT 1").changes == [(1, "rejected")]


def test_requests_lists_the_hosts_pending_requests() -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST3, "City Loft", d(12, 3), d(12, 7)),  # Omar's
        (GUEST2, "Farm Stay", d(12, 10), d(12, 12)),
    )
    assert Chat(world, HOST).ask("REQUESTS") == (
        "Pending: 1 Beach House Dec 3-7 Ana; 3 Farm Stay Dec 10-12 Ben. "
        "Reply ACCEPT <ref> or REJECT <ref>."
    )
    assert Chat(world, HOST2).ask("requests") == (
        "Pending: 2 City Loft Dec 3-7 Cy. Reply ACCEPT <ref> or REJECT <ref>."
    )


def test_a_guest_without_a_name_shows_as_a_guest_to_the_host() -> None:
    world = make_world()
    world.add_reservation(GUEST, home(world, "Beach House"), d(12, 3), d(12, 7))
    host = Chat(world, HOST)
    assert host.ask("REQUESTS") == (
        "Pending: 1 Beach House Dec 3-7 a guest. Reply ACCEPT <ref> or REJECT <ref>."
    )
    assert host.send("ACCEPT").replies[0].body == (
        "You accepted request 1 (a guest, Dec 3-7). No more pending: REQUESTS lists new ones."
    )


@pytest.mark.parametrize("body", ["ACCEPT", "REJECT 1", "REQUESTS"])
def test_a_guest_is_not_a_host(body: str) -> None:
    world = host_world((GUEST2, "Beach House", d(12, 3), d(12, 7)))
    decision = Chat(world, GUEST).send(body)
    assert decision.changes == []
    assert [r.body for r in decision.replies] == [texts.HOST_NOT_HOST]


def test_reject_it_rejects_the_only_pending_request() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    host.send("hi")
    assert host.send("reject it").changes == [(1, "rejected")]


@pytest.mark.parametrize("body", ["no thanks", "nope", "not now", "No, thanks!", "cancel 1", "N/A"])
def test_text_that_is_not_an_answer_never_rejects(body: str) -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    host.send("hi")
    decision = host.send(body)
    assert decision.changes == []
    assert decision.opted_out is None
    assert world.reservations[0].status == "pending"
    assert [r.to for r in decision.replies] == [HOST]


def test_host_answer_by_ref_in_the_middle_of_their_own_booking() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    host.send("LIST")
    host.send("BOOK 3")
    host.send("Dec 3-7")
    assert host.state == "asking_message"
    decision = host.send("ACCEPT 1")
    assert decision.changes == [(1, "confirmed")]
    assert decision.state == "asking_message"
    assert "draft" in decision.data


def test_a_person_who_is_host_and_guest() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    assert host.ask("HELP") == texts.HELP_HOST
    # Hana books Omar's City Loft while her own Beach House has a pending request.
    summary_text = at_summary(host, 3)
    assert "as Hana" in summary_text
    decision = host.send("YES")
    assert decision.changes == []  # her pending request is untouched
    assert decision.new_reservation is not None
    assert decision.new_reservation.property_id == home(world, "City Loft").id
    assert decision.new_reservation.guest_phone == HOST
    assert [n.to for n in decision.notifications] == [HOST2]
    assert world.reservations[0].status == "pending"
    assert host.ask("MY") == (
        "Your trips:\n2 City Loft Dec 3-7: waiting for the host\n"
        "WITHDRAW <ref> drops a pending one. LIST for homes."
    )
    # ... and answers as a host once the summary is gone.
    decision = host.send("YES")
    assert decision.changes == [(1, "confirmed")]
    # Omar accepts Hana's request: she is told as a guest.
    decision = Chat(world, HOST2).send("ACCEPT")
    assert decision.changes == [(2, "confirmed")]
    assert decision.replies[1].to == HOST
    assert decision.replies[0].body == (
        "You accepted request 2 (Hana, Dec 3-7). No more pending: REQUESTS lists new ones."
    )


def test_accept_at_the_summary_answers_as_host() -> None:
    # Only the confirm words answer the summary; ACCEPT is always the host's word.
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    at_summary(host, 3)
    decision = host.send("ACCEPT")
    assert decision.changes == [(1, "confirmed")]
    assert decision.new_reservation is None


# -- opt-out --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["STOP", "  Stop. ", "stopall", "UNSUBSCRIBE", "cancel", "END", "quit", "revoke"]
)
def test_an_opt_out_is_recorded_and_not_answered(body: str) -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    decision = guest.send(body)
    assert decision.opted_out is True
    assert decision.replies == []
    assert decision.notifications == []
    assert decision.state == "browsing"
    assert world.person(GUEST) is not None and world.person(GUEST).opted_out  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body", ["hi", "LIST", "HELP", "INFO", "MY", "1", "", "accept", "STOP", "MENU", "Dec 3-7"]
)
def test_an_opted_out_person_gets_no_replies(body: str) -> None:
    world = make_world()
    world.add_person(GUEST, "Ana", opted_out=True)
    decision = Chat(world, GUEST).send(body)
    assert decision.replies == []
    assert decision.notifications == []
    assert decision.opted_out in (None, True)


def test_an_opted_out_guest_still_books_silently_and_the_host_is_told() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    at_summary(guest, 1)
    guest.send("STOP")
    decision = guest.send("SEND")
    assert decision.new_reservation is not None
    assert decision.replies == []
    assert [n.to for n in decision.notifications] == [HOST]


def test_an_opted_out_host_gets_no_new_request_text() -> None:
    world = make_world()
    world.add_person(HOST, "Hana", opted_out=True)
    guest = Chat(world, GUEST)
    at_summary(guest, 1)
    decision = guest.send("SEND")
    assert decision.new_reservation is not None
    assert decision.notifications == []
    assert [r.to for r in decision.replies] == [GUEST]


def test_an_opted_out_guest_is_not_told_the_hosts_decision() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    world.add_person(GUEST, "Ana", opted_out=True)
    decision = Chat(world, HOST).send("ACCEPT")
    assert decision.changes == [(1, "confirmed")]
    assert [(r.to, r.body) for r in decision.replies] == [
        (HOST, "You accepted request 1 (Ana, Dec 3-7). No more pending: REQUESTS lists new ones.")
    ]


def test_opted_out_guests_of_closed_requests_are_not_told() -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Beach House", d(12, 5), d(12, 9)),
        (GUEST3, "Beach House", d(12, 4), d(12, 5)),
    )
    world.add_person(GUEST2, "Ben", opted_out=True)
    decision = Chat(world, HOST).send("ACCEPT 1")
    assert decision.changes == [(1, "confirmed"), (2, "rejected"), (3, "rejected")]
    assert [n.to for n in decision.notifications] == [GUEST3]


def test_an_opted_out_host_still_decides_silently() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    world.add_person(HOST, "Hana", opted_out=True)
    decision = Chat(world, HOST).send("REJECT 1")
    assert decision.changes == [(1, "rejected")]
    assert [r.to for r in decision.replies] == [GUEST]


@pytest.mark.parametrize("body", ["START", "unstop", "Start."])
def test_start_opts_back_in_with_a_welcome_back(body: str) -> None:
    world = make_world()
    world.add_person(GUEST, "Ana", opted_out=True)
    guest = Chat(world, GUEST)
    decision = guest.send(body)
    assert decision.opted_out is False
    assert [(r.to, r.body) for r in decision.replies] == [(GUEST, texts.WELCOME_BACK)]
    assert guest.ask("LIST").startswith("Homes 1-5 of 7:")


def test_start_when_not_opted_out_changes_nothing() -> None:
    guest = Chat(make_world(), GUEST)
    decision = guest.send("START")
    assert decision.opted_out is None
    assert [r.body for r in decision.replies] == [texts.MENU]


@pytest.mark.parametrize("opted_out", [False, True])
def test_start_in_the_middle_of_a_booking_goes_back_to_the_start(opted_out: bool) -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("BOOK 1")
    guest.send("Dec 3-7")
    if opted_out:
        guest.send("STOP")
    guest.send("START")
    assert guest.ask("LIST").startswith("Homes 1-5 of 7:")


def test_yes_opts_back_in_and_sends_at_the_summary() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    at_summary(guest, 1)
    guest.send("STOP")
    decision = guest.send("YES")
    assert decision.opted_out is False
    assert decision.new_reservation is not None
    assert [r.to for r in decision.replies] == [GUEST]
    assert decision.replies[0].body.startswith("Request 1 sent to the host of Beach House.")
    assert [n.to for n in decision.notifications] == [HOST]


def test_yes_opts_a_host_back_in_and_accepts() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    world.add_person(HOST, "Hana", opted_out=True)
    decision = Chat(world, HOST).send("yes")
    assert decision.opted_out is False
    assert decision.changes == [(1, "confirmed")]
    assert [r.to for r in decision.replies] == [HOST, GUEST]


def test_yes_opts_a_guest_back_in_with_an_answer() -> None:
    world = make_world()
    world.add_person(GUEST, "Ana", opted_out=True)
    guest = Chat(world, GUEST)
    guest.conversation.version = 3
    decision = guest.send("YES")
    assert decision.opted_out is False
    assert [r.body for r in decision.replies] == [texts.NOT_UNDERSTOOD]


@pytest.mark.parametrize("body", ["start now", "yes please", "Unstop me"])
def test_only_a_whole_message_opt_in_word_opts_back_in(body: str) -> None:
    world = make_world()
    world.add_person(GUEST, "Ana", opted_out=True)
    decision = Chat(world, GUEST).send(body)
    assert decision.opted_out is None
    assert decision.replies == []


# -- expiry ---------------------------------------------------------------------------------


def test_expire_a_pending_request_tells_guest_and_host() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    decision = expire(world.reservations[0], world)
    assert decision is not None
    assert decision.changes == [(1, "expired")]
    assert decision.replies == []
    assert [(n.to, n.body, n.reservation_id) for n in decision.notifications] == [
        (
            GUEST,
            "Request 1 for Beach House (Dec 3-7) got no answer in time and has expired. "
            "Send LIST to try another home.",
            1,
        ),
        (
            HOST,
            "Request 1 for Beach House (Dec 3-7) expired without an answer. REQUESTS shows the rest.",
            1,
        ),
    ]


def test_expire_skips_opted_out_people() -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    world.add_person(GUEST, "Ana", opted_out=True)
    decision = expire(world.reservations[0], world)
    assert decision is not None
    assert decision.changes == [(1, "expired")]
    assert [n.to for n in decision.notifications] == [HOST]


@pytest.mark.parametrize("status", ["confirmed", "rejected", "withdrawn", "expired"])
def test_expire_a_request_that_is_not_pending(status: str) -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    world.reservations[0].status = status
    assert expire(world.reservations[0], world) is None


# -- decide() never fails -------------------------------------------------------------------

WORDS = [
    "LIST", "MORE", "BOOK", "SEND", "MY", "WITHDRAW", "MENU", "REQUESTS", "ACCEPT", "REJECT",
    "YES", "NO", "Y", "N", "OK", "HELP", "STOP", "START", "next", "cancel", "#", "Dec", "for",
    "HOST", "SAVE", "SKIP", "HOMES", "PAUSE", "RESUME", "PHOTO", "PRICE", "LIST beach",
]  # fmt: skip
BODIES = st.one_of(
    st.text(max_size=200),
    st.sampled_from(WORDS),
    st.builds(
        lambda w, n, tail: f"{w} {n}{tail}",
        st.sampled_from(WORDS),
        st.integers(-3, 10**10),
        st.sampled_from(["", "!", " nights", "-7", " please", "🙂"]),
    ),
    st.builds(
        lambda m, a, b: f"{m} {a}-{b}",
        st.sampled_from(["Dec", "nov", "Feb", "12/"]),
        st.integers(0, 40),
        st.integers(0, 40),
    ),
)
DRAFTS: dict[str, dict[str, object]] = {
    "start": {},
    "browsing": {"query": "", "shown": [1, 2, 3, 4, 5]},
    "viewing": {"query": "", "shown": [1, 2, 3, 4, 5], "viewing": 2},
    "asking_dates": {"query": "", "shown": [1, 2, 3], "viewing": 3, "draft": {"property_id": 3}},
    "asking_message": {
        "query": "",
        "shown": [1, 2, 3],
        "viewing": 3,
        "draft": {"property_id": 3, "check_in": "2026-12-03", "check_out": "2026-12-07"},
    },
}
DRAFTS["asking_name"] = {
    **DRAFTS["asking_message"],
    "draft": {**DRAFTS["asking_message"]["draft"], "message": "Hi"},  # type: ignore[dict-item]
}
DRAFTS["confirming"] = DRAFTS["asking_name"]
LISTING_SO_FAR: list[tuple[str, object]] = [
    ("title", "Sea View"),
    ("place", "Malibu, CA"),
    ("description", "Two rooms by the sea."),
    ("price", 120),
    ("image_url", None),
]
for step, state in enumerate(
    [
        "listing_title",
        "listing_place",
        "listing_description",
        "listing_price",
        "listing_photo",
        "listing_confirming",
    ]
):
    DRAFTS[state] = {"listing": dict(LISTING_SO_FAR[:step])}
DRAFTS["replacing_photo"] = {"photo_for": 1}


@pytest.mark.parametrize(("state", "body"), [("asking_dates", "Dec 3-7"), ("asking_message", "Hi")])
def test_decide_leaves_the_draft_alone(state: str, body: str) -> None:
    world = make_world()
    data = copy.deepcopy(DRAFTS[state])
    conversation = Conversation(1, BOT, GUEST, state, NOW, NOW, data, 3)
    decision = decide(Inbound(GUEST, body), conversation, world, RULES)
    assert decision.state != state
    assert conversation.data == DRAFTS[state]


def test_every_state_has_a_fuzz_case() -> None:
    assert sorted(DRAFTS) == sorted(STATES)


FUZZ_WORLD = host_world(
    (GUEST, "Beach House", d(12, 3), d(12, 7)),
    (GUEST2, "Beach House", d(12, 5), d(12, 9)),
    (GUEST3, "City Loft", d(12, 1), d(12, 4)),
)
FUZZ_WORLD.add_reservation(GUEST2, home(FUZZ_WORLD, "City Loft"), d(12, 20), d(12, 22))
FUZZ_WORLD.reservations[-1].status = "confirmed"
FUZZ_WORLD.add_person("+15550004444", "Dee", opted_out=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=BODIES,
    state=st.sampled_from(STATES),
    phone=st.sampled_from([GUEST, GUEST2, HOST, HOST2, "+15550004444", "+15559999999"]),
    version=st.sampled_from([0, 1, 7]),
)
def test_decide_never_raises_and_stays_in_a_known_state(
    body: str, state: str, phone: str, version: int
) -> None:
    data = copy.deepcopy(DRAFTS[state])
    conversation = Conversation(1, BOT, phone, state, NOW, NOW, data, version)
    decision = decide(Inbound(phone, body), conversation, FUZZ_WORLD, RULES)
    assert decision.state in STATES
    assert conversation.state == state  # the data: see test_decide_leaves_the_draft_alone
    if decision.state in ("asking_dates", "asking_message", "asking_name", "confirming"):
        assert "draft" in decision.data
    else:
        assert "draft" not in decision.data
    assert ("listing" in decision.data) == decision.state.startswith("listing_")
    person = FUZZ_WORLD.person(phone)
    silenced = decision.opted_out or (decision.opted_out is None and person and person.opted_out)
    if silenced:
        assert [r for r in decision.replies if r.to == phone] == []
    else:
        # Never silence: someone who may be texted always gets exactly one answer of their own.
        assert len([r for r in decision.replies if r.to == phone]) == 1
