"""Hosts by SMS through the real app (issue 7): listing a home with an MMS photo exactly as
Twilio posts it (NumMedia, MediaUrl0, MediaContentType0), managing homes with HOMES, PAUSE,
RESUME, PRICE and PHOTO, guests searching by words and dates, and the host's one reminder of a
request waiting half its time to live, kept in the database across a restart.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.expiry import expire_due
from conversations import texts
from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    Restarted,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    eventually,
    messages_of,
    outbox_rows,
    request_stay,
    reservation,
    shut_down,
    stay_text,
)
from tests.conftest import BOT_NUMBER, Bot, Clock
from tests.phones import TwilioPhone
from tests.twilio_api import TwilioAPI

NEWCOMER = "+15550300001"
TTL = timedelta(hours=24)
MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM{n}/Media/ME{n}"
PHOTO = MEDIA.format(n="a1")
PHOTO2 = MEDIA.format(n="b2")
DESCRIPTION = "Two rooms over the ocean, a deck and a fire pit. Sleeps 4."


async def expiry_pass(bot: Bot) -> int:
    return await expire_due(bot.services.turns, TTL, BOT_NUMBER, bot.clock())


async def properties(bot: Bot) -> dict[str, dict[str, Any]]:
    """The operator's view of every home, by title."""
    return {row["title"]: row for row in await bot.admin("/admin/api/properties")}


def bodies_to(bot: Bot, phone: str) -> list[str]:
    return [m["body"] for m in bot.twilio.messages_to(phone)]


async def list_by_text(
    host: TwilioPhone, title: str = "Sea View Cottage", price: str = "$180/night"
) -> str:
    """HOST, the four answers, the photo as an MMS, SAVE: returns SAVE's reply."""
    assert await host.ask("HOST") == texts.LISTING_TITLE
    assert await host.ask(title) == texts.LISTING_PLACE
    assert await host.ask("Big Sur, CA") == texts.LISTING_DESCRIPTION
    assert await host.ask(DESCRIPTION) == texts.LISTING_PRICE
    assert await host.ask(price) == texts.LISTING_PHOTO
    (summary,) = await host.text("", media=((PHOTO, "image/jpeg"),))
    assert summary.body.endswith("Send SAVE to list it, or MENU to drop it."), summary
    return await host.ask("SAVE")


# -- listing a home by text -----------------------------------------------------------------


async def test_a_new_person_lists_a_home_with_a_photo(bot: Bot) -> None:
    host = bot.phone(NEWCOMER)
    assert await host.ask("HOST") == texts.LISTING_TITLE
    for step, question in (
        ("Sea View Cottage", texts.LISTING_PLACE),
        ("Big Sur, CA", texts.LISTING_DESCRIPTION),
        (DESCRIPTION, texts.LISTING_PRICE),
        ("$180/night", texts.LISTING_PHOTO),
    ):
        assert await host.ask(step) == question
    # The photo arrives as Twilio posts an MMS: NumMedia=1, MediaUrl0, MediaContentType0.
    form = host.form("", media=((PHOTO, "image/jpeg"),))
    assert (form["NumMedia"], form["MediaUrl0"], form["MediaContentType0"]) == (
        "1",
        PHOTO,
        "image/jpeg",
    )
    answer = await host.send(form)
    assert answer.status == 200
    (summary,) = answer.replies
    assert summary.body == (
        f'Sea View Cottage, Big Sur, CA, $180/night, with a photo: "{DESCRIPTION}" '
        "Send SAVE to list it, or MENU to drop it."
    )
    assert summary.media == [PHOTO]
    assert await host.ask("SAVE") == (
        "Sea View Cottage is listed as your home 1: guests can find and book it now. "
        "HOMES shows yours."
    )
    home = (await properties(bot))["Sea View Cottage"]
    assert {k: home[k] for k in home if k != "id"} == {
        "title": "Sea View Cottage",
        "place": "Big Sur, CA",
        "description": DESCRIPTION,
        "image_url": PHOTO,
        "nightly_price": 180,
        "host_phone": NEWCOMER,
        "host_name": None,
        "active": True,
    }
    # The log keeps the MMS's URL as a JSON list, like any inbound media.
    photo_turn = [m for m in await messages_of(bot, NEWCOMER) if m["direction"] == "in"][5]
    assert photo_turn["media"] == [PHOTO]

    # Live for guests at once.
    guest = bot.phone(GUEST)
    assert await guest.ask("LIST sea view") == (
        "Homes 1-1 of 1:\n1 Sea View Cottage, Big Sur, CA $180\n"
        "Send a number to see a home, LIST to restart."
    )
    (details,) = await guest.text("1")
    assert details.body.startswith("1 Sea View Cottage, Big Sur, CA, $180/night.")
    assert details.media == [PHOTO]


