"""Who the bot is talking to (SPEC §2 step 3, §3 keywords; issue 2 items 3 and 4): the session
cookie is a hint bound to its pair, idle conversations end, and an opt-out silences everything.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from bot.config import SessionConfig
from bot.sessions import COOKIE_NAME
from conversations import texts
from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    Restarted,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    conversations_of,
    messages_of,
    outbox_rows,
    request_stay,
    reservation,
    shut_down,
    stay_text,
)
from tests.conftest import Bot, Clock
from tests.phones import TwilioPhone
from tests.twilio_api import TwilioAPI

FAR_FUTURE = 4102444800.0  # 2100: a cookie the phone keeps sending whatever the clock says


def session_cookie(phone: TwilioPhone) -> str:
    return phone.cookies[COOKIE_NAME][0]


def give_cookie(phone: TwilioPhone, value: str) -> None:
    phone.cookies[COOKIE_NAME] = (value, FAR_FUTURE)


def afresh(reply: str) -> bool:
    """The answer to dates on a conversation's first turn: the homes free then, not a booking
    step of another conversation."""
    return reply.startswith("Homes 1-1 of 1 free ") and "short note" not in reply


async def start_booking(bot: Bot, guest: TwilioPhone) -> None:
    """The guest is asked for dates: a draft is under way in their conversation."""
    assert (await guest.ask("LIST")).startswith("Homes 1-")
    assert (await guest.ask("BOOK 1")).startswith("Booking Beach House")


# -- the cookie ---------------------------------------------------------------------------------


async def test_the_session_cookie(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    answer = await guest.send(guest.form("hello"))
    (header,) = answer.headers.getall("Set-Cookie")  # type: ignore[attr-defined]
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie[COOKIE_NAME]
    assert morsel["max-age"] == "14400"
    assert morsel["httponly"] is True
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain http public_url in tests
    (conversation,) = await conversations_of(bot, GUEST)
    assert morsel.value.split(".")[0] == str(conversation["id"])
    # Every answer carries it again, naming the same conversation.
    await guest.ask("LIST")
    assert session_cookie(guest) == morsel.value


async def test_a_missing_cookie_continues_the_pairs_conversation(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    assert (await guest.ask("LIST")).startswith("Homes 1-1 of 1:")
    guest.cookies.clear()
    assert (await guest.ask("BOOK 1")).startswith("Booking Beach House")
    guest.cookies.clear()
    assert "Now a short note" in await guest.ask(stay_text(bot.clock))
    assert len(await conversations_of(bot, GUEST)) == 1


@pytest.mark.parametrize(
    "forged",
    ["1.AAAAAAAAAAAAAAAAAAAAAAAA", "999", "garbage", "", "1.", ".", "99999999999999999999.x"],
)
async def test_a_forged_cookie_is_ignored(bot: Bot, forged: str) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await start_booking(bot, guest)
    real = session_cookie(guest)
    give_cookie(guest, forged)
    assert "Now a short note" in await guest.ask(stay_text(bot.clock))
    assert session_cookie(guest) == real
    assert len(await conversations_of(bot)) == 1


async def test_a_tampered_cookie_is_ignored(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await start_booking(bot, guest)
    real = session_cookie(guest)
    number, _, signature = real.partition(".")
    flipped = ("B" if signature[0] != "B" else "C") + signature[1:]
    give_cookie(guest, f"{number}.{flipped}")
    assert "Now a short note" in await guest.ask(stay_text(bot.clock))
    assert session_cookie(guest) == real


async def test_another_pairs_cookie_never_gives_their_session(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest_a, guest_b = bot.phone(GUEST), bot.phone(GUEST_B)
    await start_booking(bot, guest_a)
    assert await guest_b.ask("hello") == texts.WELCOME
    a_cookie, b_cookie = session_cookie(guest_a), session_cookie(guest_b)
    assert a_cookie != b_cookie

    # B presents A's genuine cookie and answers A's question: B is not in A's booking.
    give_cookie(guest_b, a_cookie)
    reply = await guest_b.ask(stay_text(bot.clock))
    assert "Now a short note" not in reply
    assert reply.startswith("Homes 1-1 of 1 free ")  # B's own start: the homes free then
    assert session_cookie(guest_b) == b_cookie

    # A's draft is untouched and still A's.
    assert "Now a short note" in await guest_a.ask(stay_text(bot.clock))
    a_log = [m["body"] for m in await messages_of(bot, GUEST) if m["direction"] == "in"]
    b_log = [m["body"] for m in await messages_of(bot, GUEST_B) if m["direction"] == "in"]
    assert a_log == ["LIST", "BOOK 1", stay_text(bot.clock)]
    assert b_log == ["hello", stay_text(bot.clock)]


async def test_another_pairs_cookie_on_a_first_message_starts_a_new_conversation(
    bot: Bot,
) -> None:
    await bot.add_home(HOST, "Beach House")
    guest_a, guest_b = bot.phone(GUEST), bot.phone(GUEST_B)
    await start_booking(bot, guest_a)
    give_cookie(guest_b, session_cookie(guest_a))
    # B's own first message: dates alone are the homes free then, not A's booking.
    assert (await guest_b.ask(stay_text(bot.clock))).startswith("Homes 1-1 of 1 free ")
    (b_conversation,) = await conversations_of(bot, GUEST_B)
    (a_conversation,) = await conversations_of(bot, GUEST)
    assert b_conversation["id"] != a_conversation["id"]
    assert session_cookie(guest_b).split(".")[0] == str(b_conversation["id"])
    assert a_conversation["state"] == "asking_dates"


async def test_a_cookie_for_the_same_person_on_another_bot_number_is_ignored(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await start_booking(bot, guest)
    other_line = TwilioPhone(
        guest.post,
        GUEST,
        "+15550008888",
        guest.public_url,
        bot.config.twilio.auth_token,
        bot.config.twilio.account_sid,
        clock=bot.clock.timestamp,
    )
    give_cookie(other_line, session_cookie(guest))
    assert afresh(await other_line.ask(stay_text(bot.clock)))
    assert len(await conversations_of(bot, GUEST)) == 2
    assert "Now a short note" in await guest.ask(stay_text(bot.clock))


# -- idle conversations -----------------------------------------------------------------------


async def test_after_four_idle_hours_a_new_conversation_starts(bot: Bot, clock: Clock) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    assert await guest.ask("hello") == texts.WELCOME
    await start_booking(bot, guest)
    first_cookie = session_cookie(guest)
    clock.advance(hours=4, minutes=1)
    # Twilio dropped the cookie by now; the draft went with the conversation.
    assert afresh(await guest.ask(stay_text(clock)))
    rows = await conversations_of(bot, GUEST)
    assert len(rows) == 2
    newest, oldest = rows  # newest first
    assert newest["id"] > oldest["id"]
    bodies = [m["body"] for m in newest["messages"]]
    assert bodies[0] == stay_text(clock) and afresh(bodies[1])
    assert oldest["state"] == "asking_dates"
    assert session_cookie(guest) != first_cookie
    assert session_cookie(guest).split(".")[0] == str(newest["id"])


async def test_a_stale_cookie_does_not_revive_an_idle_conversation(bot: Bot, clock: Clock) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await start_booking(bot, guest)
    stale = session_cookie(guest)
    clock.advance(hours=4, minutes=1)
    give_cookie(guest, stale)
    assert afresh(await guest.ask(stay_text(clock)))
    assert len(await conversations_of(bot, GUEST)) == 2


async def test_just_under_four_idle_hours_the_conversation_goes_on(bot: Bot, clock: Clock) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await start_booking(bot, guest)
    clock.advance(hours=3, minutes=59)
    assert "Now a short note" in await guest.ask(stay_text(clock))
    # Each turn restarts the idle time.
    clock.advance(hours=3, minutes=59)
    assert await guest.ask("Hello") == texts.ASK_NAME
    assert len(await conversations_of(bot, GUEST)) == 1


async def test_idle_hours_come_from_the_configuration(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    async with Restarted(tmp_path, twilio_api, clock, session=SessionConfig(idle_hours=1)) as bot:
        guest = bot.phone(GUEST)
        answer = await guest.send(guest.form("hello"))
        assert "Max-Age=3600" in answer.headers["Set-Cookie"]
        clock.advance(minutes=61)
        assert await guest.ask("hello") == texts.WELCOME
        assert len(await conversations_of(bot, GUEST)) == 2


async def test_a_live_conversation_survives_a_restart(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await start_booking(bot, guest)
    cookie = session_cookie(guest)
    await shut_down(bot)
    async with Restarted(tmp_path, twilio_api, clock) as again:
        phone = again.phone(GUEST)
        give_cookie(phone, cookie)  # cookies survive restarts: the secret is stored
        assert "Now a short note" in await phone.ask(stay_text(clock))
        assert session_cookie(phone) == cookie


# -- opting out -------------------------------------------------------------------------------


def assert_empty_twiml(text: str) -> None:
    root = ET.fromstring(text)
    assert root.tag == "Response"
    assert list(root) == []


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        "stop",
        "Stop.",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    ],
)
async def test_an_opt_out_gets_an_empty_response(bot: Bot, word: str) -> None:
    guest = bot.phone(GUEST)
    assert await guest.ask("hello") == texts.WELCOME
    answer = await guest.send(guest.form(word))
    assert answer.status == 200
    assert_empty_twiml(answer.text)
    # Nothing more is said to them, whatever they send.
    for body in ("LIST", "HELP", "hello"):
        answer = await guest.send(guest.form(body))
        assert answer.status == 200
        assert_empty_twiml(answer.text)
    logged = await messages_of(bot, GUEST)
    assert [(m["direction"], m["body"]) for m in logged[2:]] == [
        ("in", word),
        ("in", "LIST"),
        ("in", "HELP"),
        ("in", "hello"),
    ]


@pytest.mark.parametrize("word", ["START", "unstop", "Start!"])
async def test_start_opts_back_in(bot: Bot, word: str) -> None:
    guest = bot.phone(GUEST)
    await guest.text("STOP")
    assert await guest.ask(word) == texts.WELCOME_BACK
    assert await guest.ask("MY") == texts.NO_TRIPS


async def test_yes_opts_back_in_too(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    await guest.text("STOP")
    replies = await guest.text("YES")
    assert len(replies) == 1 and replies[0].to == GUEST
    assert await guest.ask("MY") == texts.NO_TRIPS


async def test_start_when_not_opted_out_is_harmless(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    assert await guest.ask("START") == texts.MENU


async def test_an_opted_out_guest_hears_nothing_of_the_hosts_answer(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest, host = bot.phone(GUEST), bot.phone(HOST)
    ref = await request_stay(bot, guest)
    await bot.drained()
    assert_empty_twiml((await guest.send(guest.form("STOP"))).text)
    answer = await host.send(host.form(f"ACCEPT {ref}"))
    assert answer.status == 200
    replies = answer.replies
    assert [r.to for r in replies] == [HOST]
    assert replies[0].body.startswith(f"You accepted request {ref}")
    assert 'to="' + GUEST not in answer.text
    assert (await reservation(bot, ref))["status"] == "confirmed"
    await bot.drained()
    assert bot.twilio.messages_to(GUEST) == []
    assert await outbox_rows(bot, GUEST) == []


async def test_an_opted_out_guest_is_not_told_their_request_was_closed(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest_a, guest_b, host = bot.phone(GUEST), bot.phone(GUEST_B), bot.phone(HOST)
    ref_a = await request_stay(bot, guest_a, start=30, nights=3)
    ref_b = await request_stay(bot, guest_b, start=31, nights=3, name="Bo")
    await guest_b.text("STOP")
    replies = await host.text(f"ACCEPT {ref_a}")
    assert sorted(r.to for r in replies) == sorted([HOST, GUEST])
    assert (await reservation(bot, ref_b))["status"] == "rejected"
    await bot.drained()
    assert bot.twilio.messages_to(GUEST_B) == []
    assert await outbox_rows(bot, GUEST_B) == []


async def test_cancel_is_an_opt_out_not_a_withdrawal(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    ref = await request_stay(bot, guest)
    assert_empty_twiml((await guest.send(guest.form("CANCEL"))).text)
    assert (await reservation(bot, ref))["status"] == "pending"
    assert await guest.ask("START") == texts.WELCOME_BACK
    assert await guest.ask(f"WITHDRAW {ref}") == texts.WITHDRAWN.format(ref=ref)
    assert (await reservation(bot, ref))["status"] == "withdrawn"


async def test_an_opted_out_host_is_not_texted_new_requests(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    host, guest = bot.phone(HOST), bot.phone(GUEST)
    assert_empty_twiml((await host.send(host.form("STOP"))).text)
    ref = await request_stay(bot, guest)
    assert (await reservation(bot, ref))["status"] == "pending"
    await bot.drained()
    assert bot.twilio.messages_to(HOST) == []
    # Back in: the host can see and answer it.
    assert await host.ask("START") == texts.WELCOME_BACK
    assert (await host.ask("REQUESTS")).startswith(f"Pending: {ref} Beach House")


async def test_an_opted_out_host_saying_yes_is_back_and_accepts(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    host, guest = bot.phone(HOST), bot.phone(GUEST)
    assert await host.text("STOP") == []
    ref = await request_stay(bot, guest)
    replies = await host.text("YES")
    assert [r.to for r in replies] == [HOST, GUEST]
    assert replies[0].body.startswith(f"You accepted request {ref}")
    assert (await reservation(bot, ref))["status"] == "confirmed"
    assert (await host.ask("REQUESTS")) == texts.HOST_NONE_PENDING
