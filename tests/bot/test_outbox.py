"""Outbound notifications through the outbox and Twilio's REST API (SPEC §2, issue 2 item 5),
against the Twilio stand-in in tests/twilio_api.py: delivered once with the right request,
retried through outages, reconciled when the outcome was not seen, failed for good on
permanent errors, tracked by status callbacks, and resumed after a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import FormData
from twilio.request_validator import RequestValidator

from bot.config import OutboxConfig
from bot.outbox import LEASE_MARGIN_SECONDS, form_body, twilio_client
from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    Restarted,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    eventually,
    messages_of,
    outbox_rows,
    outbox_task,
    request_stay,
    reservation,
    shut_down,
)
from tests.conftest import BOT_NUMBER, Bot, Clock
from tests.openapi_contract import validate_create_message
from tests.twilio_api import TwilioAPI

SETTLED = ("sent", "delivered", "undelivered", "failed", "cancelled")


async def host_row(bot: Bot, *, settled: tuple[str, ...] = SETTLED) -> dict[str, Any]:
    """The one outbox row to the host, once its status is one of `settled`."""

    async def probe() -> list[dict[str, Any]]:
        return await outbox_rows(bot, HOST)

    (row,) = await eventually(
        probe, lambda rows: len(rows) == 1 and rows[0]["status"] in settled, what="host's row"
    )
    return row


def quick_retries(max_attempts: int) -> OutboxConfig:
    """Retries a moment apart, and requests cut off after 2 s."""
    return OutboxConfig(
        base_delay_seconds=0.05,
        max_delay_seconds=0.2,
        request_timeout_seconds=2,
        max_attempts=max_attempts,
    )


async def a_request(bot: Bot) -> int:
    await bot.add_home(HOST, "Beach House")
    return await request_stay(bot, bot.phone(GUEST))


def sign(bot: Bot, params: dict[str, str], path: str = "/sms/status") -> dict[str, str]:
    validator = RequestValidator(bot.config.twilio.auth_token)
    return {"X-Twilio-Signature": validator.compute_signature(bot.url + path, params)}


def callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": BOT_NUMBER,
        "To": HOST,
        "ApiVersion": "2010-04-01",
        **extra,
    }


# -- the request -------------------------------------------------------------------------------


async def test_a_notification_is_sent_once_as_twilio_documents_it(bot: Bot) -> None:
    ref = await a_request(bot)
    row = await host_row(bot, settled=("delivered",))
    (message,) = bot.twilio.messages_to(HOST)
    (create,) = bot.twilio.create_requests()
    assert create.status == 201
    form = bot.twilio.form_of(message["sid"])
    assert form["From"] == [BOT_NUMBER]
    assert form["To"] == [HOST]
    assert form["StatusCallback"] == [bot.url + "/sms/status"]
    (body,) = form["Body"]
    assert body.startswith(f"New request {ref}: Beach House")
    assert body.endswith(f"Reply ACCEPT {ref} or REJECT {ref}")
    assert validate_create_message(form, bot.config.twilio.account_sid) == []
    assert row["twilio_sid"] == message["sid"]
    assert row["attempts"] == 1
    assert row["body"] == body
    assert row["error"] is None
    # The log shows the host's text with what Twilio reported.
    (logged,) = [m for m in await messages_of(bot, HOST) if m["direction"] == "out"]
    assert (logged["body"], logged["status"]) == (body, "delivered")


# -- status callbacks ---------------------------------------------------------------------------


async def test_status_callbacks_must_be_signed(bot: Bot) -> None:
    await a_request(bot)
    row = await host_row(bot, settled=("delivered",))
    params = callback(row["twilio_sid"], "undelivered", ErrorCode="30003")
    for headers in ({}, {"X-Twilio-Signature": "Zm9yZ2Vk"}, sign(bot, params, "/sms")):
        status, _, _ = await bot.post(bot.url + "/sms/status", params, headers)
        assert status == 403
    assert (await host_row(bot))["status"] == "delivered"


async def test_a_signed_callback_updates_the_outbox(bot: Bot) -> None:
    await a_request(bot)
    row = await host_row(bot, settled=("delivered",))
    sid = row["twilio_sid"]
    # A late 'sent' never takes a delivered message back.
    late = callback(sid, "sent")
    status, text, _ = await bot.post(bot.url + "/sms/status", late, sign(bot, late))
    assert (status, text) == (204, "")
    assert (await host_row(bot))["status"] == "delivered"
    failed = callback(sid, "undelivered", ErrorCode="30003")
    status, _, _ = await bot.post(bot.url + "/sms/status", failed, sign(bot, failed))
    assert status == 204
    row = await host_row(bot)
    assert (row["status"], row["error_code"]) == ("undelivered", 30003)


async def test_a_callback_for_an_unknown_sid_is_204(bot: Bot) -> None:
    await a_request(bot)
    await host_row(bot, settled=("delivered",))
    before = await outbox_rows(bot)
    params = callback("SM" + "f" * 32, "delivered")
    status, _, _ = await bot.post(bot.url + "/sms/status", params, sign(bot, params))
    assert status == 204
    assert await outbox_rows(bot) == before


async def test_a_callback_without_a_message_sid_is_400(bot: Bot) -> None:
    params = {"MessageStatus": "delivered", "AccountSid": "AC1"}
    status, _, _ = await bot.post(bot.url + "/sms/status", params, sign(bot, params))
    assert status == 400


async def test_a_delivery_failure_reported_by_twilio_is_recorded(bot: Bot) -> None:
    bot.twilio.fail_next(1, "undelivered", to=HOST, error_code=30006)
    await a_request(bot)
    row = await host_row(bot, settled=("undelivered",))
    assert row["error_code"] == 30006
    assert row["attempts"] == 1
    assert len(bot.twilio.messages_to(HOST)) == 1


# -- outages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("500", {}),
        ("503", {}),
        ("429", {"retry_after": 1}),
        ("close", {}),
        ("timeout", {"hang": 3}),  # the service gives up after 2 s in tests
    ],
)
async def test_transient_failures_are_retried_and_delivered_once(
    bot: Bot, kind: str, options: dict[str, Any]
) -> None:
    bot.twilio.fail_next(1, kind, to=HOST, **options)  # type: ignore[arg-type]
    await a_request(bot)
    row = await host_row(bot, settled=("delivered",))
    assert len(bot.twilio.messages_to(HOST)) == 1
    assert bot.twilio.attempts_by_to[HOST] == 2
    assert row["attempts"] == 2
    assert row["error"] is None
    assert row["twilio_sid"] == bot.twilio.messages_to(HOST)[0]["sid"]


async def test_a_429_waits_for_retry_after(bot: Bot) -> None:
    bot.twilio.fail_next(1, "429", to=HOST, retry_after=1)
    await a_request(bot)
    await host_row(bot, settled=("delivered",))
    first, second = bot.twilio.create_requests()
    assert first.status == 429
    # Backoff alone is at most 0.5 s in tests; Retry-After asked for a whole second.
    assert second.received_at - first.received_at >= 0.95


async def test_several_failures_in_a_row_are_retried(bot: Bot) -> None:
    bot.twilio.fail_next(4, "503", to=HOST)
    await a_request(bot)
    row = await host_row(bot, settled=("delivered",))
    assert len(bot.twilio.messages_to(HOST)) == 1
    assert row["attempts"] == 5


@pytest.mark.parametrize(
    ("kind", "options"),
    [("created_then_close", {}), ("timeout", {"hang": 3, "create": True})],
    ids=["created_then_close", "created_then_timeout"],
)
async def test_an_ambiguous_send_is_reconciled_not_repeated(
    bot: Bot, kind: str, options: dict[str, Any]
) -> None:
    bot.twilio.fail_next(1, kind, to=HOST, **options)  # type: ignore[arg-type]
    await a_request(bot)
    row = await host_row(bot)
    (message,) = bot.twilio.messages_to(HOST)
    assert len(bot.twilio.create_requests()) == 1  # asked Twilio, did not send again
    assert row["twilio_sid"] == message["sid"]
    assert row["status"] in ("sent", "delivered")


async def test_a_reconciled_send_keeps_the_status_twilio_reported(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    # A slower retry, so Twilio's callbacks surely come before the worker reconciles.
    outbox = OutboxConfig(
        base_delay_seconds=0.6, max_delay_seconds=1, request_timeout_seconds=2, max_attempts=3
    )
    twilio_api.fail_next(1, "created_then_close", to=HOST)
    async with Restarted(tmp_path, twilio_api, clock, outbox=outbox) as bot:
        await a_request(bot)
        await twilio_api.wait_for(
            lambda: [
                c
                for c in twilio_api.callbacks
                if c.params["MessageStatus"] == "delivered" and c.status == 204
            ],
            what="the delivered callback answered",
        )
        assert (await host_row(bot, settled=("queued", "sending")))["twilio_sid"] is None
        await bot.drained()
        row = await host_row(bot)
        assert row["twilio_sid"] == twilio_api.messages_to(HOST)[0]["sid"]
        assert row["status"] == "delivered"


@pytest.mark.sqlite_only  # both stamps on the bot's clock (PostgreSQL leases on its own clock)
async def test_a_claim_outlasts_both_requests_of_a_delivery(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    """A delivery after an unseen outcome asks Twilio about the earlier attempt, then creates:
    two requests, each cut off at request_timeout_seconds. The claim's lease outlasts both, so
    another instance's worker never claims a row whose create may still be on its way."""
    outbox = quick_retries(max_attempts=3)
    twilio_api.fail_next(1, "slow", to=HOST, hang=1.5)
    async with Restarted(tmp_path, twilio_api, clock, outbox=outbox) as bot:
        await a_request(bot)
        row = await host_row(bot, settled=("sending",))
        lease = datetime.fromisoformat(row["next_attempt_at"]) - datetime.fromisoformat(
            row["updated_at"]
        )
        # Two requests and the time to record their outcome.
        assert lease >= timedelta(seconds=2 * outbox.request_timeout_seconds + LEASE_MARGIN_SECONDS)
        assert (await host_row(bot))["status"] in ("sent", "delivered")
    assert len(twilio_api.messages_to(HOST)) == 1


