"""TwiML answers, built by the twilio library's MessagingResponse (never by hand).

render([Outgoing("+1555...", "Hi")], sender="+1555...")
-> '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hi</Message></Response>'
"""

from __future__ import annotations

from collections.abc import Sequence

from twilio.twiml.messaging_response import Message, MessagingResponse

from conversations.flow import Outgoing


def render(replies: Sequence[Outgoing], sender: str) -> str:
    """One <Message> per reply; a reply to anyone but the sender carries to= (seed 000)."""
    response = MessagingResponse()
    for reply in replies:
        extra = {} if reply.to == sender else {"to": reply.to}
        if reply.media:
            message = Message(**extra)
            message.body(reply.body)
            for url in reply.media:
                message.media(url)
            response.append(message)
        else:
            response.message(reply.body, **extra)
    return response.to_xml()
