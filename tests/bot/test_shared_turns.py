"""Turns on the shared store (bot/shared_turns.py): two apps on one PostgreSQL database behave as
one service, and a turn costs the round trips it should. (tests/multi/ does the same with real
processes behind a real load balancer.)"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from conversations import texts
from storage.postgres import PostgresStore
from tests.bot.test_outbox import callback, host_row, sign
from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    Restarted,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    outbox_rows,
    request_stay,
    reservation,
    stay_text,
)
from tests.conftest import BOT_NUMBER, Bot, Clock
from tests.phones import TwilioPhone
from tests.twilio_api import TwilioAPI

pytestmark = pytest.mark.postgresql_only


def round_trips(bot: Bot) -> tuple[int, int]:
    store = bot.services.store
    assert isinstance(store, PostgresStore)
    return store.turns_run, store.turn_round_trips


async def spent(bot: Bot, text: str) -> int:
    """The database round trips of one turn."""
    turns, trips = round_trips(bot)
    await bot.phone(GUEST).ask(text)
    after_turns, after_trips = round_trips(bot)
    assert after_turns == turns + 1
    return after_trips - trips


async def test_a_turn_is_two_round_trips_and_a_new_request_three(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    assert await spent(bot, "hello") == 2  # the lock and the load; the writes and the commit
    assert await spent(bot, "LIST") == 2
    assert await spent(bot, "BOOK 1") == 2
    assert await spent(bot, stay_text(bot.clock)) == 2
    assert await spent(bot, "Two of us.") == 2
    assert await spent(bot, "Ann") == 2
    assert await spent(bot, "SEND") == 3  # and the new request's id from its sequence
    assert await spent(bot, "MY") == 2
    replay = guest.form("MY")
    await guest.send(replay)
    turns, trips = round_trips(bot)
    await guest.send(replay)  # Twilio retrying: answered from the store, nothing written
    assert round_trips(bot) == (turns + 1, trips + 1)


async def test_another_instance_continues_the_conversation_and_answers_a_retry(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    async with Restarted(tmp_path, twilio_api, clock) as other:
        here, there = bot.phone(GUEST), other.phone(GUEST)
        assert (await here.ask("LIST")).startswith("Homes 1-1 of 1")
        there.cookies = here.cookies
        assert (await there.ask("1")).startswith("1 Beach House")  # the list shown by `bot`
        form = here.form("BOOK")
        first = await here.send(form)
        again = await there.send(form)  # the same MessageSid, at the other instance
        assert again.text == first.text and first.text.count("Booking ") == 1
        # The pair's turns ran one at a time: each instance saw the other's.
        (row,) = [c for c in await bot.admin("/admin/api/conversations") if c["phone"] == GUEST]
        assert [m["body"] for m in row["messages"] if m["direction"] == "in"] == [
            "LIST",
            "1",
            "BOOK",
        ]


async def test_one_message_sid_at_every_instance_at_once_runs_once(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    async with Restarted(tmp_path, twilio_api, clock) as other:
        await request_stay(bot, bot.phone(GUEST))
        host_here, host_there = bot.phone(HOST), other.phone(HOST)
        form = host_here.form("ACCEPT")
        answers = await asyncio.gather(*(phone.send(form) for phone in [host_here, host_there] * 5))
        assert len({a.text for a in answers}) == 1
        assert texts.HOST_ACCEPTED.split("{")[0] in answers[0].text
        logged = [m for m in await bot.admin("/admin/api/conversations") if m["phone"] == HOST]
        accepts = [m for c in logged for m in c["messages"] if m["body"] == "ACCEPT"]
        assert len(accepts) == 1


async def test_a_home_paused_at_one_instance_is_gone_from_the_other_at_once(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    await bot.add_home(HOST, "Lake Cottage")
    async with Restarted(tmp_path, twilio_api, clock) as other:
        assert (await other.phone(GUEST).ask("LIST")).startswith("Homes 1-2 of 2")
        assert "is paused" in await bot.phone(HOST).ask("PAUSE 1")
        # The next turn at the other instance reads the homes' version with its load.
        page = await other.phone(GUEST).ask("LIST")
        assert page.startswith("Homes 1-1 of 1") and "Beach House" not in page
        assert "$150" in await other.phone(HOST).ask("PRICE 2 $150")
        assert "$150" in await bot.phone(GUEST).ask("LIST")


async def test_each_instance_sends_its_share_of_the_outbox_once(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    async with Restarted(tmp_path, twilio_api, clock) as other:
        guests = [f"+1555000{n:04d}" for n in range(12)]
        await asyncio.gather(
            *(
                request_stay(app, app.phone(g), start=30 + 7 * n, name=f"G{n}")
                for n, (g, app) in enumerate(zip(guests, [bot, other] * 6, strict=True))
            )
        )
        await bot.drained()
        await other.drained()
        assert len(twilio_api.messages_to(HOST)) == 12
        assert {r["status"] for r in await outbox_rows(bot, HOST)} <= {"sent", "delivered"}


async def test_a_status_callback_at_another_instance_is_kept(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    await request_stay(bot, bot.phone(GUEST))
    row = await host_row(bot, settled=("delivered",))
    async with Restarted(tmp_path, twilio_api, clock) as other:
        failed = callback(row["twilio_sid"], "undelivered", ErrorCode="30003")
        status, _, _ = await other.post(other.url + "/sms/status", failed, sign(other, failed))
        assert status == 204
        (seen,) = await outbox_rows(bot, HOST)  # from the instance that sent it
        assert (seen["status"], seen["error_code"]) == ("undelivered", 30003)
        # The console and the API answer the same from any instance.
        for path in ("/admin/api/outbox", "/admin/api/reservations", "/admin/api/conversations"):
            assert await bot.admin(path) == await other.admin(path)


async def test_expiry_at_two_instances_at_once_expires_each_request_once(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    refs = [
        await request_stay(bot, bot.phone(f"+1555000{n:04d}"), start=30 + 7 * n, name=f"G{n}")
        for n in range(3)
    ]
    await bot.drained()
    clock.advance(hours=25)
    async with Restarted(tmp_path, twilio_api, clock) as other:
        ttl = timedelta(hours=24)
        counts = await asyncio.gather(
            *(app.services.turns.expire_due(ttl, BOT_NUMBER, clock()) for app in [bot, other] * 3)
        )
        # (The new instance's own expiry task may have run its first pass as it started.)
        assert sum(counts) <= 3
        await bot.drained()
        expired = [m for m in twilio_api.messages_to(HOST) if "expired" in m["body"]]
        assert len(expired) == 3, expired
        rows = await bot.admin("/admin/api/reservations")
        assert {r["id"]: r["status"] for r in rows} == dict.fromkeys(refs, "expired")


async def test_a_host_accepting_overlapping_stays_at_two_numbers_at_once_confirms_one(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    """A host texting two of the service's numbers has two conversations, whose turns run side
    by side (one instance each here). Accepting two overlapping requests that way, each turn
    loads the other's request still pending (the database makes each confirm slow, so both
    load before either commits) and decides to confirm its own and close the other. The
    database lets one commit; the other is refused (a guard, the row locks' deadlock, or the
    exclusion constraint, whichever it meets first), decided again on what is there now, and
    the host is told. Never two confirmed stays, never the apology."""
    await bot.add_home(HOST, "Beach House")
    first = await request_stay(bot, bot.phone(GUEST), start=30, nights=4)
    second = await request_stay(bot, bot.phone(GUEST_B), start=32, nights=4, name="Bo")
    conn = await asyncpg.connect(bot.config.database_url)
    try:
        await conn.execute(
            "CREATE FUNCTION slow_confirm() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END$$;"
            " CREATE TRIGGER slow_confirm BEFORE UPDATE OF status ON reservations FOR EACH ROW"
            " WHEN (NEW.status = 'confirmed') EXECUTE FUNCTION slow_confirm()"
        )
        async with Restarted(tmp_path, twilio_api, clock) as other:
            here = bot.phone(HOST)
            there = TwilioPhone(
                other.post, HOST, "+15550008888", other.url, other.config.twilio.auth_token
            )
            answers = await asyncio.gather(
                here.text(f"ACCEPT {first}"), there.text(f"ACCEPT {second}")
            )
    finally:
        await conn.close()
    replies = [[r.body for r in answer if r.to == HOST] for answer in answers]
    accepted = [n for n, said in enumerate(replies) if said[0].startswith("You accepted")]
    assert len(accepted) == 1, replies
    (lost,) = replies[1 - accepted[0]]
    assert lost != texts.APOLOGY and not lost.startswith("You accepted"), lost
    assert "already" in lost or "booked" in lost or "overlap" in lost.lower(), lost
    statuses = {r: (await reservation(bot, r))["status"] for r in (first, second)}
    assert sorted(statuses.values()) == ["confirmed", "rejected"], statuses
