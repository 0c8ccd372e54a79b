"""What each of a turn's PostgreSQL calls costs alone: one connection, one call at a time, the
server's CPU (its processes' user + system time) and the wall time of each, on a fresh database
with the benchmark's 500 homes.

    python -m bench.pg_calls postgresql://postgres@127.0.0.1:5432/postgres

The load (lock, dedupe, the turn's view), the apply (a conversation's update, the inbound
message and its reply, the handled MessageSid: BEGIN; apply; COMMIT), the unlock, and the apply
again with synchronous_commit off (the difference is the commit's wait for its WAL flush); what
a turn adds to the database; and what reloading every home costs an instance (each does when any
home changes).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.postgres import _postgres_cpu, create_database, drop_database, seed_homes
from bench.run import HOMES, host_phone
from storage.postgres import PostgresStore
from storage.postgres.changes import apply_script
from storage.postgres.store import SERVER_SETTINGS

NAME = "airtng_bench_calls"
BOT = "+15550009999"
REPLY = "Homes 1-5 of 500: 1 Home h0000x, Benchville, CA $100 ... Send a number to see a home."


async def measure(label: str, call: Callable[[int], Awaitable[Any]], n: int) -> None:
    cpu, wall = _postgres_cpu(), time.perf_counter()
    for i in range(n):
        await call(i)
    cpu, wall = _postgres_cpu() - cpu, time.perf_counter() - wall
    print(f"{label:40} server CPU {cpu / n * 1e6:6.0f} us, wall {wall / n * 1e6:6.0f} us a call")


async def main_async(server: str, n: int) -> None:
    url = await create_database(server, NAME)
    try:
        await seed_homes(url, HOMES, "http://127.0.0.1", host_phone)
        conn = await asyncpg.connect(url, server_settings=SERVER_SETTINGS)
        since = datetime.now(UTC) - timedelta(hours=4)
        guests = [f"+1556{i:07d}" for i in range(300)]
        ids: dict[str, int] = {}
        for phone in guests:  # each guest's live conversation
            ids[phone] = int(await conn.fetchval("SELECT nextval('conversations_id_seq')"))
            changes = {
                "at": datetime.now(UTC).isoformat(),
                "bot": BOT,
                "live_since": since.isoformat(),
                "sender": phone,
                "conversation": {"id": ids[phone], "new": True, "version": 0, "state": "start",
                                 "data": {}},
                "messages": [],
            }  # fmt: skip
            await conn.execute(apply_script(changes, None))
        versions = dict.fromkeys(guests, 1)

        def load(i: int) -> Awaitable[Any]:
            phone = guests[i % len(guests)]
            return conn.fetchval(
                "SELECT airtng_turn_load($1, $2, $3, $4, false)::text", f"SL{i}", BOT, phone, since
            )

        async def apply(i: int, label: str) -> None:
            phone = guests[i % len(guests)]
            sid = f"S{label}{i}"
            changes = {
                "at": datetime.now(UTC).isoformat(),
                "bot": BOT,
                "live_since": since.isoformat(),
                "sender": phone,
                "conversation": {"id": ids[phone], "new": False, "version": versions[phone],
                                 "state": "browsing", "data": {"shown": [1, 2, 3, 4, 5]}},
                "messages": [
                    {"phone": phone, "direction": "in", "body": "LIST", "media": [],
                     "status": "received", "sid": sid, "state_before": "start",
                     "state_after": "browsing", "own": True},
                    {"phone": phone, "direction": "out", "body": REPLY, "media": [],
                     "status": "replied", "own": True},
                ],
                "handled": {"sid": sid, "twiml": f"<Response><Message>{REPLY}</Message></Response>"},  # noqa: E501
            }  # fmt: skip
            await conn.execute(apply_script(changes, None))
            versions[phone] += 1

        await measure("load (the turn's view, no lock)", load, n)
        await measure("lock + unlock", lambda i: conn.fetchval(
            "SELECT pg_advisory_lock(1), pg_advisory_unlock(1)"), n)  # fmt: skip
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        await measure("apply: BEGIN; writes; COMMIT", lambda i: apply(i, "a"), n)
        await conn.execute("SET synchronous_commit = off")
        await measure("apply, synchronous_commit off", lambda i: apply(i, "b"), n)
        grown = await conn.fetchval("SELECT pg_database_size(current_database())") - size
        print(f"{'what a turn adds to the database':40} {grown / (2 * n):6.0f} bytes"
              " (its rows and their index entries)")  # fmt: skip
        await conn.close()
        store = await PostgresStore.open(url)
        try:
            await measure(f"every home reloaded ({HOMES} homes)",
                          lambda i: store.homes_and_version(), 100)  # fmt: skip
        finally:
            await store.close()
    finally:
        await drop_database(server, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("server", help="postgresql://user@host:port/db (a database is made there)")
    parser.add_argument("-n", type=int, default=2000, help="calls of each kind")
    args = parser.parse_args()
    asyncio.run(main_async(args.server, args.n))


if __name__ == "__main__":
    main()