@pytest.mark.postgresql_only
async def test_a_message_queued_without_a_notify_is_sent_by_polling(bot: Bot) -> None:
    """NOTIFY wakes the workers of every instance; without one (lost, or a row written by a
    hand that sends none) the worker still finds the message by looking again on its own."""
    conn = await asyncpg.connect(bot.config.database_url)
    try:
        await conn.execute(
            "INSERT INTO outbox (to_phone, from_phone, body, next_attempt_at, created_at,"
            " updated_at) VALUES ($1, $2, 'Queued by another hand', now(), now(), now())",
            HOST,
            BOT_NUMBER,
        )
    finally:
        await conn.close()
    await eventually(
        lambda: asyncio.sleep(0, bot.twilio.messages_to(HOST)),
        lambda sent: [m["body"] for m in sent] == ["Queued by another hand"],
        timeout=15,
        what="the message sent by polling",
    )


# -- permanent failures -------------------------------------------------------------------------


@pytest.mark.parametrize("code", [21211, 21610])
async def test_a_permanent_error_fails_at_once_with_its_code(bot: Bot, code: int) -> None:
    bot.twilio.fail_next(1, str(code), to=HOST)  # type: ignore[arg-type]
    await a_request(bot)
    row = await host_row(bot, settled=("failed",))
    assert row["error_code"] == code
    assert row["attempts"] == 1
    assert row["twilio_sid"] is None
    assert row["error"]
    # The worker goes on with other messages and never comes back to this one.
    await request_stay(bot, bot.phone(GUEST_B), start=60, name="Bo")
    await bot.drained()
    assert bot.twilio.attempts_by_to[HOST] == (1 if code == 21610 else 2)
    first = (await outbox_rows(bot, HOST))[-1]
    assert (first["id"], first["status"], first["attempts"]) == (row["id"], "failed", 1)


