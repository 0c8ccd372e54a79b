"""The inbound webhook as Twilio sees it (SPEC §2 steps 1, 2 and 6; issue 2 items 3 and 8):
signatures, bad input, TwiML answers, and MessageSid idempotency, all through the real app.

The helpers at the top (booking a stay, reading the log, polling the admin API) are shared by
the other modules of tests/bot.
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from bot.config import ServerConfig
from conversations import texts
from conversations.gsm7 import is_gsm7
from tests.conftest import ADMIN_TOKEN, BOT_NUMBER, HOSTS, Bot, Clock, start_bot
from tests.phones import TwilioPhone, message_sid
from tests.twilio_api import TwilioAPI

GUEST = "+15550001111"
GUEST_B = "+15550002222"
HOST = HOSTS[0]

T = TypeVar("T")


# -- helpers shared by tests/bot --------------------------------------------------------------


def stay_text(clock: Clock, start: int = 30, nights: int = 3) -> str:
    """Dates a guest texts: `start` days from now, for `nights` nights, in ISO form."""
    check_in = clock().date() + timedelta(days=start)
    return f"{check_in.isoformat()} to {(check_in + timedelta(days=nights)).isoformat()}"


async def request_stay(
    bot: Bot,
    guest: TwilioPhone,
    *,
    home: int = 1,
    start: int = 30,
    nights: int = 3,
    message: str = "Two of us, quiet, here for a wedding.",
    name: str = "Ann",
) -> int:
    """A guest goes LIST, BOOK n, dates, note, (name), SEND; returns the new request's ref."""
    assert (await guest.ask("LIST")).startswith("Homes 1-")
    assert (await guest.ask(f"BOOK {home}")).startswith("Booking ")
    assert "Now a short note" in await guest.ask(stay_text(bot.clock, start, nights))
    answer = await guest.ask(message)
    if answer == texts.ASK_NAME:
        answer = await guest.ask(name)
    assert answer.endswith("Send SEND to ask the host, or MENU to drop it."), answer
    sent = await guest.ask("SEND")
    found = re.match(r"Request (\d+) sent to the host", sent)
    assert found, sent
    return int(found.group(1))


async def conversations_of(bot: Bot, phone: str | None = None) -> list[dict[str, Any]]:
    query = f"?phone={phone}&limit=1000" if phone else "?limit=1000"
    rows: list[dict[str, Any]] = await bot.admin("/admin/api/conversations" + query)
    return rows


async def messages_of(bot: Bot, phone: str) -> list[dict[str, Any]]:
    """Every logged message of this phone's conversations, oldest conversation first."""
    rows = await conversations_of(bot, phone)
    return [m for c in sorted(rows, key=lambda c: c["id"]) for m in c["messages"]]


async def reservation(bot: Bot, ref: int) -> dict[str, Any]:
    rows = await bot.admin("/admin/api/reservations?limit=1000")
    (row,) = [r for r in rows if r["id"] == ref]
    return dict(row)


async def outbox_rows(bot: Bot, to: str | None = None) -> list[dict[str, Any]]:
    rows = await bot.admin("/admin/api/outbox?limit=1000")
    return [r for r in rows if to is None or r["to"] == to]


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    timeout: float = 10.0,
    what: str = "condition",
) -> T:
    """Poll `probe()` until `accept` says yes (with a deadline); returns the accepted value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.02)


def outbox_task(bot: Bot) -> asyncio.Task[None]:
    """The app's background task running its OutboxWorker."""
    worker = bot.services.outbox
    for task in asyncio.all_tasks():
        frame = getattr(task.get_coro(), "cr_frame", None)
        if task.get_name() == "outbox" and frame and frame.f_locals.get("self") is worker:
            return task
    raise LookupError("the outbox task is not running")


async def stop_outbox(bot: Bot) -> None:
    """End the app's outbox task before the app shuts down, however many cancels it takes.

    Works around a product bug pinned by test_outbox.py::test_the_outbox_task_stops_when_cancelled
    (a cancellation arriving as the worker is woken is lost, and the app's shutdown then hangs
    for ever): without this, about one run of tests/bot in ten hangs in a teardown.
    """
    try:
        task = outbox_task(bot)
    except (LookupError, KeyError):
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)


async def shut_down(bot: Bot) -> None:
    """Stop the app the way its shutdown does (after stop_outbox)."""
    await stop_outbox(bot)
    await bot.server.close()


