"""The Twilio emulation on its own, against a small webhook server that checks what it gets
with the twilio library's RequestValidator, the way the bot does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from bot.simulator.twilio_side import (
    COOKIE_LIFETIME_SECONDS,
    BotLine,
    Carrier,
    CookieJar,
    Keywords,
    Text,
    inbound_form,
    parse_answer,
    signature,
)

TOKEN = "0123456789abcdef0123456789abcdef"
SID = "AC" + "1" * 32
BOT = "+15550100000"
GUEST = "+15550001111"
HOST = "+15550100001"


@dataclass
class Webhook:
    """A bot stand-in: records each request (checking its signature) and answers from a script."""

    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    answers: list[web.Response] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        valid = RequestValidator(TOKEN).validate(
            self.url, form, request.headers.get("X-Twilio-Signature", "")
        )
        self.seen.append(
            {"form": dict(form), "valid": valid, "cookie": request.headers.get("Cookie")}
        )
        if self.answers:
            return self.answers.pop(0)
        return web.Response(text="<Response/>", content_type="text/xml")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    app = web.Application()
    app.router.add_post("/sms", hook.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    hook.url = str(server.make_url("/sms"))
    yield hook
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def line(url: str) -> BotLine:
    return BotLine(url, BOT, SID, TOKEN)


def twiml(*messages: str) -> web.Response:
    return web.Response(
        text=f'<?xml version="1.0" encoding="UTF-8"?><Response>{"".join(messages)}</Response>',
        content_type="text/xml",
    )


async def test_a_text_is_a_signed_form_with_twilios_fields(
    webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    carrier = Carrier(session, CookieJar())
    await carrier.text(line(webhook.url), GUEST, "Hello & 👋 ünïcode")
    [seen] = webhook.seen
    assert seen["valid"] is True
    form = seen["form"]
    assert form["From"] == GUEST and form["To"] == BOT
    assert form["Body"] == "Hello & 👋 ünïcode"
    assert form["AccountSid"] == SID and form["ApiVersion"] == "2010-04-01"
    assert form["MessageSid"] == form["SmsSid"] == form["SmsMessageSid"]
    assert form["MessageSid"].startswith("SM") and len(form["MessageSid"]) == 34
    assert form["NumMedia"] == "0" and "MediaUrl0" not in form
    for name in ("FromCity", "FromState", "FromZip", "FromCountry", "ToCity", "SmsStatus"):
        assert form[name]
    assert seen["cookie"] is None


async def test_a_photo_is_media_url_and_type_and_an_mm_sid(
    webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    carrier = Carrier(session, CookieJar())
    await carrier.text(line(webhook.url), HOST, "", [("http://127.0.0.1/p.png", "image/png")])
    [seen] = webhook.seen
    assert seen["valid"] is True
    assert seen["form"]["NumMedia"] == "1"
    assert seen["form"]["MediaUrl0"] == "http://127.0.0.1/p.png"
    assert seen["form"]["MediaContentType0"] == "image/png"
    assert seen["form"]["MessageSid"].startswith("MM")


def test_the_twilio_library_accepts_the_signature_and_rejects_changes() -> None:
    url = "https://bot.example.com/sms?x=1"
    form = inbound_form(line(url), GUEST, "BOOK 3")
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, form, signature(TOKEN, url, form)) is True
    assert validator.validate(url, {**form, "Body": "BOOK 4"}, signature(TOKEN, url, form)) is False
    assert validator.validate(url, form, signature("another-token", url, form)) is False
    assert validator.validate(url.replace("x=1", "x=2"), form, signature(TOKEN, url, form)) is False


async def test_cookies_are_kept_per_pair_and_sent_back(
    webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    carrier = Carrier(session, CookieJar(clock))
    answer = twiml("<Message>hi</Message>")
    answer.headers["Set-Cookie"] = "airtng_session=guest-1; HttpOnly; Max-Age=14400; Path=/"
    webhook.answers.append(answer)
    await carrier.text(line(webhook.url), GUEST, "hi")
    await carrier.text(line(webhook.url), GUEST, "again")
    await carrier.text(line(webhook.url), HOST, "host here")  # another pair: no cookie
    other_bot = BotLine(webhook.url, "+15550109999", SID, TOKEN)
    await carrier.text(other_bot, GUEST, "other number")  # same phone, other bot number
    assert [s["cookie"] for s in webhook.seen] == [None, "airtng_session=guest-1", None, None]


async def test_cookies_expire_after_four_hours_and_a_jump_expires_them(
    webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    jar = CookieJar(clock)
    carrier = Carrier(session, jar)

    def answer() -> web.Response:
        response = twiml("<Message>hi</Message>")
        # The bot asks for a day; Twilio keeps cookies four hours at most.
        response.headers["Set-Cookie"] = "airtng_session=abc; Max-Age=86400"
        return response

    webhook.answers.append(answer())
    await carrier.text(line(webhook.url), GUEST, "hi")
    clock.now += COOKIE_LIFETIME_SECONDS - 1
    await carrier.text(line(webhook.url), GUEST, "just in time")
    clock.now += 1
    await carrier.text(line(webhook.url), GUEST, "too late")
    assert [s["cookie"] for s in webhook.seen] == [None, "airtng_session=abc", None]

    webhook.answers.append(answer())
    await carrier.text(line(webhook.url), GUEST, "new session")
    jar.jump(4 * 3600)
    await carrier.text(line(webhook.url), GUEST, "after the jump")
    assert webhook.seen[-1]["cookie"] is None
    assert jar.offset == 4 * 3600


def test_a_short_max_age_or_a_deleting_cookie_is_obeyed() -> None:
    clock = Clock()
    jar = CookieJar(clock)
    jar.keep(GUEST, BOT, ["a=1; Max-Age=60", "b=2"])
    assert jar.header(GUEST, BOT) == "a=1; b=2"
    clock.now += 61
    assert jar.header(GUEST, BOT) == "b=2"
    jar.keep(GUEST, BOT, ["b=gone; Max-Age=0"])
    assert jar.header(GUEST, BOT) is None


def test_twiml_with_several_messages_to_and_media() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        "<Message>You accepted request 1.</Message>"
        f'<Message to="{GUEST}"><Body>Good news!</Body>'
        "<Media>http://127.0.0.1:8080/static/homes/beach-house.png</Media></Message>"
        '<Message to="+15550100002" from="+15550109999">Another</Message>'
        "</Response>"
    )
    answer = parse_answer(200, "text/xml; charset=utf-8", text, HOST, BOT)
    assert answer.problem is None
    assert answer.texts == (
        Text(HOST, BOT, "You accepted request 1."),
        Text(GUEST, BOT, "Good news!", ("http://127.0.0.1:8080/static/homes/beach-house.png",)),
        Text("+15550100002", "+15550109999", "Another"),
    )


def test_a_media_only_message_and_an_empty_message() -> None:
    text = "<Response><Message><Media>http://x/p.png</Media></Message><Message/></Response>"
    answer = parse_answer(200, "application/xml", text, GUEST, BOT)
    assert answer.texts == (Text(GUEST, BOT, "", ("http://x/p.png",)),)


def test_a_plain_text_answer_is_texted_back_as_is() -> None:
    answer = parse_answer(200, "text/plain; charset=utf-8", "Thanks <3\n", GUEST, BOT)
    assert answer.texts == (Text(GUEST, BOT, "Thanks <3"),)


@pytest.mark.parametrize("status", [204, 200])
def test_an_empty_answer_texts_nothing(status: int) -> None:
    answer = parse_answer(status, "text/xml", "", GUEST, BOT)
    assert answer.texts == () and answer.problem is None
    assert parse_answer(200, "text/xml", "<Response/>", GUEST, BOT).texts == ()


@pytest.mark.parametrize("status", [301, 403, 404, 500, 503])
def test_a_non_2xx_answer_texts_nothing(status: int) -> None:
    answer = parse_answer(
        status, "text/xml", "<Response><Message>x</Message></Response>", GUEST, BOT
    )
    assert answer.texts == ()
    assert answer.problem is not None and str(status) in answer.problem


def test_broken_twiml_or_an_unknown_type_texts_nothing() -> None:
    assert parse_answer(200, "text/xml", "<Response><Message>", GUEST, BOT).texts == ()
    assert parse_answer(200, "text/xml", "<Response><Message>", GUEST, BOT).problem
    assert parse_answer(200, "application/json", '{"a": 1}', GUEST, BOT).texts == ()
    assert parse_answer(200, "text/xml", "<Other><Message>x</Message></Other>", GUEST, BOT).problem


async def test_answers_over_the_wire_and_an_unreachable_bot(
    webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    carrier = Carrier(session, CookieJar())
    webhook.answers += [
        twiml("<Message>one</Message>", f'<Message to="{HOST}">two</Message>'),
        web.Response(text="plain", content_type="text/plain"),
        web.Response(status=500, text="<Response><Message>no</Message></Response>"),
    ]
    first = await carrier.text(line(webhook.url), GUEST, "a")
    assert first.texts == (Text(GUEST, BOT, "one"), Text(HOST, BOT, "two"))
    assert (await carrier.text(line(webhook.url), GUEST, "b")).texts == (Text(GUEST, BOT, "plain"),)
    failed = await carrier.text(line(webhook.url), GUEST, "c")
    assert failed.status == 500 and failed.texts == ()
    gone = await carrier.text(line("http://127.0.0.1:9/sms"), GUEST, "d")
    assert gone.status == 0 and gone.texts == () and gone.problem


# -- Twilio's own keywords ------------------------------------------------------------------------

UNSUBSCRIBED = (
    "You have successfully been unsubscribed. You will not receive any more messages from this"
    " number. Reply START to resubscribe."
)
RESUBSCRIBED = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for"
    " help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)
TWILIO_HELP = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."


@pytest.mark.parametrize(
    ("texts", "replies", "blocked"),
    [
        (["STOP"], [UNSUBSCRIBED], True),
        (["  cancel. "], [UNSUBSCRIBED], True),
        (["Quit"], [UNSUBSCRIBED], True),
        (["stopall", "unsubscribe", "end", "revoke", "optout"], [UNSUBSCRIBED] * 5, True),
        (["stop please"], [None], False),  # only the keyword alone counts
        (["please cancel"], [None], False),
        (["cancel my request 12"], [None], False),
        (["STOP", "START"], [UNSUBSCRIBED, RESUBSCRIBED], False),
        (["STOP", "unstop"], [UNSUBSCRIBED, RESUBSCRIBED], False),
        (["START"], [RESUBSCRIBED], False),
        # YES is a word of conversations: Twilio's text only when it does opt back in.
        (["yes"], [None], False),
        (["STOP", "Yes!"], [UNSUBSCRIBED, RESUBSCRIBED], False),
        (["HELP"], [TWILIO_HELP], False),
        (["info"], [TWILIO_HELP], False),
        (["STOP", "HELP"], [UNSUBSCRIBED, None], True),  # opted out: no help from Twilio
        (["LIST"], [None], False),
    ],
)
def test_twilio_answers_its_keywords_itself(
    texts: list[str], replies: list[str | None], blocked: bool
) -> None:
    keywords = Keywords()
    heard = [keywords.hear(GUEST, BOT, body) for body in texts]
    assert [text.body if text else None for text in heard] == replies
    for text in heard:
        if text is not None:
            assert (text.to, text.from_, text.by_carrier) == (GUEST, BOT, True)
    assert keywords.blocks(GUEST, BOT) is blocked
    assert not keywords.blocks(HOST, BOT)  # one phone's STOP is its own
    assert not keywords.blocks(GUEST, "+15550100099")  # and only for the number it texted


async def test_after_stop_twilio_delivers_no_reply_to_that_phone(
    webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    line = BotLine(webhook.url, BOT, SID, TOKEN)
    carrier = Carrier(session, CookieJar())
    webhook.answers = [web.Response(text="<Response/>", content_type="text/xml")]
    answer = await carrier.text(line, GUEST, "STOP")
    assert [(t.body, t.by_carrier) for t in answer.texts] == [(UNSUBSCRIBED, True)]
    assert webhook.seen[-1]["form"]["Body"] == "STOP"  # Twilio still forwards the keyword

    # A bot that answered anyway: Twilio refuses to text the opted-out phone, says why.
    webhook.answers = [
        web.Response(
            text=f'<Response><Message>Hi</Message><Message to="{HOST}">To the host</Message>'
            "</Response>",
            content_type="text/xml",
        )
    ]
    answer = await carrier.text(line, GUEST, "LIST")
    assert [(t.to, t.body) for t in answer.texts] == [(HOST, "To the host")]
    assert answer.problem == (
        f"Twilio refused the reply to {GUEST}: error 21610, the phone replied STOP"
    )
