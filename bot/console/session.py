"""The console's sign-in session: a signed cookie, and its CSRF token.

    value, csrf = issue(key, now)          # after the admin token was checked
    session = read(key, value, now)        # None: absent, forged, or expired

The cookie holds `issued.csrf.signature`, the signature an HMAC-SHA256 over the rest under a
key derived from the database's session secret and the admin token: changing the token signs
every operator out. Nothing is kept on the server; a session ends when its cookie expires
(MAX_AGE) or the browser drops it at sign-out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "airtng_console"
MAX_AGE = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    issued: int
    csrf: str


def derive_key(session_secret: bytes, admin_token: str) -> bytes:
    return hmac.new(session_secret, b"console\0" + admin_token.encode(), hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def issue(key: bytes, now: float) -> tuple[str, str]:
    csrf = secrets.token_urlsafe(24)
    payload = f"{int(now)}.{csrf}"
    return f"{payload}.{_sign(key, payload)}", csrf


def read(key: bytes, value: str | None, now: float) -> Session | None:
    if not value:
        return None
    payload, _, signature = value.rpartition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _sign(key, payload).encode()):
        return None
    issued_text, _, csrf = payload.partition(".")
    try:
        issued = int(issued_text)
    except ValueError:
        return None
    if not csrf or not issued <= now < issued + MAX_AGE:
        return None
    return Session(issued, csrf)


def token_matches(given: str, expected: str) -> bool:
    """Constant time, so neither the admin token nor a CSRF token leaks a character at a time."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
