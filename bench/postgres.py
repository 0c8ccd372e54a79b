"""PostgreSQL for the benchmarks: a fresh database per bot on the server given with --database,
its homes, and what the server spent (CPU of its processes, WAL flushes).

    url = await create_database("postgresql://postgres@127.0.0.1:5432/postgres", "bench_pg")
    await seed_homes(url, 500, public_url)
    before = server_usage(url)  ...  spent = server_usage(url) - before
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(server_url: str, name: str) -> str:
    """A new empty database on the server (dropped first if a past run left it)."""
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await _admin(server_url, f"CREATE DATABASE {name}")
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def seed_homes(url: str, homes: int, public_url: str, host_phone: object) -> None:
    """The benchmark's homes, one per host, as run.py add-home lists them (migrating first)."""
    from conversations.model import Property
    from storage.postgres import PostgresStore

    store = await PostgresStore.open(url)
    try:
        now = datetime.now(UTC)
        for k in range(homes):
            phone = host_phone(k)  # type: ignore[operator]
            home = Property(
                0,
                phone,
                f"Home h{k:04d}x",
                "Benchville, CA",
                "A tidy home with a garden, two bedrooms and a fast wifi connection.",
                100 + k % 200,
                f"{public_url}/static/homes/farmhouse.png",
            )
            await store.add_home(phone, f"Host {k}", home, now)
    finally:
        await store.close()


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float  # user + system time of every postgres process (this machine's server)
    wal_syncs: int  # WAL flushes to disk (a commit waits for one; concurrent commits share it)
    transactions: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu_seconds - other.cpu_seconds,
            self.wal_syncs - other.wal_syncs,
            self.transactions - other.transactions,
        )


def _postgres_cpu() -> float:
    """CPU seconds of the local server's processes (readable as root or as their user)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name not in ("postgres", "postmaster"):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def server_usage(url: str) -> Usage:
    conn = await asyncpg.connect(url)
    try:
        syncs = await conn.fetchval("SELECT wal_sync FROM pg_stat_wal")
        commits = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return Usage(_postgres_cpu(), int(syncs), int(commits))


def where_time_goes(timings: dict[str, list[float]], turns: int) -> list[str]:
    """Lines for the report: each kind of round trip, how many a turn, and its mean wall time."""
    lines = []
    for kind, (count, seconds) in sorted(timings.items(), key=lambda kv: -kv[1][0]):
        lines.append(
            f"  {kind:24} {count / turns:5.2f} a turn, {seconds / count * 1e3:6.2f} ms each"
        )
    return lines
