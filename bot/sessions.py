"""The session cookie Twilio keeps per From/To pair: a signed conversation id, never the truth.

    cookie = sessions.cookie_for(conversation)        # "1234.Qk9x..." for Set-Cookie
    sessions.names(cookie, conversation) -> True only if it was issued for this very conversation

The conversation itself lives in the database keyed by the pair; the cookie only lets a turn
tell a continuing session from a stale, forged or foreign one, which is then ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from conversations.model import Conversation

COOKIE_NAME = "airtng_session"


class Sessions:
    def __init__(self, secret: bytes, max_age_seconds: int, secure: bool = False) -> None:
        self._secret = secret
        self.max_age = max_age_seconds
        self._attributes = f"; HttpOnly; Max-Age={max_age_seconds}; Path=/" + (
            "; Secure" if secure else ""
        )
        # A conversation's cookie never changes: sign it once, not on every turn.
        self._issued: dict[int, str] = {}

    def _signature(self, conversation_id: int, bot_phone: str, phone: str) -> str:
        # Binding the pair into the signature makes a cookie useless for any other pair.
        message = f"{conversation_id}|{bot_phone}|{phone}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode()

    def cookie_for(self, conversation: Conversation) -> str:
        cookie = self._issued.get(conversation.id)
        if cookie is None:
            signature = self._signature(conversation.id, conversation.bot_phone, conversation.phone)
            cookie = f"{conversation.id}.{signature}"
            if len(self._issued) >= 200_000:
                self._issued.clear()
            self._issued[conversation.id] = cookie
        return cookie

    def set_cookie_header(self, cookie: str) -> str:
        """The Set-Cookie value Twilio keeps for the pair (it keeps cookies 4 hours at most)."""
        return f"{COOKIE_NAME}={cookie}{self._attributes}"

    @staticmethod
    def read(cookie_header: str | None) -> str | None:
        """Our cookie's value from a Cookie header (the only cookie we ever set)."""
        if not cookie_header:
            return None
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE_NAME:
                value = value.strip('"')
                # Only a value we could have issued is worth checking (and compare_digest
                # refuses non-ASCII text).
                return value if value.isascii() else None
        return None

    def names(self, cookie: str | None, conversation: Conversation | None) -> bool:
        """Whether `cookie` is a genuine cookie for this live conversation of this pair."""
        if not cookie or conversation is None:
            return False
        issued = self._issued.get(conversation.id)
        if issued is not None:
            return hmac.compare_digest(issued, cookie)
        number, _, signature = cookie.partition(".")
        if not number.isdigit() or len(number) > 18:
            return False
        expected = self._signature(int(number), conversation.bot_phone, conversation.phone)
        return hmac.compare_digest(signature, expected) and int(number) == conversation.id
