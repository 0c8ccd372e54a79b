"""What only the shared store promises: instances starting together, the database refusing a
second confirmed stay, a turn's round trips, a pair's turns one at a time across instances."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from conversations.model import Property
from storage.postgres import PostgresStore
from storage.postgres.schema import MIGRATIONS
from storage.postgres.store import Overlap, StaleTurn
from tests.postgres import DATABASE, PostgresServer

pytestmark = pytest.mark.postgresql_only

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOT = "+15550009999"


async def test_instances_starting_together_migrate_once(
    backend: str, postgres_server: tuple[PostgresServer | None, str]
) -> None:
    server = postgres_server[0]
    assert server is not None
    url = await server.new_database(migrated=False)
    try:
        stores = await asyncio.gather(*(PostgresStore.open(url) for _ in range(4)))
        try:
            assert all([await store.ready() for store in stores])
            versions = await stores[0].pool.fetch("SELECT version FROM schema_version")
            assert sorted(row[0] for row in versions) == list(range(1, len(MIGRATIONS) + 1))
            secrets = await asyncio.gather(
                *(
                    s.secret("session_secret", lambda n=n: f"made by {n}")
                    for n, s in enumerate(stores)
                )
            )
            assert len(set(secrets)) == 1
        finally:
            for store in stores:
                await store.close()
    finally:
        await server.drop(url)


async def seeded(store: PostgresStore) -> list[int]:
    """A host's home and two pending requests for overlapping nights."""
    conn: asyncpg.Connection
    async with store.pool.acquire() as conn:
        host = await conn.fetchval("SELECT airtng_person_id('+15550100001', $1)", NOW)
        guest = await conn.fetchval("SELECT airtng_person_id('+15550001111', $1)", NOW)
        home = await conn.fetchval(
            "INSERT INTO properties (host_id, title, place, description, nightly_price,"
            " created_at, updated_at) VALUES ($1, 'Beach', 'Malibu', 'Sand', 100, $2, $2)"
            " RETURNING id",
            host,
            NOW,
        )
        ids = []
        for start in (3, 5):
            ids.append(
                await conn.fetchval(
                    "INSERT INTO reservations (property_id, guest_id, check_in, check_out,"
                    " status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5)"
                    " RETURNING id",
                    home,
                    guest,
                    (NOW + timedelta(days=start)).date(),
                    (NOW + timedelta(days=start + 4)).date(),
                    NOW,
                )
            )
        return ids


def confirm(reservation_id: int) -> dict[str, object]:
    return {
        "at": NOW.isoformat(),
        "bot": BOT,
        "live_since": NOW.isoformat(),
        "changes": [[reservation_id, "pending", "confirmed"]],
        "messages": [],
    }


async def test_two_overlapping_stays_are_never_both_confirmed(backend: str) -> None:
    one, other = (
        await PostgresStore.open(DATABASE["url"]),
        await PostgresStore.open(DATABASE["url"]),
    )
    try:
        first, second = await seeded(one)
        results = await asyncio.gather(
            one.apply(confirm(first)), other.apply(confirm(second)), return_exceptions=True
        )
        assert sorted(type(r).__name__ for r in results) == ["NoneType", "Overlap"]
        statuses = await one.pool.fetch("SELECT status FROM reservations ORDER BY id")
        assert sorted(row[0] for row in statuses) == ["confirmed", "pending"]
        # Deciding the confirmed one again is refused by its guard, not applied twice.
        winner = first if isinstance(results[1], Overlap) else second
        with pytest.raises(StaleTurn):
            await one.apply(confirm(winner))
    finally:
        await one.close()
        await other.close()


async def deadlocked(
    store: PostgresStore, write: Callable[[], Awaitable[None]], mine: int, theirs: int
) -> None:
    """Run `write` (confirming `mine`) into a certain deadlock: another transaction confirms
    `theirs` (overlapping) first, so `write` waits for it in the exclusion constraint, then
    touches `mine`, which `write` holds. PostgreSQL aborts the one that waited first (both wait
    deadlock_timeout before looking, and ours looks later): `write`'s. Ours then commits, and
    `write`'s outcome is raised here."""
    conn: asyncpg.Connection = await asyncpg.connect(DATABASE["url"])
    try:
        await conn.execute("SET deadlock_timeout = '10s'")  # the other one finds the cycle
        async with conn.transaction():
            await conn.execute("UPDATE reservations SET status = 'confirmed' WHERE id = $1", theirs)
            writing = asyncio.create_task(write())
            await _waiting_on_a_lock(store)
            assert not writing.done()
            await conn.execute(
                "UPDATE reservations SET updated_at = updated_at WHERE id = $1", mine
            )
    finally:
        await conn.close()
    await writing


async def _waiting_on_a_lock(store: PostgresStore) -> None:
    async with asyncio.timeout(10):
        while not await store.pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ):
            await asyncio.sleep(0.02)


