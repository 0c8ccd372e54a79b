"""Time-driven work: pending requests expire after `booking.request_ttl_hours`, and idle
conversations leave memory. Everything is read from the database state, so a restart loses
nothing: a request that expired while the service was down expires at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.turns import TurnRunner
from conversations.flow import expire

log = logging.getLogger(__name__)


async def expire_due(turns: TurnRunner, ttl: timedelta, bot_phone: str, now: datetime) -> int:
    """Expire every pending request older than `ttl`; returns how many expired."""
    count = 0
    for reservation in turns.world.pending():
        if now - reservation.created_at < ttl:
            continue
        decision = expire(reservation, turns.world)
        if decision is not None:
            await turns.perform_expiry(decision, bot_phone)
            count += 1
    return count


async def run_expiry(
    turns: TurnRunner,
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
            turns.world.forget_idle(now)
        except Exception:
            log.exception("expiry pass failed; trying again at the next one")
        await asyncio.sleep(interval_seconds)