@pytest.fixture(name="bot")
async def bot_that_stops_cleanly(bot: Bot) -> AsyncIterator[Bot]:
    """conftest's `bot`, whose outbox task is stopped first at teardown (see stop_outbox).

    Every module of tests/bot imports it, so their tests' `bot` is this one."""
    yield bot
    if not bot.server.closed:
        await stop_outbox(bot)


class Restarted:
    """A second app on the same database (and the same Twilio stand-in): `async with`."""

    def __init__(self, tmp_path: Path, twilio: TwilioAPI, clock: Clock, **changes: Any) -> None:
        self.args = (tmp_path, twilio, clock)
        self.changes = changes

    async def __aenter__(self) -> Bot:
        tmp_path, twilio, clock = self.args
        _, server, config = await start_bot(tmp_path, twilio, clock, **self.changes)
        self.bot = Bot(server, config, twilio, clock, aiohttp.ClientSession())
        return self.bot

    async def __aexit__(self, *exc: object) -> None:
        await self.bot.session.close()
        if not self.bot.server.closed:
            await shut_down(self.bot)


def message_elements(twiml: str) -> list[ET.Element]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return list(root)


# -- the answer ---------------------------------------------------------------------------------


async def test_answer_is_twiml_from_messaging_response(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    answer = await guest.send(guest.form("hello"))
    assert answer.status == 200
    assert answer.content_type.split(";")[0] == "text/xml"
    assert answer.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    (message,) = message_elements(answer.text)
    assert message.tag == "Message"
    assert message.get("to") is None  # a reply to the sender needs no to=
    assert message.text == texts.WELCOME


async def test_reservation_incoming_is_the_same_webhook(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    seed = bot.phone(GUEST, path="/reservation/incoming")
    assert await seed.ask("hello") == texts.WELCOME
    assert (await seed.ask("LIST")).startswith("Homes 1-1 of 1:")
    # The same conversation, whichever route it arrives on.
    plain = bot.phone(GUEST)
    plain.cookies = seed.cookies
    assert (await plain.ask("1")).startswith("1 Beach House")
    (conversation,) = await conversations_of(bot, GUEST)
    assert [m["body"] for m in conversation["messages"] if m["direction"] == "in"] == [
        "hello",
        "LIST",
        "1",
    ]


async def test_get_on_a_webhook_is_405(bot: Bot) -> None:
    for path in ("/sms", "/reservation/incoming", "/sms/status"):
        async with bot.session.get(bot.url + path) as response:
            assert response.status == 405, path


# -- signatures -----------------------------------------------------------------------------------


def _unsigned(guest: TwilioPhone, form: dict[str, str]) -> dict[str, str]:
    headers = guest.headers_for(guest.public_url + guest.path, form)
    del headers["X-Twilio-Signature"]
    return headers


def _wrong(guest: TwilioPhone, form: dict[str, str]) -> dict[str, str]:
    headers = guest.headers_for(guest.public_url + guest.path, form)
    headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJlIGF0IGFsbCE="
    return headers


def _other_url(guest: TwilioPhone, form: dict[str, str]) -> dict[str, str]:
    return guest.headers_for(guest.public_url + "/reservation/incoming", form)


def _other_token(guest: TwilioPhone, form: dict[str, str]) -> dict[str, str]:
    impostor = TwilioPhone(guest.post, guest.number, BOT_NUMBER, guest.public_url, "f" * 32)
    return impostor.headers_for(guest.public_url + guest.path, form)


@pytest.mark.parametrize(
    "make_headers",
    [_unsigned, _wrong, _other_url, _other_token],
    ids=["missing", "wrong", "signed-for-another-url", "another-auth-token"],
)
async def test_bad_signature_is_403_and_changes_nothing(
    bot: Bot, make_headers: Callable[[TwilioPhone, dict[str, str]], dict[str, str]]
) -> None:
    guest = bot.phone(GUEST)
    await guest.ask("hello")
    before = await conversations_of(bot)
    form = guest.form("LIST")
    answer = await guest.send(form, make_headers(guest, form))
    assert answer.status == 403
    assert "Set-Cookie" not in answer.headers
    assert await conversations_of(bot) == before
    # The MessageSid was not consumed: Twilio's genuine delivery of it is still answered.
    assert (await guest.send(form)).replies[0].body == texts.NO_HOMES


async def test_a_signature_for_another_body_is_403(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    before = await conversations_of(bot)
    form = guest.form("MY")
    headers = guest.headers_for(guest.public_url + guest.path, form)
    tampered = {**form, "Body": "WITHDRAW 1"}
    answer = await guest.send(tampered, headers)
    assert answer.status == 403
    assert await conversations_of(bot) == before == []


async def test_signature_for_sms_posted_to_reservation_incoming_is_403(bot: Bot) -> None:
    guest = bot.phone(GUEST, path="/reservation/incoming")
    form = guest.form("hello")
    answer = await guest.send(form, guest.headers_for(guest.public_url + "/sms", form))
    assert answer.status == 403
    assert await conversations_of(bot) == []


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["From", "To"])
async def test_missing_from_or_to_is_400_with_a_plain_reason(bot: Bot, field: str) -> None:
    guest = bot.phone(GUEST)
    form = guest.form("hello")
    del form[field]
    answer = await guest.send(form)
    assert answer.status == 400
    assert answer.content_type.split(";")[0] == "text/plain"
    assert answer.text == f"Missing {field}"
    assert await conversations_of(bot) == []


async def test_blank_from_is_400(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    form = {**guest.form("hello"), "From": "  "}
    answer = await guest.send(form)
    assert (answer.status, answer.text) == (400, "Missing From")


async def test_body_over_1600_characters_is_413(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    answer = await guest.send(guest.form("x" * 1601))
    assert answer.status == 413
    assert await conversations_of(bot) == []


async def test_request_over_64_kib_is_413(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    form = {**guest.form("hello"), "FromCity": "y" * (64 * 1024 + 1)}
    answer = await guest.send(form)
    assert answer.status == 413
    assert await conversations_of(bot) == []


async def test_empty_body_gets_a_reply(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    assert await guest.ask("") == texts.EMPTY
    assert await guest.ask("   ") == texts.EMPTY


async def test_a_1600_character_body_gets_a_reply_and_is_logged_whole(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    body = ("All work and no play. " * 80)[:1600]
    assert len(body) == 1600
    reply = await guest.ask(body)
    assert reply == texts.WELCOME
    (logged, _) = await messages_of(bot, GUEST)
    assert logged["body"] == body


async def test_emoji_in_the_body_gets_a_gsm7_reply(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    assert await guest.ask("🏖️🏖️") == texts.WELCOME
    reply = await guest.ask("LIST 🌊 castle")
    assert reply.startswith("No homes match")
    assert is_gsm7(reply), reply
    logged = [m["body"] for m in await messages_of(bot, GUEST) if m["direction"] == "in"]
    assert logged == ["🏖️🏖️", "LIST 🌊 castle"]


async def test_markup_in_the_body_is_escaped_where_echoed(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    body = "list a</message><script>b"
    answer = await guest.send(guest.form(body))
    assert answer.status == 200
    assert "<script>" not in answer.text
    assert "&lt;/message&gt;&lt;script&gt;" in answer.text
    (message,) = message_elements(answer.text)  # still one well-formed <Message>
    assert message.text == texts.NO_MATCH.format(words="a</message><script>b")
    (logged, _) = await messages_of(bot, GUEST)
    assert logged["body"] == body  # stored as sent, not escaped


async def test_markup_in_a_note_reaches_the_host_unescaped(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    note = "Hi </Message><Message to='+15550100002'>pwned</Message> <script>alert(1)</script>"
    assert (await guest.ask("LIST")).startswith("Homes")
    await guest.ask("BOOK 1")
    await guest.ask(stay_text(bot.clock))
    assert await guest.ask(note) == texts.ASK_NAME
    answer = await guest.send(guest.form("Ann"))
    (message,) = message_elements(answer.text)
    assert message.get("to") is None
    assert message.text is not None and "</Message><Message to='+15550100002'>" in message.text
    assert "<script>" not in answer.text
    assert (await guest.ask("SEND")).startswith("Request 1 sent")
    ref = 1
    assert (await reservation(bot, ref))["message"] == note
    await bot.drained()
    (to_host,) = bot.twilio.messages_to(HOST)
    assert f'"{note}"' in to_host["body"]


async def test_sql_quotes_are_just_text(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    drop = "'; DROP TABLE people;--"
    assert await guest.ask(drop) == texts.WELCOME
    quoted = "LIST x'; DROP TABLE people;--x"
    assert await guest.ask(quoted) == texts.NO_MATCH.format(words="x'; drop table people;--x")
    ref = await request_stay(bot, guest, message=f"Robert'); {drop}", name="O'Brien")
    row = await reservation(bot, ref)
    assert row["message"] == f"Robert'); {drop}"
    assert row["guest_phone"] == GUEST
    (home,) = await bot.admin("/admin/api/properties")
    assert home["host_phone"] == HOST  # people still there
    assert (await messages_of(bot, GUEST))[0]["body"] == drop


@pytest.mark.parametrize("sender", ["12345", "AIRTNG"], ids=["short-code", "alphanumeric"])
async def test_a_sender_that_is_not_e164_gets_a_reply(bot: Bot, sender: str) -> None:
    await bot.add_home(HOST, "Beach House")
    phone = bot.phone(sender)
    answer = await phone.send(phone.form("hello"))
    assert answer.status == 200
    (message,) = message_elements(answer.text)
    assert message.get("to") is None
    assert message.text == texts.WELCOME
    assert (await phone.ask("LIST")).startswith("Homes 1-1 of 1:")
    rows = await conversations_of(bot)
    assert [c["phone"] for c in rows] == [sender]


async def test_mms_media_is_recorded_in_the_log(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    media = (
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg"),
    )
    replies = await guest.text("look at this", media=media)
    assert [r.body for r in replies] == [texts.WELCOME]
    (inbound, outbound) = await messages_of(bot, GUEST)
    assert inbound["direction"] == "in"
    assert inbound["media"] == [media[0][0]]
    assert inbound["body"] == "look at this"
    assert outbound["media"] == []


async def test_media_only_mms_gets_a_reply(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME2"
    replies = await guest.text("", media=((url, "image/png"),))
    assert len(replies) == 1 and replies[0].to == GUEST and replies[0].body
    (inbound, _) = await messages_of(bot, GUEST)
    assert inbound["media"] == [url]


# -- idempotency ------------------------------------------------------------------------------


async def test_a_replayed_message_sid_gets_the_same_twiml_and_changes_nothing(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    form = guest.form("hello")
    first = await guest.send(form)
    again = await guest.send(form)
    assert first.status == again.status == 200
    assert again.text == first.text
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    inbound = [m for m in await messages_of(bot, GUEST) if m["direction"] == "in"]
    assert len(inbound) == 1
    # The replay did not count as a turn: the conversation still greets on its first turn only.
    assert await guest.ask("the quick brown fox jumps over it") == texts.NOT_UNDERSTOOD


async def test_a_replayed_send_books_once_and_texts_the_host_once(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await guest.ask("LIST")
    await guest.ask("BOOK 1")
    await guest.ask(stay_text(bot.clock))
    await guest.ask("Hello")
    await guest.ask("Ann")
    form = guest.form("SEND")
    first = await guest.send(form)
    await bot.drained()
    again = await guest.send(form)
    assert again.text == first.text
    assert first.replies[0].body.startswith("Request 1 sent")
    await bot.drained()
    assert len(await bot.admin("/admin/api/reservations")) == 1
    assert len(await outbox_rows(bot)) == 1
    assert len(bot.twilio.messages_to(HOST)) == 1
    sends = [m for m in await messages_of(bot, GUEST) if m["body"] == "SEND"]
    assert len(sends) == 1


async def test_twenty_concurrent_deliveries_of_one_sid_have_one_effect(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await guest.ask("LIST")
    await guest.ask("BOOK 1")
    await guest.ask(stay_text(bot.clock))
    await guest.ask("Hello")
    await guest.ask("Ann")
    form = guest.form("SEND")
    answers = await asyncio.gather(*(guest.send(form) for _ in range(20)))
    assert {a.status for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert answers[0].replies[0].body.startswith("Request 1 sent")
    await bot.drained()
    assert len(await bot.admin("/admin/api/reservations")) == 1
    assert len(bot.twilio.messages_to(HOST)) == 1
    assert len([m for m in await messages_of(bot, GUEST) if m["body"] == "SEND"]) == 1


async def test_a_replay_after_a_restart_gets_the_stored_twiml(
    bot: Bot, tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    await guest.ask("LIST")
    form = guest.form("1")
    first = await guest.send(form)
    assert first.replies[0].body.startswith("1 Beach House")
    await shut_down(bot)
    async with Restarted(tmp_path, twilio_api, clock) as again:
        phone = again.phone(GUEST)
        replayed = await phone.send(form)
        assert replayed.status == 200
        assert replayed.text == first.text
        inbound = [m["body"] for m in await messages_of(again, GUEST) if m["direction"] == "in"]
        assert inbound == ["LIST", "1"]


async def test_admin_token_is_not_a_webhook_credential(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    form = guest.form("hello")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Twilio-Signature": ""}
    answer = await guest.send(form, headers)
    assert answer.status == 403


async def test_fresh_message_sids_are_separate_turns(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    assert await guest.ask("hello") == texts.WELCOME
    form = guest.form("hello", sid=message_sid())
    assert (await guest.send(form)).replies[0].body == texts.GREETING  # not the welcome again


async def test_missing_message_sid_is_400(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    form = guest.form("hello")
    del form["MessageSid"], form["SmsSid"], form["SmsMessageSid"]
    answer = await guest.send(form)
    assert (answer.status, answer.text) == (400, "Missing MessageSid")
    assert await conversations_of(bot) == []


async def test_signatures_are_checked_against_the_public_url(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    """Behind a proxy Twilio signs the public URL, not the address the service listens on."""
    public = "https://airtng.example.com"
    server = ServerConfig(host="127.0.0.1", port=8080, public_url=public + "/")
    async with Restarted(tmp_path, twilio_api, clock, server=server) as bot:
        assert bot.url == public
        local = str(bot.server.make_url("")).rstrip("/")

        async def through_proxy(
            url: str, form: dict[str, str], headers: dict[str, str]
        ) -> tuple[int, str, Mapping[str, str]]:
            return await bot.post(url.replace(public, local), form, headers)

        guest = bot.phone(GUEST)
        guest.post = through_proxy
        answer = await guest.send(guest.form("hello"))
        assert answer.status == 200
        assert answer.replies[0].body == texts.WELCOME
        cookie = answer.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
        # Signed for the address the process sees, it is refused.
        form = guest.form("LIST")
        local_signature = guest.headers_for(local + "/sms", form)
        assert (await guest.send(form, local_signature)).status == 403


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("\x00", texts.WELCOME),
        ("LIST a\x00b", texts.NO_MATCH.format(words="ab")),
        ("LIST a\x1b[31mb", texts.NO_MATCH.format(words="a[31mb")),
        ("LIST a&amp;b", texts.NO_MATCH.format(words="a&amp;b")),
        ("LIST x]]>y", texts.NO_MATCH.format(words="x]]>y")),
    ],
    ids=["nul", "nul-echoed", "escape-echoed", "entity-echoed", "cdata-end-echoed"],
)
async def test_control_characters_and_entities_keep_the_twiml_valid(
    bot: Bot, body: str, reply: str
) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    if body.startswith("LIST"):
        await guest.ask("hello")  # past the welcome, so LIST words are echoed
    answer = await guest.send(guest.form(body))
    assert answer.status == 200
    (message,) = message_elements(answer.text)
    assert message.text == reply
    logged = [m["body"] for m in await messages_of(bot, GUEST) if m["direction"] == "in"]
    assert logged[-1] == body


# -- what is not a Twilio form ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sms", "/sms/status"])
async def test_a_multipart_post_is_refused_before_any_signature_work(bot: Bot, path: str) -> None:
    """Twilio posts url-encoded forms; a multipart file upload is refused (415), not a 500."""
    form = aiohttp.FormData()
    form.add_field("From", "+15550001111")
    form.add_field("file", b"\x00\x01", filename="x.bin", content_type="application/octet-stream")
    async with bot.session.post(
        bot.url + path, data=form, headers={"X-Twilio-Signature": "x"}
    ) as response:
        assert response.status == 415
        assert "x-www-form-urlencoded" in await response.text()


async def test_a_non_ascii_session_cookie_is_ignored(bot: Bot) -> None:
    await bot.add_home(HOSTS[0], "Beach House")
    guest = bot.phone("+15550001111")
    assert (await guest.ask("LIST")).startswith("Homes 1-")
    guest.cookies["airtng_session"] = ("1.\u00e9t\u00e9", float("inf"))
    # The pair's live conversation goes on: a number picks from the list it was shown.
    assert (await guest.ask("1")).startswith("1 ")
