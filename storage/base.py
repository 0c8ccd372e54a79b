"""The store: what the service asks of its database, whichever database it is.

    store = await open_store(config)          # storage/__init__.py picks the backend
    await store.secret("session_secret", make)  # created once, the same for every instance
    rows = await store.conversations(ConversationFilter(phone="+15550001111"), 50, 0)

Two backends implement it, and one test suite (tests/storage/test_store.py) runs over both:
`SqliteStore` (storage/sqlite.py), the embedded default, which one process owns; and
`PostgresStore` (storage/postgres/), which any number of instances share. A conversation turn is
not in here: on SQLite it runs on the bot's memory and the group commit (bot/turns.py), on
PostgreSQL in one locked round trip pair per turn (bot/shared_turns.py); each backend gives its
turn runner what it needs beside this interface.

Timestamps cross this interface as the ISO 8601 text `storage.writes.stamp` makes (UTC,
milliseconds), dates as YYYY-MM-DD, in both directions and from both backends alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from conversations.model import Property
from storage.console_queries import ConversationFilter, ReservationFilter
from storage.queries import OutboxBacklog, OutboxItem

__all__ = [
    "ConversationFilter",
    "Listed",
    "OutboxClaim",
    "OutboxItem",
    "ReservationFilter",
    "Store",
    "title_key",
]


def title_key(title: str) -> str:
    """What makes two titles one home's (case and spacing aside)."""
    return " ".join(title.casefold().split())


class Listed(NamedTuple):
    """What listing a home did: the home, whether the host had it listed already (the same
    host and title is one home, so nothing changed), and the host's name."""

    home: Property
    existing: bool
    host_name: str | None


@dataclass(frozen=True, slots=True)
class OutboxClaim:
    """What one look at the outbox claimed for sending, and when to look again."""

    items: list[OutboxItem]  # each as it was before the claim (status 'sending': outcome unknown)
    later_seconds: float | None  # until the first row not due now is due (a retry, a lease)


class Store(ABC):
    """Everything but the turn itself: settings, the outbox, the operator's reads and changes."""

    kind: ClassVar[str]  # "sqlite" or "postgresql"
    shared: ClassVar[bool]  # whether several processes may serve this store at once

    # -- lifetime -----------------------------------------------------------------------------

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def check(self) -> str | None:
        """Why this store cannot take turns now (it does not answer in time, or is not at this
        code's schema version), or None: GET /readyz asks it."""

    async def ready(self) -> bool:
        return await self.check() is None

    def subscribe(self, channel: str, callback: Callable[[], None]) -> None:  # noqa: B027
        """Hear another instance's news on `channel` ("airtng_homes", "airtng_outbox"); a store
        that one process owns has no other instances, and never calls back."""

    # -- settings and secrets ------------------------------------------------------------------

    @abstractmethod
    async def setting(self, key: str) -> str | None: ...

    @abstractmethod
    async def secret(self, key: str, make: Callable[[], str]) -> str:
        """The value kept under `key`, made by `make` and stored if there is none. Instances
        starting together all get the one value that was stored first."""

    # -- homes ---------------------------------------------------------------------------------

    @abstractmethod
    async def homes(self) -> list[Property]:
        """Every home, listed or paused, by id."""

    @abstractmethod
    async def add_home(
        self, host_phone: str, host_name: str | None, home: Property, now: datetime
    ) -> Listed:
        """List a home for a host (created if new), unless the host has one of that title.
        On SQLite only while no service holds the file (a running service lists homes
        through its memory)."""

    # -- the outbox ----------------------------------------------------------------------------

    @abstractmethod
    async def outbox_claim(
        self, limit: int, in_flight: set[int], lease_seconds: float, now: datetime
    ) -> OutboxClaim:
        """Claim up to `limit` due messages ('sending', leased), none of `in_flight`."""

    @abstractmethod
    async def outbox_cancelled(self, outbox_id: int, reason: str, now: datetime) -> None: ...

    @abstractmethod
    async def outbox_sent(self, outbox_id: int, twilio_sid: str, now: datetime) -> None:
        """Twilio took the message; a status callback that came first is kept."""

    @abstractmethod
    async def outbox_status(
        self, twilio_sid: str, status: str, error_code: int | None, now: datetime
    ) -> None:
        """A status callback (storage.writes.TRACKED_STATUSES), whichever instance sent it."""

    @abstractmethod
    async def outbox_retry(
        self,
        outbox_id: int,
        attempts: int,
        delay_seconds: float,
        error_code: int | None,
        error: str,
        ambiguous: bool,
        now: datetime,
    ) -> None:
        """Try again after `delay_seconds`; `ambiguous`: Twilio may have it, ask first."""

    @abstractmethod
    async def outbox_failed(
        self, outbox_id: int, error_code: int | None, error: str, now: datetime
    ) -> None: ...

    @abstractmethod
    async def outbox_backlog(self) -> OutboxBacklog:
        """How much of the outbox is not sent yet, and since when (GET /metrics)."""

    @abstractmethod
    async def known_twilio_sids(self, sids: list[str]) -> set[str]:
        """Which of these Twilio message SIDs some outbox row already records."""

    @abstractmethod
    async def opt_out(self, phone: str, now: datetime) -> None:
        """Twilio refused a message because this person replied STOP: send them nothing more."""

    # -- the operator's JSON API ---------------------------------------------------------------

    @abstractmethod
    async def admin_reservations(
        self, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def admin_conversations(
        self, phone: str | None, limit: int, offset: int, messages_each: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def admin_outbox(
        self, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def admin_properties(self) -> list[dict[str, Any]]: ...

    # -- the console and the CLI (storage/console_queries.py says what each returns) -----------

    @abstractmethod
    async def conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def states(self) -> list[str]: ...

    @abstractmethod
    async def transcript(self, conversation_id: int, limit: int) -> dict[str, Any] | None: ...

    @abstractmethod
    async def reservations(
        self, where: ReservationFilter, limit: int, offset: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def home_titles(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def reservation_history(self, reservation_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    async def outbox(
        self, statuses: tuple[str, ...], limit: int, offset: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def outbox_row(self, outbox_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    async def operator_actions(self, limit: int) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def person(self, person_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    async def overview(self, today: str, week: str, chart_from: str) -> dict[str, Any]: ...

    @abstractmethod
    async def logs(
        self, phone: str | None, since: str | None, limit: int, after_id: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def retention_counts(self, cutoff: str) -> tuple[int, int]: ...

    @abstractmethod
    async def catch_up_search(self, batch: int = 500) -> int:
        """Make every committed message findable by words; returns how many were indexed."""

    # -- the operator's changes ----------------------------------------------------------------

    @abstractmethod
    async def requeue(self, outbox_id: int, was: str, now: datetime) -> bool:
        """Send a failed message again (logged); False if it is no longer failed."""

    @abstractmethod
    async def redact(self, person_id: int, placeholder: str, now: datetime) -> bool:
        """Replace a person's number and texts (logged); False if there is no such person."""

    @abstractmethod
    async def retention(self, cutoff: datetime, days: int, now: datetime) -> tuple[int, int]:
        """Empty message and outbox bodies older than `cutoff` (logged as an operator action);
        returns how many of each were emptied."""
