"""TwiML answers, built by the twilio library's MessagingResponse (never by hand).

render([Outgoing("+1555...", "Hi")], sender="+1555...")
-> '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hi</Message></Response>'
"""

from __future__ import annotations

from collections.abc import Sequence

from twilio.twiml.messaging_response import Message, MessagingResponse

from conversations.flow import Outgoing

# Many answers are the same for everyone (the welcome, help, a home's details, "didn't get
# that"): rendering an XML tree costs more than the rest of a short turn, so keep recent ones.
_CACHE_SIZE = 4096
_rendered: dict[tuple[tuple[str | None, str, tuple[str, ...]], ...], str] = {}


def render(replies: Sequence[Outgoing], sender: str) -> str:
    """One <Message> per reply; a reply to anyone but the sender carries to= (seed 000)."""
    key = tuple((None if r.to == sender else r.to, r.body, r.media) for r in replies)
    twiml = _rendered.get(key)
    if twiml is None:
        twiml = _render(key)
        if len(_rendered) >= _CACHE_SIZE:
            _rendered.clear()
        _rendered[key] = twiml
    return twiml


def _render(replies: tuple[tuple[str | None, str, tuple[str, ...]], ...]) -> str:
    response = MessagingResponse()
    for to, body, media in replies:
        extra = {"to": to} if to is not None else {}
        if media:
            message = Message(**extra)
            message.body(body)
            for url in media:
                message.media(url)
            response.append(message)
        else:
            response.message(body, **extra)
    return response.to_xml()