async def test_21610_marks_the_person_opted_out(bot: Bot) -> None:
    bot.twilio.opted_out.add(HOST)  # the host replied STOP to the bot's number at Twilio
    ref = await a_request(bot)
    await host_row(bot, settled=("failed",))
    assert bot.twilio.attempts_by_to[HOST] == 1
    # Nothing more is sent to them, by REST or TwiML, until they opt in.
    guest_b = bot.phone(GUEST_B)
    await request_stay(bot, guest_b, start=60, name="Bo")
    await bot.drained()
    assert bot.twilio.attempts_by_to[HOST] == 1
    assert len(await outbox_rows(bot, HOST)) == 1
    host = bot.phone(HOST)
    assert await host.text("REQUESTS") == []
    replies = await host.text("START")
    assert len(replies) == 1 and replies[0].to == HOST
    assert (await host.ask("REQUESTS")).startswith(f"Pending: {ref} Beach House")
    # Both changes are kept as events for the console: out by Twilio's word, back in by START.
    day = bot.clock().date().isoformat()
    today = (await bot.services.store.overview(day, day, day))["today"]
    assert (today["opt_outs"], today["opt_ins"]) == (1, 1)


async def test_giving_up_after_max_attempts(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    outbox = quick_retries(max_attempts=3)
    twilio_api.fail_for(60, "503", to=HOST)
    async with Restarted(tmp_path, twilio_api, clock, outbox=outbox) as bot:
        await a_request(bot)
        row = await host_row(bot, settled=("failed",))
        assert row["attempts"] == 3
        assert row["error"].startswith("gave up")
        assert row["error_code"] == 20503
        assert twilio_api.attempts_by_to[HOST] == 3
        assert twilio_api.messages_to(HOST) == []


async def test_429s_past_max_attempts_fail(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    outbox = quick_retries(max_attempts=2)
    twilio_api.fail_for(60, "429", to=HOST, retry_after=0)
    async with Restarted(tmp_path, twilio_api, clock, outbox=outbox) as bot:
        await a_request(bot)
        row = await host_row(bot, settled=("failed",))
        assert (row["attempts"], row["error_code"]) == (2, 20429)
        assert twilio_api.attempts_by_to[HOST] == 2


# -- opting out while queued ----------------------------------------------------------------------


async def test_a_message_queued_for_someone_who_then_opts_out_is_cancelled(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest_a, guest_b, host = bot.phone(GUEST), bot.phone(GUEST_B), bot.phone(HOST)
    ref_a = await request_stay(bot, guest_a, start=30)
    ref_b = await request_stay(bot, guest_b, start=31, name="Bo")
    await bot.drained()
    bot.twilio.fail_for(60, "503", to=GUEST_B)
    await host.text(f"ACCEPT {ref_a}")  # closes B's request: B is to be told by REST
    await bot.twilio.wait_for(lambda: bot.twilio.attempts_by_to[GUEST_B] >= 1)
    assert await guest_b.text("STOP") == []
    bot.twilio.clear_faults()

    async def probe() -> list[dict[str, Any]]:
        return await outbox_rows(bot, GUEST_B)

    await eventually(probe, lambda rows: rows[0]["status"] == "cancelled")
    assert bot.twilio.messages_to(GUEST_B) == []
    assert (await reservation(bot, ref_b))["status"] == "rejected"


# -- restarts ---------------------------------------------------------------------------------


async def test_a_restart_resumes_what_was_queued(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    twilio_api.fail_for(60, "503", to=HOST)
    await a_request(bot)
    await twilio_api.wait_for(lambda: twilio_api.attempts_by_to[HOST] >= 1)
    await shut_down(bot)
    twilio_api.clear_faults()
    assert twilio_api.messages_to(HOST) == []
    async with Restarted(tmp_path, twilio_api, clock) as again:
        row = await host_row(again, settled=("delivered",))
        assert len(twilio_api.messages_to(HOST)) == 1
        assert row["twilio_sid"] == twilio_api.messages_to(HOST)[0]["sid"]


async def test_a_restart_after_an_ambiguous_send_does_not_send_twice(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    # The create lands at Twilio but the answer never comes back before the service stops.
    twilio_api.fail_next(1, "timeout", to=HOST, hang=30, create=True)
    await a_request(bot)
    await twilio_api.wait_for(lambda: twilio_api.messages_to(HOST))
    # Its status callbacks are answered first: aiohttp's graceful shutdown otherwise waits
    # seconds for a connection that is mid-callback.
    await twilio_api.wait_for(
        lambda: len(twilio_api.callbacks) == 2 and all(c.status for c in twilio_api.callbacks)
    )
    await shut_down(bot)
    await settled_once_after_a_restart(tmp_path, twilio_api, clock)
    assert len(twilio_api.create_requests()) == 1


async def settled_once_after_a_restart(tmp_path: Path, twilio_api: TwilioAPI, clock: Clock) -> None:
    """Restart on the database once the interrupted attempt's lease is over: the host's message
    settles, and Twilio holds exactly one, the one the row records."""
    async with Restarted(tmp_path, twilio_api, clock) as again:
        clock.advance(seconds=10)  # past the lease of the interrupted attempt
        again.services.outbox.wake()
        row = await host_row(again)
        (message,) = twilio_api.messages_to(HOST)
        assert row["twilio_sid"] == message["sid"]


# -- shutting down --------------------------------------------------------------------------------


async def test_the_outbox_task_stops_when_cancelled_as_it_is_woken(bot: Bot) -> None:
    task = outbox_task(bot)

    def idle() -> bool:
        # Waiting for work: run() -> _wait() -> Event.wait(); walk the coroutines it awaits.
        names: list[str] = []
        coro: Any = task.get_coro()
        while coro is not None:
            names.append(coro.cr_code.co_name if hasattr(coro, "cr_code") else "")
            coro = getattr(coro, "cr_await", None)
        return names[:3] == ["run", "_wait", "wait"]

    await eventually(_ready(idle), bool, what="the worker waiting for work")
    bot.services.outbox.wake()  # a delivery finishing at the moment the service stops
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()


def _ready(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return check()

    return probe


async def test_a_row_still_in_flight_is_not_claimed_again_when_the_clock_steps(bot: Bot) -> None:
    """The lease is a guard against a dead process, not a live one: a create still waiting for
    Twilio's answer is never claimed a second time, however far the clock moves meanwhile."""
    bot.twilio.fail_next(1, "timeout", to=HOST, hang=1.5)
    await a_request(bot)
    await bot.twilio.wait_for(lambda: bot.twilio.attempts_by_to[HOST] == 1)  # hanging now
    bot.clock.advance(minutes=5)  # far past the claim's lease
    assert (await bot.services.outbox._start_due()).started == 0
    row = await host_row(bot)
    assert row["status"] in SETTLED
    assert len(bot.twilio.messages_to(HOST)) == 1


async def test_shutdown_stops_sending_before_it_waits_for_requests_in_progress(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    # aiohttp's order: stop listening, close idle connections, on_shutdown, wait for requests
    # in progress, on_cleanup. A send still in flight after on_shutdown keeps its connection
    # open through that wait; in dev mode that connection is to this same server, and one
    # accepted as listening stopped can have its request dropped by aiohttp, so the server
    # waited the whole shutdown timeout for it (the intermittent dev-mode hang of
    # tests/reliability). So the outbox stops in on_shutdown, leaving the row to reconcile.
    twilio_api.fail_next(1, "timeout", to=HOST, hang=30)
    await a_request(bot)
    await twilio_api.wait_for(lambda: twilio_api.attempts_by_to[HOST] >= 1)
    assert bot.services.outbox.sending == 1
    await bot.server.runner.shutdown()  # on_shutdown, nothing else
    assert bot.services.outbox.sending == 0
    with pytest.raises(LookupError):
        outbox_task(bot)
    await bot.server.close()
    twilio_api.clear_faults()
    await settled_once_after_a_restart(tmp_path, twilio_api, clock)


async def test_a_stop_lets_a_send_posted_to_twilio_finish_and_records_it(bot: Bot) -> None:
    # SIGTERM's order (bot/serving.py): the outbox stops before listening does, and what it
    # already posted to Twilio is answered and recorded, not cancelled into 'sending'.
    bot.twilio.fail_next(1, "slow", to=HOST, hang=0.5)
    await a_request(bot)
    await bot.twilio.wait_for(lambda: bot.twilio.attempts_by_to[HOST] == 1)
    assert bot.services.outbox.sending == 1 and bot.twilio.messages_to(HOST) == []
    await bot.services.outbox.stop(timeout=10)
    assert bot.services.outbox.sending == 0
    (message,) = bot.twilio.messages_to(HOST)
    (row,) = await outbox_rows(bot, HOST)
    assert (row["twilio_sid"], row["attempts"]) == (message["sid"], 1)
    assert row["status"] in ("sent", "delivered")  # its status callback may be in already
    # Nothing new starts once stopped: a second guest's request stays queued for the next start.
    await request_stay(bot, bot.phone(GUEST_B))
    bot.services.outbox.wake()
    await asyncio.sleep(0.2)
    statuses = {r["id"]: r["status"] for r in await outbox_rows(bot, HOST)}
    assert statuses.pop(row["id"]) in ("sent", "delivered")  # its callback may have come
    assert list(statuses.values()) == ["queued"]
    assert len(bot.twilio.messages_to(HOST)) == 1
    with pytest.raises(LookupError):
        outbox_task(bot)  # the worker's loop has ended


async def test_a_stop_waits_for_a_send_no_longer_than_it_is_told(bot: Bot) -> None:
    bot.twilio.fail_next(1, "timeout", to=HOST, hang=30)
    await a_request(bot)
    await bot.twilio.wait_for(lambda: bot.twilio.attempts_by_to[HOST] == 1)
    await bot.services.outbox.stop(timeout=0.2)
    # Still unanswered: on_shutdown cancels it, its row stays 'sending' for the next start to
    # ask Twilio about (test_shutdown_stops_sending_before_it_waits_for_requests_in_progress).
    assert bot.services.outbox.sending == 1
    (row,) = await outbox_rows(bot, HOST)
    assert row["status"] == "sending"


# -- the request on the wire ------------------------------------------------------------------

TRICKY = "Réservé 🏠 & paid = yes + tax? 100%\nline two; a/b #3"


@pytest.mark.parametrize(
    "data",
    [
        {"To": "+15550001234", "From": BOT_NUMBER, "Body": TRICKY},
        {"Body": "", "MediaUrl": ["https://a.example/p.png?x=1&y=2", "https://b.example/é"]},
        {"MediaUrl": []},
    ],
)
def test_a_form_is_encoded_as_aiohttps_formdata_would(data: dict[str, Any]) -> None:
    assert form_body(data) == FormData(data)()._value


@pytest.mark.parametrize("data", [{"ValidityPeriod": 5}, {"Flag": True}, None, b"raw"])
def test_anything_but_text_fields_is_left_to_aiohttp(data: Any) -> None:
    assert form_body(data) is data


async def test_a_message_reaches_twilio_with_every_character_and_media_url(bot: Bot) -> None:
    client = twilio_client(bot.config)
    try:
        message = await client.messages.create_async(
            to=HOST,
            from_=BOT_NUMBER,
            body=TRICKY,
            media_url=["https://a.example/p.png?x=1&y=2"],
            status_callback=bot.url + "/sms/status",
        )
    finally:
        await client.http_client.close()
    form = bot.twilio.form_of(str(message.sid))
    assert form["Body"] == [TRICKY]
    assert form["MediaUrl"] == ["https://a.example/p.png?x=1&y=2"]
    assert form["To"] == [HOST]
    assert validate_create_message(form, bot.config.twilio.account_sid) == []
