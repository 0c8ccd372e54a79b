"""The store interface (storage/base.py), one suite over both backends: the embedded SQLite file
and PostgreSQL. A backend proves itself by passing it.

    async def test_x(store): ...        # runs as test_x[sqlite] and test_x[postgresql]
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conversations.model import Property
from storage import writes
from storage.base import Store
from storage.postgres import PostgresStore
from storage.postgres.schema import MIGRATIONS as PG_MIGRATIONS
from storage.schema import MIGRATIONS as SQLITE_MIGRATIONS
from storage.sqlite import SqliteStore
from tests.postgres import DATABASE

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOST = "+15550100001"
BOT = "+15550009999"


@dataclass
class Opened:
    store: Store
    path: Path

    async def another(self) -> Store:
        """A second handle on the same store (another instance, on PostgreSQL)."""
        if isinstance(self.store, PostgresStore):
            return await PostgresStore.open(DATABASE["url"])
        return self.store

    async def queue(self, count: int, to: str = "+1559000") -> None:
        """Messages queued, due now, as a turn would have queued them."""
        if isinstance(self.store, SqliteStore):
            await self.store.db.write(
                [
                    writes.enqueue(n + 1, f"{to}{n:04d}", BOT, f"text {n}", None, None, NOW)
                    for n in range(count)
                ]
            )
            return
        assert isinstance(self.store, PostgresStore)
        await self.store.pool.executemany(
            "INSERT INTO outbox (to_phone, from_phone, body, next_attempt_at, created_at,"
            " updated_at) VALUES ($1, $2, $3, now(), $4, $4)",
            [(f"{to}{n:04d}", BOT, f"text {n}", NOW) for n in range(count)],
        )


@pytest.fixture
async def opened(tmp_path: Path, backend: str) -> AsyncIterator[Opened]:
    store: Store
    if backend == "sqlite":
        store = await SqliteStore.open(tmp_path / "airtng.db")
    else:
        store = await PostgresStore.open(DATABASE["url"])
    yield Opened(store, tmp_path)
    await store.close()


@pytest.fixture
def store(opened: Opened) -> Store:
    return opened.store


def home(title: str = "Beach House") -> Property:
    return Property(0, HOST, title, "Malibu, CA", "On the sand.", 250, "https://img.example/1")


async def test_a_fresh_store_is_migrated_and_ready(store: Store) -> None:
    assert await store.ready()
    expected = len(PG_MIGRATIONS) if store.kind == "postgresql" else len(SQLITE_MIGRATIONS)
    assert expected >= 1


async def test_a_secret_is_made_once_and_kept(opened: Opened) -> None:
    other = await opened.another()
    try:
        made = await asyncio.gather(
            *(
                s.secret("session_secret", lambda: secrets.token_hex(8))
                for s in [opened.store, other] * 5
            )
        )
        assert len(set(made)) == 1
        assert await opened.store.setting("session_secret") == made[0]
        assert await other.secret("session_secret", lambda: "another") == made[0]
    finally:
        if other is not opened.store:
            await other.close()


async def test_a_home_is_listed_once_per_host_and_title(store: Store) -> None:
    first = await store.add_home(HOST, "Maria", home(), NOW)
    again = await store.add_home(HOST, None, home("  beach   HOUSE "), NOW)
    other = await store.add_home(HOST, None, home("Lake Cottage"), NOW)
    assert not first.existing and again.existing and not other.existing
    assert again.home.id == first.home.id and again.host_name == "Maria"
    assert [(h.id, h.title, h.host_phone) for h in await store.homes()] == [
        (first.home.id, "Beach House", HOST),
        (other.home.id, "Lake Cottage", HOST),
    ]
    (row, _) = await store.admin_properties()
    assert (row["host_name"], row["active"], row["nightly_price"]) == ("Maria", True, 250)


async def test_a_claim_leases_what_it_claims(opened: Opened) -> None:
    await opened.queue(12)
    store = opened.store
    first = await store.outbox_claim(8, set(), 30, NOW)
    second = await store.outbox_claim(8, set(), 30, NOW)
    ids = [i.id for i in first.items] + [i.id for i in second.items]
    assert (len(first.items), len(ids), len(set(ids))) == (8, 12, 12)
    assert all(i.status == "queued" and i.attempts == 0 for i in first.items + second.items)
    # Leased: nothing is due again until the lease is over, and then it is due again.
    claim = await store.outbox_claim(8, set(), 30, NOW)
    assert claim.items == [] and claim.later_seconds is not None
    assert 0 < claim.later_seconds <= 30


async def test_an_unseen_outcome_is_claimed_again_as_sending(opened: Opened) -> None:
    store = opened.store
    await opened.queue(1)
    (item,) = (await store.outbox_claim(8, set(), 30, NOW)).items
    await store.outbox_retry(item.id, 1, 0, None, "network: timeout", True, NOW)
    await asyncio.sleep(0.01)
    (again,) = (await store.outbox_claim(8, set(), 30, NOW)).items
    assert (again.id, again.status, again.attempts) == (item.id, "sending", 1)
    # Not while this worker still has it in flight.
    await store.outbox_retry(item.id, 2, 0, None, "network: timeout", True, NOW)
    await asyncio.sleep(0.01)
    assert (await store.outbox_claim(8, {item.id}, 30, NOW)).items == []


async def test_a_status_callback_before_the_send_is_recorded_is_kept(opened: Opened) -> None:
    store = opened.store
    await opened.queue(2)
    one, two = (await store.outbox_claim(8, set(), 30, NOW)).items
    await store.outbox_status("SMearly", "delivered", None, NOW)  # before the sid is known
    await store.outbox_sent(one.id, "SMearly", NOW)
    await store.outbox_sent(two.id, "SMlate", NOW)
    await store.outbox_status("SMlate", "undelivered", 30003, NOW)
    await store.outbox_status("SMlate", "sent", None, NOW)  # late and out of order: ignored
    rows = {r["id"]: r for r in await store.admin_outbox(None, 10, 0)}
    assert (rows[one.id]["status"], rows[one.id]["twilio_sid"]) == ("delivered", "SMearly")
    assert (rows[two.id]["status"], rows[two.id]["error_code"]) == ("undelivered", 30003)
    assert await store.known_twilio_sids(["SMearly", "SMnone"]) == {"SMearly"}


async def test_a_failed_message_is_queued_again_once_by_an_operator(opened: Opened) -> None:
    store = opened.store
    await opened.queue(1)
    (item,) = (await store.outbox_claim(8, set(), 30, NOW)).items
    await store.outbox_failed(item.id, 21211, "invalid 'To' phone number", NOW)
    assert await store.requeue(item.id, "failed", NOW)
    assert not await store.requeue(item.id, "failed", NOW)
    (row,) = await store.admin_outbox(None, 10, 0)
    assert (row["status"], row["attempts"], row["error_code"]) == ("queued", 0, None)
    (action,) = await store.operator_actions(10)
    assert (action["action"], action["target"]) == ("retry", f"outbox {item.id}")


async def test_opting_out_is_kept_and_counted_once(store: Store) -> None:
    await store.opt_out("+15550001111", NOW)
    await store.opt_out("+15550001111", NOW)
    numbers = await store.overview("2026-03-01", "2026-02-23", "2026-02-16")
    assert numbers["opted_out"] == 1
    assert numbers["today"]["opt_outs"] == 1