async def test_a_file_that_is_not_a_photo_gets_a_clear_retry(bot: Bot) -> None:
    host = bot.phone(NEWCOMER)
    for body in ("HOST", "Sea View Cottage", "Big Sur, CA", DESCRIPTION, "180"):
        await host.text(body)
    voice = MEDIA.format(n="v1")
    (retry,) = await host.text("", media=((voice, "audio/amr"),))
    assert retry.body == texts.LISTING_NOT_A_PHOTO
    (retry,) = await host.text("my contact", media=((voice, "text/vcard"),))
    assert retry.body == texts.LISTING_NOT_A_PHOTO
    assert await host.ask("a photo will follow") == texts.LISTING_NO_PHOTO
    (summary,) = await host.text("", media=((PHOTO, "image/png"),))
    assert "with a photo" in summary.body
    await host.ask("SAVE")
    assert (await properties(bot))["Sea View Cottage"]["image_url"] == PHOTO


async def test_the_first_image_of_a_message_with_several_media(bot: Bot) -> None:
    host = bot.phone(NEWCOMER)
    for body in ("HOST", "Sea View Cottage", "Big Sur, CA", DESCRIPTION, "180"):
        await host.text(body)
    media = ((MEDIA.format(n="v2"), "audio/amr"), (PHOTO2, "image/gif"), (PHOTO, "image/jpeg"))
    (summary,) = await host.text("", media=media)
    assert summary.media == [PHOTO2]
    await host.ask("SAVE")
    assert (await properties(bot))["Sea View Cottage"]["image_url"] == PHOTO2


async def test_skip_lists_a_home_without_a_photo(bot: Bot) -> None:
    host = bot.phone(NEWCOMER)
    for body in ("HOST", "Sea View Cottage", "Big Sur, CA", DESCRIPTION, "180"):
        await host.text(body)
    (summary,) = await host.text("SKIP")
    assert summary.body.startswith("Sea View Cottage, Big Sur, CA, $180/night, no photo:")
    assert summary.media == []
    await host.ask("SAVE")
    assert (await properties(bot))["Sea View Cottage"]["image_url"] is None


async def test_menu_drops_the_listing(bot: Bot) -> None:
    host = bot.phone(NEWCOMER)
    for body in ("HOST", "Sea View Cottage", "Big Sur, CA"):
        await host.text(body)
    assert await host.ask("MENU") == texts.MENU
    assert await properties(bot) == {}
    assert await host.ask("HOMES") == texts.NO_HOMES_OF_YOURS


# -- managing homes -------------------------------------------------------------------------


async def two_homes(bot: Bot) -> TwilioPhone:
    await bot.add_home(HOST, "Beach House", nightly_price=250, description="Sand and sea.")
    await bot.add_home(HOST, "Farm Stay", nightly_price=90, description="Goats and sea air.")
    return bot.phone(HOST)


async def test_homes_pause_resume_price_and_photo(bot: Bot) -> None:
    host = await two_homes(bot)
    guest = bot.phone(GUEST)
    assert await host.ask("HOMES") == (
        "Your homes:\n1 Beach House, $250/night, live\n2 Farm Stay, $90/night, live\n"
        "PAUSE <n>, RESUME <n>, PRICE <n> <$>, PHOTO <n>; HOST adds a home."
    )
    assert (await host.ask("PAUSE 2")).startswith("Farm Stay is paused:")
    assert (await properties(bot))["Farm Stay"]["active"] is False
    assert await guest.ask("LIST sea") == (
        "Homes 1-1 of 1:\n1 Beach House, Somewhere, CA $250\n"
        "Send a number to see a home, LIST to restart."
    )
    assert (await host.ask("RESUME 2")).startswith("Farm Stay is live again:")
    assert (await properties(bot))["Farm Stay"]["active"] is True
    assert (await guest.ask("LIST sea")).startswith("Homes 1-2 of 2:")

    assert await host.ask("PRICE 1 $300") == (
        "Beach House is now $300 a night for new requests. HOMES shows your homes."
    )
    assert (await properties(bot))["Beach House"]["nightly_price"] == 300
    assert "1 Beach House, Somewhere, CA $300" in await guest.ask("LIST")

    (done,) = await host.text("PHOTO 1", media=((PHOTO, "image/jpeg"),))
    assert done.body == "New photo of Beach House saved: guests see it now. HOMES shows your homes."
    assert done.media == [PHOTO]
    assert (await properties(bot))["Beach House"]["image_url"] == PHOTO

    assert await host.ask("PHOTO 2") == texts.PHOTO_ASK.format(title="Farm Stay")
    (still,) = await host.text("", media=((MEDIA.format(n="v3"), "audio/amr"),))
    assert still.body == texts.PHOTO_NOT_A_PHOTO.format(title="Farm Stay")
    (done,) = await host.text("", media=((PHOTO2, "image/jpeg"),))
    assert done.body.startswith("New photo of Farm Stay saved")
    assert (await properties(bot))["Farm Stay"]["image_url"] == PHOTO2
    await guest.text("LIST farm")
    (details,) = await guest.text("1")
    assert details.media == [PHOTO2]


