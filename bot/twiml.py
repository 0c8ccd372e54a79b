"""TwiML answers, built by the twilio library's MessagingResponse (never by hand).

render([Outgoing("+1555...", "Hi")], sender="+1555...")
-> '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hi</Message></Response>'

Rendering an XML tree costs more than the rest of a short turn, and most answers differ only in
their words (a name, dates, a reference). So each shape of answer (how many messages, to whom,
which photos) is rendered once by MessagingResponse with a marker in place of every body, and
an answer is that rendering with its bodies put in, escaped as ElementTree escapes text. The
tests compare the two, byte for byte, over arbitrary bodies, numbers and photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from twilio.twiml.messaging_response import Message, MessagingResponse

from conversations.flow import Outgoing

Reply = tuple[str | None, str, tuple[str, ...]]  # (to= when not the sender, body, media URLs)

_CACHE_SIZE = 4096
# Markers from Unicode's private use area: ElementTree writes them as they are.
_MARK = "\ue000{}\ue001"
# A shape (bodies left out) -> the rendering split around its bodies; None: render it whole.
_templates: dict[tuple[tuple[str | None, bool, tuple[str, ...]], ...], list[str] | None] = {}


def render(replies: Sequence[Outgoing], sender: str) -> str:
    """One <Message> per reply; a reply to anyone but the sender carries to= (seed 000)."""
    shape = tuple((None if r.to == sender else r.to, bool(r.body), r.media) for r in replies)
    try:
        pieces = _templates[shape]
    except KeyError:
        pieces = _template(shape)
        if len(_templates) >= _CACHE_SIZE:
            _templates.clear()
        _templates[shape] = pieces
    if pieces is None:
        whole = zip(shape, replies, strict=True)
        return render_whole(tuple((to, r.body, media) for (to, _, media), r in whole))
    bodies = [escape(r.body) for r in replies if r.body]
    out = [pieces[0]]
    for body, piece in zip(bodies, pieces[1:], strict=True):
        out.append(body)
        out.append(piece)
    return "".join(out)


def _template(shape: tuple[tuple[str | None, bool, tuple[str, ...]], ...]) -> list[str] | None:
    marks = [_MARK.format(n) for n in range(len(shape))]
    xml = render_whole(
        tuple(
            (to, marks[n] if has_body else "", media)
            for n, (to, has_body, media) in enumerate(shape)
        )
    )
    pieces = [xml]
    for n, (_, has_body, _) in enumerate(shape):
        if not has_body:
            continue
        head, *rest = pieces[-1].split(marks[n])
        if len(rest) != 1:
            return None  # the marker shows up elsewhere too (in a URL?): no template
        pieces[-1:] = [head, rest[0]]
    return pieces


def render_whole(replies: tuple[Reply, ...]) -> str:
    """The answer rendered by MessagingResponse from start to end."""
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
