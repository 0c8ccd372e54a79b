"""Turns that arrive at once (issue 4 item 3, short variants): one outcome per request, everyone
told exactly once, and a person's own turns answered in arrival order as if one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from bot.expiry import expire_due
from conversations import texts
from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    conversations_of,
    request_stay,
    reservation,
)
from tests.conftest import BOT_NUMBER, Bot, Clock
from tests.phones import Reply

GUEST_C = "+15550003333"


def told(replies: Sequence[list[Reply]], phone: str) -> list[str]:
    return [r.body for answer in replies for r in answer if r.to == phone]


async def two_requests_that_overlap(bot: Bot) -> tuple[int, int]:
    await bot.add_home(HOST, "Beach House")
    ref_a = await request_stay(bot, bot.phone(GUEST), start=30, nights=4)
    ref_b = await request_stay(bot, bot.phone(GUEST_B), start=32, nights=4, name="Bo")
    await bot.drained()
    return ref_a, ref_b


async def test_the_same_accept_twice_at_once_confirms_once(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.drained()
    host = bot.phone(HOST)
    answers = await asyncio.gather(host.text(f"ACCEPT {ref}"), host.text(f"ACCEPT {ref}"))
    to_host = sorted(told(answers, HOST))
    assert to_host[0] == texts.NOT_PENDING.format(ref=ref, status="confirmed")
    assert to_host[1].startswith(f"You accepted request {ref}")
    (to_guest,) = told(answers, GUEST)
    assert to_guest.startswith("Good news!")
    assert (await reservation(bot, ref))["status"] == "confirmed"
    await bot.drained()
    assert bot.twilio.messages_to(GUEST) == []


async def test_accept_without_a_reference_twice_at_once(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    host = bot.phone(HOST)
    answers = await asyncio.gather(host.text("YES"), host.text("ACCEPT"))
    to_host = told(answers, HOST)
    assert texts.HOST_NONE_PENDING in to_host
    assert len([t for t in to_host if t.startswith(f"You accepted request {ref}")]) == 1
    assert len(told(answers, GUEST)) == 1
    assert (await reservation(bot, ref))["status"] == "confirmed"


async def test_accept_and_reject_at_once_have_one_outcome(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    host = bot.phone(HOST)
    accepted, rejected = await asyncio.gather(
        host.text(f"ACCEPT {ref}"), host.text(f"REJECT {ref}")
    )
    status = (await reservation(bot, ref))["status"]
    assert status in ("confirmed", "rejected")
    (to_guest,) = told([accepted, rejected], GUEST)
    won, lost = (accepted, rejected) if status == "confirmed" else (rejected, accepted)
    assert [r.to for r in won] == [HOST, GUEST]
    assert [r.body for r in lost] == [texts.NOT_PENDING.format(ref=ref, status=status)]
    verb = "accepted" if status == "confirmed" else "rejected"
    assert won[0].body.startswith(f"You {verb} request {ref}")
    assert to_guest.startswith("Good news!" if status == "confirmed" else "Sorry,")


async def test_accepting_two_overlapping_requests_at_once_confirms_one(bot: Bot) -> None:
    ref_a, ref_b = await two_requests_that_overlap(bot)
    host = bot.phone(HOST)
    answers = await asyncio.gather(host.text(f"ACCEPT {ref_a}"), host.text(f"ACCEPT {ref_b}"))
    statuses = {ref: (await reservation(bot, ref))["status"] for ref in (ref_a, ref_b)}
    assert sorted(statuses.values()) == ["confirmed", "rejected"]
    winner = ref_a if statuses[ref_a] == "confirmed" else ref_b
    winner_guest, loser_guest = (GUEST, GUEST_B) if winner == ref_a else (GUEST_B, GUEST)
    loser = ref_b if winner == ref_a else ref_a
    await bot.drained()
    # The winner hears by TwiML, the closed request's guest by REST: each exactly once.
    (good,) = told(answers, winner_guest) + [
        m["body"] for m in bot.twilio.messages_to(winner_guest)
    ]
    assert good.startswith("Good news!")
    (sorry,) = told(answers, loser_guest) + [m["body"] for m in bot.twilio.messages_to(loser_guest)]
    assert sorry.startswith("Sorry, Beach House was booked for")
    assert f"(request {loser})" in sorry
    assert texts.NOT_PENDING.format(ref=loser, status="declined") in told(answers, HOST)


async def test_a_guest_withdrawing_as_the_host_accepts_has_one_outcome(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest, host = bot.phone(GUEST), bot.phone(HOST)
    ref = await request_stay(bot, guest)
    await bot.drained()
    withdrawn, accepted = await asyncio.gather(
        guest.text(f"WITHDRAW {ref}"), host.text(f"ACCEPT {ref}")
    )
    status = (await reservation(bot, ref))["status"]
    await bot.drained()
    rest_to_host = [m["body"] for m in bot.twilio.messages_to(HOST)][1:]
    if status == "withdrawn":
        assert [r.body for r in withdrawn] == [texts.WITHDRAWN.format(ref=ref)]
        assert [r.body for r in accepted] == [texts.NOT_PENDING.format(ref=ref, status="withdrawn")]
        assert len(rest_to_host) == 1 and "was withdrawn by the guest" in rest_to_host[0]
    else:
        assert status == "confirmed"
        assert [r.body for r in withdrawn] == [
            texts.NOT_PENDING.format(ref=ref, status="confirmed")
        ]
        assert [r.to for r in accepted] == [HOST, GUEST]
        assert rest_to_host == []


async def test_the_host_accepting_as_the_request_expires_has_one_outcome(
    bot: Bot, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.drained()
    clock.advance(hours=25)
    host = bot.phone(HOST)
    replies, expired = await asyncio.gather(
        host.text(f"ACCEPT {ref}"),
        expire_due(bot.services.turns, timedelta(hours=24), BOT_NUMBER, clock()),
    )
    status = (await reservation(bot, ref))["status"]
    await bot.drained()
    to_guest = told([replies], GUEST) + [m["body"] for m in bot.twilio.messages_to(GUEST)]
    assert len(to_guest) == 1
    if status == "expired":
        assert expired == 1
        assert [r.body for r in replies] == [texts.NOT_PENDING.format(ref=ref, status="expired")]
        assert "has expired" in to_guest[0]
    else:
        assert (status, expired) == ("confirmed", 0)
        assert to_guest[0].startswith("Good news!")


async def test_a_guests_messages_sent_at_once_are_answered_one_at_a_time(bot: Bot) -> None:
    for n in range(7):
        await bot.add_home(HOST, f"Home {n + 1}")
    bodies = ["LIST", "MORE", "2", "BOOK", "MENU"]
    guest = bot.phone(GUEST)
    answers = await asyncio.gather(*(guest.text(body) for body in bodies))
    assert all(len(a) == 1 for a in answers)
    answer_of = dict(zip(bodies, (a[0].body for a in answers), strict=True))

    # The log has each message followed by its own answer, with nothing interleaved.
    (conversation,) = await conversations_of(bot, GUEST)
    log = conversation["messages"]
    assert [m["direction"] for m in log] == ["in", "out"] * len(bodies)
    order = [m["body"] for m in log[::2]]
    assert sorted(order) == sorted(bodies)
    for inbound, outbound in zip(log[::2], log[1::2], strict=True):
        assert outbound["body"] == answer_of[inbound["body"]]

    # The same messages in that order, one at a time, get the same answers and end the same.
    twin = bot.phone(GUEST_C)
    assert [await twin.ask(body) for body in order] == [answer_of[body] for body in order]
    (twin_conversation,) = await conversations_of(bot, GUEST_C)
    assert twin_conversation["state"] == conversation["state"]


async def test_many_guests_booking_at_once_get_their_own_requests(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guests = [bot.phone(f"+1555000{4000 + n}") for n in range(5)]
    refs = await asyncio.gather(
        *(
            request_stay(bot, g, start=30 + 5 * n, name=f"Guest {chr(65 + n)}")
            for n, g in enumerate(guests)
        )
    )
    assert sorted(refs) == [1, 2, 3, 4, 5]
    for guest, ref in zip(guests, refs, strict=True):
        row = await reservation(bot, ref)
        assert row["guest_phone"] == guest.number
        assert row["status"] == "pending"
        assert (await guest.ask("MY")).startswith(f"Your trips:\n{ref} Beach House")
    await bot.drained()
    assert len(bot.twilio.messages_to(HOST)) == 5
