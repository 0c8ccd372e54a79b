"""The records the conversation reasons about: people, properties, reservations, conversations.

They are plain dataclasses with slots: storage loads them, the bot keeps the live ones in memory,
and the conversation reads them to decide a turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(slots=True)
class Person:
    id: int
    phone: str
    name: str | None = None
    opted_out: bool = False


@dataclass(slots=True)
class Property:
    id: int
    host_phone: str
    title: str
    place: str
    description: str
    nightly_price: int
    image_url: str | None = None
    active: bool = True


@dataclass(slots=True)
class Reservation:
    id: int
    property_id: int
    guest_phone: str
    check_in: date
    check_out: date
    message: str
    status: str
    created_at: datetime
    updated_at: datetime
    # When the host was reminded of this request while it waited; None until then. Stored, so
    # a restart never reminds twice.
    reminded_at: datetime | None = None

    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days

    def overlaps(self, check_in: date, check_out: date) -> bool:
        # Check-out day is free for the next check-in: stays are half-open intervals.
        return self.check_in < check_out and check_in < self.check_out


@dataclass(slots=True)
class Conversation:
    id: int
    bot_phone: str
    phone: str
    state: str
    started_at: datetime
    last_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0
