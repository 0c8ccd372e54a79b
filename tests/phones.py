"""Twilio's side of the webhook, for tests: a phone that texts the bot the way Twilio delivers it.

    guest = TwilioPhone(post, "+15550001111", bot_number, url, auth_token)
    replies = await guest.text("LIST")     # -> [Reply(to="+15550001111", body=..., media=[])]

Every request carries the form fields Twilio sends, a valid X-Twilio-Signature computed by the
twilio library, and the cookie Twilio keeps for this From/To pair (4 hours). The TwiML answer is
parsed as XML and each <Message> addressed to its `to` (default: the sender).
"""

from __future__ import annotations

import itertools
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from twilio.request_validator import RequestValidator

COOKIE_LIFETIME_SECONDS = 4 * 3600


@dataclass(frozen=True)
class Reply:
    to: str
    body: str
    media: list[str] = field(default_factory=list)


@dataclass
class Answer:
    status: int
    text: str
    content_type: str
    headers: Mapping[str, str]
    replies: list[Reply]


# (url, form, headers) -> (status, body text, headers)
Post = Callable[
    [str, dict[str, str], dict[str, str]], Awaitable[tuple[int, str, Mapping[str, str]]]
]

_counter = itertools.count(1)


def message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def parse_twiml(text: str, sender: str) -> list[Reply]:
    root = ET.fromstring(text)
    assert root.tag == "Response", f"TwiML root must be <Response>, got <{root.tag}>"
    replies = []
    for message in root.iter("Message"):
        body_el = message.find("Body")
        body = (body_el.text if body_el is not None else message.text) or ""
        media = [m.text or "" for m in message.iter("Media")]
        replies.append(Reply(message.get("to") or sender, body.strip(), media))
    return replies


def parse_answer(status: int, text: str, headers: Mapping[str, str], sender: str) -> Answer:
    content_type = headers.get("Content-Type", "")
    replies: list[Reply] = []
    if status == 200 and content_type.startswith(("text/xml", "application/xml", "text/html")):
        replies = parse_twiml(text, sender)
    elif status == 200 and content_type.startswith("text/plain") and text.strip():
        replies = [Reply(sender, text.strip())]  # Twilio texts a plain answer back as is
    return Answer(status, text, content_type, headers, replies)


@dataclass
class TwilioPhone:
    post: Post
    number: str
    bot_number: str
    public_url: str
    auth_token: str
    account_sid: str = "AC" + "0" * 32
    path: str = "/sms"
    cookies: dict[str, tuple[str, float]] = field(default_factory=dict)
    clock: Callable[[], float] | None = None

    def _now(self) -> float:
        import time

        return self.clock() if self.clock else time.time()

    def form(
        self, body: str, media: tuple[tuple[str, str], ...] = (), sid: str | None = None
    ) -> dict[str, str]:
        sid = sid or message_sid()
        form = {
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "ToCity": "SAN FRANCISCO",
            "FromZip": "94105",
            "SmsSid": sid,
            "FromState": "CA",
            "SmsStatus": "received",
            "FromCity": "SAN FRANCISCO",
            "Body": body,
            "FromCountry": "US",
            "To": self.bot_number,
            "ToZip": "94105",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": self.number,
            "ApiVersion": "2010-04-01",
        }
        for index, (url, content_type) in enumerate(media):
            form[f"MediaUrl{index}"] = url
            form[f"MediaContentType{index}"] = content_type
        return form

    def headers_for(self, url: str, form: dict[str, str]) -> dict[str, str]:
        signature = RequestValidator(self.auth_token).compute_signature(url, form)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": secrets.token_hex(8),
        }
        now = self._now()
        jar = "; ".join(f"{k}={v}" for k, (v, expires) in self.cookies.items() if expires > now)
        if jar:
            headers["Cookie"] = jar
        return headers

    def keep_cookies(self, headers: Any) -> None:
        values = headers.getall("Set-Cookie", []) if hasattr(headers, "getall") else []
        for value in values:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(value)
            for name, morsel in cookie.items():
                max_age = int(morsel["max-age"] or COOKIE_LIFETIME_SECONDS)
                # Twilio keeps a conversation's cookies for at most 4 hours.
                lifetime = min(max_age, COOKIE_LIFETIME_SECONDS)
                self.cookies[name] = (morsel.value, self._now() + lifetime)

    async def send(self, form: dict[str, str], headers: dict[str, str] | None = None) -> Answer:
        url = self.public_url + self.path
        headers = headers if headers is not None else self.headers_for(url, form)
        status, text, response_headers = await self.post(url, form, headers)
        self.keep_cookies(response_headers)
        return parse_answer(status, text, response_headers, self.number)

    async def text(
        self, body: str, media: tuple[tuple[str, str], ...] = (), sid: str | None = None
    ) -> list[Reply]:
        """Text the bot; returns the messages its TwiML answer delivers (asserting a 200)."""
        answer = await self.send(self.form(body, media, sid))
        assert answer.status == 200, f"{answer.status}: {answer.text}"
        return answer.replies

    async def ask(self, body: str) -> str:
        """Text the bot; returns its one reply to this phone."""
        replies = [r for r in await self.text(body) if r.to == self.number]
        assert len(replies) == 1, f"expected one reply to {self.number}, got {replies}"
        return replies[0].body
