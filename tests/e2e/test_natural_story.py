"""The story of issue 14, end to end through the real app on a real port and Twilio's REST API
played by tests/twilio_api.py: a guest who has never seen the command table finds a home, asks
about it, books it, changes the dates and follows up, without a single command word; the host
accepts in plain words.
"""

from __future__ import annotations

import re
from datetime import timedelta

from conversations import texts
from conversations.commands import _VERBS, ACCEPT_WORDS, HELP_WORDS, OPT_OUT_WORDS, REJECT_WORDS
from tests.bot.test_webhook import (
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    reservation,
)
from tests.conftest import Bot

MARIA = "+15550500001"  # the host of the Beach House
ANA = "+15550500002"  # a guest who never read the command table
COMMAND_WORDS = set(_VERBS) | ACCEPT_WORDS | REJECT_WORDS | HELP_WORDS | OPT_OUT_WORDS


def typed(check_in, check_out) -> str:  # type: ignore[no-untyped-def]
    if check_in.month == check_out.month:
        return f"{check_in:%B} {check_in.day} to {check_out.day}"
    return f"{check_in:%B} {check_in.day} to {check_out:%B} {check_out.day}"


async def test_a_guest_books_in_her_own_words_and_the_host_accepts_in_his(bot: Bot) -> None:
    await bot.add_home(
        MARIA, "Beach House", place="Malibu, CA", nightly_price=250, host_name="Maria",
        description="On the sand, sleeps 4.",
    )  # fmt: skip
    await bot.add_home(MARIA, "Mountain Cabin", place="Aspen, CO", nightly_price=180)
    first_in = bot.clock().date() + timedelta(days=30)
    first_out = first_in + timedelta(days=4)
    then_in, then_out = first_in + timedelta(days=7), first_in + timedelta(days=10)
    ana = bot.phone(ANA)
    said: list[str] = []

    async def ask(body: str) -> str:
        said.append(body)
        return await ana.ask(body)

    assert await ask("Hi there") == texts.WELCOME
    found = await ask("Do you have anything in Malibu?")
    assert found.startswith("Homes 1-1 of 1:\n1 Beach House, Malibu, CA $250")
    assert (await ask("The first one please")).startswith("1 Beach House, Malibu, CA, $250/night.")
    asked = await ask(f"How much would it be for {typed(first_in, first_out)}?")
    assert asked.startswith("Beach House is $250 a night: $1000 for ")
    free = await ask(f"Is it free {typed(first_in, first_out)}?")
    assert free.startswith("Beach House is free ")
    assert "Now a short note for the host" in await ask("Great, we'll take it")
    changed = await ask(f"Actually, could we do {typed(then_in, then_out)} instead?")
    assert changed.startswith(f"{texts.date_range(then_in, then_out)}, 3 nights, $750.")
    assert await ask("We are two teachers on a quiet holiday, arriving late.") == texts.ASK_NAME
    summary = await ask("I'm Ana")
    assert summary.startswith(f"Beach House, {texts.date_range(then_in, then_out)} (3 nights)")
    assert "as Ana" in summary
    sent = await ask("Sounds good, go ahead")
    ref = int(re.findall(r"Request (\d+) sent to the host of Beach House", sent)[0])
    await bot.drained()
    (new_request,) = [m["body"] for m in bot.twilio.messages_to(MARIA)]
    assert new_request.startswith(f"New request {ref}: Beach House, ")
    assert "We are two teachers" in new_request

    # The host answers as he would answer a friend.
    answer = await bot.phone(MARIA).text("Yes, that's fine. Welcome!")
    assert [r.to for r in answer] == [MARIA, ANA]
    assert answer[1].body.startswith("Good news! Beach House confirmed your stay")
    stored = await reservation(bot, ref)
    assert (stored["status"], stored["check_in"]) == ("confirmed", then_in.isoformat())

    # She follows up, and says thanks.
    trips = await ask("Did they answer?")
    assert trips.startswith(f"Your trips:\n{ref} Beach House ") and "confirmed" in trips
    assert await ask("Thank you!") == texts.THANKED

    # Not one command word in anything she sent.
    for body in said:
        words = set(re.findall(r"[a-z]+", body.casefold()))
        assert not words & COMMAND_WORDS, (body, words & COMMAND_WORDS)