async def test_changes_survive_a_restart(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    host = await two_homes(bot)
    await host.text("PAUSE 1")
    await host.text("PRICE 2 120")
    await host.text("PHOTO 2", media=((PHOTO, "image/jpeg"),))
    await list_by_text(bot.phone(NEWCOMER))
    await shut_down(bot)
    async with Restarted(tmp_path, twilio_api, clock) as again:
        assert await again.phone(HOST).ask("HOMES") == (
            "Your homes:\n1 Beach House, $250/night, paused\n2 Farm Stay, $120/night, live\n"
            "PAUSE <n>, RESUME <n>, PRICE <n> <$>, PHOTO <n>; HOST adds a home."
        )
        listing = await again.phone(GUEST).ask("LIST")
        assert "Beach House" not in listing
        assert "Farm Stay, Somewhere, CA $120" in listing
        assert "Sea View Cottage, Big Sur, CA $180" in listing
        assert (await again.phone(NEWCOMER).ask("HOMES")).startswith(
            "Your homes:\n1 Sea View Cottage, $180/night, live\n"
        )


async def test_a_paused_home_cannot_be_booked_but_its_requests_are_answered(bot: Bot) -> None:
    host = await two_homes(bot)
    ref = await request_stay(bot, bot.phone(GUEST), home=1)
    other = bot.phone(GUEST_B)
    assert (await other.ask("LIST")).startswith("Homes 1-2 of 2:")
    await host.text("PAUSE 1")
    assert await other.ask("BOOK 1") == texts.HOME_GONE
    assert await other.ask("1") == texts.HOME_GONE
    assert "Beach House" not in await other.ask("LIST")
    replies = await host.text(f"ACCEPT {ref}")
    assert [r.to for r in replies] == [HOST, GUEST]
    assert (await reservation(bot, ref))["status"] == "confirmed"


async def test_a_guest_in_the_middle_of_a_booking_who_sends_host(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await guest.text("LIST")
    await guest.text("BOOK 1")
    assert await guest.ask("HOST") == texts.HOST_WHILE_BOOKING
    assert "Now a short note" in await guest.ask(stay_text(bot.clock))


# -- guests searching by words and dates ----------------------------------------------------


async def test_list_with_dates_leaves_out_homes_booked_then(bot: Bot) -> None:
    host = await two_homes(bot)
    ref = await request_stay(bot, bot.phone(GUEST_B), home=1, start=30, nights=3)
    check_in = bot.clock().date() + timedelta(days=31)
    dates = f"{check_in:%b} {check_in.day} for 2 nights"
    guest = bot.phone(GUEST)
    # A pending request does not make a home busy; a confirmed stay does.
    assert (await guest.ask(f"LIST sea {dates}")).startswith("Homes 1-2 of 2 free ")
    await host.text(f"ACCEPT {ref}")
    listing = await guest.ask(f"LIST sea {dates}")
    assert re.match(r"Homes 1-1 of 1 free \w+ \d+-(\w+ )?\d+:\n1 Farm Stay,", listing), listing
    assert (await guest.ask(f"LIST beach {dates}")).startswith('No homes match "beach" and are')


# -- reminders ------------------------------------------------------------------------------


async def reminded_at(bot: Bot, ref: int) -> str | None:
    found = await bot.services.store.reservation_history(ref)
    assert found is not None
    value: str | None = found["reminded_at"]
    return value


def reminder(ref: int, title: str = "Beach House") -> re.Pattern[str]:
    return re.compile(
        rf"Reminder: request {ref} \({title}, [^,]+, from Ann\) is waiting for you\. "
        rf"Reply ACCEPT {ref} or REJECT {ref}$"
    )


async def test_the_host_is_reminded_once_at_half_the_ttl(bot: Bot, clock: Clock) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.drained()
    clock.advance(hours=11, minutes=59)
    assert await expiry_pass(bot) == 0
    assert await reminded_at(bot, ref) is None
    clock.advance(minutes=2)
    assert await expiry_pass(bot) == 0
    assert await reminded_at(bot, ref) is not None
    await bot.drained()
    new_request, remind = bodies_to(bot, HOST)
    assert new_request.startswith(f"New request {ref}:")
    assert reminder(ref).match(remind), remind
    # Each "delivered" callback comes a moment after its send (drained() means sent).
    await eventually(
        lambda: outbox_rows(bot, HOST),
        lambda rows: [r["status"] for r in rows] == ["delivered", "delivered"],
        what="both texts delivered",
    )
    # Another pass, later, sends nothing more; the request is still the host's to answer.
    clock.advance(hours=6)
    assert await expiry_pass(bot) == 0
    await bot.drained()
    assert len(bodies_to(bot, HOST)) == 2
    assert (await reservation(bot, ref))["status"] == "pending"
    assert bodies_to(bot, GUEST) == []
    # At the TTL it expires, and the guest is told to try another home.
    clock.advance(hours=6, minutes=1)
    assert await expiry_pass(bot) == 1
    await bot.drained()
    (expired,) = bodies_to(bot, GUEST)
    assert expired.endswith("has expired. Send LIST to try another home.")
    assert len(bodies_to(bot, HOST)) == 3


async def test_a_request_answered_in_time_gets_no_reminder(bot: Bot, clock: Clock) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.phone(HOST).text(f"REJECT {ref}")
    await bot.drained()  # before the clock jumps past the outbox's lease
    clock.advance(hours=13)
    assert await expiry_pass(bot) == 0
    await bot.drained()
    assert len(bodies_to(bot, HOST)) == 1
    assert await reminded_at(bot, ref) is None


async def test_a_request_unseen_until_past_the_ttl_expires_without_a_reminder(
    bot: Bot, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.drained()
    clock.advance(hours=24, minutes=1)
    assert await expiry_pass(bot) == 1
    await bot.drained()
    assert not any(reminder(ref).match(body) for body in bodies_to(bot, HOST))
    assert await reminded_at(bot, ref) is None


async def test_a_restart_neither_forgets_nor_repeats_the_reminder(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    first = await request_stay(bot, bot.phone(GUEST))
    await bot.drained()
    clock.advance(hours=12, minutes=1)
    assert await expiry_pass(bot) == 0
    second = await request_stay(bot, bot.phone(GUEST), start=60)
    await bot.drained()
    await shut_down(bot)
    clock.advance(hours=6)  # the first was reminded; the second is not due yet
    async with Restarted(tmp_path, twilio_api, clock) as again:
        # The reminder's moment is kept with the request (so a restart does not send it
        # again; the guarded write would refuse a second one anyway).
        assert await reminded_at(again, first) is not None
        assert await expiry_pass(again) == 0
        await again.drained()
        reminders = [b for b in bodies_to(again, HOST) if b.startswith("Reminder:")]
        assert len(reminders) == 1 and reminder(first).match(reminders[0])
        assert await reminded_at(again, second) is None
        await shut_down(again)
    clock.advance(hours=6)  # the first's TTL is over; the second has waited half of its
    async with Restarted(tmp_path, twilio_api, clock) as again:

        async def probe() -> tuple[str, str | None]:
            return (await reservation(again, first))["status"], await reminded_at(again, second)

        # The pass at the start does both, from what the database says.
        await eventually(probe, lambda got: got[0] == "expired" and got[1] is not None)
        assert await expiry_pass(again) == 0
        await again.drained()
        reminders = [b for b in bodies_to(again, HOST) if b.startswith("Reminder:")]
        assert len(reminders) == 2 and reminder(second).match(reminders[1])
        assert (await reservation(again, second))["status"] == "pending"
        (expired,) = bodies_to(again, GUEST)
        assert expired.startswith(f"Request {first} for Beach House")
