"""Guests and hosts in their own words, through decide(): what each natural text does to the
conversation (state, draft, replies), beyond what the understanding table checks."""

from __future__ import annotations

import re

import pytest

from conversations import texts
from conversations.flow import ROUTES, STATES, Rules
from conversations.model import Property
from tests.conversations.fakes import NOW, Chat, FakeWorld
from tests.conversations.test_flow import (
    BEACH_JPG,
    GUEST,
    GUEST2,
    HOST,
    d,
    home,
    host_world,
    make_world,
)


def viewing(world: FakeWorld, number: int = 1) -> Chat:
    guest = Chat(world, GUEST)
    guest.send("hi")
    guest.send("LIST")
    guest.send(str(number))
    assert guest.state == "viewing"
    return guest


# -- small talk -----------------------------------------------------------------------------


def test_thanks_and_small_talk_say_what_to_send_next() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    assert guest.ask("thanks!") == texts.THANKED
    assert guest.ask("who are you?") == texts.SMALL_TALK
    assert "LIST" in texts.THANKED and "LIST" in texts.SMALL_TALK


def test_a_greeting_before_a_question_answers_the_question() -> None:
    guest = Chat(make_world(), GUEST)
    reply = guest.ask("hello, do you have anything in Malibu?")
    assert reply.startswith("Homes 1-1 of 1:\n1 Beach House, Malibu $250")
    assert guest.state == "browsing"


def test_greetings_in_the_form_keep_the_step() -> None:
    guest = viewing(make_world())
    guest.send("book it")
    assert guest.ask("hello") == "Hi! " + texts.ASK_DATES.format(title="Beach House")
    assert guest.state == "asking_dates"


@pytest.mark.parametrize("body", ["start over", "never mind", "back", "forget it"])
def test_leaving_the_flow_in_words(body: str) -> None:
    guest = viewing(make_world())
    guest.send("book it")
    assert guest.ask(body) == texts.MENU
    assert guest.state == "start" and "draft" not in guest.data


# -- searching ------------------------------------------------------------------------------


def test_a_sentence_with_dates_lists_homes_free_then() -> None:
    world = make_world()
    world.add_reservation(
        GUEST2, home(world, "Beach House"), d(12, 4), d(12, 6), status="confirmed"
    )
    guest = Chat(world, GUEST)
    guest.send("hi")
    reply = guest.ask("anything with a beach for Dec 3-7?")
    assert reply.startswith("Homes 1-1 of 1 free Dec 3-7:\n1 Lake Cottage")  # Beach House busy


def test_a_month_alone_is_asked_and_remembered() -> None:
    guest = viewing(make_world())
    assert guest.ask("is it free in December?").startswith("Which days in December?")
    # "the 3rd to the 7th" then means December.
    reply = guest.ask("is it free the 3rd to the 7th?")
    assert reply.startswith("Beach House is free Dec 3-7: 4 nights, $1000.")


def test_picking_by_position_and_by_name() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    assert guest.ask("the second one").startswith("2 Mountain Cabin, Aspen")
    assert guest.ask("the loft").startswith("3 City Loft, New York")
    assert guest.ask("the one in tahoe").startswith("4 Lake Cottage, Tahoe")
    assert guest.ask("the cabn").startswith("2 Mountain Cabin")  # a typo, matched loosely
    assert guest.data["viewing"] == home(world, "Mountain Cabin").id


def test_a_name_that_is_no_home_shown_is_a_search() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("LIST")
    assert guest.ask("the goats").startswith("Homes 1-1 of 1:\n1 Farm Stay")


# -- questions about a home -----------------------------------------------------------------


def test_questions_get_the_facts_the_bot_has() -> None:
    guest = viewing(make_world())
    assert guest.ask("how much is it?") == (
        "Beach House is $250 a night. Send BOOK to ask for it, or LIST."
    )
    assert guest.ask("how much for dec 3-7?") == (
        "Beach House is $250 a night: $1000 for Dec 3-7 (4 nights). "
        "Send BOOK to ask for it then, or LIST."
    )
    assert (
        guest.ask("where is it?") == "Beach House is in Malibu. Send BOOK to ask for it, or LIST."
    )
    photo = guest.send("can I see the photo again?")
    assert photo.replies[0].media == (BEACH_JPG,)
    assert photo.replies[0].body == "Here is Beach House again. Send BOOK to ask for it, or LIST."


