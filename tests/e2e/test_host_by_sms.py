"""A host who never leaves their phone (issue 7), end to end through the real app on a real port
and Twilio's REST API played by tests/twilio_api.py: a new person becomes a host by SMS and lists
a home with an MMS photo; a guest finds it by words and dates (a home booked on those dates is
left out) and requests it; the host is reminded once when half the request's time to live has
passed; at the TTL the request expires and the guest is told to try another home.

Time moves by the app's injectable clock (`clock.advance`), and the expiry pass is run directly
with that clock's `now`, as the app's background task runs it: no sleeps.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.expiry import expire_due
from conversations import texts
from tests.bot.test_webhook import (
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    messages_of,
    outbox_rows,
    reservation,
)
from tests.conftest import BOT_NUMBER, Bot, Clock
from tests.openapi_contract import validate_create_message

NOA = "+15550400001"  # nobody at first; lists the Tide Pool Cottage by text
LENA = "+15550400002"  # the operator's host of the Lake Cottage
GUEST = "+15550400003"  # Ivo: finds the Tide Pool Cottage by words and dates, requests it
OTHER = "+15550400004"  # Kim: has the Lake Cottage on the same dates, confirmed

PHOTO = "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM77/Media/ME77"
DESCRIPTION = "A cottage above the tide pools: two rooms, a wood stove, the sea at the door."
TTL = timedelta(hours=24)  # booking.request_ttl_hours, the default


def said(check_in: date, check_out: date) -> str:
    """Dates as people text them: "Mar 3-7", or "Mar 30 - Apr 2" across months."""
    if check_in.month == check_out.month:
        return f"{check_in:%b} {check_in.day}-{check_out.day}"
    return f"{check_in:%b} {check_in.day} - {check_out:%b} {check_out.day}"


async def expiry_pass(bot: Bot) -> int:
    return await expire_due(bot.services.turns, TTL, BOT_NUMBER, bot.clock())


def texts_to(bot: Bot, phone: str) -> list[str]:
    return [m["body"] for m in bot.twilio.messages_to(phone)]


async def test_a_host_lists_by_sms_a_guest_finds_it_and_the_request_runs_out(
    bot: Bot, clock: Clock
) -> None:
    check_in = clock().date() + timedelta(days=40)
    check_out = check_in + timedelta(days=4)
    dates = said(check_in, check_out)

    # A stranger becomes a host by text: four answers, a photo by MMS, SAVE.
    noa = bot.phone(NOA)
    assert await noa.ask("hi") == texts.WELCOME
    assert await noa.ask("HOST") == texts.LISTING_TITLE
    assert await noa.ask("Tide Pool Cottage") == texts.LISTING_PLACE
    assert await noa.ask("Mendocino, CA") == texts.LISTING_DESCRIPTION
    assert await noa.ask(DESCRIPTION) == texts.LISTING_PRICE
    assert await noa.ask("$140 a night") == texts.LISTING_PHOTO
    assert await noa.ask("it is a lovely place") == texts.LISTING_NO_PHOTO
    (summary,) = await noa.text("", media=((PHOTO, "image/jpeg"),))
    assert summary.media == [PHOTO]
    assert summary.body.startswith("Tide Pool Cottage, Mendocino, CA, $140/night, with a photo:")
    assert await noa.ask("SAVE") == (
        "Tide Pool Cottage is listed as your home 1: guests can find and book it now. "
        "HOMES shows yours."
    )
    assert await noa.ask("HOMES") == (
        "Your homes:\n1 Tide Pool Cottage, $140/night, live\n"
        "PAUSE <n>, RESUME <n>, PRICE <n> <$>, PHOTO <n>; HOST adds a home."
    )
    (listed,) = [p for p in await bot.admin("/admin/api/properties") if p["host_phone"] == NOA]
    assert (listed["title"], listed["image_url"], listed["active"]) == (
        "Tide Pool Cottage",
        PHOTO,
        True,
    )

    # Another cottage, booked on those dates: a guest searching them won't see it.
    await bot.add_home(LENA, "Lake Cottage", place="Tahoe, CA", host_name="Lena")
    kim = bot.phone(OTHER)
    assert (await kim.ask("LIST lake")).startswith("Homes 1-1 of 1:")
    await kim.text("BOOK 1")
    await kim.text(dates)
    await kim.text("Quiet couple, one week of hiking.")
    await kim.text("Kim")
    kim_ref = int(re.findall(r"Request (\d+) sent", await kim.ask("SEND"))[0])
    await bot.phone(LENA).text(f"ACCEPT {kim_ref}")
    assert (await reservation(bot, kim_ref))["status"] == "confirmed"

    # The guest searches by words and dates, sees the price, views the photo, requests it.
    ivo = bot.phone(GUEST)
    assert (await ivo.ask("LIST cottage")).startswith("Homes 1-2 of 2:")
    assert await ivo.ask(f"LIST cottage {dates}") == (
        f"Homes 1-1 of 1 free {texts.date_range(check_in, check_out)}:\n"
        "1 Tide Pool Cottage, Mendocino, CA $140\n"
        "Send a number to see a home, LIST to restart."
    )
    (details,) = await ivo.text("1")
    assert details.body.startswith("1 Tide Pool Cottage, Mendocino, CA, $140/night.")
    assert details.media == [PHOTO]
    # The dates of the search are the request's: only what is missing is asked.
    assert "4 nights, $560. Now a short note" in await ivo.ask("BOOK")
    assert await ivo.ask("Two of us, here for the whales.") == texts.ASK_NAME
    assert (await ivo.ask("Ivo")).endswith("Send SEND to ask the host, or MENU to drop it.")
    sent = await ivo.ask("SEND")
    ref = int(re.findall(r"Request (\d+) sent to the host of Tide Pool Cottage", sent)[0])
    await bot.drained()
    (new_request,) = texts_to(bot, NOA)
    assert new_request.startswith(f"New request {ref}: Tide Pool Cottage, ")
    assert new_request.endswith(f"Reply ACCEPT {ref} or REJECT {ref}")
    assert NOA not in sent and GUEST not in new_request  # no phone numbers either way

    # Half the time to live: the host is reminded, once.
    clock.advance(hours=11, minutes=30)
    assert await expiry_pass(bot) == 0
    await bot.drained()
    assert len(texts_to(bot, NOA)) == 1
    clock.advance(minutes=31)
    assert await expiry_pass(bot) == 0
    await bot.drained()
    assert texts_to(bot, NOA)[1:] == [
        f"Reminder: request {ref} (Tide Pool Cottage, {texts.date_range(check_in, check_out)}, "
        f"from Ivo) is waiting for you. Reply ACCEPT {ref} or REJECT {ref}"
    ]
    clock.advance(hours=6)
    assert await expiry_pass(bot) == 0
    await bot.drained()
    assert len(texts_to(bot, NOA)) == 2
    assert (await reservation(bot, ref))["status"] == "pending"

    # The time to live is over: the request expires, the guest is told to try another home.
    clock.advance(hours=6)
    assert await expiry_pass(bot) == 1
    await bot.drained()
    assert (await reservation(bot, ref))["status"] == "expired"
    (expired,) = texts_to(bot, GUEST)
    assert expired == texts.GUEST_EXPIRED.format(
        ref=ref, title="Tide Pool Cottage", dates=texts.date_range(check_in, check_out)
    )
    assert texts_to(bot, NOA)[2].startswith(f"Request {ref} for Tide Pool Cottage")
    assert await noa.ask(f"ACCEPT {ref}") == texts.NOT_PENDING.format(ref=ref, status="expired")
    assert (await ivo.ask("MY")).startswith(f"Your trips:\n{ref} Tide Pool Cottage ")
    assert await expiry_pass(bot) == 0  # nothing twice

    # Every REST message is one Twilio would accept, and each was delivered.
    for request in bot.twilio.create_requests():
        assert validate_create_message(request.form, bot.twilio.account_sid) == [], request.form
    assert {row["status"] for row in await outbox_rows(bot)} == {"delivered"}
    log = await messages_of(bot, NOA)
    assert [m["media"] for m in log if m["direction"] == "in" and m["media"]] == [[PHOTO]]
