"""Twilio's half of a text, emulated: what a phone's message becomes on the wire to the bot, and
what Twilio makes of the bot's answer.

    carrier = Carrier(session, CookieJar())
    line = BotLine(webhook_url, bot_number, account_sid, auth_token)
    answer = await carrier.text(line, "+15550001111", "LIST")
    answer.texts   # (Text(to="+15550001111", from_=bot_number, body="Homes 1-...", media=()),)

Each text is a real HTTP POST of the form fields Twilio sends, signed with the account's auth
token by the twilio library (X-Twilio-Signature), carrying the cookies Twilio keeps for the
From/To pair (at most 4 hours). The answer is read as Twilio documents it: TwiML's <Message>s go
to their `to` (default: the sender), a text/plain answer is texted back as is, and anything but
a 2xx answer texts nothing. Twilio's own keywords are Twilio's (`Keywords`): a whole-message
STOP (or CANCEL, QUIT...) blocks the pair and gets Twilio's own reply, START opts back in, HELP
gets Twilio's short help beside the bot's; the message is forwarded to the bot all the same.
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

import aiohttp
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
# Twilio keeps a From/To pair's cookies for four hours at most, whatever Max-Age says.
COOKIE_LIFETIME_SECONDS = 4 * 3600
# Twilio gives up on a webhook after 15 seconds (error 11200) and texts nothing.
WEBHOOK_TIMEOUT_SECONDS = 15.0
TWIML_TYPES = ("text/xml", "application/xml", "text/html")
# Punctuation around a keyword ("Stop.", "'cancel'") is not part of it: the bot reads it so
# too (SPEC §3), and the two must agree on who opted out.
_EDGES = " \t\r\n.,;:!?'\"()[]{}<>*_~`-"
# Twilio's default keyword handling on long codes and toll-free numbers, and its replies.
OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
KEYWORDS = {
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"), OPT_OUT
    ),
    **dict.fromkeys(("start", "unstop", "yes"), OPT_IN),
    **dict.fromkeys(("help", "info"), HELP),
}
CARRIER_REPLIES = {
    OPT_OUT: "You have successfully been unsubscribed. You will not receive any more messages"
    " from this number. Reply START to resubscribe.",
    OPT_IN: "You have successfully been re-subscribed to messages from this number. Reply HELP"
    " for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    HELP: "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


@dataclass(frozen=True, slots=True)
class Text:
    """One message as the phones see it."""

    to: str
    from_: str
    body: str
    media: tuple[str, ...] = ()
    by_carrier: bool = False  # Twilio's own reply to a keyword, not the bot's


@dataclass(frozen=True, slots=True)
class Answer:
    """What Twilio did with the bot's answer to one webhook."""

    status: int  # the HTTP status; 0 when the bot could not be reached
    texts: tuple[Text, ...]
    # Why Twilio texted nothing (Twilio would log an error in the console), else None.
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class BotLine:
    """The bot's Twilio number as Twilio knows it: where it posts, and what it signs with."""

    webhook_url: str
    bot_number: str
    account_sid: str
    auth_token: str


class Keywords:
    """Twilio's blocklist: the phones that texted STOP to a number, until they opt back in.

    Only the keyword alone counts ("stop please" is a text like any other). Twilio answers an
    opt-out and a START or UNSTOP every time; YES is also a word of conversations (a guest
    confirming), so it gets Twilio's reply only when it does opt the phone back in; HELP gets
    Twilio's help only while the phone is not opted out, as Twilio does.
    """

    def __init__(self) -> None:
        self._blocked: set[tuple[str, str]] = set()  # (phone, bot number)

    def blocks(self, phone: str, bot_number: str) -> bool:
        return (phone, bot_number) in self._blocked

    def hear(self, sender: str, bot_number: str, body: str) -> Text | None:
        """Take a text a phone sent the number; Twilio's own reply to it, if it has one."""
        word = " ".join(body.split()).strip(_EDGES).casefold()
        kind = KEYWORDS.get(word)
        pair = (sender, bot_number)
        was_blocked = pair in self._blocked
        if kind == OPT_OUT:
            self._blocked.add(pair)
        elif kind == OPT_IN:
            self._blocked.discard(pair)
            if word == "yes" and not was_blocked:
                return None
        elif kind == HELP and was_blocked:
            return None
        if kind is None:
            return None
        return Text(sender, bot_number, CARRIER_REPLIES[kind], by_carrier=True)


class CookieJar:
    """The cookies Twilio keeps, one jar per From/To pair, on a clock that can be moved forward
    ("jump 4 hours") to see what a long silence does to a conversation."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.offset = 0.0
        # (from, to) -> cookie name -> (value, expires at, on this jar's clock)
        self._pairs: dict[tuple[str, str], dict[str, tuple[str, float]]] = {}

    def now(self) -> float:
        return self._clock() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds

    def header(self, sender: str, recipient: str) -> str | None:
        """The Cookie header for the pair's next webhook, or None when nothing is live."""
        jar = self._pairs.get((sender, recipient), {})
        now = self.now()
        for name in [name for name, (_, expires) in jar.items() if expires <= now]:
            del jar[name]
        return "; ".join(f"{name}={value}" for name, (value, _) in jar.items()) or None

    def keep(self, sender: str, recipient: str, set_cookies: Iterable[str]) -> None:
        """Remember the Set-Cookie headers of an answer; Max-Age=0 (or a past Expires) deletes."""
        jar = self._pairs.setdefault((sender, recipient), {})
        now = self.now()
        for header in set_cookies:
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(header)
            except CookieError:
                continue  # a browser (and Twilio) ignores a cookie it cannot read
            for name, morsel in cookie.items():
                lifetime = float(COOKIE_LIFETIME_SECONDS)
                if morsel["max-age"]:
                    with contextlib.suppress(ValueError):
                        lifetime = min(lifetime, float(morsel["max-age"]))
                elif morsel["expires"]:
                    with contextlib.suppress(TypeError, ValueError):
                        expires = email.utils.parsedate_to_datetime(morsel["expires"])
                        lifetime = min(lifetime, expires.timestamp() - self._clock())
                if lifetime <= 0:
                    jar.pop(name, None)
                else:
                    jar[name] = (morsel.value, now + lifetime)


