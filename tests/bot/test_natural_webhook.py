"""Guests and hosts in their own words, through the signed webhook of the real app (issue 14):
each natural flow is a real turn, stored and answered as TwiML, its effects read back through
the admin API and the Twilio REST stand-in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.config import BookingConfig
from conversations import texts
from tests.bot.test_webhook import (
    Restarted,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    messages_of,
    outbox_rows,
    request_stay,
    reservation,
)
from tests.conftest import HOSTS, Bot, Clock
from tests.twilio_api import TwilioAPI

GUEST = "+15550001111"
GUEST2 = "+15550002222"
HOST = HOSTS[0]


def dates_ahead(bot: Bot, start: int = 30, nights: int = 4) -> tuple[str, str]:
    """Dates as a guest texts them ("Jan 5-9" or "Jan 30 - Feb 3"), and as the bot says them."""
    check_in = bot.clock().date() + timedelta(days=start)
    check_out = check_in + timedelta(days=nights)
    said = texts.date_range(check_in, check_out)
    if check_in.month == check_out.month:
        return f"{check_in:%b} {check_in.day}-{check_out.day}", said
    return f"{check_in:%b} {check_in.day} - {check_out:%b} {check_out.day}", said


async def test_a_guest_finds_asks_and_books_in_sentences(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House", place="Malibu, CA", nightly_price=250)
    await bot.add_home(HOST, "Mountain Cabin", place="Aspen, CO", nightly_price=180)
    guest = bot.phone(GUEST)
    typed, said = dates_ahead(bot)
    assert await guest.ask("hi") == texts.WELCOME
    assert (await guest.ask("hello, do you have anything in Malibu?")).startswith(
        "Homes 1-1 of 1:\n1 Beach House, Malibu, CA $250"
    )
    (details,) = await guest.text("the first one")
    assert details.body.startswith("1 Beach House, Malibu, CA, $250/night.")
    assert details.media == ["https://img.example.com/Beach House.jpg"]
    assert await guest.ask(f"is it free {typed}?") == (
        f"Beach House is free {said}: 4 nights, $1000. Send BOOK to ask for it then, or LIST."
    )
    assert (await guest.ask("great, I'll take it")).startswith(f"{said}, 4 nights, $1000. Now")
    assert await guest.ask("yes") == texts.NOTE_AGAIN  # a bare yes is not a note
    assert await guest.ask("We are two, here for the sea.") == texts.ASK_NAME
    assert (await guest.ask("my name is Ana")).startswith(f"Beach House, {said} (4 nights)")
    sent = await guest.ask("sounds good")
    assert sent.startswith("Request 1 sent to the host of Beach House.")
    stored = await reservation(bot, 1)
    assert (stored["status"], stored["message"]) == ("pending", "We are two, here for the sea.")
    await bot.drained()
    (new_request,) = [m["body"] for m in bot.twilio.messages_to(HOST)]
    assert new_request.startswith("New request 1: Beach House, ") and "from Ana" in new_request


async def test_the_form_takes_new_dates_and_nights_at_any_step(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House", nightly_price=100)
    guest = bot.phone(GUEST)
    first, _ = dates_ahead(bot, 30, 4)
    other, other_said = dates_ahead(bot, 40, 2)
    await guest.text("LIST")
    assert (await guest.ask(f"book the beach house {first}")).endswith(
        "Now a short note for the host: who you are, why you travel."
    )
    assert (await guest.ask(f"change the dates to {other}")).startswith(
        f"{other_said}, 2 nights, $200."
    )
    await guest.text("Quiet couple")
    await guest.text("Ana")
    assert "(3 nights), $300" in await guest.ask("make it 3 nights")
    (conversation,) = [c for c in await bot.admin(f"/admin/api/conversations?phone={GUEST}")]
    assert conversation["state"] == "confirming"


async def test_a_host_accepts_in_plain_words(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House", host_name="Maria")
    ref = await request_stay(bot, bot.phone(GUEST))
    host = bot.phone(HOST)
    answer = await host.text("Yes that's fine, welcome!")
    assert [r.to for r in answer] == [HOST, GUEST]
    assert answer[0].body.startswith(f"You accepted request {ref} (Ann, ")
    assert answer[1].body.startswith("Good news! Beach House confirmed your stay")
    assert (await reservation(bot, ref))["status"] == "confirmed"


async def test_a_hedge_decides_nothing_and_says_so(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House", host_name="Maria")
    ref = await request_stay(bot, bot.phone(GUEST))
    host = bot.phone(HOST)
    for hedge in ("let me check with my wife", "probably", "ok I'll look at my calendar"):
        (reply,) = await host.text(hedge)
        assert reply.to == HOST
        assert reply.body.startswith(f"Nothing is decided yet on request {ref} (Ann, ")
        assert f"ACCEPT {ref}" in reply.body
    (question,) = await host.text("how many people?")
    assert question.body.startswith("I can't pass questions on, so nothing is decided.")
    assert (await reservation(bot, ref))["status"] == "pending"
    await bot.drained()
    assert bot.twilio.messages_to(GUEST) == []  # the guest was told nothing


async def test_a_host_refuses_in_plain_words(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    answer = await bot.phone(HOST).text("not those dates, sorry")
    assert answer[0].body.startswith(f"You rejected request {ref}")
    assert (await reservation(bot, ref))["status"] == "rejected"


async def test_cancel_my_request_withdraws_and_a_whole_cancel_opts_out(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    ref = await request_stay(bot, guest)
    assert await guest.ask(f"please cancel my request {ref}") == texts.WITHDRAWN.format(ref=ref)
    assert (await reservation(bot, ref))["status"] == "withdrawn"
    await bot.drained()
    assert [m["body"] for m in bot.twilio.messages_to(HOST)][-1].startswith(
        f"Request {ref} for Beach House"
    )
    # CANCEL alone is Twilio's opt-out: recorded, and nothing is answered.
    answer = await guest.send(guest.form("CANCEL"))
    assert answer.replies == []
    people = await messages_of(bot, GUEST)
    assert people[-1]["body"] == "CANCEL"


async def test_typos_of_command_words(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await guest.text("hi")
    assert (await guest.ask("lsit")).startswith("Homes 1-1 of 1:")
    await guest.text("1")
    assert (await guest.ask("boook")).startswith("Booking Beach House.")
    assert (await guest.ask("stpo")) != ""  # not an opt-out: still answered
    assert {row["status"] for row in await outbox_rows(bot)} <= {"queued", "delivered"}


async def test_greetings_and_thanks_after_the_first_message(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    assert await guest.ask("hello") == texts.WELCOME
    assert await guest.ask("hello again") == texts.GREETING
    assert await guest.ask("thanks!") == texts.THANKED


async def test_tonight_follows_the_same_day_cut_off(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    for hour, bookable in ((24, True), (0, False)):
        folder = tmp_path / f"until-{hour}"
        folder.mkdir()
        booking = BookingConfig(same_day_until_hour=hour)
        async with Restarted(folder, twilio_api, clock, booking=booking) as bot:
            await bot.add_home(HOST, "Beach House")
            guest = bot.phone(GUEST)
            await guest.text("LIST")
            await guest.text("1")
            reply = await guest.ask("book it for tonight")
            today = bot.clock().date()
            if bookable:
                said = texts.date_range(today, today + timedelta(days=1))
                assert reply.startswith(f"{said}, 1 night, $100. Now a short note"), reply
            else:
                assert "Check-in must be tomorrow" in reply, reply


async def test_the_cut_off_is_the_local_hour_of_the_bots_time_zone(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    # 20:00 UTC: past 18:00 in UTC, but noon in Los Angeles, where tonight can still be booked.
    now = clock()
    clock.advance(seconds=(now.replace(hour=20, minute=0, second=0) - now).total_seconds())
    for zone, bookable in (("UTC", False), ("America/Los_Angeles", True)):
        folder = tmp_path / zone.replace("/", "-")
        folder.mkdir()
        booking = BookingConfig(timezone=zone, same_day_until_hour=18)
        async with Restarted(folder, twilio_api, clock, booking=booking) as bot:
            await bot.add_home(HOST, "Beach House")
            guest = bot.phone(GUEST)
            await guest.text("LIST")
            await guest.text("1")
            reply = await guest.ask("book it for tonight")
            assert ("Now a short note" in reply) == bookable, (zone, reply)


async def test_questions_about_the_home_viewed(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House", place="Malibu, CA", nightly_price=250)
    guest = bot.phone(GUEST)
    await guest.text("LIST")
    await guest.text("1")
    assert await guest.ask("where is it?") == (
        "Beach House is in Malibu, CA. Send BOOK to ask for it, or LIST."
    )
    (photo,) = await guest.text("can I see the photo again?")
    assert photo.body == "Here is Beach House again. Send BOOK to ask for it, or LIST."
    assert photo.media == ["https://img.example.com/Beach House.jpg"]  # sent as an MMS again
    assert await guest.ask("are pets allowed?") == (
        "I don't know that about Beach House; the host does: ask in your note. "
        "Send BOOK to ask for it, or LIST."
    )
    (conversation,) = await bot.admin(f"/admin/api/conversations?phone={GUEST}")
    assert conversation["state"] == "viewing"


async def test_leaving_the_form_and_dropping_the_summary_in_words(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    typed, _ = dates_ahead(bot)
    for leave in ("start over", "never mind", "back"):
        await guest.text("LIST")
        assert (await guest.ask("book the beach house")).startswith("Booking Beach House.")
        assert await guest.ask(leave) == texts.MENU, leave
    for drop in ("no", "never mind"):
        await guest.text("LIST")
        await guest.text(f"book the beach house {typed}")
        await guest.text("Quiet couple")
        await guest.text("Ana")  # (asked the first time only)
        assert await guest.ask(drop) == texts.MENU, drop  # nothing sent, back to the start
    assert await bot.admin("/admin/api/reservations?limit=10") == []


async def test_a_host_with_several_pending_names_one_in_words(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    first = await request_stay(bot, bot.phone(GUEST))
    second = await request_stay(bot, bot.phone(GUEST2), start=60, name="Bo")
    host = bot.phone(HOST)
    (which,) = await host.text("yes")  # two pending: asks which, decides nothing
    assert which.body.startswith("You have 2 pending requests:")
    assert {(await reservation(bot, r))["status"] for r in (first, second)} == {"pending"}
    answer = await host.text(f"yes {first}")
    assert answer[0].body.startswith(f"You accepted request {first}")
    answer = await host.text(f"{second} ok")
    assert answer[0].body.startswith(f"You accepted request {second}")
    assert [(await reservation(bot, r))["status"] for r in (first, second)] == [
        "confirmed",
        "confirmed",
    ]


async def test_listing_and_seeing_ones_homes_in_words(bot: Bot) -> None:
    host = bot.phone(HOST)
    assert await host.ask("I'd like to list my house") == texts.LISTING_TITLE
    await host.text("Lake Cottage")
    await host.text("Tahoe, CA")
    await host.text("By the water, sleeps 4")
    await host.text("$150")
    await host.text("SKIP")
    listed = await host.ask("SAVE")
    assert listed.startswith("Lake Cottage is listed as your home 1")
    homes = await host.ask("show me my homes")
    assert "1 Lake Cottage" in homes and "$150" in homes
