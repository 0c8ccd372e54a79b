"""Retention: message bodies older than some days are emptied; rows, counts, states, delivery
statuses and reservations stay. Logged as an operator action.

    summary = await forget_old_bodies(store, 90, now)  # run.py retention, POST /admin/api/retention
"""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.base import Store


async def forget_old_bodies(store: Store, days: object, now: datetime) -> str:
    """Empty the bodies older than `days` days; returns what was removed, in words."""
    if type(days) is not int or days < 0:
        raise ValueError(f"days must be a whole number, 0 or more, not {days!r}")
    cutoff = now - timedelta(days=days)
    messages, outbox = await store.retention(cutoff, days, now)
    return (
        f"{messages} message bodies and {outbox} outbox texts"
        f" older than {cutoff:%Y-%m-%d %H:%M} UTC"
    )
