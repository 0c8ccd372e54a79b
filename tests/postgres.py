"""PostgreSQL for the tests: a database of this run's own for each test, dropped after it.

    server = PostgresServer.find()        # the machine's, or None with the reason why
    url = await server.new_database()     # migrated (a copy of this run's template)
    await server.drop(url)

The server is AIRTNG_TEST_POSTGRES (default: the machine's own, postgresql://postgres@127.0.0.1:
5432/postgres, trust authentication). Without one the PostgreSQL variants are skipped with the
reason, unless AIRTNG_REQUIRE_POSTGRES=1 (as .ci/run sets): then they fail.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage.postgres.schema import migrate
from storage.postgres.store import SERVER_SETTINGS

# The current test's PostgreSQL database ("" on SQLite): tests.conftest.make_config and
# tests.e2e.harness put it in every configuration the test makes, so a server the test restarts
# finds the same database.
DATABASE = {"url": ""}

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REQUIRED = os.environ.get("AIRTNG_REQUIRE_POSTGRES", "") not in ("", "0")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@dataclass
class PostgresServer:
    url: str  # the maintenance database, for CREATE and DROP DATABASE
    prefix: str = field(default_factory=lambda: f"airtng_test_{os.getpid()}")
    _template: str | None = None
    _numbers: itertools.count[int] = field(default_factory=itertools.count)
    _lock: asyncio.Lock | None = None

    @classmethod
    async def find(cls) -> tuple[PostgresServer | None, str]:
        url = os.environ.get("AIRTNG_TEST_POSTGRES", DEFAULT_SERVER)
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            return None, f"no PostgreSQL at {url} ({error}); set AIRTNG_TEST_POSTGRES"
        await conn.close()
        return cls(url), ""

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def template(self) -> str:
        """This run's migrated template database, made the first time it is asked for."""
        if self._template is None:
            name = f"{self.prefix}_template"
            await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await self._admin(f"CREATE DATABASE {name}")
            conn = await asyncpg.connect(
                with_database(self.url, name), server_settings=SERVER_SETTINGS
            )
            try:
                await migrate(conn)
            finally:
                await conn.close()
            self._template = name
        return self._template

    async def new_database(self, *, migrated: bool = True) -> str:
        name = f"{self.prefix}_{next(self._numbers)}"
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if migrated:
            await self._admin(f"CREATE DATABASE {name} TEMPLATE {await self.template()}")
        else:
            await self._admin(f"CREATE DATABASE {name}")
        return with_database(self.url, name)

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        assert name.startswith(self.prefix), name
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    async def drop_all(self) -> None:
        if self._template is not None:
            await self._admin(f"DROP DATABASE IF EXISTS {self._template} WITH (FORCE)")
            self._template = None