def test_whether_it_is_free() -> None:
    world = make_world()
    world.add_reservation(
        GUEST2, home(world, "Beach House"), d(12, 4), d(12, 6), status="confirmed"
    )
    guest = viewing(world)
    assert guest.ask("is it free dec 3-7?") == (
        "Sorry, Beach House is booked on some nights of Dec 3-7. Send other dates to check, or LIST."
    )
    assert guest.ask("is it available dec 10-12?") == (
        "Beach House is free Dec 10-12: 2 nights, $500. Send BOOK to ask for it then, or LIST."
    )
    # "book it" then books those dates: only the note is asked.
    assert guest.ask("book it").startswith("Dec 10-12, 2 nights, $500. Now a short note")


def test_a_question_the_bot_cannot_answer_is_said_honestly() -> None:
    guest = viewing(make_world())
    reply = guest.ask("are pets allowed?")
    assert reply == (
        "I don't know that about Beach House; the host does: ask in your note. "
        "Send BOOK to ask for it, or LIST."
    )


def test_a_question_naming_a_home_while_browsing_views_it() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    assert guest.ask("how much is the city loft?").startswith("City Loft is $300 a night.")
    assert guest.state == "viewing" and guest.data["viewing"] == home(world, "City Loft").id
    assert guest.ask("book it").startswith("Booking City Loft.")


def test_a_question_without_a_home_asks_which() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    assert guest.ask("how much is it?") == texts.ASK_WHICH_HOME


# -- booking in a sentence: the form fills in any order -------------------------------------


@pytest.mark.parametrize("body", ["book it", "I'll take it", "reserve this one", "boook"])
def test_book_it_books_the_home_viewed(body: str) -> None:
    guest = viewing(make_world())
    assert guest.ask(body).startswith("Booking Beach House. Which dates?")
    assert guest.state == "asking_dates"


def test_one_text_fills_the_home_and_the_dates() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    reply = guest.ask("book the cabin from the 3rd to the 7th of December")
    assert reply == (
        "Dec 3-7, 4 nights, $720. Now a short note for the host: who you are, why you travel."
    )
    assert guest.state == "asking_message"
    assert guest.data["draft"] == {
        "property_id": home(world, "Mountain Cabin").id,
        "check_in": "2026-12-03",
        "check_out": "2026-12-07",
    }


def test_a_home_named_that_is_not_in_the_list_is_found_among_all() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    assert guest.ask("I'd like to book the farm stay").startswith("Booking Farm Stay.")


def test_nights_first_then_the_day() -> None:
    guest = viewing(make_world())
    assert guest.ask("book it for 3 nights") == (
        'Booking Beach House for 3 nights. From which day? Like "Dec 3". MENU to go back.'
    )
    assert guest.ask("Dec 3").startswith("Dec 3-6, 3 nights, $750. Now a short note")


def test_new_dates_at_the_note_step_change_the_dates() -> None:
    guest = viewing(make_world())
    guest.send("book it")
    guest.send("Dec 3-7")
    assert guest.ask("Dec 4-8").startswith("Dec 4-8, 4 nights, $1000. Now a short note")
    assert guest.data["draft"]["check_in"] == "2026-12-04"  # type: ignore[index]
    assert guest.ask("make it 2 nights").startswith("Dec 4-6, 2 nights, $500.")
    assert "message" not in guest.data["draft"]  # type: ignore[operator]


def test_a_bare_yes_at_the_note_step_asks_for_the_note_and_skip_sends_none() -> None:
    world = make_world()
    world.add_person(GUEST, "Ana")
    guest = viewing(world)
    guest.send("book it")
    guest.send("Dec 3-7")
    assert guest.ask("yes") == texts.NOTE_AGAIN
    assert guest.state == "asking_message"
    summary = guest.ask("skip")
    assert summary == (
        "Beach House, Dec 3-7 (4 nights), $1000, as Ana, no note. "
        "Send SEND to ask the host, or MENU to drop it."
    )
    decision = guest.send("yep")
    assert decision.new_reservation is not None and decision.new_reservation.message == ""
    assert decision.notifications[0].body == (
        "New request 1: Beach House, Dec 3-7 (4 nights) from Ana, no note. "
        "Reply ACCEPT 1 or REJECT 1"
    )


