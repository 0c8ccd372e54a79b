"""The embedded default store: one SQLite file, owned by one process.

    store = await SqliteStore.open(Path("airtng.db"), durability="normal")
    store.db     # the group-committing Database the bot's in-memory turns write through

Every method is one reader or writer round trip through storage/db.py, with the SQL of
storage/queries.py, storage/console_queries.py and storage/writes.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from conversations.model import Property
from storage import console_queries, queries, writes
from storage.base import (
    ConversationFilter,
    Listed,
    OutboxClaim,
    ReservationFilter,
    Store,
    title_key,
)
from storage.db import Database, StaleWrite
from storage.writes import stamp


class SqliteStore(Store):
    kind: ClassVar[str] = "sqlite"
    shared: ClassVar[bool] = False

    def __init__(self, db: Database) -> None:
        self.db = db
        # Status callbacks that came before the sender recorded the message's sid: one process
        # sends and hears every callback, so memory is enough here.
        self._early: dict[str, tuple[str, int | None]] = {}

    @classmethod
    async def open(cls, path: Path, durability: str = "normal") -> SqliteStore:
        return cls(await Database.open(path, durability))

    async def close(self) -> None:
        await self.db.close()

    async def check(self) -> str | None:
        return await self.db.check()

    # -- settings and secrets ------------------------------------------------------------------

    async def setting(self, key: str) -> str | None:
        return await self.db.read(queries.setting, key)

    async def secret(self, key: str, make: Callable[[], str]) -> str:
        value = await self.db.read(queries.setting, key)
        if value is None:
            value = make()
            # Read-only beside a service that never made it (it has real credentials, or a
            # token of its own): a value for this command alone, which that service will not
            # accept.
            if self.db.read_only:
                return value
            return await self.db.transact(_keep_first, key, value)
        return value

    # -- homes ---------------------------------------------------------------------------------

    async def homes(self) -> list[Property]:
        return await self.db.read(queries.all_homes)

    async def add_home(
        self, host_phone: str, host_name: str | None, home: Property, now: datetime
    ) -> Listed:
        return await self.db.transact(_add_home, host_phone, host_name, home, stamp(now))

    # -- the outbox ----------------------------------------------------------------------------

    async def outbox_claim(
        self, limit: int, in_flight: set[int], lease_seconds: float, now: datetime
    ) -> OutboxClaim:
        work = await self.db.read(queries.outbox_work, stamp(now), limit + len(in_flight))
        # Rows still in flight here are skipped even if their lease looks over (the clock may
        # have stepped): claiming one again would send it twice.
        items = [item for item in work.due if item.id not in in_flight][:limit]
        later = None
        if work.later is not None:
            later = (datetime.fromisoformat(work.later) - now).total_seconds()
        if items:
            # The lease: if this process dies mid-request, the row becomes due again after it.
            lease = now + timedelta(seconds=lease_seconds)
            await self.db.write(
                [writes.outbox_sending(i.id, i.attempts + 1, lease, now) for i in items]
            )
        return OutboxClaim(items, later)

    async def outbox_cancelled(self, outbox_id: int, reason: str, now: datetime) -> None:
        await self.db.write([writes.outbox_cancelled(outbox_id, reason, now)])

    async def outbox_sent(self, outbox_id: int, twilio_sid: str, now: datetime) -> None:
        # A status callback can overtake the create's response (or come while the outcome was
        # unknown, before the row knew its sid): keep what it said.
        status, code = self._early.pop(twilio_sid, ("sent", None))
        out = [writes.outbox_sent(outbox_id, twilio_sid, "sent", now)]
        if status != "sent":
            out.append(writes.outbox_status(twilio_sid, status, code, now))
        await self.db.write(out)
        # A callback that came while that commit was on its way may have been applied before
        # the row knew its sid (a group commit runs statements in batches): apply it again.
        late = self._early.pop(twilio_sid, None)
        if late is not None:
            await self.db.write([writes.outbox_status(twilio_sid, late[0], late[1], now)])

    async def outbox_status(
        self, twilio_sid: str, status: str, error_code: int | None, now: datetime
    ) -> None:
        self._early[twilio_sid] = (status, error_code)
        if len(self._early) > 10_000:
            self._early.pop(next(iter(self._early)))
        await self.db.write([writes.outbox_status(twilio_sid, status, error_code, now)])

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
        retry_at = now + timedelta(seconds=delay_seconds)
        if ambiguous:
            # Stays 'sending': the next attempt first asks Twilio whether it was created.
            await self.db.write(
                [
                    writes.outbox_sending(outbox_id, attempts, retry_at, now),
                    writes.outbox_note(outbox_id, error_code, error, now),
                ]
            )
        else:
            await self.db.write([writes.outbox_retry(outbox_id, retry_at, error_code, error, now)])

    async def outbox_failed(
        self, outbox_id: int, error_code: int | None, error: str, now: datetime
    ) -> None:
        await self.db.write([writes.outbox_failed(outbox_id, error_code, error, now)])

    async def outbox_backlog(self) -> queries.OutboxBacklog:
        return await self.db.read(queries.outbox_backlog)

    async def known_twilio_sids(self, sids: list[str]) -> set[str]:
        return await self.db.read(queries.known_twilio_sids, sids)

    async def opt_out(self, phone: str, now: datetime) -> None:
        await self.db.transact(_opt_out, phone, stamp(now))

    # -- the operator's JSON API ---------------------------------------------------------------

    async def admin_reservations(
        self, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        return await self.db.read(queries.admin_reservations, status, limit, offset)

    async def admin_conversations(
        self, phone: str | None, limit: int, offset: int, messages_each: int
    ) -> list[dict[str, Any]]:
        return await self.db.read(queries.admin_conversations, phone, limit, offset, messages_each)

    async def admin_outbox(
        self, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        return await self.db.read(queries.admin_outbox, status, limit, offset)

    async def admin_properties(self) -> list[dict[str, Any]]:
        return await self.db.read(queries.admin_properties)

    # -- the console and the CLI ---------------------------------------------------------------

    async def conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        return await self.db.read(console_queries.conversations, where, limit, offset)

    async def states(self) -> list[str]:
        return await self.db.read(console_queries.states)

    async def transcript(self, conversation_id: int, limit: int) -> dict[str, Any] | None:
        return await self.db.read(console_queries.transcript, conversation_id, limit)

    async def reservations(
        self, where: ReservationFilter, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        return await self.db.read(console_queries.reservations, where, limit, offset)

    async def home_titles(self) -> list[dict[str, Any]]:
        return await self.db.read(console_queries.homes)

    async def reservation_history(self, reservation_id: int) -> dict[str, Any] | None:
        return await self.db.read(console_queries.reservation_history, reservation_id)

    async def outbox(
        self, statuses: tuple[str, ...], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        return await self.db.read(console_queries.outbox, statuses, limit, offset)

    async def outbox_row(self, outbox_id: int) -> dict[str, Any] | None:
        return await self.db.read(console_queries.outbox_row, outbox_id)

    async def operator_actions(self, limit: int) -> list[dict[str, Any]]:
        return await self.db.read(console_queries.operator_actions, limit)

    async def person(self, person_id: int) -> dict[str, Any] | None:
        return await self.db.read(console_queries.person, person_id)

    async def overview(self, today: str, week: str, chart_from: str) -> dict[str, Any]:
        return await self.db.read(console_queries.overview, today, week, chart_from)

    async def logs(
        self, phone: str | None, since: str | None, limit: int, after_id: int
    ) -> list[dict[str, Any]]:
        return await self.db.read(console_queries.logs, phone, since, limit, after_id)

    async def retention_counts(self, cutoff: str) -> tuple[int, int]:
        return await self.db.read(console_queries.retention_counts, cutoff)

    async def catch_up_search(self, batch: int = 500) -> int:
        indexed = 0
        while True:
            done, newest = await self.db.read(queries.message_index_progress)
            if newest <= done:
                return indexed
            upto = min(newest, done + batch)
            await self.db.write(writes.index_messages(done, upto))
            indexed += upto - done

    # -- the operator's changes ----------------------------------------------------------------

    async def requeue(self, outbox_id: int, was: str, now: datetime) -> bool:
        try:
            await self.db.write(
                [
                    writes.outbox_requeue(outbox_id, now),
                    writes.operator_action(
                        "retry", f"outbox {outbox_id}", f"was {was}; queued again", now
                    ),
                ]
            )
        except StaleWrite:
            return False
        return True

    async def redact(self, person_id: int, placeholder: str, now: datetime) -> bool:
        found = await self.db.read(console_queries.person, person_id)
        if found is None:
            return False
        outbox_ids = await self.db.read(console_queries.outbox_ids_of, found["phone"])
        await self.db.write(
            [
                *writes.redact_person(person_id, found["phone"], placeholder, outbox_ids, now),
                writes.operator_action(
                    "redact", f"person {person_id}", "number and message bodies replaced", now
                ),
            ]
        )
        return True

    async def retention(self, cutoff: datetime, days: int, now: datetime) -> tuple[int, int]:
        messages, outbox = await self.db.read(console_queries.retention_counts, stamp(cutoff))
        summary = (
            f"{messages} message bodies and {outbox} outbox texts"
            f" older than {cutoff:%Y-%m-%d %H:%M} UTC"
        )
        await self.db.write(
            [
                *writes.forget_bodies_before(cutoff),
                writes.operator_action("retention", f"older than {days} days", summary, now),
            ]
        )
        return messages, outbox


def _keep_first(conn: sqlite3.Connection, key: str, value: str) -> str:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, value)
    )
    return str(conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()[0])


def _person_id(conn: sqlite3.Connection, phone: str, at: str) -> int:
    conn.execute(
        "INSERT INTO people (phone, opted_out, created_at, updated_at) VALUES (?, 0, ?, ?)"
        " ON CONFLICT (phone) DO NOTHING",
        (phone, at, at),
    )
    return int(conn.execute("SELECT id FROM people WHERE phone = ?", (phone,)).fetchone()[0])


def _add_home(
    conn: sqlite3.Connection, host_phone: str, host_name: str | None, home: Property, at: str
) -> Listed:
    host_id = _person_id(conn, host_phone, at)
    for found in queries.all_homes(conn):
        if found.host_phone == host_phone and title_key(found.title) == title_key(home.title):
            return Listed(found, True, _name(conn, host_id))
    if host_name:
        conn.execute(
            "UPDATE people SET name = ?, updated_at = ? WHERE id = ? AND name IS NOT ?",
            (host_name, at, host_id, host_name),
        )
    cursor = conn.execute(
        "INSERT INTO properties (host_id, title, place, description, image_url, nightly_price,"
        " active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            host_id,
            home.title,
            home.place,
            home.description,
            home.image_url,
            home.nightly_price,
            int(home.active),
            at,
            at,
        ),
    )
    assert cursor.lastrowid is not None
    home.id = cursor.lastrowid
    home.host_phone = host_phone
    return Listed(home, False, _name(conn, host_id))


def _name(conn: sqlite3.Connection, person_id: int) -> str | None:
    row = conn.execute("SELECT name FROM people WHERE id = ?", (person_id,)).fetchone()
    return None if row is None else row[0]


def _opt_out(conn: sqlite3.Connection, phone: str, at: str) -> None:
    person_id = _person_id(conn, phone, at)
    changed = conn.execute(
        "UPDATE people SET opted_out = 1, updated_at = ? WHERE id = ? AND opted_out = 0",
        (at, person_id),
    ).rowcount
    if changed:
        conn.execute(
            "INSERT INTO opt_changes (person_id, opted_out, source, at) VALUES (?, 1, 'twilio', ?)",
            (person_id, at),
        )
