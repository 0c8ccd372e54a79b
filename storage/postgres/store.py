"""The shared store: one PostgreSQL database that any number of instances serve.

    store = await PostgresStore.open("postgresql://airtng@db.example:5432/airtng")
    async with store.pair_turn(sid, bot, phone, live_since) as turn:   # the pair is locked
        turn.loaded                       # what the turn may read (storage/postgres/turns.py)
        await turn.apply(changes)         # written, committed, the pair handed on

Connections come from an asyncpg pool; one more connection LISTENs for the other instances'
news (homes changed, messages queued) and reconnects by itself. Every truth is in the
database: ids from sequences, locks and leases in PostgreSQL, nothing an instance keeps that
another would need.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Any, ClassVar

import asyncpg

from conversations.model import Person, Property, Reservation
from storage.base import (
    ConversationFilter,
    Listed,
    OutboxClaim,
    ReservationFilter,
    Store,
    title_key,
)
from storage.postgres import queries
from storage.postgres.changes import apply_script, encode
from storage.postgres.outbox import CLAIM
from storage.postgres.schema import MIGRATIONS, migrate, schema_version
from storage.postgres.turns import STALE
from storage.queries import OutboxBacklog, OutboxItem

log = logging.getLogger(__name__)

# Every connection: times in UTC (what the ISO stamps say), literals as the standard says (the
# turn's one message quotes its JSON by doubling quotes only), no JIT for millisecond queries.
SERVER_SETTINGS = {
    "timezone": "UTC",
    "standard_conforming_strings": "on",
    "jit": "off",
    "application_name": "airtng",
}
# Expiry and reminders: one instance at a time runs a pass, whoever takes this first.
EXPIRY_LOCK = 0x41_69_72_74_6E_67_00_02
CHANNELS = ("airtng_homes", "airtng_outbox")


class StaleTurn(RuntimeError):
    """The view a turn was decided on moved (a guard refused a write): decide it again."""


class Overlap(RuntimeError):
    """The database refused a second confirmed stay over the same nights at one home."""


class AlreadyHandled(RuntimeError):
    """Another turn stored this MessageSid first."""


# Two transactions that each confirm one of two overlapping stays at once can each find the
# other's new row in the exclusion constraint's index and wait for it: PostgreSQL breaks the
# cycle by aborting one of them (deadlock_detected), as it may a serialization failure. The
# transaction that gave way wrote nothing; the same writes, or a turn decided again, go on
# once the other has committed (and then meet its confirmed stay as an Overlap).
GAVE_WAY = ("40P01", "40001")  # deadlock_detected, serialization_failure
APPLY_ATTEMPTS = 3


async def _keep(connection: asyncpg.Connection) -> None:
    """The pool's reset when a connection comes back: nothing. asyncpg's default (a query that
    unlistens and unlocks everything) would cost every turn a round trip; turns release their
    own lock, and a connection that could not is terminated instead of returned."""


def _person(row: dict[str, Any]) -> Person:
    return Person(int(row["id"]), row["phone"], row["name"], bool(row["opted_out"]))


def _property(row: dict[str, Any]) -> Property:
    return Property(
        int(row["id"]),
        row["host_phone"],
        row["title"],
        row["place"],
        row["description"],
        int(row["nightly_price"]),
        row["image_url"],
        bool(row["active"]),
    )


def _reservation(row: dict[str, Any]) -> Reservation:
    return Reservation(
        int(row["id"]),
        int(row["property_id"]),
        row["guest_phone"],
        date.fromisoformat(row["check_in"]),
        date.fromisoformat(row["check_out"]),
        row["message"],
        row["status"],
        datetime.fromisoformat(row["created_at"]),
        datetime.fromisoformat(row["updated_at"]),
        datetime.fromisoformat(row["reminded_at"]) if row["reminded_at"] else None,
    )


def parse_view(document: dict[str, Any]) -> dict[str, Any]:
    """A load's JSON with its rows as the conversation's records."""
    return {
        **document,
        "person": _person(document["person"]) if document.get("person") else None,
        "homes": [_property(row) for row in document.get("homes") or ()],
        "reservations": [_reservation(row) for row in document.get("reservations") or ()],
        "people": [_person(row) for row in document.get("people") or ()],
    }


class PairTurn:
    """One turn's hold on its pair: the load, what more it asks, and the writes."""

    def __init__(
        self, conn: asyncpg.Connection, args: tuple[Any, ...], timings: dict[str, list[float]]
    ) -> None:
        self._conn = conn
        self._args = args  # sid, bot, phone, live_since
        self.loaded: dict[str, Any] = {}
        self.locked = False
        self.key: int | None = None
        self.round_trips = 0
        self._timings = timings

    def _spent(self, kind: str, started: float) -> None:
        """One more round trip of this kind, and its wall time (for the benchmark's report)."""
        self.round_trips += 1
        entry = self._timings.setdefault(kind, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - started

    async def load(self, *, lock: bool) -> dict[str, Any]:
        started = time.perf_counter()
        # Held from the moment it is asked for: a load that fails or is cancelled may have
        # been granted the lock, and its connection is then closed, not given back.
        self.locked = self.locked or lock
        raw = await self._conn.fetchval(
            "SELECT airtng_turn_load($1, $2, $3, $4, $5)::text", *self._args, lock
        )
        self._spent("lock and load" if lock else "load again", started)
        document = json.loads(raw)
        self.key = int(document["key"])
        if document["unlocked"]:
            self.locked = False
        self.loaded = parse_view(document)
        return self.loaded

    async def more(
        self,
        people: set[str],
        reservations: set[int],
        open_at: set[int],
        homes: set[int],
        new_reservation: bool,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        raw = await self._conn.fetchval(
            "SELECT airtng_turn_more($1, $2, $3, $4, $5)::text",
            sorted(people),
            sorted(reservations),
            sorted(open_at),
            sorted(homes),
            new_reservation,
        )
        self._spent("more", started)
        return parse_view(json.loads(raw))

    async def apply(self, changes: dict[str, Any]) -> None:
        """Write, commit and hand the pair on: one round trip. On a refusal the transaction is
        rolled back, the pair stays held, and StaleTurn, Overlap or AlreadyHandled says why."""
        started = time.perf_counter()
        try:
            await self._conn.execute(apply_script(changes, self.key if self.locked else None))
            self._spent("write, commit, unlock", started)
            self.locked = False
        except asyncpg.PostgresError as error:
            self._spent("write, refused", started)
            started = time.perf_counter()
            await self._conn.execute("ROLLBACK")
            self._spent("rollback", started)
            if error.sqlstate == STALE:
                raise StaleTurn(str(error)) from error
            if error.sqlstate in GAVE_WAY:  # decided again on what the other one committed
                raise StaleTurn(f"gave way to a concurrent turn: {error}") from error
            if isinstance(error, asyncpg.ExclusionViolationError):
                raise Overlap(str(error)) from error
            if isinstance(error, asyncpg.UniqueViolationError) and "handled" in str(
                error.constraint_name or ""
            ):
                raise AlreadyHandled(str(error)) from error
            raise

    async def release(self) -> None:
        if self.locked and self.key is not None:
            started = time.perf_counter()
            await self._conn.execute("SELECT pg_advisory_unlock($1)", self.key)
            self._spent("unlock", started)
            self.locked = False


class PostgresStore(Store):
    kind: ClassVar[str] = "postgresql"
    shared: ClassVar[bool] = True

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self.url = url
        self.pool = pool
        self._subscribers: dict[str, list[Callable[[], None]]] = {c: [] for c in CHANNELS}
        self._listener: asyncio.Task[None] | None = None
        self.turns_run = 0  # turns and their round trips, for the benchmark's report
        self.turn_round_trips = 0
        self.turn_timings: dict[str, list[float]] = {}  # kind -> [round trips, seconds]

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10) -> PostgresStore:
        conn = await asyncpg.connect(url, server_settings=SERVER_SETTINGS)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=pool_size,
            reset=_keep,
            server_settings=SERVER_SETTINGS,
        )
        assert pool is not None
        store = cls(url, pool)
        store._listener = asyncio.create_task(store._listen(), name="postgres-listen")
        return store

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.pool.close()

    async def check(self, timeout: float = 2.0) -> str | None:
        try:
            async with asyncio.timeout(timeout), self.pool.acquire() as conn:
                version = await schema_version(conn)
        except TimeoutError:
            return f"the database did not answer within {timeout:g} s"
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            return f"the database cannot be read: {error}"
        if version == len(MIGRATIONS):
            return None
        age = "newer" if version > len(MIGRATIONS) else "older"
        return (
            f"the database is at schema version {version}, {age} than this code's {len(MIGRATIONS)}"
        )

    # -- news from the other instances -----------------------------------------------------

    def subscribe(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) whenever any instance NOTIFYs `channel`, and
        after the listening connection was lost (news may have been missed meanwhile)."""
        self._subscribers[channel].append(callback)

    def _tell(self, channel: str) -> None:
        for callback in self._subscribers.get(channel, ()):
            try:
                callback()
            except Exception:
                log.exception("a subscriber of %s failed", channel)

    async def _listen(self) -> None:
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.url, server_settings=SERVER_SETTINGS)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot LISTEN on PostgreSQL (%s); trying again", error)
                await asyncio.sleep(1.0)
                continue
            try:
                conn.add_termination_listener(lambda _, lost=lost: lost.set())
                for channel in CHANNELS:
                    await conn.add_listener(channel, lambda *args: self._tell(args[2]))
                for channel in CHANNELS:  # anything said while nobody listened
                    self._tell(channel)
                await lost.wait()
                log.warning("the LISTEN connection to PostgreSQL was lost; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("LISTEN on PostgreSQL failed (%s); reconnecting", error)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
            await asyncio.sleep(0.2)

    # -- turns -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def pair_turn(
        self, sid: str, bot_phone: str, phone: str, live_since: datetime
    ) -> AsyncIterator[PairTurn]:
        """Hold the pair (bot number, person) for one turn: loaded on entry, handed on when
        its writes commit, or on leaving however it ends."""
        async with self.pool.acquire() as conn:
            turn = PairTurn(conn, (sid, bot_phone, phone, live_since), self.turn_timings)
            try:
                await turn.load(lock=True)
                yield turn
                await turn.release()
            except BaseException:
                # The lock must not outlive the turn: a connection in an unknown state is
                # closed (which releases whatever it held) rather than given back.
                if turn.locked or conn.is_in_transaction():
                    conn.terminate()
                raise
            finally:
                self.turns_run += 1
                self.turn_round_trips += turn.round_trips

    async def apply(self, changes: dict[str, Any]) -> None:
        """Writes that are not a turn's (an expiry, a reminder): committed, or StaleTurn or
        Overlap. Aborted to break a deadlock, the same writes are tried again."""
        payload = encode(changes)
        for attempt in range(1, APPLY_ATTEMPTS + 1):
            try:
                await self.pool.execute("SELECT airtng_turn_apply($1::jsonb)", payload)
                return
            except asyncpg.PostgresError as error:
                if error.sqlstate == STALE:
                    raise StaleTurn(str(error)) from error
                if isinstance(error, asyncpg.ExclusionViolationError):
                    raise Overlap(str(error)) from error
                if error.sqlstate not in GAVE_WAY or attempt == APPLY_ATTEMPTS:
                    raise
                log.info("writes gave way to a concurrent transaction (%s); again", error)

    async def homes_and_version(self) -> tuple[list[Property], str]:
        row = await self.pool.fetchrow(
            "SELECT (SELECT value FROM settings WHERE key = 'homes_version') AS version,"
            " coalesce(jsonb_agg(airtng_home_json(h, p.phone) ORDER BY h.id), '[]')::text AS homes"
            " FROM properties h JOIN people p ON p.id = h.host_id"
        )
        assert row is not None
        return [_property(home) for home in json.loads(row["homes"])], str(row["version"])

    @contextlib.asynccontextmanager
    async def expiry_leader(self) -> AsyncIterator[bool]:
        """Whether this instance runs the expiry pass now: one at a time, fleet-wide."""
        async with self.pool.acquire() as conn:
            leader = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", EXPIRY_LOCK))
            try:
                yield leader
            finally:
                if leader:
                    try:
                        await conn.execute("SELECT pg_advisory_unlock($1)", EXPIRY_LOCK)
                    except BaseException:
                        conn.terminate()
                        raise

    async def pending_since(self, created_before: datetime) -> dict[str, Any]:
        """Pending requests created before then, with their guests' and hosts' people."""
        raw = await self.pool.fetchval(
            "SELECT airtng_reservations_view(coalesce(array_agg(id), '{}'))::text"
            " FROM reservations WHERE status = 'pending' AND created_at <= $1",
            created_before,
        )
        return parse_view(json.loads(raw))

    # -- settings and secrets --------------------------------------------------------------

    async def setting(self, key: str) -> str | None:
        value = await self.pool.fetchval("SELECT value FROM settings WHERE key = $1", key)
        return None if value is None else str(value)

    async def secret(self, key: str, make: Callable[[], str]) -> str:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                key,
                make(),
            )
            # A new statement, a new snapshot: the value of whoever inserted first.
            return str(await conn.fetchval("SELECT value FROM settings WHERE key = $1", key))

    # -- homes -----------------------------------------------------------------------------

    async def homes(self) -> list[Property]:
        return (await self.homes_and_version())[0]

    async def add_home(
        self, host_phone: str, host_name: str | None, home: Property, now: datetime
    ) -> Listed:
        key = title_key(home.title)
        async with self.pool.acquire() as conn, conn.transaction():
            # The same host and title is one home, even when two instances list it at once.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"home {host_phone} {key}"
            )
            host_id = await conn.fetchval("SELECT airtng_person_id($1, $2)", host_phone, now)
            rows = await conn.fetch(
                "SELECT airtng_home_json(h, $2)::text FROM properties h WHERE host_id = $1"
                " ORDER BY id",
                host_id,
                host_phone,
            )
            for row in rows:
                found = _property(json.loads(row[0]))
                if title_key(found.title) == key:
                    name = await conn.fetchval("SELECT name FROM people WHERE id = $1", host_id)
                    return Listed(found, True, name)
            if host_name:
                await conn.execute(
                    "UPDATE people SET name = $1, updated_at = $2"
                    " WHERE id = $3 AND name IS DISTINCT FROM $1",
                    host_name,
                    now,
                    host_id,
                )
            home.id = await conn.fetchval(
                "INSERT INTO properties (host_id, title, place, description, image_url,"
                " nightly_price, active, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                host_id,
                home.title,
                home.place,
                home.description,
                home.image_url,
                home.nightly_price,
                home.active,
                now,
            )
            name = await conn.fetchval("SELECT name FROM people WHERE id = $1", host_id)
        home.host_phone = host_phone
        return Listed(home, False, name)

    # -- the outbox ------------------------------------------------------------------------

    async def outbox_claim(
        self, limit: int, in_flight: set[int], lease_seconds: float, now: datetime
    ) -> OutboxClaim:
        row = await self.pool.fetchrow(CLAIM, limit, list(in_flight), float(lease_seconds))
        assert row is not None
        items = [
            OutboxItem(
                int(item["id"]),
                item["to"],
                item["from"],
                item["body"],
                item["media_url"],
                item["status"],
                int(item["attempts"]),
                item["next_attempt_at"],
                item["created_at"],
                bool(item["opted_out"]),
            )
            for item in json.loads(row["items"])
        ]
        return OutboxClaim(items, row["later"])

    async def outbox_cancelled(self, outbox_id: int, reason: str, now: datetime) -> None:
        await self.pool.execute(
            "UPDATE outbox SET status = 'cancelled', error = $2, updated_at = now() WHERE id = $1",
            outbox_id,
            reason,
        )

    async def outbox_sent(self, outbox_id: int, twilio_sid: str, now: datetime) -> None:
        await self.pool.execute("SELECT airtng_outbox_sent($1, $2)", outbox_id, twilio_sid)

    async def outbox_status(
        self, twilio_sid: str, status: str, error_code: int | None, now: datetime
    ) -> None:
        await self.pool.execute(
            "SELECT airtng_outbox_status($1, $2, $3)", twilio_sid, status, error_code
        )

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
        # Ambiguous: stays 'sending', so the next attempt first asks Twilio whether it exists.
        await self.pool.execute(
            "UPDATE outbox SET status = CASE WHEN $6 THEN 'sending' ELSE 'queued' END,"
            " attempts = $2, next_attempt_at = now() + make_interval(secs => $3),"
            " error_code = $4, error = $5, updated_at = now()"
            " WHERE id = $1 AND status IN ('queued', 'sending')",
            outbox_id,
            attempts,
            float(delay_seconds),
            error_code,
            error,
            ambiguous,
        )

    async def outbox_failed(
        self, outbox_id: int, error_code: int | None, error: str, now: datetime
    ) -> None:
        await self.pool.execute(
            "UPDATE outbox SET status = 'failed', error_code = $2, error = $3, updated_at = now()"
            " WHERE id = $1",
            outbox_id,
            error_code,
            error,
        )

    async def outbox_backlog(self) -> OutboxBacklog:
        row = await self.pool.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'queued'),"
            " count(*) FILTER (WHERE status = 'sending'), airtng_stamp(min(created_at))"
            " FROM outbox WHERE status IN ('queued', 'sending')"
        )
        assert row is not None
        return OutboxBacklog(int(row[0]), int(row[1]), row[2])

    async def known_twilio_sids(self, sids: list[str]) -> set[str]:
        rows = await self.pool.fetch(
            "SELECT twilio_sid FROM outbox WHERE twilio_sid = ANY ($1)", sids
        )
        return {row[0] for row in rows}

    async def opt_out(self, phone: str, now: datetime) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            person_id = await conn.fetchval("SELECT airtng_person_id($1, $2)", phone, now)
            changed = await conn.fetchval(
                "UPDATE people SET opted_out = true, updated_at = $2"
                " WHERE id = $1 AND NOT opted_out RETURNING id",
                person_id,
                now,
            )
            if changed is not None:
                await conn.execute(
                    "INSERT INTO opt_changes (person_id, opted_out, source, at)"
                    " VALUES ($1, true, 'twilio', $2)",
                    person_id,
                    now,
                )

    # -- the operator's JSON API -----------------------------------------------------------

    async def admin_reservations(
        self, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.admin_reservations(conn, status, limit, offset)

    async def admin_conversations(
        self, phone: str | None, limit: int, offset: int, messages_each: int
    ) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.admin_conversations(conn, phone, limit, offset, messages_each)

    async def admin_outbox(
        self, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.admin_outbox(conn, status, limit, offset)

    async def admin_properties(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.admin_properties(conn)

    # -- the console and the CLI -----------------------------------------------------------

    async def conversations(
        self, where: ConversationFilter, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.conversations(conn, where, limit, offset)

    async def states(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return await queries.states(conn)

    async def transcript(self, conversation_id: int, limit: int) -> dict[str, Any] | None:
        async with self.pool.acquire() as conn:
            return await queries.transcript(conn, conversation_id, limit)

    async def reservations(
        self, where: ReservationFilter, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.reservations(conn, where, limit, offset)

    async def home_titles(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.home_titles(conn)

    async def reservation_history(self, reservation_id: int) -> dict[str, Any] | None:
        async with self.pool.acquire() as conn:
            return await queries.reservation_history(conn, reservation_id)

    async def outbox(
        self, statuses: tuple[str, ...], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.outbox(conn, statuses, limit, offset)

    async def outbox_row(self, outbox_id: int) -> dict[str, Any] | None:
        async with self.pool.acquire() as conn:
            return await queries.outbox_row(conn, outbox_id)

    async def operator_actions(self, limit: int) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.operator_actions(conn, limit)

    async def person(self, person_id: int) -> dict[str, Any] | None:
        async with self.pool.acquire() as conn:
            return await queries.person(conn, person_id)

    async def overview(self, today: str, week: str, chart_from: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            return await queries.overview(conn, today, week, chart_from)

    async def logs(
        self, phone: str | None, since: str | None, limit: int, after_id: int
    ) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return await queries.logs(conn, phone, since, limit, after_id)

    async def retention_counts(self, cutoff: str) -> tuple[int, int]:
        async with self.pool.acquire() as conn:
            return await queries.retention_counts(conn, cutoff)

    async def catch_up_search(self, batch: int = 500) -> int:
        return 0  # every message's words are indexed as it is stored

    # -- the operator's changes ------------------------------------------------------------

    async def _action(
        self, conn: asyncpg.Connection, action: str, target: str, detail: str, now: datetime
    ) -> None:
        await conn.execute(
            "INSERT INTO operator_actions (at, action, target, detail) VALUES ($1, $2, $3, $4)",
            now,
            action,
            target,
            detail,
        )

    async def requeue(self, outbox_id: int, was: str, now: datetime) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            changed = await conn.fetchval(
                "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = now(),"
                " error_code = NULL, error = NULL, updated_at = now()"
                " WHERE id = $1 AND status IN ('failed', 'undelivered') RETURNING id",
                outbox_id,
            )
            if changed is None:
                return False
            await self._action(
                conn, "retry", f"outbox {outbox_id}", f"was {was}; queued again", now
            )
            await conn.execute("SELECT pg_notify('airtng_outbox', '')")
        return True

    async def redact(self, person_id: int, placeholder: str, now: datetime) -> bool:
        text = "[redacted]"
        async with self.pool.acquire() as conn, conn.transaction():
            phone = await conn.fetchval(
                "SELECT phone FROM people WHERE id = $1 FOR UPDATE", person_id
            )
            if phone is None:
                return False
            await conn.execute(
                "UPDATE outbox SET body = $1, media_url = NULL, to_phone = $2 WHERE id IN"
                " (SELECT outbox_id FROM messages WHERE phone = $3 AND outbox_id IS NOT NULL)",
                text,
                placeholder,
                phone,
            )
            await conn.execute(
                "UPDATE messages SET body = $1, media = '[]', phone = $2 WHERE phone = $3",
                text,
                placeholder,
                phone,
            )
            await conn.execute(
                "UPDATE conversations SET phone = $1, data = '{}' WHERE phone = $2",
                placeholder,
                phone,
            )
            await conn.execute(
                "UPDATE reservations SET message = $1 WHERE guest_id = $2 AND message != ''",
                text,
                person_id,
            )
            await conn.execute(
                "UPDATE people SET phone = $1, name = NULL, updated_at = $2 WHERE id = $3",
                placeholder,
                now,
                person_id,
            )
            await self._action(
                conn, "redact", f"person {person_id}", "number and message bodies replaced", now
            )
        return True

    async def retention(self, cutoff: datetime, days: int, now: datetime) -> tuple[int, int]:
        async with self.pool.acquire() as conn, conn.transaction():
            messages = await conn.fetchval(
                "WITH emptied AS (UPDATE messages SET body = '', media = '[]' WHERE at < $1"
                " AND (body != '' OR media != '[]') RETURNING 1) SELECT count(*) FROM emptied",
                cutoff,
            )
            outbox = await conn.fetchval(
                "WITH emptied AS (UPDATE outbox SET body = '', media_url = NULL"
                " WHERE created_at < $1 AND body != '' AND status NOT IN ('queued', 'sending')"
                " RETURNING 1) SELECT count(*) FROM emptied",
                cutoff,
            )
            summary = (
                f"{messages} message bodies and {outbox} outbox texts"
                f" older than {cutoff:%Y-%m-%d %H:%M} UTC"
            )
            await self._action(conn, "retention", f"older than {days} days", summary, now)
        return int(messages), int(outbox)