def message_sid(mms: bool = False) -> str:
    # Twilio's inbound picture messages have MM sids, text messages SM sids.
    return ("MM" if mms else "SM") + secrets.token_hex(16)


def segments(body: str) -> int:
    """How many SMS segments Twilio would count (GSM-7: 160 alone, 153 each when split)."""
    return 1 if len(body) <= 160 else math.ceil(len(body) / 153)


def inbound_form(
    line: BotLine,
    sender: str,
    body: str,
    media: Sequence[tuple[str, str]] = (),
    sid: str | None = None,
) -> dict[str, str]:
    """The form Twilio posts for an incoming message, field for field (media as url, type)."""
    sid = sid or message_sid(bool(media))
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
        "To": line.bot_number,
        "ToZip": "94105",
        "NumSegments": str(segments(body)),
        "MessageSid": sid,
        "AccountSid": line.account_sid,
        "From": sender,
        "ApiVersion": API_VERSION,
    }
    for index, (url, content_type) in enumerate(media):
        form[f"MediaUrl{index}"] = url
        form[f"MediaContentType{index}"] = content_type
    return form


def signature(auth_token: str, url: str, form: dict[str, str]) -> str:
    """X-Twilio-Signature over the exact URL and form, computed by the twilio library."""
    return str(RequestValidator(auth_token).compute_signature(url, form))


def parse_answer(status: int, content_type: str, text: str, sender: str, bot_number: str) -> Answer:
    """What Twilio texts for the bot's answer to `sender`'s message."""
    if not 200 <= status < 300:
        return Answer(status, (), f"HTTP {status}: Twilio logs error 11200 and texts nothing")
    media_type = content_type.split(";")[0].strip().lower()
    if not text.strip():
        return Answer(status, ())  # an empty answer is how a bot says nothing
    if media_type == "text/plain":
        # Twilio texts a plain-text answer back to the sender as it is.
        return Answer(status, (Text(sender, bot_number, text.strip()),))
    if media_type not in TWIML_TYPES:
        return Answer(status, (), f"content type {media_type!r}: Twilio error 12300, no text")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        return Answer(status, (), f"invalid TwiML ({error}): Twilio error 12100, no text")
    if root.tag != "Response":
        return Answer(status, (), f"TwiML root <{root.tag}>: Twilio error 12100, no text")
    texts = []
    for message in root.iter("Message"):
        bodies = message.findall("Body")
        # With <Body>/<Media> nouns the message is made of them; else its own text is the body.
        body = "".join(b.text or "" for b in bodies) if bodies else message.text or ""
        media = tuple((m.text or "").strip() for m in message.iter("Media") if m.text)
        if not body.strip() and not media:
            continue  # Twilio refuses an empty message (error 14103)
        texts.append(
            Text(
                message.get("to") or sender,
                message.get("from") or bot_number,
                body.strip(),
                media,
            )
        )
    return Answer(status, tuple(texts))


class Carrier:
    """Delivers phones' texts to the bot as Twilio does, one signed webhook each."""

    def __init__(
        self, session: aiohttp.ClientSession, jar: CookieJar, keywords: Keywords | None = None
    ) -> None:
        self.session = session
        self.jar = jar
        self.keywords = keywords or Keywords()

    async def text(
        self,
        line: BotLine,
        sender: str,
        body: str,
        media: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        """One text from `sender`: Twilio's own reply to a keyword first, then what the bot's
        answer texts (to phones that have not opted out: Twilio refuses the rest, 21610)."""
        own = self.keywords.hear(sender, line.bot_number, body)
        answer = await self.post(line, inbound_form(line, sender, body, media))
        texts = [text for text in answer.texts if not self.keywords.blocks(text.to, text.from_)]
        problem = answer.problem
        refused = sorted({text.to for text in answer.texts} - {text.to for text in texts})
        if refused:
            problem = (
                f"Twilio refused the reply to {', '.join(refused)}: error 21610, the phone"
                " replied STOP"
            )
        return Answer(answer.status, (*([own] if own else []), *texts), problem)

    async def post(self, line: BotLine, form: dict[str, str]) -> Answer:
        """POST one webhook form (signed, with the pair's cookies) and read the answer."""
        sender, recipient = form["From"], form["To"]
        headers = {
            "X-Twilio-Signature": signature(line.auth_token, line.webhook_url, form),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "User-Agent": "TwilioProxy/1.1",
        }
        cookie = self.jar.header(sender, recipient)
        if cookie:
            headers["Cookie"] = cookie
        try:
            async with self.session.post(
                line.webhook_url,
                data=form,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS),
                allow_redirects=False,
            ) as response:
                text = await response.text()
                self.jar.keep(sender, recipient, response.headers.getall("Set-Cookie", []))
                content_type = response.headers.get("Content-Type", "")
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            reason = type(error).__name__ if isinstance(error, TimeoutError) else str(error)
            return Answer(0, (), f"the bot did not answer ({reason}): Twilio error 11200")
        return parse_answer(status, content_type, text, sender, line.bot_number)
