"""Twilio's webhooks: the inbound SMS (one conversation turn) and the message status callback.

The inbound handler reads as SPEC §2: verify the signature, read the message, run the turn
(deduplicate, find the conversation, decide, commit), answer with TwiML and the session cookie.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import compare

from bot.phones import sender_id
from bot.services import SERVICES, Services
from bot.turns import InboundSms
from storage import writes

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 1600  # the longest Body Twilio delivers
MAX_MEDIA = 10  # Twilio's limit of media per message
TWIML = "text/xml"


FORM = "application/x-www-form-urlencoded"


async def inbound_sms(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    started = perf_counter()
    try:
        form = await read_form(request)
        verify_signature(services, request, form)
        sms = read_inbound(form)
    except web.HTTPException as refused:
        services.metrics.refused(refused.status)
        raise
    sessions = services.turns.sessions
    answer = await services.turns.run(sms, sessions.read(request.headers.get("Cookie")))
    response = web.Response(text=answer.twiml, content_type=TWIML, charset="utf-8")
    if answer.cookie:
        response.headers["Set-Cookie"] = sessions.set_cookie_header(answer.cookie)
    if services.stopping:
        response.force_close()  # the next webhook comes on a new connection: another instance
    services.metrics.turn(answer, perf_counter() - started)
    return response


async def message_status(request: web.Request) -> web.Response:
    """Twilio's status callback for a message we sent: update the outbox and the log. 204."""
    services = request.app[SERVICES]
    form = await read_form(request)
    verify_signature(services, request, form)
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if not isinstance(sid, str) or not sid:
        raise web.HTTPBadRequest(text="MessageSid is missing")
    code = _int(form.get("ErrorCode"))
    if status in writes.TRACKED_STATUSES:
        await services.store.outbox_status(sid, status, code, services.clock())
        if status != "sent":  # the REST create already counted it sent
            services.metrics.delivery(status, code)
    response = web.Response(status=204)
    if services.stopping:
        response.force_close()
    return response


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """Twilio posts forms url-encoded; anything else (multipart files...) is not Twilio."""
    if request.content_type != FORM:
        raise web.HTTPUnsupportedMediaType(text=f"Content-Type must be {FORM}")
    try:
        return await request.post()
    except (UnicodeDecodeError, LookupError) as error:
        # Bytes that are not UTF-8, or a charset nobody knows: not what Twilio sends.
        raise web.HTTPBadRequest(text=f"Unreadable form: {error}") from error


def verify_signature(services: Services, request: web.Request, form: MultiDictProxy[Any]) -> None:
    """403 unless X-Twilio-Signature signs this URL and these parameters with our auth token.

    The URL is the configured public URL, not what this process sees: behind a proxy the two
    differ, and Twilio signs what it called.
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    url = services.config.public_url + request.path_qs
    if not signature:
        raise web.HTTPForbidden(text="Invalid or missing X-Twilio-Signature")
    # Twilio signs the URL it called, which is ours as configured: one HMAC settles nearly
    # every request. validate() tries the URL with and without its port (two HMACs) and checks
    # a bodySHA256 parameter; it has the last word on anything the first look did not accept.
    validator = services.validator
    if "bodySHA256" not in url and compare(validator.compute_signature(url, form), signature):
        return
    if not validator.validate(url, form, signature):
        raise web.HTTPForbidden(text="Invalid or missing X-Twilio-Signature")


def read_inbound(form: MultiDictProxy[Any]) -> InboundSms:
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    sender = form.get("From") or ""
    to = form.get("To") or ""
    body = form.get("Body") or ""
    missing = [
        name
        for name, value in (("MessageSid", sid), ("From", sender), ("To", to))
        if not isinstance(value, str) or not value.strip()
    ]
    if missing:
        raise web.HTTPBadRequest(text=f"Missing {' and '.join(missing)}")
    assert isinstance(sid, str) and isinstance(sender, str) and isinstance(to, str)
    if not isinstance(body, str):
        raise web.HTTPBadRequest(text="Body must be text")
    if len(body) > MAX_BODY_CHARS:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY_CHARS, actual_size=len(body), text="Body is over 1600 characters"
        )
    media = []
    for index in range(min(_int(form.get("NumMedia")) or 0, MAX_MEDIA)):
        url = form.get(f"MediaUrl{index}")
        content_type = form.get(f"MediaContentType{index}")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            # The type tells a host's photo from a voice memo or a contact card.
            media.append((url, content_type.strip() if isinstance(content_type, str) else ""))
    return InboundSms(sid.strip(), sender_id(sender), sender_id(to), body, tuple(media))


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
