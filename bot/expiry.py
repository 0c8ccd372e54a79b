"""Time-driven work: a host is reminded once of a request that has waited half of
`booking.request_ttl_hours`, pending requests expire at the TTL, and idle conversations leave
memory. Everything is read from the database state (the reminder's moment is stored with the
request), so a restart loses nothing and sends nothing twice: a request that expired while the
service was down expires at the next start, without a late reminder first.

    expired = await expire_due(turns, timedelta(hours=24), bot_phone, now)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.turns import Turns

log = logging.getLogger(__name__)


async def expire_due(turns: Turns, ttl: timedelta, bot_phone: str, now: datetime) -> int:
    """Expire every pending request older than `ttl` and remind the hosts of those older than
    half of it; returns how many expired."""
    return await turns.expire_due(ttl, bot_phone, now)


async def run_expiry(
    turns: Turns,
    ttl: timedelta,
    bot_phone: str,
    clock: Callable[[], datetime],
    interval_seconds: float = 30.0,
) -> None:
    while True:
        try:
            now = clock()
            expired = await expire_due(turns, ttl, bot_phone, now)
            if expired:
                log.info("expired %d pending request(s)", expired)
            turns.housekeeping(now)
        except Exception:
            log.exception("expiry pass failed; trying again at the next one")
        await asyncio.sleep(interval_seconds)