async def test_a_write_aborted_to_break_a_deadlock_is_tried_again(backend: str) -> None:
    store = await PostgresStore.open(DATABASE["url"])
    try:
        mine, theirs = await seeded(store)
        # Tried again after the abort, it meets the stay the other transaction confirmed.
        with pytest.raises(Overlap):
            await deadlocked(store, lambda: store.apply(confirm(mine)), mine, theirs)
        statuses = await store.pool.fetch("SELECT id, status FROM reservations ORDER BY id")
        assert {row[0]: row[1] for row in statuses} == {mine: "pending", theirs: "confirmed"}
    finally:
        await store.close()


async def test_a_turn_aborted_to_break_a_deadlock_is_decided_again(backend: str) -> None:
    store = await PostgresStore.open(DATABASE["url"])
    since = NOW - timedelta(hours=4)
    try:
        mine, theirs = await seeded(store)
        async with store.pair_turn("SM1", BOT, "+15550100001", since) as turn:
            with pytest.raises(StaleTurn, match="gave way"):
                await deadlocked(store, lambda: turn.apply(confirm(mine)), mine, theirs)
            assert turn.locked  # still the pair's, for the turn decided again
        statuses = await store.pool.fetch("SELECT id, status FROM reservations ORDER BY id")
        assert {row[0]: row[1] for row in statuses} == {mine: "pending", theirs: "confirmed"}
        async with asyncio.timeout(5), store.pair_turn("SM2", BOT, "+15550100001", since):
            pass  # and handed on afterwards
    finally:
        await store.close()


async def test_workers_of_several_instances_never_claim_one_message(backend: str) -> None:
    stores = [await PostgresStore.open(DATABASE["url"]) for _ in range(3)]
    try:
        await stores[0].pool.executemany(
            "INSERT INTO outbox (to_phone, from_phone, body, next_attempt_at, created_at,"
            " updated_at) VALUES ($1, $2, 'text', now(), $3, $3)",
            [(f"+1559{n:07d}", BOT, NOW) for n in range(200)],
        )
        claimed: list[int] = []
        while True:
            claims = await asyncio.gather(
                *(store.outbox_claim(7, set(), 60, NOW) for store in stores for _ in range(2))
            )
            got = [item.id for claim in claims for item in claim.items]
            if not got:
                break
            claimed += got
        assert len(claimed) == len(set(claimed)) == 200
    finally:
        for store in stores:
            await store.close()


async def test_a_turn_cancelled_while_it_waits_for_its_pair_leaves_no_lock(backend: str) -> None:
    store = await PostgresStore.open(DATABASE["url"])
    since = NOW - timedelta(hours=4)
    try:
        async with store.pair_turn("SM1", BOT, "+15550001111", since):

            async def second() -> None:
                async with store.pair_turn("SM2", BOT, "+15550001111", since):
                    pass

            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.3)
            assert not waiting.done()  # the pair is held: it waits, in PostgreSQL
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
        async with asyncio.timeout(5), store.pair_turn("SM3", BOT, "+15550001111", since) as third:
            assert third.loaded["handled"] is None
    finally:
        await store.close()


async def test_news_reaches_the_other_instances_and_outlives_a_lost_listener(
    backend: str,
) -> None:
    """NOTIFY wakes the other instances: a home listed at one (its trigger) and a message queued
    again at one (the operator's retry) are heard at the other. When the listening connection
    is lost, it reconnects by itself and tells its subscribers at once, since news may have
    been missed meanwhile; later news is heard again."""
    one, other = (
        await PostgresStore.open(DATABASE["url"]),
        await PostgresStore.open(DATABASE["url"]),
    )
    heard = {channel: asyncio.Event() for channel in ("airtng_homes", "airtng_outbox")}
    for channel, event in heard.items():
        other.subscribe(channel, event.set)

    async def hears(*channels: str) -> None:
        async with asyncio.timeout(5):
            for channel in channels:
                await heard[channel].wait()
        for event in heard.values():
            event.clear()

    try:
        await hears("airtng_homes", "airtng_outbox")  # listening now (told once on connecting)
        home = Property(0, "+15550100001", "Beach", "Malibu", "Sand.", 100)
        await one.add_home("+15550100001", "Hana", home, NOW)
        await hears("airtng_homes")
        failed = await one.pool.fetchval(
            "INSERT INTO outbox (to_phone, from_phone, body, status, next_attempt_at,"
            " created_at, updated_at) VALUES ('+15550100001', $1, 'x', 'failed', now(), $2, $2)"
            " RETURNING id",
            BOT,
            NOW,
        )
        assert await one.requeue(failed, "failed", NOW)
        await hears("airtng_outbox")
        # Every listening connection is cut (as a restart of PostgreSQL or a proxy would).
        cut = await one.pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        )
        assert cut >= 2
        await hears("airtng_homes", "airtng_outbox")  # back, and told news may have been missed
        await one.add_home("+15550100002", "Omar", home, NOW)
        await hears("airtng_homes")
    finally:
        await one.close()
        await other.close()
