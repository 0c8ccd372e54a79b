"""Pending requests expire after booking.request_ttl_hours (SPEC §3, issue 2 item 4): the guest
and the host are told by REST, only pending requests change, and a restart loses nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import BookingConfig
from bot.expiry import expire_due
from conversations import texts
from tests.bot.test_webhook import (
    GUEST,
    HOST,
    Restarted,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    eventually,
    messages_of,
    outbox_rows,
    request_stay,
    reservation,
    shut_down,
)
from tests.conftest import BOT_NUMBER, Bot, Clock
from tests.twilio_api import TwilioAPI

TTL = timedelta(hours=24)


async def expiry_pass(bot: Bot) -> int:
    return await expire_due(bot.services.turns, TTL, BOT_NUMBER, bot.clock())


async def a_request(bot: Bot) -> int:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.drained()
    return ref


def bodies_to(bot: Bot, phone: str) -> list[str]:
    return [m["body"] for m in bot.twilio.messages_to(phone)]


async def test_a_request_unanswered_past_the_ttl_expires(bot: Bot, clock: Clock) -> None:
    ref = await a_request(bot)
    clock.advance(hours=24, minutes=1)
    assert await expiry_pass(bot) == 1
    row = await reservation(bot, ref)
    assert row["status"] == "expired"
    await bot.drained()
    (to_guest,) = bodies_to(bot, GUEST)
    assert to_guest.startswith(f"Request {ref} for Beach House (")
    assert to_guest.endswith(
        "got no answer in time and has expired. Send LIST to try another home."
    )
    new_request, expired = bodies_to(bot, HOST)
    assert new_request.startswith(f"New request {ref}:")
    assert expired.startswith(f"Request {ref} for Beach House (")
    assert expired.endswith("expired without an answer. REQUESTS shows the rest.")

    # Drained means sent; "delivered" comes later, by the stand-in's status callback.
    async def statuses() -> dict[str, str]:
        return {r["to"]: r["status"] for r in await outbox_rows(bot)}

    await eventually(
        statuses, lambda found: found == {GUEST: "delivered", HOST: "delivered"}, what="delivery"
    )
    # The guest's log shows the notice after their own turns.
    assert (await messages_of(bot, GUEST))[-1]["body"] == to_guest


async def test_a_request_inside_the_ttl_stays_pending(bot: Bot, clock: Clock) -> None:
    ref = await a_request(bot)
    clock.advance(hours=23, minutes=59)
    assert await expiry_pass(bot) == 0
    assert (await reservation(bot, ref))["status"] == "pending"
    await bot.drained()
    assert bodies_to(bot, GUEST) == []


async def test_expiring_twice_tells_people_once(bot: Bot, clock: Clock) -> None:
    await a_request(bot)
    clock.advance(hours=25)
    assert await expiry_pass(bot) == 1
    assert await expiry_pass(bot) == 0
    await bot.drained()
    assert len(bodies_to(bot, GUEST)) == 1
    assert len(bodies_to(bot, HOST)) == 2


async def test_a_confirmed_stay_never_expires(bot: Bot, clock: Clock) -> None:
    ref = await a_request(bot)
    await bot.phone(HOST).text(f"ACCEPT {ref}")
    for _ in range(3):
        clock.advance(hours=25)
        assert await expiry_pass(bot) == 0
    assert (await reservation(bot, ref))["status"] == "confirmed"
    await bot.drained()
    assert bodies_to(bot, GUEST) == []


async def test_rejected_and_withdrawn_requests_never_expire(bot: Bot, clock: Clock) -> None:
    ref = await a_request(bot)
    await bot.phone(HOST).text(f"REJECT {ref}")
    other = await request_stay(bot, bot.phone(GUEST), start=60)
    assert await bot.phone(GUEST).ask(f"WITHDRAW {other}") == texts.WITHDRAWN.format(ref=other)
    clock.advance(hours=48)
    assert await expiry_pass(bot) == 0
    assert (await reservation(bot, ref))["status"] == "rejected"
    assert (await reservation(bot, other))["status"] == "withdrawn"


async def test_an_expired_request_can_no_longer_be_answered(bot: Bot, clock: Clock) -> None:
    ref = await a_request(bot)
    clock.advance(hours=25)
    await expiry_pass(bot)
    host = bot.phone(HOST)
    assert await host.ask(f"ACCEPT {ref}") == texts.NOT_PENDING.format(ref=ref, status="expired")
    assert await host.ask("ACCEPT") == texts.HOST_NONE_PENDING
    assert await host.ask("REQUESTS") == texts.HOST_NONE_PENDING
    assert (await reservation(bot, ref))["status"] == "expired"
    guest = bot.phone(GUEST)
    assert await guest.ask(f"WITHDRAW {ref}") == texts.NOT_PENDING.format(ref=ref, status="expired")


async def test_an_opted_out_guest_is_not_told_of_the_expiry(bot: Bot, clock: Clock) -> None:
    ref = await a_request(bot)
    assert await bot.phone(GUEST).text("STOP") == []
    clock.advance(hours=25)
    assert await expiry_pass(bot) == 1
    assert (await reservation(bot, ref))["status"] == "expired"
    await bot.drained()
    assert bodies_to(bot, GUEST) == []
    assert len(bodies_to(bot, HOST)) == 2


async def test_expiry_happens_at_start_after_downtime(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    ref = await a_request(bot)
    await shut_down(bot)
    clock.advance(hours=24, minutes=1)
    async with Restarted(tmp_path, twilio_api, clock) as again:

        async def probe() -> dict[str, Any]:
            return await reservation(again, ref)

        await eventually(probe, lambda row: row["status"] == "expired", what="the expiry")
        await again.drained()
        assert len(bodies_to(again, GUEST)) == 1
        assert len(bodies_to(again, HOST)) == 2


async def test_the_ttl_comes_from_the_configuration(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    booking = BookingConfig(request_ttl_hours=1)
    async with Restarted(tmp_path, twilio_api, clock, booking=booking) as bot:
        ref = await a_request(bot)
    clock.advance(minutes=61)  # the default 24 hours are far off
    async with Restarted(tmp_path, twilio_api, clock, booking=booking) as bot:

        async def probe() -> dict[str, Any]:
            return await reservation(bot, ref)

        await eventually(probe, lambda row: row["status"] == "expired", what="the expiry")