@pytest.mark.parametrize("body", ["yep", "sure", "go ahead", "send it", "sounds good", "perfect"])
def test_every_yes_at_the_summary_sends(body: str) -> None:
    world = make_world()
    world.add_person(GUEST, "Ana")
    guest = viewing(world)
    for text in ["book it", "Dec 3-7", "We love the sea"]:
        guest.send(text)
    assert guest.state == "confirming"
    decision = guest.send(body)
    assert decision.new_reservation is not None
    assert decision.state == "start"


@pytest.mark.parametrize("body", ["no", "never mind", "cancel it"])
def test_no_at_the_summary_drops_it(body: str) -> None:
    world = make_world()
    world.add_person(GUEST, "Ana")
    guest = viewing(world)
    for text in ["book it", "Dec 3-7", "We love the sea"]:
        guest.send(text)
    decision = guest.send(body)
    assert decision.new_reservation is None and decision.opted_out is None
    assert decision.state == "start" and "draft" not in decision.data


def test_change_the_dates_at_the_summary() -> None:
    world = make_world()
    world.add_person(GUEST, "Ana")
    guest = viewing(world)
    for text in ["book it", "Dec 3-7", "We love the sea"]:
        guest.send(text)
    reply = guest.ask("change the dates to Dec 10-12")
    assert reply == (
        'Beach House, Dec 10-12 (2 nights), $500, as Ana: "We love the sea". '
        "Send SEND to ask the host, or MENU to drop it."
    )
    assert guest.state == "confirming"
    assert guest.ask("make it 3 nights").startswith("Beach House, Dec 10-13 (3 nights), $750")


def test_an_unclear_text_at_a_step_repeats_it_with_an_example() -> None:
    world = make_world()
    guest = viewing(world)
    guest.send("book it")
    guest.send("Dec 3-7")
    guest.send("Quiet couple")
    assert guest.state == "asking_name"
    assert guest.ask("why do you need it?") == texts.NAME_AGAIN
    assert guest.ask("my name is Ana").startswith("Beach House, Dec 3-7 (4 nights), $1000, as Ana:")
    assert guest.ask("hmm, let me see") == texts.CONFIRM_WHAT
    assert '"Dec 4-8"' in texts.CONFIRM_WHAT
    assert guest.state == "confirming" and guest.data["draft"]["message"] == "Quiet couple"  # type: ignore[index]


def test_a_question_in_the_form_answers_and_asks_the_step_again() -> None:
    guest = viewing(make_world())
    guest.send("book it")
    assert guest.ask("how much is it a night?") == (
        'Beach House is $250 a night. Which dates? Like "Dec 3-7".'
    )
    assert guest.state == "asking_dates"


def test_another_home_mid_form_keeps_the_dates() -> None:
    world = make_world()
    guest = Chat(world, GUEST)
    guest.send("LIST")
    guest.send("book 1")
    guest.send("Dec 3-7")
    assert guest.ask("book the cabin instead").startswith("Dec 3-7, 4 nights, $720.")
    assert guest.data["draft"]["property_id"] == home(world, "Mountain Cabin").id  # type: ignore[index]


# -- same-day stays and dates that passed ---------------------------------------------------


def test_tonight_before_the_cut_off() -> None:
    world = make_world()
    guest = viewing(world)
    guest.rules = Rules(now=NOW, today=d(11, 23), max_nights=30, same_day=True)
    assert guest.ask("book it for tonight").startswith("Nov 23-24, 1 night, $250.")


def test_tonight_after_the_cut_off_is_refused_with_tomorrow() -> None:
    guest = viewing(make_world())
    reply = guest.ask("book it for tonight")
    assert "Check-in must be tomorrow (Nov 24)" in reply
    assert guest.state == "asking_dates"


def test_yesterday_has_passed() -> None:
    guest = viewing(make_world())
    guest.send("book it")
    reply = guest.ask("yesterday")
    assert reply.startswith("Nov 22 has passed.") and "could not read" not in reply


def test_sending_on_the_day_of_a_same_day_stay() -> None:
    world = make_world()
    world.add_person(GUEST, "Ana")
    guest = viewing(world)
    guest.rules = Rules(now=NOW, today=d(11, 23), max_nights=30, same_day=True)
    for text in ["book it", "tonight", "Late arrival"]:
        guest.send(text)
    assert guest.send("yes").new_reservation is not None


# -- trips and withdrawing in words; Twilio's keywords stay Twilio's --------------------------


def test_cancel_my_request_withdraws_it() -> None:
    world = make_world()
    mine = world.add_reservation(GUEST, home(world, "City Loft"), d(12, 3), d(12, 7))
    guest = Chat(world, GUEST)
    guest.send("hi")
    decision = guest.send(f"cancel my request {mine.id}")
    assert decision.changes == [(mine.id, "withdrawn")]
    assert decision.opted_out is None


def test_cancel_alone_is_twilios_opt_out_and_never_suggested() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    assert guest.send("CANCEL").opted_out is True
    # Twilio's opt-out words in any case: a prompt ending "MENU to stop." invited a guest to
    # answer "stop", which Twilio takes as an opt-out from every text of the bot's number.
    opt_out = re.compile(r"\b(STOP|CANCEL|QUIT|STOPALL|UNSUBSCRIBE|END|REVOKE|OPTOUT)\b", re.I)
    for name, value in vars(texts).items():
        values = value.values() if isinstance(value, dict) else [value]
        for text in (v for v in values if isinstance(v, str)):
            if name.isupper():
                # STOP appears only where it means what it does at Twilio: ending texts
                assert not opt_out.search(text.replace("STOP ends texts", "")), (name, text)


def test_my_trips_in_words() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    assert guest.ask("did the host answer?") == texts.NO_TRIPS


def test_list_my_house_starts_a_listing() -> None:
    guest = Chat(make_world(), GUEST)
    guest.send("hi")
    assert guest.ask("I want to list my house") == texts.LISTING_TITLE


# -- hosts in their words -----------------------------------------------------------------


@pytest.mark.parametrize("body", ["yes that's fine", "sure, welcome!", "sounds good", "approved"])
def test_plain_approvals_accept_the_only_request(body: str) -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    host.send("REQUESTS")
    decision = host.send(body)
    assert decision.changes == [(1, "confirmed")]
    assert decision.replies[1].to == GUEST


@pytest.mark.parametrize("body", ["no, sorry", "not those dates, sorry"])
def test_plain_refusals_reject_the_only_request(body: str) -> None:
    world = host_world((GUEST, "Beach House", d(12, 3), d(12, 7)))
    host = Chat(world, HOST)
    host.send("REQUESTS")
    assert host.send(body).changes == [(1, "rejected")]


@pytest.mark.parametrize(("body", "ref"), [("yes 2", 2), ("2 ok", 2), ("acept 1", 1)])
def test_approvals_with_a_reference_among_several(body: str, ref: int) -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Farm Stay", d(12, 10), d(12, 12)),
    )
    host = Chat(world, HOST)
    host.send("REQUESTS")
    assert host.send(body).changes == [(ref, "confirmed")]


def test_a_plain_approval_with_several_pending_asks_which() -> None:
    world = host_world(
        (GUEST, "Beach House", d(12, 3), d(12, 7)),
        (GUEST2, "Farm Stay", d(12, 10), d(12, 12)),
    )
    host = Chat(world, HOST)
    host.send("REQUESTS")
    decision = host.send("sounds good")
    assert decision.changes == []
    assert decision.replies[0].body.startswith("You have 2 pending requests:")


# -- the routing table ----------------------------------------------------------------------


def test_every_intent_has_a_route_in_every_state() -> None:
    from conversations import understand as u
    from conversations.flow import route

    kinds = [v for k, v in vars(u).items() if k.isupper() and isinstance(v, str) and k != "TEXT"]
    kinds.append(u.TEXT)
    for state in STATES:
        for kind in kinds:
            assert callable(route(state, kind)), (state, kind)
    assert all(isinstance(key, tuple) and len(key) == 2 for key in ROUTES)


def test_a_home_paused_while_viewing_is_not_booked() -> None:
    world = make_world()
    guest = viewing(world)
    beach: Property = home(world, "Beach House")
    beach.active = False
    assert guest.ask("book it") == texts.HOME_GONE
